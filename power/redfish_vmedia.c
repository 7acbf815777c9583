/*
 * redfish_vmedia.c - virtual CD for the "redfish" management interface:
 * finds the node's CD/DVD slots (the System's VirtualMedia collection, else
 * its Managers'), ejects and inserts by URL with the fallbacks of the
 * contract (section 7.2) and the quirks of redfish_quirks.c.  Conductor
 * worker threads; blocks (a 5xx retry waits 3 s, an eject check up to 2 s).
 */
#include "power/redfish_vmedia.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "power/redfish_client.h"
#include "power/redfish_quirks.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

#define SLOTS_MAX 16
#define MANAGERS_MAX 4

struct slot {
	struct lb_redfish_vmedia *vm;
	char *etag;		/* the ETag header, else @odata.etag */
	bool patchable;		/* the Allow header lists PATCH */
};

/* One driver call. */
struct vcall {
	const struct lb_task *task;
	struct lb_redfish_conn *conn;
	char path[LB_REDFISH_PATH_MAX];		/* the System */
	unsigned int flags;			/* enum lb_redfish_quirk */
	struct slot slots[SLOTS_MAX];
	size_t nslots;
};

static void
note(struct vcall *vc, unsigned int flag)
{
	if (lb_redfish_quirk_note(vc->task->driver_internal_info, flag) == 0)
		log_debug("redfish: %s: quirk %s", vc->path,
		    lb_redfish_quirk_name(flag));
}

static void
slot_release(struct slot *s)
{
	lb_redfish_vmedia_free(s->vm);
	free(s->etag);
	memset(s, 0, sizeof(*s));
}

/* GETs a slot into *s (released first). */
static int
slot_read(struct vcall *vc, const char *path, struct slot *s,
    struct lb_err *err)
{
	struct lb_redfish_reply reply;
	struct lb_redfish_vmedia *vm = NULL;
	int r;

	r = lb_redfish_request(vc->conn, "GET", path, NULL, NULL, &reply, err);
	if (r == 0)
		r = lb_redfish_vmedia_parse(reply.body, reply.len, &vm, err);
	if (r == 0 && vm->odata_id == NULL) {
		vm->odata_id = strdup(path);
		if (vm->odata_id == NULL)
			r = lb_err_set(err, -ENOMEM, "out of memory");
	}
	if (r == 0) {
		slot_release(s);
		s->vm = vm;
		vm = NULL;
		s->patchable = lb_redfish_allow_has(reply.allow, "PATCH");
		if (reply.etag != NULL) {
			s->etag = reply.etag;
			reply.etag = NULL;
		} else if (s->vm->etag != NULL) {
			s->etag = strdup(s->vm->etag);
		}
	}
	lb_redfish_vmedia_free(vm);
	lb_redfish_reply_release(&reply);
	return r;
}

static int
slot_refresh(struct vcall *vc, struct slot *s, struct lb_err *err)
{
	char path[LB_REDFISH_PATH_MAX];

	snprintf(path, sizeof(path), "%s", s->vm->odata_id);
	return slot_read(vc, path, s, err);
}

static bool
is_cd(const struct lb_redfish_vmedia *vm)
{
	return lb_redfish_strv_contains(&vm->media_types, "CD") ||
	    lb_redfish_strv_contains(&vm->media_types, "DVD");
}

static bool
known_slot(const struct vcall *vc, const char *path)
{
	for (size_t i = 0; i < vc->nslots; i++)
		if (strcmp(vc->slots[i].vm->odata_id, path) == 0)
			return true;
	return false;
}

/* Adds the CD/DVD slots of one VirtualMedia collection; gone ones skipped. */
static int
collect(struct vcall *vc, const char *coll_path, struct lb_err *err)
{
	struct lb_redfish_collection *coll = NULL;
	struct lb_redfish_reply reply;
	struct slot s = { 0 };
	int r;

	r = lb_redfish_request(vc->conn, "GET", coll_path, NULL, NULL, &reply,
	    err);
	if (r == 0)
		r = lb_redfish_collection_parse(reply.body, reply.len, &coll,
		    err);
	lb_redfish_reply_release(&reply);
	for (size_t i = 0; r == 0 && i < coll->members.n &&
	    vc->nslots < SLOTS_MAX; i++) {
		if (known_slot(vc, coll->members.v[i]))
			continue;
		r = slot_read(vc, coll->members.v[i], &s, err);
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		if (r == 0 && is_cd(s.vm)) {
			vc->slots[vc->nslots++] = s;
			memset(&s, 0, sizeof(s));
		}
	}
	slot_release(&s);
	lb_redfish_collection_free(coll);
	return r;
}

/*
 * The CD/DVD slots: the System's own VirtualMedia (newer BMCs), else those
 * of each Manager in Links.ManagedBy.
 */
static int
discover(struct vcall *vc, const struct lb_redfish_system *sys,
    struct lb_err *err)
{
	struct lb_redfish_manager *mgr;
	struct lb_redfish_reply reply;
	int r;

	if (sys->virtual_media != NULL) {
		r = collect(vc, sys->virtual_media, err);
		if (r < 0 && r != -ENOENT)
			return r;
		if (vc->nslots > 0)
			return 0;
	}
	for (size_t i = 0; i < sys->managed_by.n && i < MANAGERS_MAX; i++) {
		r = lb_redfish_request(vc->conn, "GET", sys->managed_by.v[i],
		    NULL, NULL, &reply, err);
		if (r == 0)
			r = lb_redfish_manager_parse(reply.body, reply.len,
			    &mgr, err);
		lb_redfish_reply_release(&reply);
		if (r < 0)
			return r;
		if (mgr->virtual_media != NULL)
			r = collect(vc, mgr->virtual_media, err);
		lb_redfish_manager_free(mgr);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	return 0;
}

static int
vcall_open(const struct lb_task *task, struct vcall *vc, struct lb_err *err)
{
	struct lb_redfish_system *sys = NULL;
	struct lb_redfish_quirks q;
	int r;

	memset(vc, 0, sizeof(*vc));
	vc->task = task;
	r = lb_redfish_conn_open(task, 0, &vc->conn, err);
	if (r < 0)
		return r;
	r = lb_redfish_system_path(vc->conn, vc->path, sizeof(vc->path), err);
	if (r == 0)
		r = lb_redfish_get_system(vc->conn, vc->path, &sys, err);
	if (r < 0)
		return r;
	lb_redfish_quirks_lookup(vc->conn, sys, &q);
	vc->flags = q.flags | lb_redfish_quirks_noted(
	    task->driver_internal_info);
	log_debug("redfish: %s: vendor quirks '%s'", vc->path, q.vendor);
	r = discover(vc, sys, err);
	lb_redfish_system_free(sys);
	return r;
}

static void
vcall_close(struct vcall *vc)
{
	for (size_t i = 0; i < vc->nslots; i++)
		slot_release(&vc->slots[i]);
	lb_redfish_conn_free(vc->conn);
	vc->conn = NULL;
}

/* One request whose status the caller wants, also on failure. */
static int
vrequest(struct vcall *vc, const char *method, const char *path,
    const json_t *body, const char *if_match, long *ret_status,
    bool *ret_mentions, const char *const *words, struct lb_err *err)
{
	struct lb_redfish_reply reply;
	int r;

	r = lb_redfish_request(vc->conn, method, path, body, if_match, &reply,
	    err);
	*ret_status = reply.status;
	for (size_t i = 0; words != NULL && words[i] != NULL; i++)
		ret_mentions[i] = r < 0 && lb_redfish_error_mentions(reply.body,
		    reply.len, words[i]);
	lb_redfish_reply_release(&reply);
	return r;
}

/* PATCHes a slot with If-Match; once more with a fresh ETag on 412. */
static int
slot_patch(struct vcall *vc, struct slot *s, const json_t *body,
    long *ret_status, struct lb_err *err)
{
	int r;

	for (int attempt = 0; ; attempt++) {
		r = vrequest(vc, "PATCH", s->vm->odata_id, body, s->etag,
		    ret_status, NULL, NULL, err);
		if (r == 0 || *ret_status != 412 || attempt > 0)
			return r;
		r = slot_refresh(vc, s, err);
		if (r < 0)
			return r;
	}
}

static bool
use_patch(const struct vcall *vc, const struct slot *s, const char *target)
{
	return s->patchable && (target == NULL ||
	    (vc->flags & LB_RFQ_PATCH_INSTEAD_OF_ACTION));
}

/*
 * After an eject: Inserted false, or an empty Image once the slot was read
 * LB_REDFISH_EJECT_CHECK_READS times (at once with sticky_inserted known).
 */
static int
eject_check(struct vcall *vc, struct slot *s, struct lb_err *err)
{
	int r;

	for (int reads = 1; ; reads++) {
		r = slot_refresh(vc, s, err);
		if (r < 0)
			return r;
		if (!s->vm->inserted)
			return 0;
		if (s->vm->image == NULL &&
		    (reads >= LB_REDFISH_EJECT_CHECK_READS ||
		    (vc->flags & LB_RFQ_STICKY_INSERTED))) {
			vc->flags |= LB_RFQ_STICKY_INSERTED;
			note(vc, LB_RFQ_STICKY_INSERTED);
			return 0;
		}
		if (reads >= LB_REDFISH_EJECT_CHECK_READS)
			return lb_err_set(err, -EIO, "Redfish virtual media "
			    "'%.200s' still holds an image after EjectMedia",
			    s->vm->odata_id);
		lb_redfish_sleep(LB_REDFISH_EJECT_CHECK_DELAY_S);
	}
}

static int
eject_slot(struct vcall *vc, struct slot *s, struct lb_err *err)
{
	const char *target = s->vm->eject_target;
	json_t *empty = NULL, *patch;
	bool with_body;
	long status;
	int r;

	if (use_patch(vc, s, target)) {
		patch = json_pack("{s:n, s:b}", "Image", "Inserted", 0);
		if (patch == NULL)
			return lb_err_set(err, -ENOMEM, "out of memory");
		r = slot_patch(vc, s, patch, &status, err);
		json_decref(patch);
		if (r == 0)
			note(vc, LB_RFQ_PATCH_INSTEAD_OF_ACTION);
	} else if (target != NULL) {
		empty = json_object();
		with_body = vc->flags & LB_RFQ_EJECT_EMPTY_BODY;
		r = vrequest(vc, "POST", target, with_body ? empty : NULL, NULL,
		    &status, NULL, NULL, err);
		/* HPE iLO and others refuse a POST without a JSON body. */
		if (r < 0 && !with_body && (status == 415 || status == 400)) {
			with_body = true;
			r = vrequest(vc, "POST", target, empty, NULL, &status,
			    NULL, NULL, err);
		}
		if (r == 0 && with_body) {
			vc->flags |= LB_RFQ_EJECT_EMPTY_BODY;
			note(vc, LB_RFQ_EJECT_EMPTY_BODY);
		}
		json_decref(empty);
	} else {
		return lb_err_set(err, -EOPNOTSUPP, "Redfish virtual media "
		    "'%.200s' has no EjectMedia action and does not allow "
		    "PATCH", s->vm->odata_id);
	}
	if (r < 0)
		return r;
	return eject_check(vc, s, err);
}

/* The URL without its query, which may hold a signature. */
static int
url_shown_len(const char *url)
{
	size_t n = strcspn(url, "?#");

	return n > 200 ? 200 : (int)n;
}

/*
 * The URL up to its last '/': the file name of an ISO lifeboat publishes
 * is the secret that keeps others from fetching it (and its agent token).
 */
static int
url_dir_len(const char *url)
{
	int n = url_shown_len(url);

	while (n > 0 && url[n - 1] != '/')
		n--;
	return n > 0 ? n - 1 : 0;
}

static int
url_check(const char *url, struct lb_err *err)
{
	size_t n;

	if (url == NULL || (strncasecmp(url, "http://", 7) != 0 &&
	    strncasecmp(url, "https://", 8) != 0))
		return lb_err_set(err, -EINVAL, "virtual media image URL "
		    "'%.*s' is not http:// or https://",
		    url != NULL ? url_shown_len(url) : 0, url != NULL ? url :
		    "");
	n = strlen(url);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 ||
		    (unsigned char)url[i] == 0x7f)
			return lb_err_set(err, -EINVAL, "virtual media image "
			    "URL contains white space or control characters");
	if (n > LB_REDFISH_STRING_MAX || url[strcspn(url, ":") + 3] == '/' ||
	    url[strcspn(url, ":") + 3] == '\0')
		return lb_err_set(err, -EINVAL, "virtual media image URL "
		    "'%.*s' is too long or has no host", url_shown_len(url),
		    url);
	return 0;
}

/* The InsertMedia body for the quirks in 'f'. */
static json_t *
insert_body(const char *url, unsigned int f)
{
	json_t *b = json_pack("{s:s}", "Image", url);

	if (b == NULL)
		return NULL;
	if (f & LB_RFQ_TRANSFER_PROTOCOL_TYPE)
		json_object_set_new(b, "TransferProtocolType", json_string(
		    strncasecmp(url, "https:", 6) == 0 ? "HTTPS" : "HTTP"));
	if (f & LB_RFQ_TRANSFER_METHOD_STREAM)
		json_object_set_new(b, "TransferMethod", json_string("Stream"));
	if (f & LB_RFQ_IMAGE_CREDENTIALS_NONE) {
		json_object_set_new(b, "UserName", json_string("none"));
		json_object_set_new(b, "Password", json_string("none"));
	}
	return b;
}

static const char *const wanted[] = {
	"TransferProtocolType", "TransferMethod", "UserName", "Password", NULL,
};

/* Which parameter the BMC asked for that 'f' does not send yet, or 0. */
static unsigned int
asked_for(const bool *mentions, unsigned int f)
{
	if (mentions[0] && !(f & LB_RFQ_TRANSFER_PROTOCOL_TYPE))
		return LB_RFQ_TRANSFER_PROTOCOL_TYPE;
	if (mentions[1] && !(f & LB_RFQ_TRANSFER_METHOD_STREAM))
		return LB_RFQ_TRANSFER_METHOD_STREAM;
	if ((mentions[2] || mentions[3]) &&
	    !(f & LB_RFQ_IMAGE_CREDENTIALS_NONE))
		return LB_RFQ_IMAGE_CREDENTIALS_NONE;
	return 0;
}

static bool
next_slot_status(long status)
{
	return status == 400 || status == 404 || status == 405;
}

/*
 * InsertMedia (or the PATCH) on one slot.  *ret_next says another slot may
 * do better (400, 404, 405, no way to insert).
 */
static int
insert_slot(struct vcall *vc, struct slot *s, const char *url,
    bool *ret_next, struct lb_err *err)
{
	const unsigned int body_quirks = LB_RFQ_TRANSFER_PROTOCOL_TYPE |
	    LB_RFQ_TRANSFER_METHOD_STREAM | LB_RFQ_IMAGE_CREDENTIALS_NONE;
	const char *target = s->vm->insert_target;
	unsigned int f = vc->flags & body_quirks, more;
	bool patch = use_patch(vc, s, target);
	bool mentions[4];
	int tries = 1, r;
	json_t *body;
	long status;

	*ret_next = false;
	if (!patch && target == NULL) {
		*ret_next = true;
		return lb_err_set(err, -EOPNOTSUPP, "Redfish virtual media "
		    "'%.200s' has no InsertMedia action and does not allow "
		    "PATCH", s->vm->odata_id);
	}
	for (;;) {
		if (patch) {
			body = json_pack("{s:s, s:b, s:b}", "Image", url,
			    "Inserted", 1, "WriteProtected", 1);
			if (body == NULL)
				return lb_err_set(err, -ENOMEM,
				    "out of memory");
			r = slot_patch(vc, s, body, &status, err);
			memset(mentions, 0, sizeof(mentions));
		} else {
			body = insert_body(url, f);
			if (body == NULL)
				return lb_err_set(err, -ENOMEM,
				    "out of memory");
			r = vrequest(vc, "POST", target, body, NULL, &status,
			    mentions, wanted, err);
		}
		json_decref(body);
		if (r == 0 || status == 0)
			break;
		/* A parameter is asked for with 400, 422 or a 5xx. */
		more = patch || !(status == 400 || status == 422 ||
		    status >= 500) ? 0 : asked_for(mentions, f);
		if (more != 0) {
			f |= more;
			continue;
		}
		if (status >= 500 && (vc->flags & LB_RFQ_RETRY_INSERT_ON_5XX) &&
		    tries < LB_REDFISH_INSERT_ATTEMPTS) {
			/* iDRAC may still be busy with the eject. */
			tries++;
			lb_redfish_sleep(LB_REDFISH_INSERT_RETRY_DELAY_S);
			continue;
		}
		*ret_next = next_slot_status(status);
		break;
	}
	if (r < 0)
		return r;
	if (patch)
		note(vc, LB_RFQ_PATCH_INSTEAD_OF_ACTION);
	if (tries > 1)
		note(vc, LB_RFQ_RETRY_INSERT_ON_5XX);
	for (unsigned int b = 1; b < (1u << LB_RFQ_COUNT); b <<= 1)
		if (f & b)
			note(vc, b);
	vc->flags |= f;
	return 0;
}

int
lb_redfish_insert_cd(const struct lb_task *task, const char *url,
    struct lb_err *err)
{
	struct lb_err last = { .msg = "" };
	struct vcall vc;
	bool next = true;
	int r;

	r = url_check(url, err);
	if (r < 0)
		return r;
	r = vcall_open(task, &vc, err);
	if (r == 0 && vc.nslots == 0)
		r = lb_err_set(err, -ENODEV, "Redfish system '%.200s' has no "
		    "virtual CD or DVD", vc.path);
	for (size_t i = 0; r == 0 && i < vc.nslots; i++) {
		struct slot *s = &vc.slots[i];

		if (!s->vm->inserted &&
		    !(vc.flags & LB_RFQ_EJECT_BEFORE_INSERT))
			continue;
		if (!s->vm->inserted)
			note(&vc, LB_RFQ_EJECT_BEFORE_INSERT);
		r = eject_slot(&vc, s, err);
	}
	for (size_t i = 0; r == 0 && next && i < vc.nslots; i++) {
		r = insert_slot(&vc, &vc.slots[i], url, &next, &last);
		if (r == 0)
			log_debug("redfish: %s: inserted '%.*s/\u2026' into %s",
			    vc.path, url_dir_len(url), url,
			    vc.slots[i].vm->odata_id);
		else if (next)
			r = 0;
	}
	if (r == 0 && next)
		r = lb_err_set(err, -ENODEV, "no virtual CD or DVD of Redfish "
		    "system '%.200s' accepted the image '%.*s/\u2026': %s",
		    vc.path, url_dir_len(url), url, last.msg);
	else if (r < 0 && last.msg[0] != '\0' && err != NULL)
		snprintf(err->msg, sizeof(err->msg), "%s", last.msg);
	vcall_close(&vc);
	return r;
}

int
lb_redfish_eject_cd(const struct lb_task *task, struct lb_err *err)
{
	struct vcall vc;
	int r;

	r = vcall_open(task, &vc, err);
	for (size_t i = 0; r == 0 && i < vc.nslots; i++)
		if (vc.slots[i].vm->inserted)
			r = eject_slot(&vc, &vc.slots[i], err);
	vcall_close(&vc);
	return r;
}
