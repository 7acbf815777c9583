/*
 * redfish_quirks.c - the vendor quirk table and its lookup.  Adding a
 * vendor is adding a row below; the code that acts on a flag lives with the
 * request it changes (power_redfish.c, redfish_vmedia.c).  Sources for each
 * row are given next to it.  Any thread.
 */
#include "power/redfish_quirks.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conductor/util/banned.h"

/* Managers looked at for a System's identity; real servers have one. */
#define MANAGERS_MAX 4

#define RETRY	LB_RFQ_RETRY_INSERT_ON_5XX
#define WINDOW	LB_REDFISH_POWER_ON_409_WINDOW_S

struct row {
	const char *vendor;
	const char *manufacturer;	/* pattern, NULL: any */
	const char *model;		/* pattern, NULL: any */
	unsigned int flags;
	int power_on_409_window_s;
};

/*
 * Most specific first; the first row matching the System or one of its
 * Managers wins.  Every row keeps Ironic's retry of InsertMedia on 5xx.
 */
static const struct row rows[] = {
	/*
	 * Supermicro X11/X12 present virtual media as "UsbCd" and boot from
	 * vmedia only with that target, and need BootSourceOverrideEnabled
	 * in every override (sushy System.set_system_boot_options; Ironic
	 * story 2008547).  The ARS-111GL-NHR uses a plain "Cd" (sushy's
	 * _supermicro_models_cd_vmedia).
	 */
	{ "supermicro", "supermicro", "ars-111gl-nhr",
	    RETRY | LB_RFQ_ALWAYS_SEND_OVERRIDE_ENABLED, WINDOW },
	{ "supermicro", "supermicro", NULL,
	    RETRY | LB_RFQ_USBCD_INSTEAD_OF_CD |
	    LB_RFQ_ALWAYS_SEND_OVERRIDE_ENABLED, WINDOW },
	/*
	 * AMI MegaRAC (ASRockRack and other boards on AMI firmware) want all
	 * three BootSourceOverride* fields in one PATCH (contract 7.2).
	 */
	{ "ami", "asrockrack", NULL,
	    RETRY | LB_RFQ_ALWAYS_SEND_OVERRIDE_ENABLED |
	    LB_RFQ_SEND_OVERRIDE_MODE, WINDOW },
	{ "ami", "asrock rack", NULL,
	    RETRY | LB_RFQ_ALWAYS_SEND_OVERRIDE_ENABLED |
	    LB_RFQ_SEND_OVERRIDE_MODE, WINDOW },
	{ "ami", "ami", NULL,
	    RETRY | LB_RFQ_ALWAYS_SEND_OVERRIDE_ENABLED |
	    LB_RFQ_SEND_OVERRIDE_MODE, WINDOW },
	{ "ami", "american megatrends", NULL,
	    RETRY | LB_RFQ_ALWAYS_SEND_OVERRIDE_ENABLED |
	    LB_RFQ_SEND_OVERRIDE_MODE, WINDOW },
	/*
	 * Dell iDRAC: an eject may still be in progress when the insert
	 * comes (5xx, Ironic story 2008504); eject every slot first.
	 */
	{ "dell", "dell", NULL, RETRY | LB_RFQ_EJECT_BEFORE_INSERT, WINDOW },
	/* HPE iLO: EjectMedia wants the body {} (sushy eject_media). */
	{ "hpe", "hpe", NULL, RETRY | LB_RFQ_EJECT_EMPTY_BODY, WINDOW },
	{ "hpe", "hewlett packard enterprise", NULL,
	    RETRY | LB_RFQ_EJECT_EMPTY_BODY, WINDOW },
	/*
	 * Lenovo XClarity: remote media is mounted by PATCHing the slot with
	 * Inserted and WriteProtected (sushy insert_media, Lenovo SD530).
	 */
	{ "lenovo", "lenovo", NULL, RETRY | LB_RFQ_PATCH_INSTEAD_OF_ACTION,
	    WINDOW },
};

static const struct row generic = { "generic", NULL, NULL, RETRY, WINDOW };

static const char *const names[LB_RFQ_COUNT] = {
	"eject_before_insert",
	"retry_insert_on_5xx",
	"patch_instead_of_action",
	"usbcd_instead_of_cd",
	"always_send_override_enabled",
	"send_override_mode",
	"transfer_protocol_type",
	"transfer_method_stream",
	"image_credentials_none",
	"eject_empty_body",
	"sticky_inserted",
	"power_on_409_retry",
};

const char *
lb_redfish_quirk_name(unsigned int flag)
{
	for (unsigned int i = 0; i < LB_RFQ_COUNT; i++)
		if (flag == 1u << i)
			return names[i];
	return NULL;
}

/* 'pat' in 's', case-insensitively, starting and ending at word bounds. */
static bool
word_match(const char *s, const char *pat)
{
	size_t n = strlen(pat);

	if (s == NULL)
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		if (p > s && isalnum((unsigned char)p[-1]))
			continue;
		if (strncasecmp(p, pat, n) == 0 &&
		    !isalnum((unsigned char)p[n]))
			return true;
	}
	return false;
}

static bool
row_matches(const struct row *row, const struct lb_redfish_ident *id)
{
	return (row->manufacturer == NULL ||
	    word_match(id->manufacturer, row->manufacturer)) &&
	    (row->model == NULL || word_match(id->model, row->model));
}

void
lb_redfish_quirks_match(const struct lb_redfish_ident *ids, size_t n,
    struct lb_redfish_quirks *ret)
{
	const struct row *hit = &generic;

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]) &&
	    hit == &generic; r++)
		for (size_t i = 0; i < n; i++)
			if (row_matches(&rows[r], &ids[i])) {
				hit = &rows[r];
				break;
			}
	ret->vendor = hit->vendor;
	ret->flags = hit->flags;
	ret->power_on_409_window_s = hit->power_on_409_window_s;
}

void
lb_redfish_quirks_lookup(struct lb_redfish_conn *conn,
    const struct lb_redfish_system *sys, struct lb_redfish_quirks *ret)
{
	struct lb_redfish_manager *mgrs[MANAGERS_MAX] = { NULL };
	struct lb_redfish_ident ids[MANAGERS_MAX + 1];
	struct lb_redfish_reply reply;
	struct lb_err err;
	size_t n = 1;

	ids[0].manufacturer = sys->manufacturer;
	ids[0].model = sys->model;
	lb_redfish_quirks_match(ids, 1, ret);
	if (strcmp(ret->vendor, generic.vendor) != 0)
		return;
	for (size_t i = 0; i < sys->managed_by.n && i < MANAGERS_MAX; i++) {
		if (lb_redfish_request(conn, "GET", sys->managed_by.v[i], NULL,
		    NULL, &reply, &err) == 0 &&
		    lb_redfish_manager_parse(reply.body, reply.len, &mgrs[i],
		    &err) == 0) {
			ids[n].manufacturer = mgrs[i]->manufacturer;
			ids[n].model = mgrs[i]->model;
			n++;
		}
		lb_redfish_reply_release(&reply);
	}
	lb_redfish_quirks_match(ids, n, ret);
	for (size_t i = 0; i < MANAGERS_MAX; i++)
		lb_redfish_manager_free(mgrs[i]);
}

int
lb_redfish_quirk_note(json_t *internal, unsigned int flag)
{
	const char *name = lb_redfish_quirk_name(flag);
	json_t *list, *v;
	size_t i;

	if (!json_is_object(internal) || name == NULL)
		return 0;
	list = json_object_get(internal, LB_REDFISH_QUIRKS_KEY);
	if (!json_is_array(list)) {
		list = json_array();
		if (list == NULL || json_object_set_new(internal,
		    LB_REDFISH_QUIRKS_KEY, list) < 0)
			return -ENOMEM;
	}
	json_array_foreach(list, i, v)
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), name) == 0)
			return 0;
	return json_array_append_new(list, json_string(name)) < 0 ? -ENOMEM :
	    0;
}

unsigned int
lb_redfish_quirks_noted(const json_t *internal)
{
	const json_t *list = json_object_get(internal, LB_REDFISH_QUIRKS_KEY);
	unsigned int flags = 0;
	json_t *v;
	size_t i;

	json_array_foreach(list, i, v) {
		if (!json_is_string(v))
			continue;
		for (unsigned int b = 0; b < LB_RFQ_COUNT; b++)
			if (strcmp(json_string_value(v), names[b]) == 0)
				flags |= 1u << b;
	}
	return flags & LB_RFQ_REMEMBERED;
}
