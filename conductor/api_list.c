/*
 * api_list.c - paging, sorting and next links for collections.  API
 * threads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/api_list.h"
#include "conductor/util/banned.h"

int
lb_paging_limit(struct lb_req *req, size_t *ret, struct lb_err *err)
{
	size_t max = (size_t)req->ctx->cfg->api_max_limit;
	const char *v = lb_req_query(req, "limit");
	char *end;
	long long n;

	if (v == NULL) {
		*ret = max;
		return 0;
	}
	n = strtoll(v, &end, 10);
	if (*v == '\0' || *end != '\0')
		return lb_err_set(err, -EINVAL, "Invalid limit '%s': expected "
		    "an integer", v);
	if (n <= 0)
		return lb_err_set(err, -EINVAL, "Limit must be positive");
	*ret = (size_t)n < max ? (size_t)n : max;
	return 0;
}

int
lb_paging_parse(struct lb_req *req, struct lb_paging *pg,
    int (*fields_parse)(const char *, int, uint64_t *, struct lb_err *),
    struct lb_err *err)
{
	const char *v;
	int r;

	r = lb_paging_limit(req, &pg->limit, err);
	if (r < 0)
		return r;
	pg->marker = lb_req_query(req, "marker");
	pg->sort_key = lb_req_query(req, "sort_key");
	v = lb_req_query(req, "sort_dir");
	if (v != NULL && strcmp(v, "asc") != 0 && strcmp(v, "desc") != 0)
		return lb_err_set(err, -EINVAL, "Invalid sort direction: %s. "
		    "Acceptable values are 'asc' or 'desc'", v);
	pg->sort_desc = v != NULL && strcmp(v, "desc") == 0;
	r = lb_req_fields(req, fields_parse, &pg->field_bits, &pg->fields,
	    err);
	if (r < 0)
		return r;
	return 0;
}

int
lb_paging_detail(struct lb_req *req, const struct lb_paging *pg, bool *detail,
    struct lb_err *err)
{
	int r, want;

	r = lb_req_query_bool(req, "detail", &want, err);
	if (r < 0)
		return r;
	if (want >= 0) {
		if (*detail)
			return lb_err_set(err, -EINVAL, "Unknown argument: "
			    "\"detail\"");
		r = lb_req_need(req, 43, err);
		if (r < 0)
			return r;
		if (want == 1 && pg->fields != NULL)
			return lb_err_set(err, -EINVAL, "Can not specify "
			    "?detail=True and fields in the same request.");
		*detail = want == 1;
	}
	if (*detail && pg->fields != NULL)
		return lb_err_set(err, -EINVAL, "Can not specify ?fields "
		    "with /detail; use one or the other.");
	return 0;
}

static void
add_escaped(struct lb_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~,", c) != NULL) {
			lb_buf_addc(b, (char)c);
		} else {
			lb_buf_addc(b, '%');
			lb_buf_addc(b, hex[c >> 4]);
			lb_buf_addc(b, hex[c & 0xf]);
		}
	}
}

void
lb_paging_next(const struct lb_req *req, const struct lb_paging *pg,
    size_t count, const char *last_uuid, struct lb_buf *b)
{
	struct lb_buf url;
	char *text;

	if (count == 0 || count < pg->limit)
		return;
	lb_buf_init(&url);
	lb_buf_addf(&url, "%s%s?", req->base_url, req->path);
	for (size_t i = 0; i < req->nquery; i++) {
		if (strcmp(req->query[i].key, "limit") == 0 ||
		    strcmp(req->query[i].key, "marker") == 0)
			continue;
		add_escaped(&url, req->query[i].key);
		lb_buf_addc(&url, '=');
		add_escaped(&url, req->query[i].value);
		lb_buf_addc(&url, '&');
	}
	lb_buf_addf(&url, "limit=%zu&marker=%s", pg->limit, last_uuid);
	text = lb_buf_steal(&url, NULL);
	if (text == NULL)
		return;
	lb_buf_adds(b, ",\"next\":");
	lb_buf_add_json_string(b, text);
	free(text);
}
