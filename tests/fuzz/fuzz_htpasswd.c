/*
 * fuzz_htpasswd.c - HTTP basic authentication: the input is an
 * Authorization header value checked against a file with one user
 * (bcrypt at cost 4, so a run stays cheap), and the same bytes loaded as
 * an htpasswd file.  Only the right password may pass; a file that does
 * not load says why.  Single-threaded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conductor/util/htpasswd.h"
#include "tests/fuzz/fuzz_util.h"

#include "conductor/util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz:fuzzpass */
#define ENTRY "fuzz:$2y$04$KoBqWz12aSP4y7PxKfK0r.PT3nuNeFFy34rLeyzdAUpjv5PseJxyO\n"
/*
 * "fuzz:fuzzpass" in base64 is ZnV6ejpmdXp6cGFzcw; the low 4 bits of its
 * last character are padding, which a decoder may ignore (RFC 4648 3.5;
 * Python's does), so cw, cx ... c/ all spell the same password.  What must
 * hold is that only the password passes, however it is padded.
 */
#define GOOD_B64_PREFIX "ZnV6ejpmdXp6cGFzc"

static char path[512];
static struct lb_htpasswd *fixed;

static void
cleanup(void)
{
	lb_htpasswd_free(fixed);
	unlink(path);
}

static int
write_file(const void *data, size_t size)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	if (fwrite(data, 1, size, f) != size) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static void
init(void)
{
	struct lb_err err;
	int fd;

	snprintf(path, sizeof(path), "%s/lb-fuzz-htpasswd-XXXXXX",
	    fuzz_tmpdir());
	fd = mkstemp(path);
	if (fd < 0)
		abort();
	close(fd);
	atexit(cleanup);
	if (write_file(ENTRY, strlen(ENTRY)) < 0 ||
	    lb_htpasswd_load(path, &fixed, &err) < 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_htpasswd *h = NULL;
	struct lb_err err = { "" };
	char *s;
	int r;

	if (size > 64 * 1024)
		return 0;
	if (fixed == NULL)
		init();
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	r = lb_htpasswd_check_header(fixed, s);
	if ((r != 0 && r != -EACCES && r != -ENOMEM) ||
	    (r == 0 && strstr(s, GOOD_B64_PREFIX) == NULL))
		abort();
	free(s);

	if (write_file(data, size) < 0)
		abort();
	r = lb_htpasswd_load(path, &h, &err);
	/* No check against it: the cost of a fuzzed hash is unbounded. */
	if (r == 0)
		lb_htpasswd_free(h);
	else if (err.msg[0] == '\0')
		abort();
	return 0;
}
