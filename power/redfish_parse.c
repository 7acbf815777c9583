/*
 * redfish_parse.c - Redfish replies and redfish_address into C structs.
 * Everything read here comes from a BMC or a client and is untrusted: every
 * member is type-checked, strings and lists are bounded, paths are checked
 * before anyone builds a URL from them.  Pure; any thread.
 */
#include "power/redfish_parse.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conductor/util/banned.h"

bool
lb_redfish_strv_contains(const struct lb_redfish_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

static void
strv_release(struct lb_redfish_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

bool
lb_redfish_allow_has(const char *allow, const char *method)
{
	size_t n = strlen(method), len;
	const char *p = allow;

	while (p != NULL && *p != '\0') {
		p += strspn(p, " \t,");
		len = strcspn(p, " \t,");
		if (len == n && strncasecmp(p, method, n) == 0)
			return true;
		p += len;
	}
	return false;
}

bool
lb_redfish_path_is_valid(const char *path)
{
	size_t i;

	if (path == NULL || path[0] != '/')
		return false;
	for (i = 0; path[i] != '\0'; i++) {
		if (i >= LB_REDFISH_PATH_MAX - 1)
			return false;
		if ((unsigned char)path[i] <= 0x20 ||
		    (unsigned char)path[i] >= 0x7f)
			return false;
	}
	return true;
}

/* ---- redfish_address ---- */

static bool
host_char_ok(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

static bool
ipv6_char_ok(char c)
{
	return isxdigit((unsigned char)c) || c == ':' || c == '.';
}

static int
bad_address(struct lb_err *err, const char *s, const char *why)
{
	return lb_err_set(err, -EINVAL, "Invalid Redfish address '%.200s' set "
	    "in driver_info/redfish_address: %s", s, why);
}

static int
parse_port(const char *p, size_t n, unsigned int *ret)
{
	unsigned int port = 0;

	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -EINVAL;
		port = port * 10 + (unsigned int)(p[i] - '0');
	}
	if (port == 0 || port > 65535)
		return -EINVAL;
	*ret = port;
	return 0;
}

static int
parse_authority(const char *s, const char *auth, size_t alen,
    struct lb_redfish_address *a, struct lb_err *err)
{
	const char *port = NULL;
	size_t hlen, plen = 0;

	if (alen == 0)
		return bad_address(err, s, "no host");
	if (auth[0] == '[') {
		const char *close = memchr(auth, ']', alen);

		if (close == NULL || close == auth + 1)
			return bad_address(err, s, "bad IPv6 literal");
		for (const char *c = auth + 1; c < close; c++)
			if (!ipv6_char_ok(*c))
				return bad_address(err, s, "bad IPv6 literal");
		hlen = (size_t)(close - auth) + 1;
		if (hlen < alen) {
			if (auth[hlen] != ':')
				return bad_address(err, s, "bad IPv6 literal");
			port = auth + hlen + 1;
			plen = alen - hlen - 1;
		}
	} else {
		const char *colon = memchr(auth, ':', alen);

		hlen = colon != NULL ? (size_t)(colon - auth) : alen;
		if (colon != NULL) {
			port = colon + 1;
			plen = alen - hlen - 1;
		}
		if (hlen == 0)
			return bad_address(err, s, "no host");
		for (size_t i = 0; i < hlen; i++)
			if (!host_char_ok(auth[i]))
				return bad_address(err, s, "bad host name");
	}
	if (hlen >= sizeof(a->host))
		return bad_address(err, s, "host name too long");
	for (size_t i = 0; i < hlen; i++)
		a->host[i] = (char)tolower((unsigned char)auth[i]);
	a->host[hlen] = '\0';
	if (port != NULL) {
		if (parse_port(port, plen, &a->port) != 0)
			return bad_address(err, s, "bad port");
	} else {
		a->port = strcmp(a->scheme, "https") == 0 ? 443 : 80;
	}
	return 0;
}

int
lb_redfish_address_parse(const char *s, struct lb_redfish_address *ret,
    struct lb_err *err)
{
	struct lb_redfish_address a;
	const char *rest, *sep, *auth_end, *path;
	size_t plen;
	int r;

	memset(&a, 0, sizeof(a));
	if (s == NULL || s[0] == '\0')
		return lb_err_set(err, -EINVAL, "Missing the following Redfish "
		    "properties in node's driver_info: redfish_address");
	for (const char *c = s; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c == 0x7f)
			return bad_address(err, s, "it contains white space or "
			    "control characters");
	sep = strstr(s, "://");
	if (sep != NULL) {
		size_t slen = (size_t)(sep - s);

		if (slen == 5 && strncasecmp(s, "https", 5) == 0)
			snprintf(a.scheme, sizeof(a.scheme), "https");
		else if (slen == 4 && strncasecmp(s, "http", 4) == 0)
			snprintf(a.scheme, sizeof(a.scheme), "http");
		else
			return bad_address(err, s, "the scheme must be http or "
			    "https");
		rest = sep + 3;
	} else {
		snprintf(a.scheme, sizeof(a.scheme), "https");
		rest = s;
	}
	auth_end = rest + strcspn(rest, "/?#");
	/* Userinfo would carry a password: refuse it without echoing it. */
	if (memchr(rest, '@', (size_t)(auth_end - rest)) != NULL)
		return lb_err_set(err, -EINVAL, "Invalid Redfish address set in "
		    "driver_info/redfish_address: credentials belong in "
		    "redfish_username and redfish_password, not in the URL");
	r = parse_authority(s, rest, (size_t)(auth_end - rest), &a, err);
	if (r < 0)
		return r;
	if (strpbrk(auth_end, "?#") != NULL)
		return bad_address(err, s, "a query or fragment is not allowed");
	path = auth_end;
	plen = strlen(path);
	if (plen == 0 || strcmp(path, "/") == 0) {
		snprintf(a.root, sizeof(a.root), "%s", LB_REDFISH_DEFAULT_ROOT);
	} else {
		if (plen + 2 > sizeof(a.root))
			return bad_address(err, s, "path too long");
		snprintf(a.root, sizeof(a.root), "%s%s", path,
		    path[plen - 1] == '/' ? "" : "/");
	}
	snprintf(a.base, sizeof(a.base), "%s://%s:%u", a.scheme, a.host,
	    a.port);
	*ret = a;
	return 0;
}

/* ---- JSON helpers ---- */

static json_t *
load_object(const char *body, size_t len, const char *what,
    struct lb_err *err)
{
	json_error_t jerr;
	json_t *root;

	if (body == NULL) {
		lb_err_set(err, -EINVAL, "empty Redfish %s reply", what);
		return NULL;
	}
	root = json_loadb(body, len, 0, &jerr);
	if (root == NULL) {
		lb_err_set(err, -EINVAL, "Redfish %s reply is not JSON: %.100s",
		    what, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		lb_err_set(err, -EINVAL, "Redfish %s reply is not a JSON object",
		    what);
		return NULL;
	}
	return root;
}

/*
 * *out = a copy of v if v is a string without NUL bytes, no longer than
 * LB_REDFISH_STRING_MAX (NULL otherwise).  -ENOMEM only.
 */
static int
dup_string(const json_t *v, char **out)
{
	size_t n;

	*out = NULL;
	if (!json_is_string(v))
		return 0;
	n = json_string_length(v);
	if (n > LB_REDFISH_STRING_MAX || strlen(json_string_value(v)) != n)
		return 0;
	*out = strdup(json_string_value(v));
	return *out == NULL ? -ENOMEM : 0;
}

/* As dup_string, but only for valid paths. */
static int
dup_path(const json_t *v, char **out)
{
	*out = NULL;
	if (!json_is_string(v) ||
	    !lb_redfish_path_is_valid(json_string_value(v)))
		return 0;
	*out = strdup(json_string_value(v));
	return *out == NULL ? -ENOMEM : 0;
}

/* The path in {"@odata.id": path}, which 'obj' may or may not be. */
static int
dup_link(const json_t *obj, char **out)
{
	return dup_path(json_object_get(obj, "@odata.id"), out);
}

static int
strv_push(struct lb_redfish_strv *sv, char *s)
{
	char **v;

	if (sv->n >= LB_REDFISH_LIST_MAX) {
		free(s);
		return 0;
	}
	v = realloc(sv->v, (sv->n + 1) * sizeof(*v));
	if (v == NULL) {
		free(s);
		return -ENOMEM;
	}
	sv->v = v;
	sv->v[sv->n++] = s;
	return 0;
}

/* Strings of an array (others skipped); links instead when 'links'. */
static int
strv_from_array(const json_t *arr, bool links, struct lb_redfish_strv *sv)
{
	size_t i;
	json_t *item;
	char *s;
	int r;

	if (!json_is_array(arr))
		return 0;
	json_array_foreach(arr, i, item) {
		r = links ? dup_link(item, &s) : dup_string(item, &s);
		if (r < 0)
			return r;
		if (s == NULL)
			continue;
		r = strv_push(sv, s);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
nomem(struct lb_err *err)
{
	return lb_err_set(err, -ENOMEM, "out of memory parsing a Redfish reply");
}

/* ---- service root ---- */

void
lb_redfish_root_free(struct lb_redfish_root *root)
{
	if (root == NULL)
		return;
	free(root->redfish_version);
	free(root->systems);
	free(root->managers);
	free(root->session_service);
	free(root->sessions);
	free(root);
}

int
lb_redfish_root_parse(const char *body, size_t len,
    struct lb_redfish_root **ret, struct lb_err *err)
{
	struct lb_redfish_root *root;
	json_t *j;
	int r = 0;

	j = load_object(body, len, "service root", err);
	if (j == NULL)
		return -EINVAL;
	root = calloc(1, sizeof(*root));
	if (root == NULL) {
		json_decref(j);
		return nomem(err);
	}
	r |= dup_string(json_object_get(j, "RedfishVersion"),
	    &root->redfish_version);
	r |= dup_link(json_object_get(j, "Systems"), &root->systems);
	r |= dup_link(json_object_get(j, "Managers"), &root->managers);
	r |= dup_link(json_object_get(j, "SessionService"),
	    &root->session_service);
	r |= dup_link(json_object_get(json_object_get(j, "Links"), "Sessions"),
	    &root->sessions);
	if (r == 0 && root->sessions == NULL && root->session_service != NULL) {
		char path[LB_REDFISH_PATH_MAX];
		size_t n = strlen(root->session_service);
		bool slash = root->session_service[n - 1] == '/';

		if ((size_t)snprintf(path, sizeof(path), "%s%sSessions",
		    root->session_service, slash ? "" : "/") < sizeof(path)) {
			root->sessions = strdup(path);
			if (root->sessions == NULL)
				r = -ENOMEM;
		}
	}
	json_decref(j);
	if (r != 0) {
		lb_redfish_root_free(root);
		return nomem(err);
	}
	if (root->systems == NULL) {
		lb_redfish_root_free(root);
		return lb_err_set(err, -EINVAL, "Redfish service root has no "
		    "Systems collection");
	}
	*ret = root;
	return 0;
}

/* ---- collections ---- */

void
lb_redfish_collection_free(struct lb_redfish_collection *coll)
{
	if (coll == NULL)
		return;
	strv_release(&coll->members);
	free(coll);
}

int
lb_redfish_collection_parse(const char *body, size_t len,
    struct lb_redfish_collection **ret, struct lb_err *err)
{
	struct lb_redfish_collection *coll;
	json_t *j, *members, *count;
	int r;

	j = load_object(body, len, "collection", err);
	if (j == NULL)
		return -EINVAL;
	members = json_object_get(j, "Members");
	if (!json_is_array(members)) {
		json_decref(j);
		return lb_err_set(err, -EINVAL, "Redfish collection reply has no "
		    "Members");
	}
	coll = calloc(1, sizeof(*coll));
	if (coll == NULL) {
		json_decref(j);
		return nomem(err);
	}
	count = json_object_get(j, "Members@odata.count");
	coll->count = json_is_integer(count) ? json_integer_value(count) : -1;
	r = strv_from_array(members, true, &coll->members);
	json_decref(j);
	if (r < 0) {
		lb_redfish_collection_free(coll);
		return nomem(err);
	}
	*ret = coll;
	return 0;
}

/* ---- ComputerSystem ---- */

void
lb_redfish_system_free(struct lb_redfish_system *sys)
{
	if (sys == NULL)
		return;
	free(sys->odata_id);
	free(sys->etag);
	free(sys->power_state_raw);
	free(sys->boot_target);
	free(sys->boot_enabled);
	free(sys->boot_mode);
	strv_release(&sys->boot_target_allowed);
	strv_release(&sys->boot_enabled_allowed);
	strv_release(&sys->boot_mode_allowed);
	free(sys->reset_target);
	strv_release(&sys->reset_allowed);
	free(sys->reset_action_info);
	strv_release(&sys->managed_by);
	free(sys->virtual_media);
	free(sys->manufacturer);
	free(sys->model);
	free(sys);
}

static int
system_boot(const json_t *boot, struct lb_redfish_system *sys)
{
	int r = 0;

	if (!json_is_object(boot))
		return 0;
	r |= dup_string(json_object_get(boot, "BootSourceOverrideTarget"),
	    &sys->boot_target);
	r |= dup_string(json_object_get(boot, "BootSourceOverrideEnabled"),
	    &sys->boot_enabled);
	r |= dup_string(json_object_get(boot, "BootSourceOverrideMode"),
	    &sys->boot_mode);
	r |= strv_from_array(json_object_get(boot,
	    "BootSourceOverrideTarget@Redfish.AllowableValues"), false,
	    &sys->boot_target_allowed);
	r |= strv_from_array(json_object_get(boot,
	    "BootSourceOverrideEnabled@Redfish.AllowableValues"), false,
	    &sys->boot_enabled_allowed);
	r |= strv_from_array(json_object_get(boot,
	    "BootSourceOverrideMode@Redfish.AllowableValues"), false,
	    &sys->boot_mode_allowed);
	return r;
}

static int
system_reset(const json_t *actions, struct lb_redfish_system *sys)
{
	json_t *reset;
	int r = 0;

	reset = json_object_get(actions, "#ComputerSystem.Reset");
	if (!json_is_object(reset))
		return 0;
	r |= dup_path(json_object_get(reset, "target"), &sys->reset_target);
	r |= dup_path(json_object_get(reset, "@Redfish.ActionInfo"),
	    &sys->reset_action_info);
	r |= strv_from_array(json_object_get(reset,
	    "ResetType@Redfish.AllowableValues"), false, &sys->reset_allowed);
	return r;
}

int
lb_redfish_system_parse(const char *body, size_t len,
    struct lb_redfish_system **ret, struct lb_err *err)
{
	struct lb_redfish_system *sys;
	json_t *j;
	int r = 0;

	j = load_object(body, len, "System", err);
	if (j == NULL)
		return -EINVAL;
	sys = calloc(1, sizeof(*sys));
	if (sys == NULL) {
		json_decref(j);
		return nomem(err);
	}
	r |= dup_path(json_object_get(j, "@odata.id"), &sys->odata_id);
	r |= dup_string(json_object_get(j, "@odata.etag"), &sys->etag);
	r |= dup_string(json_object_get(j, "PowerState"),
	    &sys->power_state_raw);
	sys->power_state = lb_redfish_power_state_map(sys->power_state_raw);
	r |= system_boot(json_object_get(j, "Boot"), sys);
	r |= system_reset(json_object_get(j, "Actions"), sys);
	r |= strv_from_array(json_object_get(json_object_get(j, "Links"),
	    "ManagedBy"), true, &sys->managed_by);
	r |= dup_link(json_object_get(j, "VirtualMedia"), &sys->virtual_media);
	r |= dup_string(json_object_get(j, "Manufacturer"), &sys->manufacturer);
	r |= dup_string(json_object_get(j, "Model"), &sys->model);
	json_decref(j);
	if (r != 0) {
		lb_redfish_system_free(sys);
		return nomem(err);
	}
	*ret = sys;
	return 0;
}

/* ---- Manager ---- */

void
lb_redfish_manager_free(struct lb_redfish_manager *mgr)
{
	if (mgr == NULL)
		return;
	free(mgr->odata_id);
	free(mgr->manager_type);
	free(mgr->virtual_media);
	free(mgr->manufacturer);
	free(mgr->model);
	free(mgr);
}

int
lb_redfish_manager_parse(const char *body, size_t len,
    struct lb_redfish_manager **ret, struct lb_err *err)
{
	struct lb_redfish_manager *mgr;
	json_t *j;
	int r = 0;

	j = load_object(body, len, "Manager", err);
	if (j == NULL)
		return -EINVAL;
	mgr = calloc(1, sizeof(*mgr));
	if (mgr == NULL) {
		json_decref(j);
		return nomem(err);
	}
	r |= dup_path(json_object_get(j, "@odata.id"), &mgr->odata_id);
	r |= dup_string(json_object_get(j, "ManagerType"), &mgr->manager_type);
	r |= dup_link(json_object_get(j, "VirtualMedia"), &mgr->virtual_media);
	r |= dup_string(json_object_get(j, "Manufacturer"), &mgr->manufacturer);
	r |= dup_string(json_object_get(j, "Model"), &mgr->model);
	json_decref(j);
	if (r != 0) {
		lb_redfish_manager_free(mgr);
		return nomem(err);
	}
	*ret = mgr;
	return 0;
}

/* ---- VirtualMedia ---- */

void
lb_redfish_vmedia_free(struct lb_redfish_vmedia *vm)
{
	if (vm == NULL)
		return;
	free(vm->odata_id);
	free(vm->etag);
	strv_release(&vm->media_types);
	free(vm->image);
	free(vm->insert_target);
	free(vm->eject_target);
	free(vm);
}

int
lb_redfish_vmedia_parse(const char *body, size_t len,
    struct lb_redfish_vmedia **ret, struct lb_err *err)
{
	struct lb_redfish_vmedia *vm;
	json_t *j, *actions, *inserted, *wp;
	int r = 0;

	j = load_object(body, len, "VirtualMedia", err);
	if (j == NULL)
		return -EINVAL;
	vm = calloc(1, sizeof(*vm));
	if (vm == NULL) {
		json_decref(j);
		return nomem(err);
	}
	r |= dup_path(json_object_get(j, "@odata.id"), &vm->odata_id);
	r |= dup_string(json_object_get(j, "@odata.etag"), &vm->etag);
	r |= strv_from_array(json_object_get(j, "MediaTypes"), false,
	    &vm->media_types);
	r |= dup_string(json_object_get(j, "Image"), &vm->image);
	if (vm->image != NULL && vm->image[0] == '\0') {
		free(vm->image);
		vm->image = NULL;
	}
	actions = json_object_get(j, "Actions");
	r |= dup_path(json_object_get(json_object_get(actions,
	    "#VirtualMedia.InsertMedia"), "target"), &vm->insert_target);
	r |= dup_path(json_object_get(json_object_get(actions,
	    "#VirtualMedia.EjectMedia"), "target"), &vm->eject_target);
	/* Some BMCs leave Inserted out; an Image then means inserted. */
	inserted = json_object_get(j, "Inserted");
	vm->inserted = json_is_boolean(inserted) ? json_is_true(inserted) :
	    vm->image != NULL;
	wp = json_object_get(j, "WriteProtected");
	vm->write_protected = json_is_boolean(wp) ? json_is_true(wp) : true;
	json_decref(j);
	if (r != 0) {
		lb_redfish_vmedia_free(vm);
		return nomem(err);
	}
	*ret = vm;
	return 0;
}

/* ---- odata.id ---- */

int
lb_redfish_odata_id_parse(const char *body, size_t len, char *out,
    size_t size)
{
	json_t *j, *id;
	int r = -EINVAL;

	j = load_object(body, len, "resource", NULL);
	if (j == NULL)
		return -EINVAL;
	id = json_object_get(j, "@odata.id");
	if (json_is_string(id) &&
	    lb_redfish_path_is_valid(json_string_value(id))) {
		if ((size_t)snprintf(out, size, "%s",
		    json_string_value(id)) < size)
			r = 0;
		else
			r = -ENOSPC;
	}
	json_decref(j);
	return r;
}

/* ---- value maps ---- */

enum lb_power_state
lb_redfish_power_state_map(const char *power_state)
{
	if (power_state == NULL)
		return LB_POWER_UNKNOWN;
	if (strcasecmp(power_state, "On") == 0 ||
	    strcasecmp(power_state, "PoweringOn") == 0)
		return LB_POWER_ON;
	if (strcasecmp(power_state, "Off") == 0 ||
	    strcasecmp(power_state, "PoweringOff") == 0)
		return LB_POWER_OFF;
	return LB_POWER_UNKNOWN;
}

static const struct {
	enum lb_boot_device device;
	const char *target;
} boot_targets[] = {
	{ LB_BOOT_DEV_PXE, "Pxe" },
	{ LB_BOOT_DEV_DISK, "Hdd" },
	{ LB_BOOT_DEV_CDROM, "Cd" },
	{ LB_BOOT_DEV_BIOS, "BiosSetup" },
	{ LB_BOOT_DEV_CDROM, "UsbCd" },	/* read back only (Supermicro) */
};

const char *
lb_redfish_boot_target_name(enum lb_boot_device device)
{
	for (size_t i = 0; i < sizeof(boot_targets) / sizeof(boot_targets[0]);
	    i++)
		if (boot_targets[i].device == device)
			return boot_targets[i].target;
	return NULL;
}

int
lb_redfish_boot_target_parse(const char *target,
    enum lb_boot_device *ret_device)
{
	if (target == NULL)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(boot_targets) / sizeof(boot_targets[0]);
	    i++) {
		if (strcmp(boot_targets[i].target, target) == 0) {
			*ret_device = boot_targets[i].device;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
lb_redfish_boot_mode_name(enum lb_boot_mode mode)
{
	switch (mode) {
	case LB_BOOT_MODE_UEFI:
		return "UEFI";
	case LB_BOOT_MODE_BIOS:
		return "Legacy";
	default:
		return NULL;
	}
}
