/*
 * record.h - the generic machinery behind node and port documents: a table
 * of fields, each at an offset in its C struct, rendered, type-checked,
 * created and patched by the same code.  Internal to conductor/.  Any thread.
 */
#ifndef LB_RECORD_H
#define LB_RECORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conductor/node.h"

enum lb_ftype {
	LB_FT_STR,		/* char *, NULL shows as null */
	LB_FT_STRBUF,		/* char[] inside the struct */
	LB_FT_BOOL,		/* bool */
	LB_FT_TRIBOOL,		/* int: -1 null, 0 false, 1 true */
	LB_FT_OBJ,		/* json_t * object */
	LB_FT_LIST,		/* json_t * array */
	LB_FT_LINKS,		/* computed: self + bookmark links */
	LB_FT_CONDUCTOR,	/* computed: the conductor's host */
};

#define LB_FF_CREATE	0x01	/* may be given on create */
#define LB_FF_PATCH	0x02	/* may be changed by PATCH */
#define LB_FF_SECRETS	0x04	/* a dict whose secret members are masked */
#define LB_FF_SUMMARY	0x08	/* part of the list (non-detail) document */
#define LB_FF_NULLABLE	0x10	/* may be set to null */
#define LB_FF_LOWER	0x20	/* stored lower-cased */
#define LB_FF_MAC	0x40	/* a MAC address, stored as aa:bb:cc:dd:ee:ff */
#define LB_FF_REQUIRED	0x80	/* create needs it */
#define LB_FF_NOSTORE	0x100	/* not a store column (filled by a join) */

struct lb_record;

struct lb_field {
	const char *name;
	enum lb_ftype type;
	size_t offset;
	int min_minor;
	unsigned flags;
	size_t max_len;		/* strings: longest accepted, 0 = 255 */
	/* Extra check of a new string value; 0 or -EINVAL with a message. */
	int (*check)(const char *value, struct lb_err *err);
	const char *link_sub;	/* links: "" for the resource, "ports", ... */
	const char *const *mask_extra;	/* more keys to mask in a dict */
};

struct lb_record_type {
	const char *kind;	/* "node", "port": for messages */
	const char *plural;	/* "nodes": for links */
	const struct lb_field *fields;
	size_t nfields;
	size_t uuid_offset;	/* the char[] uuid, for links */
};

/* The two record types, for the store's column mapping. */
extern const struct lb_record_type lb_node_type;
extern const struct lb_record_type lb_port_type;

/* True when the field is a column of its store table. */
bool lb_field_is_stored(const struct lb_field *f);

void lb_record_render(const struct lb_record_type *t, const void *rec,
    const struct lb_render *r, struct lb_buf *b);
int lb_record_fields_parse(const struct lb_record_type *t, const char *list,
    int minor, uint64_t *ret_bits, struct lb_err *err);
/* The field's current value as JSON (new reference), unmasked. */
json_t *lb_record_field_json(const struct lb_field *f, const void *rec);
/* Type-checks and stores a new value (NULL = removed) into the field. */
int lb_record_field_set(const struct lb_record_type *t, const struct lb_field *f,
    void *rec, const json_t *value, struct lb_err *err);
/* Create: every member must be a creatable field visible at 'minor'. */
int lb_record_from_create(const struct lb_record_type *t, void *rec,
    const json_t *body, int minor, struct lb_err *err);
/*
 * PATCH: applies 'patch' to the record's document and stores the fields that
 * changed; a change to a field that is not patchable is refused.
 */
int lb_record_patch(const struct lb_record_type *t, void *rec,
    const json_t *patch, int minor, uint64_t *ret_changed,
    struct lb_err *err);
int lb_record_field_index(const struct lb_record_type *t, const char *name);
/* Releases the strings and JSON values the table points at. */
void lb_record_release(const struct lb_record_type *t, void *rec);

#endif
