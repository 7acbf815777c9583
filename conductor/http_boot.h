/*
 * http_boot.h - the HTTP boot root: lifeboatd serves [deploy] http_root on
 * [deploy] http_url's address and port itself (iPXE scripts, kernels,
 * ramdisks, ISOs), so no separate web server is needed, and its
 * virtual-media directory on external_http_url's, where BMCs fetch ISOs.
 * GET and HEAD of regular files only, with byte ranges; nothing outside
 * the root.  Its own MHD threads.
 */
#ifndef LB_HTTP_BOOT_H
#define LB_HTTP_BOOT_H

#include <sys/types.h>

#include "conductor/util/config.h"

struct lb_http_boot;

/*
 * Listens on the address and port of [deploy] http_url (the whole root)
 * and of external_http_url (only its LB_VMEDIA_DIR), each set one; one
 * socket when both name the same.  Call with at least one of them set.
 */
int lb_http_boot_start(const struct lb_config *cfg,
    struct lb_http_boot **ret, struct lb_err *err);
void lb_http_boot_stop(struct lb_http_boot *hb);

/*
 * The pure parts of serving, exposed for the fuzz target.  resolve: the
 * fd of the regular file that the URL path 'path' (already unescaped)
 * names below 'root' (a real path, open as 'root_fd'), or -ENOENT for
 * anything that would be a 404.  parse_range: a Range header against a
 * file of 'size' bytes; 1 with the range, 0 for the whole file, -1 for
 * 416.
 */
int lb_http_boot_resolve(const char *root, int root_fd, const char *path);
int lb_http_boot_parse_range(const char *h, off_t size, off_t *ret_from,
    off_t *ret_len);

#endif
