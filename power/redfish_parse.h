/*
 * redfish_parse.h - pure parsing of what a Redfish BMC sends (service root,
 * collections, ComputerSystem, Manager, VirtualMedia, error bodies) and of
 * driver_info's redfish_address, into plain C structs (redfish_parse.c;
 * error bodies: redfish_error.c).  No I/O, so every function here is unit
 * tested and fuzzed.  Any thread.
 */
#ifndef LB_REDFISH_PARSE_H
#define LB_REDFISH_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "conductor/util/err.h"
#include "power/power.h"

/* Longest resource path or action target accepted from a BMC. */
#define LB_REDFISH_PATH_MAX 1024
/* Longest string property (PowerState, Image URL, ...) kept. */
#define LB_REDFISH_STRING_MAX 4096
/* Most members kept from one collection or allowable-values list. */
#define LB_REDFISH_LIST_MAX 256
#define LB_REDFISH_DEFAULT_ROOT "/redfish/v1/"

/* A list of strings; n == 0 and v == NULL when absent. */
struct lb_redfish_strv {
	char **v;
	size_t n;
};

bool lb_redfish_strv_contains(const struct lb_redfish_strv *sv, const char *s);

/* True when an Allow header value (NULL: none) lists 'method', any case. */
bool lb_redfish_allow_has(const char *allow, const char *method);

/*
 * driver_info's redfish_address, split.  "bmc.example" becomes
 * https://bmc.example:443 with root "/redfish/v1/"; a path part becomes the
 * root (always ending in '/').  scheme and host are lower case; an IPv6 host
 * keeps its brackets.
 */
struct lb_redfish_address {
	char scheme[8];			/* "http" or "https" */
	char host[256];
	unsigned int port;
	char root[LB_REDFISH_PATH_MAX];
	char base[300];			/* "https://host:443", no slash */
};

/*
 * -EINVAL with a message for a client if 's' is not an http(s) URL (or a
 * bare host[:port][/path]).  Userinfo is refused and never echoed.
 */
int lb_redfish_address_parse(const char *s, struct lb_redfish_address *ret,
    struct lb_err *err);

/* True for a path a BMC may hand us: '/' then printable ASCII, bounded. */
bool lb_redfish_path_is_valid(const char *path);

/* The service root.  Links a BMC does not have are NULL. */
struct lb_redfish_root {
	char *redfish_version;
	char *systems;
	char *managers;
	char *session_service;
	/* Links.Sessions, else SessionService + "/Sessions". */
	char *sessions;
};

/* Any collection: its members' @odata.id, in order. */
struct lb_redfish_collection {
	struct lb_redfish_strv members;
	long long count;	/* Members@odata.count, -1 if absent */
};

struct lb_redfish_system {
	char *odata_id;
	char *etag;			/* @odata.etag, or the ETag header */
	char *power_state_raw;		/* PowerState as sent, may be NULL */
	enum lb_power_state power_state;
	char *boot_target;		/* BootSourceOverrideTarget */
	char *boot_enabled;		/* BootSourceOverrideEnabled */
	char *boot_mode;		/* BootSourceOverrideMode */
	struct lb_redfish_strv boot_target_allowed;
	struct lb_redfish_strv boot_enabled_allowed;
	struct lb_redfish_strv boot_mode_allowed;
	/* Actions["#ComputerSystem.Reset"].target */
	char *reset_target;
	struct lb_redfish_strv reset_allowed;	/* ResetType AllowableValues */
	char *reset_action_info;	/* @Redfish.ActionInfo, if any */
	struct lb_redfish_strv managed_by;	/* Links.ManagedBy[] */
	char *virtual_media;		/* VirtualMedia.@odata.id */
	char *manufacturer;		/* for redfish_quirks.c, may be NULL */
	char *model;
};

struct lb_redfish_manager {
	char *odata_id;
	char *manager_type;
	char *virtual_media;
	char *manufacturer;		/* for redfish_quirks.c, may be NULL */
	char *model;
};

struct lb_redfish_vmedia {
	char *odata_id;
	char *etag;
	struct lb_redfish_strv media_types;
	bool inserted;
	bool write_protected;
	char *image;			/* NULL when none */
	char *insert_target;
	char *eject_target;
};

/*
 * Each parser reads one JSON reply body and hands a new struct to the caller
 * (free with the matching _free, which accepts NULL).  -EINVAL with a message
 * when the body is not JSON, not an object, or lacks what the struct cannot
 * do without; -ENOMEM.  Unknown or malformed optional members are ignored.
 */
int lb_redfish_root_parse(const char *body, size_t len,
    struct lb_redfish_root **ret, struct lb_err *err);
void lb_redfish_root_free(struct lb_redfish_root *root);

int lb_redfish_collection_parse(const char *body, size_t len,
    struct lb_redfish_collection **ret, struct lb_err *err);
void lb_redfish_collection_free(struct lb_redfish_collection *coll);

int lb_redfish_system_parse(const char *body, size_t len,
    struct lb_redfish_system **ret, struct lb_err *err);
void lb_redfish_system_free(struct lb_redfish_system *sys);

int lb_redfish_manager_parse(const char *body, size_t len,
    struct lb_redfish_manager **ret, struct lb_err *err);
void lb_redfish_manager_free(struct lb_redfish_manager *mgr);

int lb_redfish_vmedia_parse(const char *body, size_t len,
    struct lb_redfish_vmedia **ret, struct lb_err *err);
void lb_redfish_vmedia_free(struct lb_redfish_vmedia *vm);

/*
 * The @odata.id of any resource (a new Session's, say) into out.  -EINVAL if
 * absent or not a valid path, -ENOSPC if it does not fit.
 */
int lb_redfish_odata_id_parse(const char *body, size_t len, char *out,
    size_t size);

/*
 * Summarises a Redfish error body for a client: the Message of every
 * @Message.ExtendedInfo entry (in "error", else at the top level) joined by
 * "; ", else error.message, else the MessageIds, else error.code.  Control
 * characters become spaces; the result is cut at a UTF-8 boundary to fit.
 * Returns the length written, 0 (out = "") if the body says nothing usable.
 */
size_t lb_redfish_error_summary(const char *body, size_t len, char *out,
    size_t size);

/*
 * True when a Redfish error body names 'word' (case-sensitive) in
 * error.code, error.message, or any @Message.ExtendedInfo entry's
 * MessageId, Message, MessageArgs or RelatedProperties (in "error" or at the
 * top level).  How a BMC says which InsertMedia parameter it wants.
 */
bool lb_redfish_error_mentions(const char *body, size_t len,
    const char *word);

/* PowerState: On/PoweringOn => on, Off/PoweringOff => off, else unknown. */
enum lb_power_state lb_redfish_power_state_map(const char *power_state);

/* pxe -> "Pxe", disk -> "Hdd", cdrom -> "Cd", bios -> "BiosSetup". */
const char *lb_redfish_boot_target_name(enum lb_boot_device device);
/* The reverse, also "UsbCd" -> cdrom.  -EINVAL for other targets. */
int lb_redfish_boot_target_parse(const char *target,
    enum lb_boot_device *ret_device);
/* "UEFI" / "Legacy"; NULL for LB_BOOT_MODE_UNSET. */
const char *lb_redfish_boot_mode_name(enum lb_boot_mode mode);

#endif
