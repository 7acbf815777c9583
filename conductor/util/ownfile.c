/*
 * ownfile.c - lifeboat's own files, found relative to the running binary
 * rather than at a path baked in when it was built: an installed or
 * DESTDIR tree finds <prefix>/lib/lifeboat/mkiso next to <prefix>/sbin/
 * lifeboatd, and build/conductor/lifeboatd finds build/ramdisk/mkiso (a
 * copy meson keeps there).  Pure but for stat() and readlink(); any thread.
 */
#include "conductor/util/ownfile.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conductor/util/banned.h"

/*
 * meson computes these (conductor/util/meson.build): from the directory
 * lifeboatd is installed to (sbindir) to lifeboat's program directory, and
 * from the directory lifeboatd is built in to the build root.  The prefix
 * is used only when /proc/self/exe cannot be read.
 */
#ifndef LB_OWN_INSTALLED_REL
#define LB_OWN_INSTALLED_REL "../lib/lifeboat"
#endif
#ifndef LB_OWN_BUILD_ROOT_REL
#define LB_OWN_BUILD_ROOT_REL ".."
#endif
#ifndef LB_OWN_PKGLIBDIR
#define LB_OWN_PKGLIBDIR "/usr/lib/lifeboat"
#endif

/* One row per file lifeboatd runs or serves from its own tree. */
static const struct {
	const char *name;
	const char *installed;	/* below the program directory */
	const char *build;	/* below the build root */
} own_files[] = {
	{ "mkiso", "mkiso", "ramdisk/mkiso" },
};

#define N_OWN_FILES (sizeof(own_files) / sizeof(own_files[0]))

const char *
lb_layout_name(enum lb_layout layout)
{
	return layout == LB_LAYOUT_BUILD ? "build tree" : "installed tree";
}

/*
 * Appends 'rel' to the directory 'dir' (absolute, no trailing slash but
 * for "/"), resolving "." and ".." by name: the files need not exist yet.
 */
static int
path_join(char *dir, size_t size, const char *rel)
{
	const char *p = rel;

	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(dir, '/');

			if (slash == dir)
				dir[1] = '\0';
			else if (slash != NULL)
				*slash = '\0';
		} else {
			size_t len = strlen(dir);
			int sep = len > 0 && dir[len - 1] != '/';

			if (len + (size_t)sep + n + 1 > size)
				return -ENAMETOOLONG;
			if (sep)
				dir[len++] = '/';
			memcpy(dir + len, p, n);
			dir[len + n] = '\0';
		}
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

/* Whether the directory of 'exe' is where meson built lifeboatd. */
static enum lb_layout
layout_of(const char *exe_dir)
{
	char marker[PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(marker, sizeof(marker), "%s", exe_dir) >=
	    sizeof(marker) ||
	    path_join(marker, sizeof(marker), LB_OWN_BUILD_ROOT_REL
	    "/meson-private") < 0)
		return LB_LAYOUT_INSTALLED;
	if (stat(marker, &st) == 0 && S_ISDIR(st.st_mode))
		return LB_LAYOUT_BUILD;
	return LB_LAYOUT_INSTALLED;
}

char *
lb_own_file_for(const char *exe, const char *name, enum lb_layout *ret_layout)
{
	char path[PATH_MAX];
	enum lb_layout layout = LB_LAYOUT_INSTALLED;
	const char *slash;
	size_t i;
	int r;

	for (i = 0; i < N_OWN_FILES; i++)
		if (strcmp(own_files[i].name, name) == 0)
			break;
	if (i == N_OWN_FILES) {
		errno = EINVAL;
		return NULL;
	}
	slash = exe != NULL && exe[0] == '/' ? strrchr(exe, '/') : NULL;
	if (slash == NULL) {
		/* no /proc: where `meson install` put it */
		r = snprintf(path, sizeof(path), "%s/%s", LB_OWN_PKGLIBDIR,
		    own_files[i].installed) >= (int)sizeof(path) ?
		    -ENAMETOOLONG : 0;
	} else {
		size_t n = slash == exe ? 1 : (size_t)(slash - exe);

		if (n >= sizeof(path)) {
			errno = ENAMETOOLONG;
			return NULL;
		}
		memcpy(path, exe, n);
		path[n] = '\0';
		layout = layout_of(path);
		if (layout == LB_LAYOUT_BUILD)
			r = path_join(path, sizeof(path), LB_OWN_BUILD_ROOT_REL);
		else
			r = path_join(path, sizeof(path), LB_OWN_INSTALLED_REL);
		if (r == 0)
			r = path_join(path, sizeof(path),
			    layout == LB_LAYOUT_BUILD ? own_files[i].build :
			    own_files[i].installed);
	}
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	if (ret_layout != NULL)
		*ret_layout = layout;
	return strdup(path);
}

char *
lb_own_file(const char *name, enum lb_layout *ret_layout)
{
	char exe[PATH_MAX];
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe));
	if (n <= 0 || (size_t)n >= sizeof(exe))	/* none, or cut short */
		return lb_own_file_for(NULL, name, ret_layout);
	exe[n] = '\0';
	return lb_own_file_for(exe, name, ret_layout);
}
