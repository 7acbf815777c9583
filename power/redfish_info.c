/*
 * redfish_info.c - driver_info for the Redfish drivers, checked the way
 * Ironic does (no BMC traffic), and the BMC key the throttle groups by.
 * Any thread.
 */
#include "power/redfish_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "conductor/util/banned.h"


void
lb_redfish_info_free(struct lb_redfish_info *info)
{
	if (info == NULL)
		return;
	free(info->system_id);
	free(info->username);
	lb_redfish_free_secret(info->password);
	free(info->ca_path);
	free(info);
}

/* oslo's bool_from_string(strict=True). */
static int
parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "1", "t", "true", "on", "y", "yes" };
	static const char *const no[] = { "0", "f", "false", "off", "n", "no" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int
info_verify_ca(const json_t *v, struct lb_redfish_info *info,
    struct lb_err *err)
{
	struct stat st;
	const char *s;

	info->verify = true;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_boolean(v)) {
		info->verify = json_is_true(v);
		return 0;
	}
	if (!json_is_string(v))
		return lb_err_set(err, -EINVAL, "Invalid value type set in "
		    "driver_info/redfish_verify_ca. The value should be a "
		    "Boolean or the path to a file/directory");
	s = json_string_value(v);
	if (parse_bool(s, &info->verify) == 0)
		return 0;
	/*
	 * Any absolute path is taken without looking at it: an answer that
	 * depended on the file would tell an API user which paths exist on
	 * the conductor.  A missing or unusable file fails at the BMC call,
	 * with the same message as a certificate that does not verify.
	 */
	if (s[0] != '/' || strlen(s) >= PATH_MAX)
		return lb_err_set(err, -EINVAL, "Invalid value type set in "
		    "driver_info/redfish_verify_ca. The value should be a "
		    "Boolean or the absolute path to a file/directory, not "
		    "\"%.200s\"", s);
	info->ca_path = strdup(s);
	if (info->ca_path == NULL)
		return -ENOMEM;
	info->ca_is_dir = stat(s, &st) == 0 && S_ISDIR(st.st_mode);
	return 0;
}

static int
info_system_id(const json_t *v, struct lb_redfish_info *info,
    struct lb_err *err)
{
	const char *s;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return lb_err_set(err, -EINVAL, "Invalid value set in "
		    "driver_info/redfish_system_id: it must be a non-empty "
		    "string");
	s = json_string_value(v);
	if (s[0] == '/') {
		if (!lb_redfish_path_is_valid(s))
			return lb_err_set(err, -EINVAL, "Invalid value "
			    "'%.200s' set in driver_info/redfish_system_id: not "
			    "a valid Redfish path", s);
	} else {
		/* A bare Id, looked up under the Systems collection. */
		if (strlen(s) > 255 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789-._~") != strlen(s))
			return lb_err_set(err, -EINVAL, "Invalid value "
			    "'%.200s' set in driver_info/redfish_system_id: use "
			    "a path such as /redfish/v1/Systems/1", s);
	}
	info->system_id = strdup(s);
	return info->system_id == NULL ? -ENOMEM : 0;
}

static int
info_string(const json_t *di, const char *key, char **out,
    struct lb_err *err)
{
	const json_t *v = json_object_get(di, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return lb_err_set(err, -EINVAL, "Invalid value type set in "
		    "driver_info/%s: it must be a string", key);
	*out = strdup(json_string_value(v));
	return *out == NULL ? -ENOMEM : 0;
}

int
lb_redfish_info_parse(const json_t *driver_info,
    struct lb_redfish_info **ret, struct lb_err *err)
{
	struct lb_redfish_info *info;
	const json_t *addr, *auth;
	int r;

	addr = json_object_get(driver_info, "redfish_address");
	if (addr == NULL || json_is_null(addr) ||
	    (json_is_string(addr) && json_string_length(addr) == 0))
		return lb_err_set(err, -EINVAL, "Missing the following Redfish "
		    "properties in node's driver_info: redfish_address");
	if (!json_is_string(addr))
		return lb_err_set(err, -EINVAL, "Invalid value type set in "
		    "driver_info/redfish_address: it must be a string");
	info = calloc(1, sizeof(*info));
	if (info == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	r = lb_redfish_address_parse(json_string_value(addr), &info->address,
	    err);
	if (r < 0)
		goto fail;
	r = info_system_id(json_object_get(driver_info, "redfish_system_id"),
	    info, err);
	if (r < 0)
		goto fail;
	r = info_string(driver_info, "redfish_username", &info->username, err);
	if (r < 0)
		goto fail;
	r = info_string(driver_info, "redfish_password", &info->password, err);
	if (r < 0)
		goto fail;
	r = info_verify_ca(json_object_get(driver_info, "redfish_verify_ca"),
	    info, err);
	if (r < 0)
		goto fail;
	auth = json_object_get(driver_info, "redfish_auth_type");
	if (auth == NULL || json_is_null(auth) ||
	    (json_is_string(auth) &&
	    strcmp(json_string_value(auth), "auto") == 0)) {
		info->auth = LB_REDFISH_AUTH_AUTO;
	} else if (json_is_string(auth) &&
	    strcmp(json_string_value(auth), "basic") == 0) {
		info->auth = LB_REDFISH_AUTH_BASIC;
	} else if (json_is_string(auth) &&
	    strcmp(json_string_value(auth), "session") == 0) {
		info->auth = LB_REDFISH_AUTH_SESSION;
	} else {
		r = lb_err_set(err, -EINVAL, "Invalid value \"%.100s\" set in "
		    "driver_info/redfish_auth_type. The value should be one of "
		    "\"basic, session, auto\"", json_is_string(auth) ?
		    json_string_value(auth) : "(not a string)");
		goto fail;
	}
	*ret = info;
	return 0;
fail:
	lb_redfish_info_free(info);
	if (r == -ENOMEM)
		return lb_err_set(err, -ENOMEM, "out of memory");
	return r;
}

int
lb_redfish_bmc_key(const json_t *driver_info, char *buf, size_t size)
{
	struct lb_redfish_address a;
	const json_t *addr = json_object_get(driver_info, "redfish_address");

	if (!json_is_string(addr) ||
	    lb_redfish_address_parse(json_string_value(addr), &a, NULL) < 0)
		return -EINVAL;
	if ((size_t)snprintf(buf, size, "redfish:%s", a.base) >= size)
		return -EINVAL;
	return 0;
}
