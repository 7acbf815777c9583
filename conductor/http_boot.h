/*
 * http_boot.h - the HTTP boot root: lifeboatd serves [deploy] http_root on
 * [deploy] http_url's port itself (iPXE scripts, kernels, ramdisks, ISOs),
 * so no separate web server is needed.  GET and HEAD of regular files
 * only, with byte ranges; nothing outside the root.  Its own MHD threads.
 */
#ifndef LB_HTTP_BOOT_H
#define LB_HTTP_BOOT_H

#include "conductor/util/config.h"

struct lb_http_boot;

/* Listens on the host and port of 'http_url'. */
int lb_http_boot_start(const struct lb_config *cfg, const char *http_url,
    struct lb_http_boot **ret, struct lb_err *err);
void lb_http_boot_stop(struct lb_http_boot *hb);

#endif
