/*
 * mask.h - hiding secrets in the dictionaries lifeboat shows (driver_info,
 * instance_info, driver_internal_info, lookup replies): every key whose name
 * contains a sensitive word (oslo.utils' list, case-insensitive) shows as
 * "******".  Pure; any thread.
 */
#ifndef LB_MASK_H
#define LB_MASK_H

#include <jansson.h>
#include <stdbool.h>

#define LB_MASK "******"

/* True if the key names a secret. */
bool lb_mask_key_is_secret(const char *key);
/*
 * True if 'dict' (an object) has any member lb_mask_dict() would change, so
 * callers can skip copying in the common case.
 */
bool lb_mask_needed(const json_t *dict, const char *const *extra_keys);
/*
 * A new reference: a copy of 'dict' with secret members at any depth (and
 * top-level members named in extra_keys, a NULL-terminated list, may be
 * NULL) replaced by "******".  Empty or null values stay as they are.
 * Parts with nothing to hide are shared, not copied.
 */
json_t *lb_mask_dict(const json_t *dict, const char *const *extra_keys);

#endif
