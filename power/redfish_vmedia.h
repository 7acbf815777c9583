/*
 * redfish_vmedia.h - virtual CD insert and eject over Redfish, the
 * insert_cd/eject_cd of the "redfish" management interface (power.h).
 * Conductor worker threads; blocking.
 */
#ifndef LB_REDFISH_VMEDIA_H
#define LB_REDFISH_VMEDIA_H

#include "conductor/util/err.h"
#include "conductor/util/task.h"

/* InsertMedia answered 5xx is tried this often in all, this far apart. */
#define LB_REDFISH_INSERT_ATTEMPTS 3
#define LB_REDFISH_INSERT_RETRY_DELAY_S 3
/*
 * After an eject, a slot still reporting Inserted is read this often, this
 * far apart, before an empty Image is taken as ejected (or, with an Image,
 * the eject as failed).
 */
#define LB_REDFISH_EJECT_CHECK_READS 3
#define LB_REDFISH_EJECT_CHECK_DELAY_S 1

/*
 * Ejects every CD/DVD slot that holds something (every slot, with the
 * eject_before_insert quirk), then inserts the image at 'url' (http:// or
 * https://) into the first slot that takes it.  -EINVAL for a bad URL,
 * -ENODEV when the node has no virtual CD or none takes the image, else the
 * BMC's error.  Applied quirks are added to driver_internal_info.
 */
int lb_redfish_insert_cd(const struct lb_task *task, const char *url,
    struct lb_err *err);

/* Ejects every CD/DVD slot that holds something; 0 when none does. */
int lb_redfish_eject_cd(const struct lb_task *task, struct lb_err *err);

#endif
