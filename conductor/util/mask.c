/*
 * mask.c - secret masking for API output.  Any thread.
 */
#include "mask.h"

#include <string.h>
#include <strings.h>

#include "conductor/util/banned.h"

/* oslo_utils.strutils._SANITIZE_KEYS, plus the SNMP keys Ironic masks. */
static const char *const secret_words[] = {
	"adminpass", "admin_pass", "password", "admin_password", "auth_token",
	"new_pass", "auth_password", "secret_uuid", "secret", "sys_pswd",
	"token", "configdrive", "chappassword", "encrypted_key", "private_key",
	"fernetkey", "sslkey", "passphrase", "keystone_password",
	"vnc_password", "snmp_auth_key", "snmp_priv_key", NULL,
};

bool
lb_mask_key_is_secret(const char *key)
{
	for (size_t i = 0; secret_words[i] != NULL; i++) {
		if (strcasestr(key, secret_words[i]) != NULL)
			return true;
	}
	return false;
}

static bool
value_is_empty(const json_t *v)
{
	return json_is_null(v) ||
	    (json_is_string(v) && json_string_length(v) == 0);
}

static bool
key_is_masked(const char *key, const char *const *extra_keys)
{
	if (lb_mask_key_is_secret(key))
		return true;
	for (size_t i = 0; extra_keys != NULL && extra_keys[i] != NULL; i++) {
		if (strcmp(key, extra_keys[i]) == 0)
			return true;
	}
	return false;
}

/*
 * Secrets hide at any depth (oslo.utils masks nested dicts too), inside
 * objects and arrays alike.  extra_keys apply at the top level only.
 */
static bool
needed(const json_t *v, const char *const *extra_keys)
{
	const char *key;
	json_t *child;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, child) {
			if (needed(child, NULL))
				return true;
		}
		return false;
	}
	if (!json_is_object(v))
		return false;
	json_object_foreach((json_t *)v, key, child) {
		if (!value_is_empty(child) && key_is_masked(key, extra_keys))
			return true;
		if (needed(child, NULL))
			return true;
	}
	return false;
}

bool
lb_mask_needed(const json_t *dict, const char *const *extra_keys)
{
	return json_is_object(dict) && needed(dict, extra_keys);
}

static json_t *
mask(const json_t *v, const char *const *extra_keys)
{
	const char *key;
	json_t *child, *out;
	size_t i;

	if (!needed(v, extra_keys))
		return json_incref((json_t *)v);
	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach(v, i, child)
			json_array_append_new(out, mask(child, NULL));
		return out;
	}
	out = json_object();
	if (out == NULL)
		return NULL;
	json_object_foreach((json_t *)v, key, child) {
		if (!value_is_empty(child) && key_is_masked(key, extra_keys))
			json_object_set_new(out, key, json_string(LB_MASK));
		else
			json_object_set_new(out, key, mask(child, NULL));
	}
	return out;
}

json_t *
lb_mask_dict(const json_t *dict, const char *const *extra_keys)
{
	if (!json_is_object(dict))
		return json_incref((json_t *)dict);
	return mask(dict, extra_keys);
}
