/*
 * test_http_client.c - the libcurl helper against a tiny HTTP server on
 * 127.0.0.1 run by a thread of this test: method, headers and body sent,
 * the reply size limit, redirects, streaming, and error text that never
 * shows a secret.  Main thread plus the server thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "conductor/util/http_client.h"

/* One canned answer per connection, for as many connections as come. */
struct server {
	int fd;
	int port;
	pthread_t thread;
	pthread_mutex_t lock;
	char reply_head[512];	/* status line and headers, no blank line */
	size_t body_len;	/* of 'x' bytes */
	char request[8192];	/* the last request, head and body */
};

static bool
head_done(const char *buf, size_t len, size_t *need)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	const char *cl;

	if (end == NULL)
		return false;
	*need = (size_t)(end - buf) + 4;
	cl = strcasestr(buf, "Content-Length:");
	if (cl != NULL && cl < end)
		*need += strtoul(cl + 15, NULL, 10);
	return true;
}

static void
serve_one(struct server *s, int c)
{
	char buf[sizeof(s->request)], *body;
	size_t len = 0, need = sizeof(buf) - 1, blen;
	ssize_t n;

	while (len < need && (n = read(c, buf + len, sizeof(buf) - 1 -
	    len)) > 0) {
		len += (size_t)n;
		buf[len] = '\0';
		if (!head_done(buf, len, &need))
			need = sizeof(buf) - 1;
	}
	pthread_mutex_lock(&s->lock);
	memcpy(s->request, buf, len);
	s->request[len] = '\0';
	blen = s->body_len;
	dprintf(c, "%s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
	    s->reply_head, blen);
	pthread_mutex_unlock(&s->lock);
	body = malloc(blen + 1);
	memset(body, 'x', blen);
	for (size_t off = 0; off < blen; off += (size_t)n) {
		n = write(c, body + off, blen - off);
		if (n <= 0)
			break;
	}
	free(body);
}

static void *
server_main(void *arg)
{
	struct server *s = arg;
	int c;

	while ((c = accept(s->fd, NULL, NULL)) >= 0) {
		serve_one(s, c);
		close(c);
	}
	return NULL;
}

static void
server_answer(struct server *s, const char *head, size_t body_len)
{
	pthread_mutex_lock(&s->lock);
	snprintf(s->reply_head, sizeof(s->reply_head), "%s", head);
	s->body_len = body_len;
	pthread_mutex_unlock(&s->lock);
}

static int
setup(void **state)
{
	struct server *s = calloc(1, sizeof(*s));
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	pthread_mutex_init(&s->lock, NULL);
	server_answer(s, "HTTP/1.1 200 OK", 0);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	struct server *s = *state;

	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return 0;
}

/* A port on 127.0.0.1 nothing listens on. */
static int
closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void
test_redact_patterns(void **state)
{
	char msg[LB_HTTP_WHY_MAX];
	const char *const secrets[] = { "hunter22", NULL, "s3cr3t-token" };

	snprintf(msg, sizeof(msg), "Failed to GET http://admin:hunter22@"
	    "bmc.example:8443/v1/commands/?wait=false&agent_token=abc123xyz "
	    "(Authorization: Basic YWRtaW46aHVudGVy) X-Auth-Token: "
	    "s3cr3t-token; again s3cr3t-token and token=qwerty&x=1");
	lb_http_redact(msg, sizeof(msg), secrets, 3);
	assert_null(strstr(msg, "hunter22"));
	assert_null(strstr(msg, "admin"));
	assert_null(strstr(msg, "abc123xyz"));
	assert_null(strstr(msg, "wait=false"));
	assert_null(strstr(msg, "YWRtaW46aHVudGVy"));
	assert_null(strstr(msg, "s3cr3t-token"));
	assert_null(strstr(msg, "qwerty"));
	assert_string_equal(msg, "Failed to GET http://******@bmc.example:8443"
	    "/v1/commands/?****** (Authorization: ******) X-Auth-Token: "
	    "******; again ****** and token=******&x=1");
}

static void
test_redact_keeps_plain_text(void **state)
{
	char msg[LB_HTTP_WHY_MAX] = "Failed to connect to 127.0.0.1 port 9: "
	    "Connection refused (is it up?) at https://bmc:443/redfish/v1/";
	char want[LB_HTTP_WHY_MAX];

	snprintf(want, sizeof(want), "%s", msg);
	lb_http_redact(msg, sizeof(msg), NULL, 0);
	assert_string_equal(msg, want);
}

/* No room for the tail: the message is cut, never left with a secret. */
static void
test_redact_full_buffer(void **state)
{
	char msg[60];
	const char *const secrets[] = { "pw1" };

	memset(msg, 'a', 54);
	memcpy(msg + 54, "pw1b", 5);	/* 58 characters, the mask adds 3 */
	lb_http_redact(msg, sizeof(msg), secrets, 1);
	assert_null(strstr(msg, "pw1"));
	assert_int_equal(strlen(msg), 54);	/* cut where it began */
	snprintf(msg, sizeof(msg), "%s", "http://u:longpassword@h/aaaaaaaa");
	lb_http_redact(msg, sizeof(msg), NULL, 0);
	assert_string_equal(msg, "http://******@h/aaaaaaaa");
}

/* curl's own error text for a URL with credentials and a token. */
static void
test_error_text_masked(void **state)
{
	struct lb_http_request rq = {
		.connect_timeout_s = 5,
		.timeout_s = 5,
		.reply_max = 1024,
		.secrets = { "hunter22", "abc123xyz" },
	};
	struct lb_http_reply rp;
	struct lb_http *h;
	char url[256];

	snprintf(url, sizeof(url), "http://admin:hunter22@127.0.0.1:%d/x?"
	    "agent_token=abc123xyz", closed_port());
	rq.url = url;
	assert_int_equal(lb_http_new(&h), 0);
	assert_int_equal(lb_http_perform(h, &rq, &rp), -1);
	assert_int_equal(rp.fail, LB_HTTP_CONNECT);
	assert_non_null(strstr(rp.why, "127.0.0.1"));
	assert_null(strstr(rp.why, "hunter22"));
	assert_null(strstr(rp.why, "abc123xyz"));
	lb_buf_release(&rp.body);
	/* A secret too short to mask: only curl's generic words. */
	rq.secrets[0] = "pw";
	assert_int_equal(lb_http_perform(h, &rq, &rp), -1);
	assert_string_equal(rp.why, rp.generic);
	lb_buf_release(&rp.body);
	lb_http_free(h);
}

static void
test_request_sent(void **state)
{
	struct server *s = *state;
	static const char *const hdrs[] = { "X-Test: one", "Expect:", NULL };
	struct lb_http_request rq = {
		.method = "PATCH",
		.headers = hdrs,
		.body = "{\"a\":1}",
		.connect_timeout_s = 5,
		.timeout_s = 10,
		.user = "admin",
		.password = "pw",
		.user_agent = "lifeboat",
		.reply_max = 4096,
	};
	struct lb_http_reply rp;
	struct lb_http *h;
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/thing", s->port);
	rq.url = url;
	server_answer(s, "HTTP/1.1 202 Accepted", 10);
	assert_int_equal(lb_http_new(&h), 0);
	assert_int_equal(lb_http_perform(h, &rq, &rp), 0);
	assert_int_equal(rp.status, 202);
	assert_int_equal(rp.body.len, 10);
	assert_memory_equal(rp.body.data, "xxxxxxxxxx", 10);
	pthread_mutex_lock(&s->lock);
	assert_int_equal(strncmp(s->request, "PATCH /thing HTTP/1.1\r\n", 23),
	    0);
	assert_non_null(strstr(s->request, "\r\nX-Test: one\r\n"));
	assert_non_null(strstr(s->request, "\r\nUser-Agent: lifeboat\r\n"));
	/* admin:pw */
	assert_non_null(strstr(s->request,
	    "Authorization: Basic YWRtaW46cHc="));
	assert_non_null(strstr(s->request, "\r\n\r\n{\"a\":1}"));
	pthread_mutex_unlock(&s->lock);
	lb_buf_release(&rp.body);
	lb_http_free(h);
}

static void
test_size_limit(void **state)
{
	struct server *s = *state;
	struct lb_http_request rq = {
		.connect_timeout_s = 5,
		.timeout_s = 10,
		.reply_max = 64 * 1024,
	};
	struct lb_http_reply rp;
	struct lb_http *h;
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", s->port);
	rq.url = url;
	assert_int_equal(lb_http_new(&h), 0);
	server_answer(s, "HTTP/1.1 200 OK", 64 * 1024);
	assert_int_equal(lb_http_perform(h, &rq, &rp), 0);
	assert_int_equal(rp.body.len, 64 * 1024);
	lb_buf_release(&rp.body);
	/* One byte over the limit aborts the transfer. */
	server_answer(s, "HTTP/1.1 200 OK", 64 * 1024 + 1);
	assert_int_equal(lb_http_perform(h, &rq, &rp), -1);
	assert_int_equal(rp.fail, LB_HTTP_TOO_LARGE);
	assert_true(rp.body.len <= 64 * 1024);
	lb_buf_release(&rp.body);
	/* max_file_size refuses a declared length before any byte. */
	rq.max_file_size = 1000;
	assert_int_equal(lb_http_perform(h, &rq, &rp), -1);
	assert_int_equal(rp.fail, LB_HTTP_TOO_LARGE);
	assert_int_equal(rp.body.len, 0);
	lb_buf_release(&rp.body);
	lb_http_free(h);
}

static void
test_redirects(void **state)
{
	struct server *s = *state;
	struct lb_http_request rq = {
		.connect_timeout_s = 5,
		.timeout_s = 10,
		.reply_max = 1024,
	};
	struct lb_http_reply rp;
	struct lb_http *h;
	char url[128], head[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/loop", s->port);
	snprintf(head, sizeof(head), "HTTP/1.1 302 Found\r\nLocation: %s",
	    url);
	rq.url = url;
	server_answer(s, head, 0);
	assert_int_equal(lb_http_new(&h), 0);
	/* Not followed unless asked. */
	assert_int_equal(lb_http_perform(h, &rq, &rp), 0);
	assert_int_equal(rp.status, 302);
	lb_buf_release(&rp.body);
	rq.max_redirs = 2;
	assert_int_equal(lb_http_perform(h, &rq, &rp), -1);
	assert_int_equal(rp.fail, LB_HTTP_REDIRECTS);
	lb_buf_release(&rp.body);
	lb_http_free(h);
}

struct stream {
	size_t bytes;
	size_t stop_after;
	int headers;
	long status_seen;
};

static bool
stream_write(void *ctx, const char *data, size_t len)
{
	struct stream *st = ctx;

	st->bytes += len;
	return st->bytes <= st->stop_after;
}

static bool
stream_header(struct lb_http *h, void *ctx, const char *line, size_t len)
{
	struct stream *st = ctx;

	st->headers++;
	if (len <= 2)
		st->status_seen = lb_http_status(h);
	return true;
}

static void
test_streaming(void **state)
{
	struct server *s = *state;
	struct stream st = { .stop_after = (size_t)-1 };
	struct lb_http_request rq = {
		.connect_timeout_s = 5,
		.timeout_s = 10,
		.write = stream_write,
		.header = stream_header,
		.ctx = &st,
	};
	struct lb_http_reply rp;
	struct lb_http *h;
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/file", s->port);
	rq.url = url;
	server_answer(s, "HTTP/1.1 200 OK\r\nETag: \"v1\"", 200000);
	assert_int_equal(lb_http_new(&h), 0);
	assert_int_equal(lb_http_perform(h, &rq, &rp), 0);
	assert_int_equal(st.bytes, 200000);
	assert_int_equal(rp.body.len, 0);	/* nothing buffered */
	assert_int_equal(st.status_seen, 200);
	assert_true(st.headers >= 4);
	lb_buf_release(&rp.body);
	/* The callback's "no" stops the transfer. */
	st.bytes = 0;
	st.stop_after = 1000;
	assert_int_equal(lb_http_perform(h, &rq, &rp), -1);
	assert_int_equal(rp.fail, LB_HTTP_ABORTED);
	assert_true(st.bytes < 200000);
	lb_buf_release(&rp.body);
	lb_http_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact_patterns),
		cmocka_unit_test(test_redact_keeps_plain_text),
		cmocka_unit_test(test_redact_full_buffer),
		cmocka_unit_test(test_error_text_masked),
		cmocka_unit_test_setup_teardown(test_request_sent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_size_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_redirects, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_streaming, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
