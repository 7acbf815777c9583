/*
 * redfish_quirks.h - what Redfish BMCs do differently, as data: a table of
 * vendor rows (Manufacturer/Model of the System or its Managers -> a set of
 * quirk flags) consulted by the boot override, the power-on retry and the
 * virtual media code, plus the flags the drivers select from what a BMC
 * answers.  Applied quirks are listed by name in driver_internal_info.
 * Pure table and JSON helpers, plus one lookup that GETs Managers; any
 * thread.
 */
#ifndef LB_REDFISH_QUIRKS_H
#define LB_REDFISH_QUIRKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "power/redfish_client.h"

/* driver_internal_info key: a JSON array of quirk names, no duplicates. */
#define LB_REDFISH_QUIRKS_KEY "redfish_quirks_applied"

/*
 * One bit per quirk; lb_redfish_quirk_name() gives the name recorded in
 * LB_REDFISH_QUIRKS_KEY.  Vendor rows set the first group; the drivers set
 * the second when a BMC's answer asks for it (rows may preset them too).
 */
enum lb_redfish_quirk {
	/* Eject every CD slot before an insert, even one reporting empty. */
	LB_RFQ_EJECT_BEFORE_INSERT = 1u << 0,
	/* Retry InsertMedia on 5xx (as Ironic: 3 tries, 3 s apart). */
	LB_RFQ_RETRY_INSERT_ON_5XX = 1u << 1,
	/* PATCH the slot (Image, Inserted) even when it has the actions. */
	LB_RFQ_PATCH_INSTEAD_OF_ACTION = 1u << 2,
	/* Boot override target "UsbCd" for cdrom, where the BMC offers it. */
	LB_RFQ_USBCD_INSTEAD_OF_CD = 1u << 3,
	/* Send BootSourceOverrideEnabled even when it is unchanged. */
	LB_RFQ_ALWAYS_SEND_OVERRIDE_ENABLED = 1u << 4,
	/* Send BootSourceOverrideMode with every override. */
	LB_RFQ_SEND_OVERRIDE_MODE = 1u << 5,

	/* InsertMedia with "TransferProtocolType": "HTTP" / "HTTPS". */
	LB_RFQ_TRANSFER_PROTOCOL_TYPE = 1u << 6,
	/* InsertMedia with "TransferMethod": "Stream". */
	LB_RFQ_TRANSFER_METHOD_STREAM = 1u << 7,
	/* InsertMedia with "UserName": "none", "Password": "none". */
	LB_RFQ_IMAGE_CREDENTIALS_NONE = 1u << 8,
	/* EjectMedia with the body {} instead of none. */
	LB_RFQ_EJECT_EMPTY_BODY = 1u << 9,
	/* Inserted stays true after an eject: an empty Image is enough. */
	LB_RFQ_STICKY_INSERTED = 1u << 10,
	/* Power on answered 409 and was retried within the row's window. */
	LB_RFQ_POWER_ON_409_RETRY = 1u << 11,
};

#define LB_RFQ_COUNT 12

/*
 * Quirks the drivers remember once a BMC showed it needs them (read back
 * from LB_REDFISH_QUIRKS_KEY by lb_redfish_quirks_noted()), so the next call
 * does not make the same failing request first.
 */
#define LB_RFQ_REMEMBERED (LB_RFQ_TRANSFER_PROTOCOL_TYPE | \
	LB_RFQ_TRANSFER_METHOD_STREAM | LB_RFQ_IMAGE_CREDENTIALS_NONE | \
	LB_RFQ_EJECT_EMPTY_BODY | LB_RFQ_STICKY_INSERTED)

/* The default window when no row says otherwise (Ironic's behaviour). */
#define LB_REDFISH_POWER_ON_409_WINDOW_S 60

struct lb_redfish_quirks {
	const char *vendor;		/* the row, e.g. "dell", "generic" */
	unsigned int flags;		/* enum lb_redfish_quirk bits */
	int power_on_409_window_s;	/* how long a 409 to On is retried */
};

/* What a System or Manager says it is; either may be NULL. */
struct lb_redfish_ident {
	const char *manufacturer;
	const char *model;
};

/*
 * The first table row (most specific first) matching any of the n
 * identities, else the "generic" row.  A row's Manufacturer and Model
 * patterns match case-insensitively as substrings that start and end at
 * word boundaries ("ami" matches "AMI MegaRAC", not "Dynamics").
 */
void lb_redfish_quirks_match(const struct lb_redfish_ident *ids, size_t n,
    struct lb_redfish_quirks *ret);

/*
 * The quirks of the node's BMC: the System's identity, and when that only
 * matches "generic", its Managers' (GETs each of sys->managed_by; failures
 * are ignored, the answer is then "generic").  Never fails.
 */
void lb_redfish_quirks_lookup(struct lb_redfish_conn *conn,
    const struct lb_redfish_system *sys, struct lb_redfish_quirks *ret);

/* "eject_before_insert", ... for one bit; NULL for anything else. */
const char *lb_redfish_quirk_name(unsigned int flag);

/*
 * Adds the quirk's name to internal[LB_REDFISH_QUIRKS_KEY] unless there
 * already (a non-array value there is replaced).  internal may be NULL
 * (nothing to record into).  0 or -ENOMEM.
 */
int lb_redfish_quirk_note(json_t *internal, unsigned int flag);

/* The LB_RFQ_REMEMBERED bits named in internal[LB_REDFISH_QUIRKS_KEY]. */
unsigned int lb_redfish_quirks_noted(const json_t *internal);

#endif
