/*
 * api_chassis.c - /v1/chassis as Ironic shapes it, always empty: lifeboat
 * keeps no chassis (a node's chassis_uuid cannot be set), so the list is
 * read-only and every chassis is "not found".  It exists because "/v1"
 * links it and `openstack baremetal chassis list` reads it.  API threads.
 */
#include <string.h>

#include "conductor/api_list.h"
#include "conductor/util/ident.h"
#include "conductor/util/banned.h"

/* Ironic checks field names against each item; there are none to check. */
static int
chassis_fields_parse(const char *list, int minor, uint64_t *ret_bits,
    struct lb_err *err)
{
	(void)list;
	(void)minor;
	(void)err;
	*ret_bits = 0;
	return 0;
}

int
lb_api_chassis_not_found(const char *what, const char *v, struct lb_err *err)
{
	if (!lb_uuid_is_valid(v))
		return lb_err_set(err, -EINVAL, "Expected UUID for %s: %s",
		    what, v);
	return lb_err_set(err, -ENOENT, "Chassis %s could not be found.", v);
}

static bool
chassis_sortable(const char *key)
{
	static const char *const cols[] = {
		"id", "uuid", "description", "created_at", "updated_at",
	};

	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		if (strcmp(key, cols[i]) == 0)
			return true;
	return false;
}

static int
chassis_collection(struct lb_req *req, bool detail, struct lb_resp *resp,
    struct lb_err *err)
{
	struct lb_paging pg;
	struct lb_buf b;
	int r;

	r = lb_paging_parse(req, &pg, chassis_fields_parse, err);
	if (r < 0)
		return r;
	r = lb_paging_detail(req, &pg, &detail, err);
	if (r < 0)
		return r;
	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	if (pg.marker != NULL)
		return lb_api_chassis_not_found("marker", pg.marker, err);
	if (pg.sort_key != NULL && !chassis_sortable(pg.sort_key))
		return lb_err_set(err, -EINVAL, "The sort_key value %s is an "
		    "invalid field for sorting", pg.sort_key);
	lb_buf_init(&b);
	lb_buf_adds(&b, "{\"chassis\":[]}");
	return lb_resp_json(resp, 200, &b, err);
}

int
lb_api_chassis_list(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	(void)args;
	return chassis_collection(req, false, resp, err);
}

int
lb_api_chassis_detail(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	(void)args;
	return chassis_collection(req, true, resp, err);
}

int
lb_api_chassis_show(struct lb_req *req, const char *const *args,
    struct lb_resp *resp, struct lb_err *err)
{
	uint64_t bits;
	const uint64_t *fields;
	int r;

	(void)resp;
	r = lb_req_fields(req, chassis_fields_parse, &bits, &fields, err);
	if (r < 0)
		return r;
	r = lb_req_check_query(req, err);
	if (r < 0)
		return r;
	return lb_api_chassis_not_found("chassis_uuid", args[0], err);
}
