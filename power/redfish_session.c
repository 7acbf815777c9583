/*
 * redfish_session.c - the session cache shared by all worker threads
 * (cache_lock guards the list, each entry's lock its login state): the
 * service root, SessionService logins, re-login after a 401 and the
 * deletion of every session at exit.  Any thread; lb_redfish_shutdown()
 * runs once at exit.
 */
#include "power/redfish_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/banned.h"

#define SHUTDOWN_TIMEOUT_S 10

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lb_redfish_session *cache;

static void
session_free(struct lb_redfish_session *s)
{
	free(s->base);
	free(s->root_prefix);
	free(s->username);
	lb_redfish_free_secret(s->password);
	lb_redfish_root_free(s->root);
	lb_redfish_free_secret(s->token);
	free(s->location);
	free(s->ca_path);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static bool
str_eq(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

struct lb_redfish_session *
lb_redfish_session_get(const struct lb_redfish_info *info)
{
	struct lb_redfish_session *s;

	pthread_mutex_lock(&cache_lock);
	for (s = cache; s != NULL; s = s->next)
		if (strcmp(s->base, info->address.base) == 0 &&
		    strcmp(s->root_prefix, info->address.root) == 0 &&
		    str_eq(s->username, info->username) &&
		    str_eq(s->password, info->password))
			goto out;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto out;
	pthread_mutex_init(&s->lock, NULL);
	s->base = strdup(info->address.base);
	s->root_prefix = strdup(info->address.root);
	s->username = strdup(info->username != NULL ? info->username : "");
	s->password = strdup(info->password != NULL ? info->password : "");
	if (s->base == NULL || s->root_prefix == NULL || s->username == NULL ||
	    s->password == NULL) {
		session_free(s);
		s = NULL;
		goto out;
	}
	s->next = cache;
	cache = s;
out:
	pthread_mutex_unlock(&cache_lock);
	return s;
}

int
lb_redfish_session_count(void)
{
	struct lb_redfish_session *s;
	int n = 0;

	/*
	 * Entries are only ever prepended and live until shutdown, so the
	 * list can be walked from a snapshot of its head without cache_lock
	 * (which must not wait on an entry that is logging in).
	 */
	pthread_mutex_lock(&cache_lock);
	s = cache;
	pthread_mutex_unlock(&cache_lock);
	for (; s != NULL; s = s->next) {
		pthread_mutex_lock(&s->lock);
		n += s->token != NULL;
		pthread_mutex_unlock(&s->lock);
	}
	return n;
}

/* ---- service root and login; the session's lock is held ---- */

static int
root_load(struct lb_redfish_conn *c, struct lb_redfish_session *s,
    struct lb_err *err)
{
	struct lb_redfish_reply reply = { 0 };
	struct lb_redfish_tls tls;
	struct lb_redfish_req rq;
	bool retry;
	int r;

	if (s->root != NULL)
		return 0;
	lb_redfish_req_init(&rq, c, &tls);
	rq.method = "GET";
	rq.path = c->info->address.root;
	for (int attempt = 1; ; attempt++) {
		r = lb_redfish_http_do(c->http, &rq, &reply, NULL, &retry, err);
		/* Some BMCs want credentials even for the service root. */
		if (r == 0 && reply.status == 401 &&
		    rq.auth == LB_REDFISH_SEND_NONE &&
		    c->info->username != NULL) {
			rq.auth = LB_REDFISH_SEND_BASIC;
			attempt--;
			continue;
		}
		if (attempt >= lb_redfish_attempts(c) || !(retry ||
		    (r == 0 && reply.status >= 500)) ||
		    !lb_redfish_retry_wait(c, (unsigned int)attempt))
			break;
	}
	if (r == 0 && !lb_redfish_is_2xx(reply.status))
		r = lb_redfish_status_error(c, "GET", rq.path, &reply, err);
	if (r == 0)
		r = lb_redfish_root_parse(reply.body, reply.len, &s->root, err);
	lb_redfish_reply_release(&reply);
	return r;
}

/* The path part of a Location header, which may be a full URL. */
static char *
location_path(const char *loc)
{
	const char *p = loc, *scheme = strstr(loc, "://");

	if (scheme != NULL) {
		p = strchr(scheme + 3, '/');
		if (p == NULL)
			return NULL;
	}
	return lb_redfish_path_is_valid(p) ? strdup(p) : NULL;
}

/*
 * POSTs to the SessionService.  0 with s->token set; otherwise an errno and
 * *ret_status the HTTP status (0 when the BMC could not be talked to).
 */
static int
session_login(struct lb_redfish_conn *c, struct lb_redfish_session *s,
    long *ret_status, struct lb_err *err)
{
	struct lb_redfish_reply reply = { 0 };
	char id[LB_REDFISH_PATH_MAX];
	char *body, *token = NULL;
	struct lb_redfish_tls tls;
	struct lb_redfish_req rq;
	json_t *j;
	bool retry;
	int r;

	*ret_status = 0;
	j = json_pack("{s:s, s:s}", "UserName", c->info->username, "Password",
	    c->info->password != NULL ? c->info->password : "");
	body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (body == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	lb_redfish_req_init(&rq, c, &tls);
	rq.method = "POST";
	rq.path = s->root->sessions;
	rq.body = body;
	r = lb_redfish_http_do(c->http, &rq, &reply, &token, &retry, err);
	lb_redfish_free_secret(body);
	if (r < 0)
		return r;
	*ret_status = reply.status;
	if (!lb_redfish_is_2xx(reply.status)) {
		r = lb_redfish_status_error(c, "POST", rq.path, &reply, err);
	} else if (token == NULL) {
		r = lb_err_set(err, -EIO, "Redfish BMC at %s created a session "
		    "but sent no X-Auth-Token", c->info->address.base);
	} else {
		lb_redfish_free_secret(s->token);
		free(s->location);
		s->token = token;
		token = NULL;
		s->location = reply.location != NULL ?
		    location_path(reply.location) : NULL;
		if (s->location == NULL && lb_redfish_odata_id_parse(reply.body,
		    reply.len, id, sizeof(id)) == 0)
			s->location = strdup(id);
		s->generation++;
		free(s->ca_path);
		s->verify = c->info->verify;
		s->ca_path = c->info->ca_path != NULL ?
		    strdup(c->info->ca_path) : NULL;
		s->ca_is_dir = c->info->ca_is_dir;
	}
	lb_redfish_free_secret(token);
	lb_redfish_reply_release(&reply);
	return r;
}

static int
credentials_locked(struct lb_redfish_conn *c, struct lb_redfish_session *s,
    struct lb_redfish_cred *cred, struct lb_err *err)
{
	long status;
	int r;

	if (s->basic_only) {
		cred->kind = LB_REDFISH_SEND_BASIC;
		return 0;
	}
	if (s->token == NULL) {
		r = root_load(c, s, err);
		if (r < 0)
			return r;
		if (s->root->sessions == NULL) {
			if (c->info->auth == LB_REDFISH_AUTH_SESSION)
				return lb_err_set(err, -EIO, "Redfish BMC at %s "
				    "has no SessionService; set "
				    "driver_info/redfish_auth_type to basic or "
				    "auto", c->info->address.base);
			s->basic_only = true;
			cred->kind = LB_REDFISH_SEND_BASIC;
			return 0;
		}
		r = session_login(c, s, &status, err);
		if (r < 0) {
			/* auto falls back to basic, as sushy does. */
			if (status == 0 ||
			    c->info->auth != LB_REDFISH_AUTH_AUTO)
				return r;
			/*
			 * Remember only a missing SessionService; a refused
			 * password or a full session table may change.
			 */
			if (status == 404 || status == 405 || status == 501)
				s->basic_only = true;
			cred->kind = LB_REDFISH_SEND_BASIC;
			return 0;
		}
	}
	cred->kind = LB_REDFISH_SEND_TOKEN;
	cred->token = strdup(s->token);
	cred->generation = s->generation;
	return cred->token == NULL ? lb_err_set(err, -ENOMEM, "out of memory")
	    : 0;
}

int
lb_redfish_credentials(struct lb_redfish_conn *c,
    struct lb_redfish_cred *cred, struct lb_err *err)
{
	struct lb_redfish_session *s = c->session;
	int r;

	memset(cred, 0, sizeof(*cred));
	if (c->info->username == NULL) {
		cred->kind = LB_REDFISH_SEND_NONE;
		return 0;
	}
	if (c->info->auth == LB_REDFISH_AUTH_BASIC) {
		cred->kind = LB_REDFISH_SEND_BASIC;
		return 0;
	}
	pthread_mutex_lock(&s->lock);
	r = credentials_locked(c, s, cred, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

void
lb_redfish_session_invalidate(struct lb_redfish_session *s,
    unsigned long generation)
{
	pthread_mutex_lock(&s->lock);
	if (s->generation == generation && s->token != NULL) {
		lb_redfish_free_secret(s->token);
		s->token = NULL;
		free(s->location);
		s->location = NULL;
	}
	pthread_mutex_unlock(&s->lock);
}

int
lb_redfish_systems_collection(struct lb_redfish_conn *c, char *out, size_t size,
    struct lb_err *err)
{
	struct lb_redfish_session *s = c->session;
	int r;

	pthread_mutex_lock(&s->lock);
	r = root_load(c, s, err);
	if (r == 0 && (size_t)snprintf(out, size, "%s", s->root->systems) >=
	    size)
		r = lb_err_set(err, -EINVAL, "Redfish path too long");
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ---- shutdown ---- */

static void
session_delete(struct lb_http *http, struct lb_redfish_session *s)
{
	struct lb_redfish_reply reply = { 0 };
	struct lb_redfish_tls tls = {
		.verify = s->verify,
		.ca_path = s->ca_path,
		.ca_is_dir = s->ca_is_dir,
	};
	struct lb_redfish_req rq = {
		.base = s->base,
		.tls = &tls,
		.total_s = SHUTDOWN_TIMEOUT_S,
		.method = "DELETE",
		.path = s->location,
		.auth = LB_REDFISH_SEND_TOKEN,
		.token = s->token,
	};
	bool retry;

	if (s->token == NULL || s->location == NULL || http == NULL)
		return;
	/* Best effort: the BMC expires what we cannot delete. */
	lb_redfish_http_do(http, &rq, &reply, NULL, &retry, NULL);
	lb_redfish_reply_release(&reply);
}

void
lb_redfish_shutdown(void)
{
	struct lb_redfish_session *list, *s;
	struct lb_http *http = NULL;

	pthread_mutex_lock(&cache_lock);
	list = cache;
	cache = NULL;
	pthread_mutex_unlock(&cache_lock);
	if (list != NULL && lb_http_new(&http) < 0)
		http = NULL;
	while ((s = list) != NULL) {
		list = s->next;
		pthread_mutex_lock(&s->lock);
		session_delete(http, s);
		pthread_mutex_unlock(&s->lock);
		session_free(s);
	}
	lb_http_free(http);
}
