/*
 * test_console_capture.c - unit tests of the console capture log
 * (console/console_capture.c): redaction before bytes reach the file,
 * also of a secret split across two SOL reads, long lines cut, rotation at
 * the bound, file modes, the tail of N lines cleaned of control
 * characters and ANSI escapes.  Single-threaded, in a temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "console/capture.h"
#include "conductor/util/banned.h"

#define UUID	"1be26c0b-03f2-4d2e-ae87-c02d7f33c123"

static char tmpdir[64];
static char dir[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lb-capture-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(dir, sizeof(dir), "%s/console", tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	char p[PATH_MAX];

	(void)state;
	lb_capture_remove(dir, UUID);
	rmdir(dir);
	snprintf(p, sizeof(p), "%s", tmpdir);
	return rmdir(p);
}

static char *
slurp(const char *suffix, size_t *ret_len)
{
	char path[PATH_MAX], *buf;
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.log%s", dir, UUID, suffix);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	assert_int_equal(fstat(fileno(f), &st), 0);
	buf = calloc(1, (size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)st.st_size, f),
	    (size_t)st.st_size);
	fclose(f);
	if (ret_len != NULL)
		*ret_len = (size_t)st.st_size;
	return buf;
}

static struct lb_capture *
open_capture_resume(size_t max, bool resume)
{
	struct lb_capture *cap = NULL;
	struct lb_err err;

	assert_int_equal(lb_capture_open(dir, UUID, max, resume, &cap, &err),
	    0);
	assert_non_null(cap);
	return cap;
}

static struct lb_capture *
open_capture(size_t max)
{
	return open_capture_resume(max, false);
}

static void
feed(struct lb_capture *cap, const char *s)
{
	lb_capture_feed(cap, s, strlen(s));
}

static void
test_redaction(void **state)
{
	struct lb_capture *cap = open_capture(1 << 20);
	char *text;

	(void)state;
	/* the kernel command line, its token split across two SOL reads */
	feed(cap, "Kernel command line: ipa-api-url=http://10.0.0.1:6385 "
	    "ipa-agent-to");
	feed(cap, "ken=s3cr");
	feed(cap, "etTOKEN BOOTIF=01-52-54-00-12-34-56\r\n");
	feed(cap, "Password=hunter2 PASSWD=abc my_Secret='two words' x=1\n");
	feed(cap, "rescue_password=\"q w\" foo=bar =bare token=\n");
	/* the last line has no newline yet: close writes it, redacted */
	feed(cap, "db_secret=zz");
	lb_capture_close(cap);
	text = slurp("", NULL);
	assert_non_null(text);
	assert_string_equal(text,
	    "Kernel command line: ipa-api-url=http://10.0.0.1:6385 "
	    "ipa-agent-token=*** BOOTIF=01-52-54-00-12-34-56\n"
	    "Password=*** PASSWD=*** my_Secret=*** x=1\n"
	    "rescue_password=*** foo=bar =bare token=***\n"
	    "db_secret=***\n");
	assert_null(strstr(text, "s3cr"));
	free(text);
}

static void
test_long_line_cut(void **state)
{
	struct lb_capture *cap = open_capture(1 << 20);
	char big[3 * LB_CAPTURE_LINE_MAX], expected[LB_CAPTURE_LINE_MAX + 16];
	char *text;

	(void)state;
	memset(big, 'a', sizeof(big));
	lb_capture_feed(cap, big, sizeof(big));
	/* a secret past the bound never reaches the file */
	feed(cap, " token=LEAK\nnext\n");
	lb_capture_close(cap);
	text = slurp("", NULL);
	memset(expected, 'a', LB_CAPTURE_LINE_MAX);
	snprintf(expected + LB_CAPTURE_LINE_MAX, 16, "\nnext\n");
	assert_string_equal(text, expected);
	free(text);
}

static void
test_modes_and_truncation(void **state)
{
	char path[PATH_MAX];
	struct lb_capture *cap;
	struct stat st;
	char *text;
	int fd;

	(void)state;
	cap = open_capture(1 << 20);
	feed(cap, "first run\n");
	lb_capture_close(cap);
	/* a leftover rotated file and a too-open mode from elsewhere */
	snprintf(path, sizeof(path), "%s/%s.log.1", dir, UUID);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/%s.log", dir, UUID);
	assert_int_equal(chmod(path, 0644), 0);

	cap = open_capture(1 << 20);
	feed(cap, "second run\n");
	lb_capture_close(cap);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	text = slurp("", NULL);
	assert_string_equal(text, "second run\n");
	free(text);
	assert_null(slurp(".1", NULL));
}

/* lifeboatd restarted during a rescue: the capture goes on where it was */
static void
test_resume(void **state)
{
	struct lb_capture *cap = open_capture(4096);
	char line[96], *cur, *old;
	size_t cur_len;

	(void)state;
	for (int i = 0; i < 90; i++) {
		snprintf(line, sizeof(line), "line %03d token=SECRETVALUE "
		    "padding padding padding padding\n", i);
		feed(cap, line);
	}
	lb_capture_close(cap);
	cap = open_capture_resume(4096, true);
	feed(cap, "after the restart\n");
	lb_capture_close(cap);
	cur = slurp("", &cur_len);
	old = slurp(".1", NULL);
	assert_non_null(old);
	assert_int_equal(strncmp(old, "line 000", 8), 0);
	assert_int_equal(strncmp(cur, "line 080", 8), 0);
	assert_int_equal(cur_len, 10 * 51 + 18);
	assert_non_null(strstr(cur, "line 089 token=*** padding padding "
	    "padding padding\nafter the restart\n"));
	free(cur);
	free(old);
	/* the size counts what was there: the bound still holds */
	cap = open_capture_resume(500, true);
	feed(cap, "one more\n");
	lb_capture_close(cap);
	cur = slurp("", NULL);
	assert_string_equal(cur, "one more\n");
	free(cur);
}

static void
test_rotation(void **state)
{
	struct lb_capture *cap = open_capture(4096);
	char line[96], *cur, *old, *tail = NULL;
	size_t cur_len, old_len;
	struct lb_err err;

	(void)state;
	/* 120 lines of 51 bytes once redacted: 6120, over the bound */
	for (int i = 0; i < 120; i++) {
		snprintf(line, sizeof(line), "line %03d token=SECRETVALUE "
		    "padding padding padding padding\n", i);
		feed(cap, line);
	}
	lb_capture_close(cap);
	cur = slurp("", &cur_len);
	old = slurp(".1", &old_len);
	assert_non_null(cur);
	assert_non_null(old);
	/* rotated before the line that would pass 4096: 80 lines, then 40 */
	assert_int_equal(old_len, 80 * 51);
	assert_int_equal(cur_len, 40 * 51);
	assert_null(strstr(cur, "SECRET"));
	assert_null(strstr(old, "SECRET"));
	assert_int_equal(strncmp(old, "line 000 token=*** padding", 26), 0);
	assert_int_equal(strncmp(cur, "line 080 token=*** padding", 26), 0);
	assert_non_null(strstr(cur, "line 119 token=***"));
	/* the tail reaches into the rotated file when the current is short */
	assert_int_equal(lb_capture_tail(dir, UUID, 50, &tail, &err), 0);
	assert_int_equal(strncmp(tail, "line 070 token=***", 18), 0);
	assert_non_null(strstr(tail, "padding\nline 119 token=***"));
	free(tail);
	free(cur);
	free(old);
}

static void
test_tail(void **state)
{
	struct lb_capture *cap = open_capture(1 << 20);
	char line[64], *tail = NULL;
	struct lb_err err;

	(void)state;
	assert_int_equal(lb_capture_tail(dir, UUID, 5, &tail, &err), 0);
	assert_string_equal(tail, "");
	free(tail);
	for (int i = 0; i < 20; i++) {
		snprintf(line, sizeof(line), "boot %d\r\n", i);
		feed(cap, line);
	}
	feed(cap, "\x1b[31mred\x1b[0m\tand\x07 \x1b]0;title\x07" "bell\x1b" "c\n");
	feed(cap, "last\x01\x7f line\n");
	lb_capture_close(cap);
	assert_int_equal(lb_capture_tail(dir, UUID, 4, &tail, &err), 0);
	assert_string_equal(tail, "boot 18\nboot 19\nred and bell\nlast "
	    "line");
	free(tail);
	assert_int_equal(lb_capture_tail(dir, UUID, 1, &tail, &err), 0);
	assert_string_equal(tail, "last line");
	free(tail);
	assert_int_equal(lb_capture_tail(dir, UUID, 0, &tail, &err), 0);
	assert_string_equal(tail, "");
	free(tail);
	assert_int_equal(lb_capture_tail(dir, UUID, 100, &tail, &err), 0);
	assert_int_equal(strncmp(tail, "boot 0\nboot 1\n", 14), 0);
	free(tail);
	assert_int_equal(lb_capture_remove(dir, UUID), 0);
	assert_null(slurp("", NULL));
	assert_int_equal(lb_capture_remove(dir, UUID), 0);
}

static void
test_redact_bounds(void **state)
{
	char out[8];

	(void)state;
	/* the output is cut to its buffer and stays terminated */
	assert_int_equal(lb_capture_redact("password=abcdef", 15, out,
	    sizeof(out)), 7);
	assert_string_equal(out, "passwor");
	assert_int_equal(lb_capture_redact("token=abcdef", 12, out,
	    sizeof(out)), 7);
	assert_string_equal(out, "token=*");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_redaction, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_line_cut, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_modes_and_truncation,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail, setup, teardown),
		cmocka_unit_test(test_redact_bounds),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
