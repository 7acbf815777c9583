/*
 * agent_client.c - the conductor's side of the agent command API, over
 * libcurl, and the check of the URL it calls.  Worker threads (the check:
 * API threads).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conductor/agent_client.h"
#include "conductor/util/buf.h"
#include "conductor/util/http_client.h"
#include "conductor/util/log.h"
#include "conductor/util/banned.h"

#define REPLY_MAX (1024 * 1024)
#define RETRY_DELAY_S 2
#define CONNECT_TIMEOUT_S 10

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
	static const char *const headers[] = {
		"Content-Type: application/json",
		"Accept: application/json",
		NULL,
	};
	struct lb_http_request rq = {
		.method = "POST",
		.headers = headers,
		.body = body,
		.connect_timeout_s = CONNECT_TIMEOUT_S,
		.timeout_s = call->timeout_s,
		.verify = true,
		/* Trust exactly the certificate the agent sent. */
		.ca_file = call->ca_file,
		.ca_only = true,
		.reply_max = REPLY_MAX,
		.user_agent = "lifeboat",
		.secrets = { call->token },
	};
	struct lb_http_reply rp;
	struct lb_http *h;
	char url[2048], *token;
	int r = 0;

	if (lb_http_new(&h) < 0)
		return lb_err_set(err, -ENOMEM, "out of memory");
	token = lb_http_escape(h, call->token);
	snprintf(url, sizeof(url), "%s/v1/commands/?wait=false&agent_token=%s",
	    call->agent_url, token ? token : "");
	rq.url = url;
	if (lb_http_perform(h, &rq, &rp) == 0) {
		*ret_status = rp.status;
		lb_buf_add(reply, rp.body.data, rp.body.len);
	} else if (rp.fail == LB_HTTP_TLS_VERIFY) {
		r = lb_err_set(err, -EACCES, "TLS with the agent at %s "
		    "failed: %s", call->agent_url, rp.generic);
	} else if (rp.fail == LB_HTTP_TIMEOUT) {
		r = lb_err_set(err, -ETIMEDOUT, "the agent at %s did not "
		    "answer within %d s", call->agent_url, call->timeout_s);
	} else {
		r = lb_err_set(err, -EHOSTUNREACH, "cannot reach the agent "
		    "at %s: %s", call->agent_url, rp.generic);
	}
	explicit_bzero(url, sizeof(url));
	lb_buf_release(&rp.body);
	lb_http_free_string(token);
	lb_http_free(h);
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
	if (lb_http_global_init() < 0)
		return lb_err_set(err, -EIO, "cannot initialise libcurl");
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
