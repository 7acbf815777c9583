/*
 * agent_client.c - the conductor's side of the agent command API, over
 * libcurl, and the check of the URL it calls.  Worker threads (the check:
 * API threads).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conductor/agent_client.h"
#include "conductor/util/buf.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

#define REPLY_MAX (1024 * 1024)
#define RETRY_DELAY_S 2

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
	struct lb_buf *b = arg;

	if (b->len + size * n > REPLY_MAX)
		return 0;	/* aborts the transfer */
	lb_buf_add(b, data, size * n);
	return size * n;
}

/* The reason the agent gave, from a command result or a fault body. */
static void
agent_reason(json_t *reply, char *out, size_t size)
{
	json_t *cerr = json_object_get(reply, "command_error");
	const char *why = NULL;

	if (json_is_object(cerr)) {
		why = json_string_value(json_object_get(cerr, "details"));
		if (why == NULL)
			why = json_string_value(json_object_get(cerr,
			    "message"));
	}
	if (why == NULL)
		why = json_string_value(json_object_get(reply, "faultstring"));
	snprintf(out, size, "%s", why ? why : "no reason given");
}

static int
post_once(const struct lb_agent_call *call, const char *body,
    long *ret_status, struct lb_buf *reply, struct lb_err *err)
{
	struct curl_slist *headers = NULL;
	char url[2048], *token = NULL;
	CURL *h;
	CURLcode rc;
	int r = 0;

	h = curl_easy_init();
	if (h == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	token = curl_easy_escape(h, call->token, 0);
	snprintf(url, sizeof(url), "%s/v1/commands/?wait=false&agent_token=%s",
	    call->agent_url, token ? token : "");
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Accept: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, reply);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)call->timeout_s);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "lifeboat");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (call->ca_file != NULL) {
		/* Trust exactly the certificate the agent sent, nothing else. */
		curl_easy_setopt(h, CURLOPT_CAINFO, call->ca_file);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, ret_status);
	} else if (rc == CURLE_PEER_FAILED_VERIFICATION ||
	    rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CONNECT_ERROR) {
		r = lb_err_set(err, -EACCES, "TLS with the agent at %s "
		    "failed: %s", call->agent_url, curl_easy_strerror(rc));
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		r = lb_err_set(err, -ETIMEDOUT, "the agent at %s did not "
		    "answer within %d s", call->agent_url, call->timeout_s);
	} else {
		r = lb_err_set(err, -EHOSTUNREACH, "cannot reach the agent "
		    "at %s: %s", call->agent_url, curl_easy_strerror(rc));
	}
	curl_free(token);
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	return r;
}

/*
 * What an agent without lifeboat's extension parameter answers, IPA's
 * TypeError text either as a 400 fault (InvalidCommandParamsError) or in
 * a FAILED result: it changed nothing, so the call can be made again.
 */
#define MOVES_PARAM "lifeboat_network_moves"
#define MOVES_REJECTED "unexpected keyword argument '" MOVES_PARAM "'"

/* One finalize_rescue command; *ret_rejected says MOVES_REJECTED. */
static int
finalize_once(const struct lb_agent_call *call, const char *hash,
    bool network_moves, bool *ret_rejected, struct lb_err *err)
{
	json_t *req, *reply = NULL;
	char *body, why[512];
	const char *status;
	struct lb_buf b;
	long http = 0;
	int r = -EHOSTUNREACH;

	*ret_rejected = false;
	req = json_pack("{s:s, s:{s:s, s:b}}", "name",
	    "rescue.finalize_rescue", "params", "rescue_password", hash,
	    "hashed", 1);
	if (req != NULL && network_moves &&
	    json_object_set_new(json_object_get(req, "params"), MOVES_PARAM,
	    json_true()) < 0) {
		json_decref(req);
		req = NULL;
	}
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (body == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	lb_buf_init(&b);
	for (int i = 0; i < call->attempts; i++) {
		if (i > 0)
			sleep(RETRY_DELAY_S);
		lb_buf_release(&b);
		r = post_once(call, body, &http, &b, err);
		/* Only a failure to connect is worth another attempt. */
		if (r != -EHOSTUNREACH)
			break;
		log_debug("agent at %s not reachable (attempt %d of %d)",
		    call->agent_url, i + 1, call->attempts);
	}
	/* The body holds the password hash. */
	explicit_bzero(body, strlen(body));
	free(body);
	if (r < 0)
		goto out;
	lb_buf_addc(&b, '\0');
	reply = b.data ? json_loads(b.data, 0, NULL) : NULL;
	if (http == 401) {
		r = lb_err_set(err, -EACCES, "the agent refused the token");
		goto out;
	}
	if (http < 200 || http > 299 || !json_is_object(reply)) {
		agent_reason(reply, why, sizeof(why));
		*ret_rejected = network_moves && http == 400 &&
		    strstr(why, MOVES_REJECTED) != NULL;
		r = lb_err_set(err, -EIO, "Agent returned bad result for "
		    "command finalize_rescue: HTTP %ld: %s", http, why);
		goto out;
	}
	status = json_string_value(json_object_get(reply, "command_status"));
	if (status == NULL || strcmp(status, "SUCCEEDED") != 0) {
		agent_reason(reply, why, sizeof(why));
		*ret_rejected = network_moves && status != NULL &&
		    strcmp(status, "FAILED") == 0 &&
		    strstr(why, MOVES_REJECTED) != NULL;
		r = lb_err_set(err, -EIO, "Agent returned bad result for "
		    "command finalize_rescue: %s", why);
		goto out;
	}
	r = 0;
out:
	json_decref(reply);
	lb_buf_release(&b);
	return r;
}

int
lb_agent_finalize_rescue(const struct lb_agent_call *call, const char *hash,
    bool network_moves, struct lb_err *err)
{
	bool rejected;
	int r;

	pthread_once(&curl_once, curl_init_once);
	r = finalize_once(call, hash, network_moves, &rejected, err);
	if (r < 0 && rejected) {
		log_info("agent at %s does not know %s: finalizing without it",
		    call->agent_url, MOVES_PARAM);
		r = finalize_once(call, hash, false, &rejected, err);
	}
	return r;
}

int
lb_agent_url_check(const char *url, size_t len, bool *ret_tls,
    struct lb_err *err)
{
	char *scheme = NULL, *host = NULL;
	CURLUcode rc;
	CURLU *u;
	int r = 0;

	/* len is the JSON string's: a NUL inside counts as a control byte. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)url[i];

		if (c < 0x20 || c == 0x7f)
			return lb_err_set(err, -EINVAL, "Invalid callback_url: "
			    "it holds a control character");
	}
	pthread_once(&curl_once, curl_init_once);
	u = curl_url();
	if (u == NULL)
		return lb_err_set(err, -ENOMEM, "out of memory");
	/* An empty authority parses, to be refused below as "no host". */
	rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NO_AUTHORITY);
	if (rc == CURLUE_NO_HOST) {
		r = lb_err_set(err, -EINVAL, "Invalid callback_url: it names "
		    "no host");
		goto out;
	}
	if (rc != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 &&
	    strcasecmp(scheme, "https") != 0)) {
		r = lb_err_set(err, -EINVAL, "Invalid callback_url: it must be "
		    "an http:// or https:// URL");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    host == NULL || *host == '\0') {
		r = lb_err_set(err, -EINVAL, "Invalid callback_url: it names "
		    "no host");
		goto out;
	}
	*ret_tls = strcasecmp(scheme, "https") == 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}
