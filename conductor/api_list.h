/*
 * api_list.h - what node and port collections share: paging (limit,
 * marker), sorting and the "next" link.  API threads.
 */
#ifndef LB_API_LIST_H
#define LB_API_LIST_H

#include "conductor/api_internal.h"

struct lb_paging {
	size_t limit;
	const char *marker;
	const char *sort_key;
	bool sort_desc;
	const uint64_t *fields;		/* NULL: all */
	uint64_t field_bits;
	bool detail;
};

/*
 * ?limit=: at most [api] max_limit (also when absent); Ironic's 400s for
 * a bad or non-positive one.
 */
int lb_paging_limit(struct lb_req *req, size_t *ret, struct lb_err *err);
/*
 * Reads limit, marker, sort_key, sort_dir and fields (with the record
 * kind's field parser).  400 on bad values.
 */
int lb_paging_parse(struct lb_req *req, struct lb_paging *pg,
    int (*fields_parse)(const char *, int, uint64_t *, struct lb_err *),
    struct lb_err *err);

/*
 * ?detail= (1.43) of a node or chassis list: sets *detail when asked for;
 * 400 on a /detail path (*detail already true) or with ?fields.
 */
int lb_paging_detail(struct lb_req *req, const struct lb_paging *pg,
    bool *detail, struct lb_err *err);

/*
 * Appends ,"next":"<url>" when the page is full: the same request with
 * marker set to the last item.
 */
void lb_paging_next(const struct lb_req *req, const struct lb_paging *pg,
    size_t count, const char *last_uuid, struct lb_buf *b);

#endif
