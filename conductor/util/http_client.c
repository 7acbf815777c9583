/*
 * http_client.c - the one libcurl helper (see http_client.h): option setup
 * for one request, the reply buffer and its limit, failure classes, and the
 * redaction of secrets from error text.  Any thread; a handle is used by
 * one thread at a time; global init runs once under pthread_once.
 */
#include "conductor/util/http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conductor/util/banned.h"

#define MASK "******"

struct lb_http {
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
};

/* What curl's callbacks see during one perform. */
struct sink {
	struct lb_http *h;
	const struct lb_http_request *rq;
	struct lb_http_reply *reply;
	bool too_large;
	bool aborted;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_rc;

static void
global_init(void)
{
	init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int
lb_http_global_init(void)
{
	pthread_once(&init_once, global_init);
	return init_rc == CURLE_OK ? 0 : -EIO;
}

int
lb_http_new(struct lb_http **ret)
{
	struct lb_http *h;

	if (lb_http_global_init() < 0)
		return -EIO;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	h->curl = curl_easy_init();
	if (h->curl == NULL) {
		free(h);
		return -ENOMEM;
	}
	*ret = h;
	return 0;
}

void
lb_http_free(struct lb_http *h)
{
	if (h == NULL)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

long
lb_http_status(struct lb_http *h)
{
	long status = 0;

	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

char *
lb_http_escape(struct lb_http *h, const char *s)
{
	return curl_easy_escape(h->curl, s, 0);
}

void
lb_http_free_string(char *s)
{
	curl_free(s);
}

/* ---- redaction ---- */

/* Replaces msg[from, to) by MASK, keeping the rest; false if no room. */
static bool
mask_span(char *msg, size_t size, size_t from, size_t to)
{
	size_t len = strlen(msg), mlen = strlen(MASK);

	if (to - from == mlen && memcmp(msg + from, MASK, mlen) == 0)
		return true;
	if (len - (to - from) + mlen >= size) {
		/* No room to keep the tail: cut the message at the mask. */
		if (from + mlen >= size)
			msg[from] = '\0';
		else
			snprintf(msg + from, size - from, "%s", MASK);
		return false;
	}
	memmove(msg + from + mlen, msg + to, len - to + 1);
	memcpy(msg + from, MASK, mlen);
	return true;
}

static bool
url_char(char c)
{
	return c != '\0' && c != ' ' && c != '\t' && c != '\r' && c != '\n' &&
	    c != '"' && c != '\'' && c != '<' && c != '>';
}

/* The userinfo and the query of every URL. */
static void
redact_urls(char *msg, size_t size)
{
	size_t i = 0, end, at, host;
	char *p;

	while ((p = strstr(msg + i, "://")) != NULL) {
		host = (size_t)(p - msg) + 3;
		for (end = host; url_char(msg[end]); end++)
			;
		at = 0;
		for (size_t k = host; k < end && !strchr("/?#", msg[k]); k++)
			if (msg[k] == '@')
				at = k;
		if (at > host) {
			if (!mask_span(msg, size, host, at))
				return;
			end = end - (at - host) + strlen(MASK);
		}
		p = memchr(msg + host, '?', end - host);
		if (p != NULL) {
			if (!mask_span(msg, size, (size_t)(p - msg) + 1, end))
				return;
			end = (size_t)(p - msg) + 1 + strlen(MASK);
		}
		i = end;
	}
}

/* The value after each "name" (case-insensitive), up to a delimiter. */
static void
redact_after(char *msg, size_t size, const char *name, const char *stop)
{
	size_t i = 0, nlen = strlen(name), from, to;

	while (msg[i] != '\0') {
		if (strncasecmp(msg + i, name, nlen) != 0) {
			i++;
			continue;
		}
		from = i + nlen;
		while (msg[from] == ' ' || msg[from] == '\t')
			from++;
		for (to = from; msg[to] != '\0' && !strchr(stop, msg[to]); to++)
			;
		if (to > from && !mask_span(msg, size, from, to))
			return;
		i = from + (to > from ? strlen(MASK) : 0);
	}
}

static void
redact_secret(char *msg, size_t size, const char *secret)
{
	size_t slen, i = 0;
	char *hit;

	if (secret == NULL || (slen = strlen(secret)) < 3)
		return;
	while ((hit = strstr(msg + i, secret)) != NULL) {
		i = (size_t)(hit - msg);
		if (!mask_span(msg, size, i, i + slen))
			return;
		i += strlen(MASK);
	}
}

void
lb_http_redact(char *msg, size_t size, const char *const *secrets,
    size_t nsecrets)
{
	if (msg == NULL || size == 0)
		return;
	msg[size - 1] = '\0';
	/* Secrets first: a URL's mask could split one in two. */
	for (size_t i = 0; i < nsecrets; i++)
		redact_secret(msg, size, secrets[i]);
	redact_urls(msg, size);
	/* "Basic <credentials>" is one value; a token has no spaces. */
	redact_after(msg, size, "authorization:", "\r\n\"'),;");
	redact_after(msg, size, "x-auth-token:", " \t\r\n\"'),;");
	redact_after(msg, size, "token=", "&# \t\r\n\"'");
}

/* ---- failures ---- */

static enum lb_http_fail
classify(CURLcode rc, const struct sink *s)
{
	if (s->too_large || rc == CURLE_FILESIZE_EXCEEDED)
		return LB_HTTP_TOO_LARGE;
	if (s->aborted)
		return LB_HTTP_ABORTED;
	switch (rc) {
	case CURLE_OUT_OF_MEMORY:
		return LB_HTTP_NOMEM;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return LB_HTTP_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return LB_HTTP_TIMEOUT;
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
		return LB_HTTP_DROPPED;
	case CURLE_TOO_MANY_REDIRECTS:
		return LB_HTTP_REDIRECTS;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return LB_HTTP_TLS_VERIFY;
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
		return LB_HTTP_TLS;
	default:
		return LB_HTTP_OTHER;
	}
}

/* curl's detail, masked; its generic words when a secret defeats masks. */
static void
set_why(struct lb_http *h, const struct lb_http_request *rq, CURLcode rc,
    struct lb_http_reply *reply)
{
	reply->generic = curl_easy_strerror(rc);
	for (size_t i = 0; i < LB_HTTP_SECRETS_MAX; i++) {
		const char *s = rq->secrets[i];

		if (s != NULL && s[0] != '\0' &&
		    strlen(s) < LB_HTTP_SECRET_MIN) {
			snprintf(reply->why, sizeof(reply->why), "%s",
			    reply->generic);
			return;
		}
	}
	snprintf(reply->why, sizeof(reply->why), "%s", h->errbuf[0] != '\0' ?
	    h->errbuf : reply->generic);
	lb_http_redact(reply->why, sizeof(reply->why), rq->secrets,
	    LB_HTTP_SECRETS_MAX);
}

/* ---- callbacks ---- */

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (s->rq->write != NULL) {
		if (!s->rq->write(s->rq->ctx, data, n)) {
			s->aborted = true;
			return 0;
		}
		return n;
	}
	if (n > s->rq->reply_max - s->reply->body.len) {
		s->too_large = true;
		return 0;
	}
	lb_buf_add(&s->reply->body, data, n);
	return lb_buf_failed(&s->reply->body) ? 0 : n;
}

static size_t
header_cb(char *line, size_t size, size_t nitems, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nitems;

	if (!s->rq->header(s->h, s->rq->ctx, line, n)) {
		s->aborted = true;
		return 0;
	}
	return n;
}

/* ---- one request ---- */

static struct curl_slist *
header_list(const struct lb_http_request *rq, bool *nomem)
{
	struct curl_slist *list = NULL, *n;

	for (size_t i = 0; rq->headers != NULL && rq->headers[i] != NULL; i++) {
		n = curl_slist_append(list, rq->headers[i]);
		if (n == NULL) {
			*nomem = true;
			break;
		}
		list = n;
	}
	return list;
}

static void
setup_tls(CURL *c, const struct lb_http_request *rq)
{
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, rq->verify ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, rq->verify ? 2L : 0L);
	if (rq->verify && rq->ca_file != NULL) {
		curl_easy_setopt(c, rq->ca_is_dir ? CURLOPT_CAPATH :
		    CURLOPT_CAINFO, rq->ca_file);
		if (rq->ca_only && !rq->ca_is_dir)
			curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	}
	if (rq->client_cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, rq->client_cert);
		if (rq->client_key != NULL)
			curl_easy_setopt(c, CURLOPT_SSLKEY, rq->client_key);
	}
}

static void
setup_method(CURL *c, const struct lb_http_request *rq)
{
	const char *m = rq->method != NULL ? rq->method : "GET";
	bool post = strcmp(m, "POST") == 0;

	if (strcmp(m, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		return;
	}
	if (!post)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
	if (rq->body != NULL || post) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS,
		    rq->body != NULL ? rq->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
		    (long)(rq->body != NULL ? strlen(rq->body) : 0));
	}
}

static void
setup(struct lb_http *h, const struct lb_http_request *rq,
    struct curl_slist *hdrs, struct sink *s)
{
	CURL *c = h->curl;

	curl_easy_reset(c);
	h->errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION,
	    rq->max_redirs > 0 ? 1L : 0L);
	if (rq->max_redirs > 0) {
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, rq->max_redirs);
	}
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, rq->connect_timeout_s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, rq->timeout_s);
	if (rq->low_speed_time_s > 0) {
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT,
		    rq->low_speed_bytes);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
		    rq->low_speed_time_s);
	}
	if (rq->max_file_size > 0)
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
		    (curl_off_t)rq->max_file_size);
	if (rq->user_agent != NULL)
		curl_easy_setopt(c, CURLOPT_USERAGENT, rq->user_agent);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	if (rq->header != NULL) {
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
	}
	setup_tls(c, rq);
	if (rq->user != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, rq->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD,
		    rq->password != NULL ? rq->password : "");
	}
	setup_method(c, rq);
}

int
lb_http_perform(struct lb_http *h, const struct lb_http_request *rq,
    struct lb_http_reply *reply)
{
	struct sink s = { .h = h, .rq = rq, .reply = reply };
	struct curl_slist *hdrs;
	bool nomem = false;
	CURLcode rc;

	memset(reply, 0, sizeof(*reply));
	lb_buf_init(&reply->body);
	hdrs = header_list(rq, &nomem);
	if (nomem) {
		curl_slist_free_all(hdrs);
		reply->fail = LB_HTTP_NOMEM;
		reply->generic = curl_easy_strerror(CURLE_OUT_OF_MEMORY);
		snprintf(reply->why, sizeof(reply->why), "%s", reply->generic);
		return -1;
	}
	setup(h, rq, hdrs, &s);
	rc = curl_easy_perform(h->curl);
	if (rc == CURLE_OK && lb_buf_failed(&reply->body))
		rc = CURLE_OUT_OF_MEMORY;
	if (rc == CURLE_OK) {
		reply->status = lb_http_status(h);
	} else {
		reply->fail = lb_buf_failed(&reply->body) ? LB_HTTP_NOMEM :
		    classify(rc, &s);
		set_why(h, rq, rc, reply);
	}
	/* The handle keeps pointers into the caller's frame; drop them. */
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h->curl, CURLOPT_PASSWORD, "");
	curl_slist_free_all(hdrs);
	return rc == CURLE_OK ? 0 : -1;
}
