/*
 * ownfile.h - where lifeboat's own files are (the programs lifeboatd runs,
 * such as mkiso): found from the running binary's location, in an
 * installed tree and in the build tree alike.  Main thread, at start-up.
 */
#ifndef LB_UTIL_OWNFILE_H
#define LB_UTIL_OWNFILE_H

#include <stddef.h>

enum lb_layout {
	LB_LAYOUT_INSTALLED,	/* <prefix>/sbin/lifeboatd, <prefix>/lib/lifeboat */
	LB_LAYOUT_BUILD,	/* <build>/conductor/lifeboatd, <build>/ramdisk */
};

/*
 * The absolute path of lifeboat's own file 'name' (a row of ownfile.c's
 * table, e.g. "mkiso") for the binary at 'exe', and in *ret_layout which
 * layout 'exe' sits in.  The path need not exist.  Returns a string the
 * caller frees, or NULL: unknown name (EINVAL) or out of memory (ENOMEM),
 * errno set.
 */
char *lb_own_file_for(const char *exe, const char *name,
    enum lb_layout *ret_layout);

/* The same for the running binary (/proc/self/exe). */
char *lb_own_file(const char *name, enum lb_layout *ret_layout);

/* "installed tree" or "build tree", for messages. */
const char *lb_layout_name(enum lb_layout layout);

#endif
