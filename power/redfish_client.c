/*
 * redfish_client.c - Redfish over libcurl: driver_info, requests with bounded
 * time and size, retries, and the session cache shared by all worker
 * threads (cache_lock guards the list, each entry's lock its login state).
 * Any thread; lb_redfish_shutdown() runs once at exit.
 */
#include "power/redfish_client.h"

#include <curl/curl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "conductor/util/log.h"

#include "conductor/util/banned.h"

#define HEADER_VALUE_MAX 4096
#define SHUTDOWN_TIMEOUT_S 10
#define SUMMARY_MAX 512

/*
 * One per (BMC, root, username, password): Ironic keys its sessions the
 * same way, so a wrong password never rides on another node's session.
 * Entries live until lb_redfish_shutdown(); connections point at them.
 */
struct session {
	struct session *next;
	char *base;
	char *root_prefix;
	char *username;
	char *password;
	pthread_mutex_t lock;
	/* Guarded by lock: */
	struct lb_redfish_root *root;
	char *token;
	char *location;		/* session path, for DELETE */
	unsigned long generation;
	bool basic_only;	/* auto, and the BMC has no usable sessions */
	bool verify;		/* TLS settings of the login, for DELETE */
	char *ca_path;
	bool ca_is_dir;
};

struct lb_redfish_conn {
	struct lb_redfish_info *info;
	struct session *session;
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
	char *token;		/* this call's copy, to scrub from messages */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct session *cache;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Replaces every occurrence of secret in msg by "******". */
static void
scrub(struct lb_err *err, const char *secret)
{
	char out[LB_ERR_MSG_MAX];
	size_t slen, o = 0;
	const char *p, *hit;

	if (err == NULL || secret == NULL || (slen = strlen(secret)) < 3)
		return;
	if (strstr(err->msg, secret) == NULL)
		return;
	for (p = err->msg; (hit = strstr(p, secret)) != NULL; p = hit + slen) {
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%.*s******",
		    (int)(hit - p), p);
		if (o >= sizeof(out))
			break;
	}
	if (o < sizeof(out))
		snprintf(out + o, sizeof(out) - o, "%s", p);
	snprintf(err->msg, sizeof(err->msg), "%s", out);
}

/* ---- driver_info ---- */

void
lb_redfish_info_free(struct lb_redfish_info *info)
{
	if (info == NULL)
		return;
	free(info->system_id);
	free(info->username);
	free_secret(info->password);
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

/* ---- the session cache ---- */

static void
session_free(struct session *s)
{
	free(s->base);
	free(s->root_prefix);
	free(s->username);
	free_secret(s->password);
	lb_redfish_root_free(s->root);
	free_secret(s->token);
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

static struct session *
session_get(const struct lb_redfish_info *info)
{
	struct session *s;

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
	struct session *s;
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

/* ---- connections ---- */

int
lb_redfish_conn_new(const json_t *driver_info,
    struct lb_redfish_conn **ret, struct lb_err *err)
{
	struct lb_redfish_conn *c;
	int r;

	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK)
		return lb_err_set(err, -EIO, "cannot initialise libcurl");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	r = lb_redfish_info_parse(driver_info, &c->info, err);
	if (r < 0) {
		free(c);
		return r;
	}
	c->session = session_get(c->info);
	c->curl = curl_easy_init();
	if (c->session == NULL || c->curl == NULL) {
		lb_redfish_conn_free(c);
		return lb_err_set(err, -ENOMEM, "out of memory");
	}
	*ret = c;
	return 0;
}

void
lb_redfish_conn_free(struct lb_redfish_conn *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	lb_redfish_info_free(c->info);
	free_secret(c->token);
	free(c);
}

const struct lb_redfish_info *
lb_redfish_conn_info(const struct lb_redfish_conn *c)
{
	return c->info;
}

void
lb_redfish_reply_release(struct lb_redfish_reply *reply)
{
	if (reply == NULL)
		return;
	free(reply->body);
	free(reply->etag);
	free(reply->location);
	free(reply->allow);
	memset(reply, 0, sizeof(*reply));
}

/* ---- one HTTP exchange ---- */

enum auth_kind {
	AUTH_NONE,
	AUTH_BASIC,
	AUTH_TOKEN,
};

struct tls {
	bool verify;
	const char *ca_path;
	bool ca_is_dir;
};

struct req {
	const char *base;
	const struct tls *tls;
	long total_s;
	const char *method;
	const char *path;
	const char *body;	/* JSON text or NULL */
	const char *if_match;
	enum auth_kind auth;
	const char *user;
	const char *password;
	const char *token;
};

struct xfer {
	struct lb_redfish_reply *reply;
	size_t cap;
	bool too_large;
	bool nomem;
};

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;
	struct lb_redfish_reply *rp = x->reply;
	size_t n = size * nmemb;
	char *p;

	if (n > LB_REDFISH_REPLY_MAX - rp->len) {
		x->too_large = true;
		return 0;
	}
	if (rp->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;

		while (cap < rp->len + n + 1)
			cap *= 2;
		p = realloc(rp->body, cap);
		if (p == NULL) {
			x->nomem = true;
			return 0;
		}
		rp->body = p;
		x->cap = cap;
	}
	memcpy(rp->body + rp->len, data, n);
	rp->len += n;
	rp->body[rp->len] = '\0';
	return n;
}

static void
header_set(char **dst, const char *v, size_t n, struct xfer *x)
{
	char *s;

	if (n > HEADER_VALUE_MAX)
		return;
	s = strndup(v, n);
	if (s == NULL) {
		x->nomem = true;
		return;
	}
	free_secret(*dst);
	*dst = s;
}

static size_t
header_cb(char *data, size_t size, size_t nitems, void *userdata)
{
	static const struct {
		const char *name;
		size_t off;
	} keep[] = {
		{ "etag", offsetof(struct lb_redfish_reply, etag) },
		{ "location", offsetof(struct lb_redfish_reply, location) },
		{ "allow", offsetof(struct lb_redfish_reply, allow) },
	};
	struct xfer *x = userdata;
	size_t n = size * nitems, nlen;
	const char *colon, *v, *end;

	colon = memchr(data, ':', n);
	if (colon == NULL)
		return n;
	nlen = (size_t)(colon - data);
	v = colon + 1;
	end = data + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
	    end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (nlen == strlen(keep[i].name) &&
		    strncasecmp(data, keep[i].name, nlen) == 0)
			header_set((char **)((char *)x->reply + keep[i].off),
			    v, (size_t)(end - v), x);
	return n;
}

/* The session token, kept apart from the reply so it is never shown. */
struct token_sink {
	struct xfer *x;
	char *token;
};

static size_t
token_header_cb(char *data, size_t size, size_t nitems, void *userdata)
{
	struct token_sink *ts = userdata;
	size_t n = size * nitems;
	const char *v, *end = data + n;

	if (n > 13 && strncasecmp(data, "X-Auth-Token:", 13) == 0) {
		for (v = data + 13; v < end && (*v == ' ' || *v == '\t'); v++)
			;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
		    end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end > v)
			header_set(&ts->token, v, (size_t)(end - v), ts->x);
		return n;
	}
	return header_cb(data, size, nitems, ts->x);
}

static bool
is_tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
		return true;
	default:
		return false;
	}
}

static int
transport_error(const struct req *rq, CURLcode rc, const char *errbuf,
    const struct xfer *x, bool *ret_retry, struct lb_err *err)
{
	const char *why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);

	*ret_retry = false;
	if (x->nomem)
		return lb_err_set(err, -ENOMEM, "out of memory reading a Redfish "
		    "reply");
	if (x->too_large)
		return lb_err_set(err, -EIO, "Redfish BMC at %s sent a reply "
		    "larger than %d bytes to %s %.200s", rq->base,
		    LB_REDFISH_REPLY_MAX, rq->method, rq->path);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return lb_err_set(err, -EHOSTUNREACH, "cannot reach Redfish BMC "
		    "at %s: %s", rq->base, why);
	case CURLE_OPERATION_TIMEDOUT:
		return lb_err_set(err, -ETIMEDOUT, "Redfish BMC at %s timed out "
		    "on %s %.200s: %s", rq->base, rq->method, rq->path, why);
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
		*ret_retry = true;
		return lb_err_set(err, -EIO, "Redfish BMC at %s dropped the "
		    "connection on %s %.200s: %s", rq->base, rq->method,
		    rq->path, why);
	default:
		if (is_tls_error(rc) && rq->tls->verify &&
		    rq->tls->ca_path != NULL) {
			/* curl's words may say whether the CA file exists. */
			log_debug("TLS failure talking to Redfish BMC at %s: "
			    "%s", rq->base, why);
			return lb_err_set(err, -EIO, "TLS failure talking to "
			    "Redfish BMC at %s: its certificate could not be "
			    "verified with driver_info/redfish_verify_ca",
			    rq->base);
		}
		if (is_tls_error(rc))
			return lb_err_set(err, -EIO, "TLS failure talking to "
			    "Redfish BMC at %s: %s", rq->base, why);
		return lb_err_set(err, -EIO, "Redfish request %s %.200s to %s "
		    "failed: %s", rq->method, rq->path, rq->base, why);
	}
}

/*
 * Sends one request.  0 when an HTTP reply arrived (any status); a negative
 * errno for transport failures, with *ret_retry set when another try may
 * help.  *ret_token receives an X-Auth-Token header when ret_token != NULL.
 */
static int
http_do(CURL *curl, char *errbuf, const struct req *rq,
    struct lb_redfish_reply *reply, char **ret_token, bool *ret_retry,
    struct lb_err *err)
{
	struct xfer x = { .reply = reply };
	struct token_sink ts = { .x = &x };
	struct curl_slist *hdrs = NULL, *h;
	char url[sizeof(((struct lb_redfish_address *)0)->base) +
	    LB_REDFISH_PATH_MAX];
	char line[HEADER_VALUE_MAX + 32];
	const struct lb_redfish_transport *t = lb_redfish_transport_get();
	CURLcode rc;
	int r = 0;

	lb_redfish_reply_release(reply);
	*ret_retry = false;
	if (t != NULL) {
		r = t->request(t->ctx, rq->method, rq->path, rq->body,
		    rq->if_match, reply);
		return r < 0 ? lb_err_set(err, r, "Redfish transport failed on "
		    "%s %.200s", rq->method, rq->path) : 0;
	}
	if ((size_t)snprintf(url, sizeof(url), "%s%s", rq->base, rq->path) >=
	    sizeof(url))
		return lb_err_set(err, -EINVAL, "Redfish path too long");
	curl_easy_reset(curl);
	errbuf[0] = '\0';
	h = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = h != NULL ? h : hdrs;
	h = curl_slist_append(hdrs, "OData-Version: 4.0");
	hdrs = h != NULL ? h : hdrs;
	h = curl_slist_append(hdrs, "Expect:");
	hdrs = h != NULL ? h : hdrs;
	if (rq->body != NULL) {
		h = curl_slist_append(hdrs, "Content-Type: application/json");
		hdrs = h != NULL ? h : hdrs;
	}
	if (rq->if_match != NULL && strlen(rq->if_match) < HEADER_VALUE_MAX &&
	    strpbrk(rq->if_match, "\r\n") == NULL) {
		snprintf(line, sizeof(line), "If-Match: %s", rq->if_match);
		h = curl_slist_append(hdrs, line);
		hdrs = h != NULL ? h : hdrs;
	}
	if (rq->auth == AUTH_TOKEN) {
		snprintf(line, sizeof(line), "X-Auth-Token: %s", rq->token);
		h = curl_slist_append(hdrs, line);
		explicit_bzero(line, sizeof(line));
		if (h == NULL) {
			curl_slist_free_all(hdrs);
			return lb_err_set(err, -ENOMEM, "out of memory");
		}
		hdrs = h;
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
	    (long)LB_REDFISH_CONNECT_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, rq->total_s);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
	if (ret_token != NULL) {
		curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, token_header_cb);
		curl_easy_setopt(curl, CURLOPT_HEADERDATA, &ts);
	} else {
		curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_cb);
		curl_easy_setopt(curl, CURLOPT_HEADERDATA, &x);
	}
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER,
	    rq->tls->verify ? 1L : 0L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST,
	    rq->tls->verify ? 2L : 0L);
	if (rq->tls->verify && rq->tls->ca_path != NULL)
		curl_easy_setopt(curl, rq->tls->ca_is_dir ? CURLOPT_CAPATH :
		    CURLOPT_CAINFO, rq->tls->ca_path);
	if (rq->auth == AUTH_BASIC) {
		curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(curl, CURLOPT_USERNAME, rq->user);
		curl_easy_setopt(curl, CURLOPT_PASSWORD,
		    rq->password != NULL ? rq->password : "");
	}
	if (strcmp(rq->method, "GET") == 0) {
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	} else {
		if (strcmp(rq->method, "POST") != 0)
			curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST,
			    rq->method);
		if (rq->body != NULL || strcmp(rq->method, "POST") == 0) {
			curl_easy_setopt(curl, CURLOPT_POSTFIELDS,
			    rq->body != NULL ? rq->body : "");
			curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
			    (long)(rq->body != NULL ? strlen(rq->body) : 0));
		}
	}
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK && x.nomem)
		rc = CURLE_WRITE_ERROR;
	if (rc != CURLE_OK) {
		r = transport_error(rq, rc, errbuf, &x, ret_retry, err);
		lb_redfish_reply_release(reply);
		free_secret(ts.token);
	} else {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
		if (ret_token != NULL)
			*ret_token = ts.token;
		else
			free_secret(ts.token);
	}
	/* The handle keeps pointers into this frame; drop them. */
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(curl, CURLOPT_PASSWORD, "");
	curl_slist_free_all(hdrs);
	return r;
}

/* A non-2xx status as an errno and a message for a client. */
static int
status_error(const struct lb_redfish_conn *c, const char *method,
    const char *path, const struct lb_redfish_reply *reply,
    struct lb_err *err)
{
	const struct lb_redfish_info *info = c->info;
	char summary[SUMMARY_MAX];
	const char *sep;
	int r;

	lb_redfish_error_summary(reply->body, reply->len, summary,
	    sizeof(summary));
	sep = summary[0] != '\0' ? ": " : "";
	if (reply->status == 401 || reply->status == 403)
		r = lb_err_set(err, -EACCES, "Redfish authentication failed at "
		    "%s for user '%.64s' (HTTP %ld on %s %.200s)%s%s",
		    info->address.base, info->username != NULL ?
		    info->username : "", reply->status, method, path, sep,
		    summary);
	else if (reply->status == 404)
		r = lb_err_set(err, -ENOENT, "Redfish resource '%.200s' not "
		    "found at %s%s%s", path, info->address.base, sep, summary);
	else
		r = lb_err_set(err, -EIO, "Redfish BMC at %s answered HTTP %ld "
		    "to %s %.200s%s%s", info->address.base, reply->status,
		    method, path, sep, summary);
	scrub(err, info->password);
	scrub(err, c->token);
	return r;
}

static bool
is_2xx(long status)
{
	return status >= 200 && status < 300;
}

static void
req_init(struct req *rq, const struct lb_redfish_conn *c, struct tls *tls)
{
	const struct lb_redfish_info *info = c->info;

	tls->verify = info->verify;
	tls->ca_path = info->ca_path;
	tls->ca_is_dir = info->ca_is_dir;
	memset(rq, 0, sizeof(*rq));
	rq->base = info->address.base;
	rq->tls = tls;
	rq->total_s = LB_REDFISH_TOTAL_TIMEOUT_S;
	rq->user = info->username;
	rq->password = info->password;
}

/* ---- service root and login; the session's lock is held ---- */

static int
root_load(struct lb_redfish_conn *c, struct session *s, struct lb_err *err)
{
	struct lb_redfish_reply reply = { 0 };
	struct tls tls;
	struct req rq;
	bool retry;
	int r;

	if (s->root != NULL)
		return 0;
	req_init(&rq, c, &tls);
	rq.method = "GET";
	rq.path = c->info->address.root;
	for (int attempt = 1; ; attempt++) {
		r = http_do(c->curl, c->errbuf, &rq, &reply, NULL, &retry, err);
		/* Some BMCs want credentials even for the service root. */
		if (r == 0 && reply.status == 401 && rq.auth == AUTH_NONE &&
		    c->info->username != NULL) {
			rq.auth = AUTH_BASIC;
			attempt--;
			continue;
		}
		if (attempt >= LB_REDFISH_GET_ATTEMPTS || !(retry ||
		    (r == 0 && reply.status >= 500)))
			break;
		lb_redfish_sleep((unsigned int)attempt);
	}
	if (r == 0 && !is_2xx(reply.status))
		r = status_error(c, "GET", rq.path, &reply, err);
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
session_login(struct lb_redfish_conn *c, struct session *s, long *ret_status,
    struct lb_err *err)
{
	struct lb_redfish_reply reply = { 0 };
	char id[LB_REDFISH_PATH_MAX];
	char *body, *token = NULL;
	struct tls tls;
	struct req rq;
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
	req_init(&rq, c, &tls);
	rq.method = "POST";
	rq.path = s->root->sessions;
	rq.body = body;
	r = http_do(c->curl, c->errbuf, &rq, &reply, &token, &retry, err);
	free_secret(body);
	if (r < 0)
		return r;
	*ret_status = reply.status;
	if (!is_2xx(reply.status)) {
		r = status_error(c, "POST", rq.path, &reply, err);
	} else if (token == NULL) {
		r = lb_err_set(err, -EIO, "Redfish BMC at %s created a session "
		    "but sent no X-Auth-Token", c->info->address.base);
	} else {
		free_secret(s->token);
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
	free_secret(token);
	lb_redfish_reply_release(&reply);
	return r;
}

struct cred {
	enum auth_kind kind;
	char *token;
	unsigned long generation;
};

static int
credentials_locked(struct lb_redfish_conn *c, struct session *s,
    struct cred *cred, struct lb_err *err)
{
	long status;
	int r;

	if (s->basic_only) {
		cred->kind = AUTH_BASIC;
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
			cred->kind = AUTH_BASIC;
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
			cred->kind = AUTH_BASIC;
			return 0;
		}
	}
	cred->kind = AUTH_TOKEN;
	cred->token = strdup(s->token);
	cred->generation = s->generation;
	return cred->token == NULL ? lb_err_set(err, -ENOMEM, "out of memory")
	    : 0;
}

static int
credentials(struct lb_redfish_conn *c, struct cred *cred, struct lb_err *err)
{
	struct session *s = c->session;
	int r;

	memset(cred, 0, sizeof(*cred));
	if (c->info->username == NULL) {
		cred->kind = AUTH_NONE;
		return 0;
	}
	if (c->info->auth == LB_REDFISH_AUTH_BASIC) {
		cred->kind = AUTH_BASIC;
		return 0;
	}
	pthread_mutex_lock(&s->lock);
	r = credentials_locked(c, s, cred, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* The token of 'generation' was refused: forget it (once, for everyone). */
static void
session_invalidate(struct session *s, unsigned long generation)
{
	pthread_mutex_lock(&s->lock);
	if (s->generation == generation && s->token != NULL) {
		free_secret(s->token);
		s->token = NULL;
		free(s->location);
		s->location = NULL;
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- requests ---- */

static bool
idempotent(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0;
}

static bool
retryable_status(long status)
{
	return status == 500 || status == 502 || status == 503 ||
	    status == 504;
}

int
lb_redfish_request(struct lb_redfish_conn *c, const char *method,
    const char *path, const json_t *body, const char *if_match,
    struct lb_redfish_reply *reply, struct lb_err *err)
{
	struct cred cred;
	struct tls tls;
	struct req rq;
	char *text = NULL;
	bool relogged = false, retry;
	int r, attempts;

	memset(reply, 0, sizeof(*reply));
	if (!lb_redfish_path_is_valid(path))
		return lb_err_set(err, -EINVAL, "invalid Redfish path '%.200s'",
		    path != NULL ? path : "");
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		if (text == NULL)
			return lb_err_set(err, -ENOMEM, "out of memory");
	}
	attempts = idempotent(method) ? LB_REDFISH_GET_ATTEMPTS : 1;
	for (;;) {
		r = credentials(c, &cred, err);
		if (r < 0)
			break;
		free_secret(c->token);
		c->token = cred.token;
		req_init(&rq, c, &tls);
		rq.method = method;
		rq.path = path;
		rq.body = text;
		rq.if_match = if_match;
		rq.auth = cred.kind;
		rq.token = cred.token;
		for (int attempt = 1; ; attempt++) {
			r = http_do(c->curl, c->errbuf, &rq, reply, NULL,
			    &retry, err);
			if (attempt >= attempts || !(retry ||
			    (r == 0 && retryable_status(reply->status))))
				break;
			lb_redfish_sleep((unsigned int)attempt);
		}
		if (r < 0)
			break;
		if (reply->status == 401 && cred.kind == AUTH_TOKEN &&
		    !relogged) {
			/* The session expired or was deleted: log in again. */
			session_invalidate(c->session, cred.generation);
			relogged = true;
			continue;
		}
		if (!is_2xx(reply->status))
			r = status_error(c, method, path, reply, err);
		break;
	}
	free(text);
	return r;
}

int
lb_redfish_get_system(struct lb_redfish_conn *c, const char *path,
    struct lb_redfish_system **ret, struct lb_err *err)
{
	struct lb_redfish_reply reply;
	struct lb_redfish_system *sys;
	int r;

	r = lb_redfish_request(c, "GET", path, NULL, NULL, &reply, err);
	if (r == -ENOENT)
		r = lb_err_set(err, -ENOENT, "Redfish system '%.200s' not found "
		    "at %s", path, c->info->address.base);
	if (r == 0)
		r = lb_redfish_system_parse(reply.body, reply.len, &sys, err);
	/* The header is what If-Match compares against. */
	if (r == 0 && reply.etag != NULL) {
		free(sys->etag);
		sys->etag = reply.etag;
		reply.etag = NULL;
	}
	lb_redfish_reply_release(&reply);
	if (r == 0)
		*ret = sys;
	return r;
}

static int
systems_collection(struct lb_redfish_conn *c, char *out, size_t size,
    struct lb_err *err)
{
	struct session *s = c->session;
	int r;

	pthread_mutex_lock(&s->lock);
	r = root_load(c, s, err);
	if (r == 0 && (size_t)snprintf(out, size, "%s", s->root->systems) >=
	    size)
		r = lb_err_set(err, -EINVAL, "Redfish path too long");
	pthread_mutex_unlock(&s->lock);
	return r;
}

int
lb_redfish_system_path(struct lb_redfish_conn *c, char *out, size_t size,
    struct lb_err *err)
{
	const char *id = c->info->system_id;
	struct lb_redfish_collection *coll;
	struct lb_redfish_reply reply;
	char systems[LB_REDFISH_PATH_MAX];
	size_t n;
	int r;

	if (id != NULL && id[0] == '/') {
		if ((size_t)snprintf(out, size, "%s", id) >= size)
			return lb_err_set(err, -EINVAL, "Redfish path too long");
		return 0;
	}
	r = systems_collection(c, systems, sizeof(systems), err);
	if (r < 0)
		return r;
	if (id != NULL) {
		n = strlen(systems);
		if ((size_t)snprintf(out, size, "%s%s%s", systems,
		    systems[n - 1] == '/' ? "" : "/", id) >= size)
			return lb_err_set(err, -EINVAL, "Redfish path too long");
		return 0;
	}
	r = lb_redfish_request(c, "GET", systems, NULL, NULL, &reply, err);
	if (r == 0)
		r = lb_redfish_collection_parse(reply.body, reply.len, &coll,
		    err);
	lb_redfish_reply_release(&reply);
	if (r < 0)
		return r;
	if (coll->members.n == 1) {
		if ((size_t)snprintf(out, size, "%s", coll->members.v[0]) >=
		    size)
			r = lb_err_set(err, -EINVAL, "Redfish path too long");
	} else if (coll->members.n == 0) {
		r = lb_err_set(err, -ENOENT, "Redfish BMC at %s lists no "
		    "systems", c->info->address.base);
	} else {
		r = lb_err_set(err, -EINVAL, "Redfish BMC at %s has %zu "
		    "systems; set driver_info/redfish_system_id to one of them "
		    "(first: %.200s, %.200s)", c->info->address.base,
		    coll->members.n, coll->members.v[0], coll->members.v[1]);
	}
	lb_redfish_collection_free(coll);
	return r;
}

/* ---- shutdown ---- */

static void
session_delete(CURL *curl, struct session *s)
{
	struct lb_redfish_reply reply = { 0 };
	char errbuf[CURL_ERROR_SIZE];
	struct tls tls = {
		.verify = s->verify,
		.ca_path = s->ca_path,
		.ca_is_dir = s->ca_is_dir,
	};
	struct req rq = {
		.base = s->base,
		.tls = &tls,
		.total_s = SHUTDOWN_TIMEOUT_S,
		.method = "DELETE",
		.path = s->location,
		.auth = AUTH_TOKEN,
		.token = s->token,
	};
	bool retry;

	if (s->token == NULL || s->location == NULL || curl == NULL)
		return;
	/* Best effort: the BMC expires what we cannot delete. */
	http_do(curl, errbuf, &rq, &reply, NULL, &retry, NULL);
	lb_redfish_reply_release(&reply);
}

void
lb_redfish_shutdown(void)
{
	struct session *list, *s;
	CURL *curl = NULL;

	pthread_mutex_lock(&cache_lock);
	list = cache;
	cache = NULL;
	pthread_mutex_unlock(&cache_lock);
	if (list != NULL && pthread_once(&curl_once, curl_init_once) == 0 &&
	    curl_init_rc == CURLE_OK)
		curl = curl_easy_init();
	while ((s = list) != NULL) {
		list = s->next;
		pthread_mutex_lock(&s->lock);
		session_delete(curl, s);
		pthread_mutex_unlock(&s->lock);
		session_free(s);
	}
	if (curl != NULL)
		curl_easy_cleanup(curl);
}
