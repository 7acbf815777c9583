/*
 * boot_common.h - file helpers every boot implementation stages with:
 * directories held open below a configured root (never reached through a
 * symlink), atomic writes, image hard links, relative symlinks and safe
 * removal.  Conductor worker threads, several nodes at once.
 */
#ifndef LB_BOOT_COMMON_H
#define LB_BOOT_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "conductor/util/err.h"

#define LB_BOOT_PATH_MAX 4096

/*
 * A directory open for *at() calls.  Below a root every component was
 * opened with O_NOFOLLOW, so nothing written through 'fd' can land outside
 * the root.  'path' is for messages only.
 */
struct lb_boot_dir {
	int fd;
	char path[LB_BOOT_PATH_MAX];
};

/* fd -1: safe to close. */
void lb_boot_dir_init(struct lb_boot_dir *dir);
/* Closes 'dir' if open; then it is as after lb_boot_dir_init(). */
void lb_boot_dir_close(struct lb_boot_dir *dir);

/*
 * Opens a configured root, which must exist; 'what' names it in messages
 * ("tftp root").  0, or a negative errno (-ENOENT when missing).
 */
int lb_boot_dir_open_root(struct lb_boot_dir *ret, const char *root,
    const char *what, struct lb_err *err);

/*
 * Opens 'name' below 'parent': one or more '/'-separated components, none
 * empty, "." or "..".  Never follows a symlink.  With 'create', makes the
 * missing directories (0755) like mkdir -p.  -ENOENT when a component is
 * missing and 'create' is false; -ENOTDIR when one is not a directory (or
 * is a symlink); -EINVAL for a bad name.
 */
int lb_boot_dir_open(struct lb_boot_dir *ret, const struct lb_boot_dir *parent,
    const char *name, bool create, struct lb_err *err);

/* True for a single path component that is not "", "." or "..". */
bool lb_boot_name_is_safe(const char *name);

/*
 * True when 's' has no control character (so it cannot start a new line
 * in a config file) and none of the characters in 'reject' (may be NULL).
 */
bool lb_boot_text_is_safe(const char *s, const char *reject);

/*
 * Replaces 'name' in 'dir' with 'len' bytes of 'data', mode 0644: written
 * to a temporary file in the same directory, fsync'd, then renamed, so a
 * reader sees the old file or the new one.  'what' names the file in
 * messages ("pxe config").
 */
int lb_boot_write_file(const struct lb_boot_dir *dir, const char *name,
    const char *data, size_t len, const char *what, struct lb_err *err);

/*
 * As lb_boot_write_file(), but only when 'name' is missing or (unless
 * 'only_if_missing') holds something else.  1 when written, 0 when left.
 */
int lb_boot_write_file_if_changed(const struct lb_boot_dir *dir,
    const char *name, const char *data, size_t len, bool only_if_missing,
    const char *what, struct lb_err *err);

/* Writes all of data to fd (EINTR retried); 0 or -errno. */
int lb_boot_write_all(int fd, const char *data, size_t len);
/*
 * Copies in to out.  With cap > 0, -E2BIG once more than cap bytes came;
 * each chunk read also goes to 'each' (NULL: none), e.g. a digest.  A
 * read's or write's own -errno is passed on as it is.
 */
int lb_boot_copy_fd(int in, int out, unsigned long long cap,
    void (*each)(void *arg, const char *buf, size_t n), void *arg);

/*
 * Puts the image file 'src' at 'name' in 'dir': a hard link (the image
 * cache and the roots share a file system), or a 0644 copy when linking
 * fails with EXDEV.  Replaces whatever was there atomically.
 */
int lb_boot_link_image(const struct lb_boot_dir *dir, const char *name,
    const char *src, struct lb_err *err);

/*
 * Makes 'name' in 'dir' a symlink to 'target' (relative, say
 * "../<uuid>/config"): created under a temporary name, then renamed over
 * whatever was there.  Nothing changes if it already points there.
 */
int lb_boot_symlink(const struct lb_boot_dir *dir, const char *name,
    const char *target, struct lb_err *err);

/* Removes file or symlink 'name' (not a directory); 0 when absent. */
int lb_boot_unlink(const struct lb_boot_dir *dir, const char *name,
    struct lb_err *err);

/*
 * Removes every symlink directly in 'dir' whose target is
 * "<something>/<suffix>" or "<suffix>" (suffix "<uuid>/config": the links
 * of one node, whatever MAC they are named after).  Returns the number
 * removed, or a negative errno.
 */
int lb_boot_unlink_links_to(const struct lb_boot_dir *dir, const char *suffix,
    struct lb_err *err);

/*
 * Removes directory 'name' in 'dir' with everything below it, never
 * following a symlink (a symlink named 'name' is itself removed).  0 when
 * absent.
 */
int lb_boot_remove_tree(const struct lb_boot_dir *dir, const char *name,
    struct lb_err *err);

#endif
