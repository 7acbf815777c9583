/*
 * fuzz_agent_http.c - what reaches the rescue agent's port: the bytes of a
 * connection go through the agent's HTTP reader (ra_http_read_msg over a
 * socketpair, as agent_main.c serves it), and a request that parses goes
 * to the agent API (routing, query, token, command bodies; finalize runs
 * under a temporary root).  The same bytes are also read as a reply (what
 * the agent reads back from the conductor) and the first line as a URL.
 * Nothing may crash or leak; every API reply is JSON or HTML with a
 * status.  Single-threaded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ramdisk/agent_api.h"
#include "ramdisk/agent_http.h"
#define FUZZ_WITH_AGENT
#include "tests/fuzz/fuzz_util.h"

#define INPUT_MAX (96 * 1024)	/* fits a socketpair's buffer */

#include "conductor/util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads 'data' as one message from a connection that then closes. */
static int
read_msg(const uint8_t *data, size_t size, bool request,
    struct ra_http_msg *m, struct lb_err *err)
{
	struct ra_conn c;
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (write(sv[0], data, size) != (ssize_t)size)
		abort();
	shutdown(sv[0], SHUT_WR);
	r = ra_conn_accept(&c, sv[1], NULL, 2000, err);
	if (r == 0)
		r = ra_http_read_msg(&c, request, false, m, err);
	ra_conn_close(&c);
	close(sv[0]);
	return r;
}

static void
check_msg(const struct ra_http_msg *m, bool request)
{
	if (m->body == NULL || strlen(m->body) > m->body_len ||
	    m->n_headers > RA_HTTP_MAX_HEADERS)
		abort();
	if (request && (m->method == NULL || m->target == NULL ||
	    m->target[0] != '/'))
		abort();
	if (!request && (m->status < 100 || m->status > 999))
		abort();
	for (size_t i = 0; i < m->n_headers; i++)
		if (m->headers[i].name[0] == '\0' ||
		    strpbrk(m->headers[i].value, "\r\n") != NULL)
			abort();
}

static void
fuzz_request(const uint8_t *data, size_t size)
{
	struct ra_api_reply reply;
	struct ra_http_msg m = { 0 };
	struct lb_err err = { "" };

	if (read_msg(data, size, true, &m, &err) < 0) {
		if (err.msg[0] == '\0')
			abort();
		return;
	}
	check_msg(&m, true);
	ra_api_handle(fuzz_agent_api("http"), &(struct ra_api_request){
		.method = m.method,
		.target = m.target,
		.host = ra_http_header(&m, "Host"),
		.body = m.body,
		.body_len = m.body_len,
	}, &reply);
	if (reply.status < 200 || reply.status > 599 ||
	    (reply.body == NULL && reply.body_len != 0) ||
	    strlen(reply.headers) >= sizeof(reply.headers))
		abort();
	ra_api_reply_release(&reply);
	ra_http_msg_release(&m);
}

static void
fuzz_reply(const uint8_t *data, size_t size)
{
	struct ra_http_msg m = { 0 };
	struct lb_err err = { "" };

	if (read_msg(data, size, false, &m, &err) < 0) {
		if (err.msg[0] == '\0')
			abort();
		return;
	}
	check_msg(&m, false);
	ra_http_msg_release(&m);
}

static void
fuzz_url(const uint8_t *data, size_t size)
{
	struct lb_err err = { "" };
	struct ra_url u;
	char *line;
	size_t n = 0;

	while (n < size && data[n] != '\r' && data[n] != '\n')
		n++;
	line = malloc(n + 1);
	if (line == NULL)
		return;
	memcpy(line, data, n);
	line[n] = '\0';
	if (ra_url_parse(line, &u, &err) == 0) {
		if (u.host[0] == '\0' || u.port < 1 || u.port > 65535 ||
		    (u.path[0] != '\0' && u.path[0] != '/'))
			abort();
	} else if (err.msg[0] == '\0') {
		abort();
	}
	/* Decoding never grows the string. */
	if (ra_url_unquote(line, true) == 0 && strlen(line) > n)
		abort();
	free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > INPUT_MAX)
		return 0;
	fuzz_request(data, size);
	fuzz_reply(data, size);
	fuzz_url(data, size);
	return 0;
}
