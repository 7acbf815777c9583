/*
 * test_htpasswd.c - unit tests of the bcrypt htpasswd loader and the HTTP
 * basic credential check (conductor/util/htpasswd.c).  The concurrency test
 * runs checks from several threads; the rest is single-threaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "conductor/util/htpasswd.h"

#include "conductor/util/banned.h"

/* Made with `htpasswd -nbB -C 4 USER PASSWORD` (cost 4 keeps tests fast). */
#define ALICE \
	"alice:$2y$04$0eQEXvnDc8eVZaelPdXaVeHWtTT1U.gdLyJLLieToHGRUjlX75TFa"
#define BOB "bob:$2y$04$/YEY4Z1.oNIisDjgN5J9Re7Gs8JdJIUWKkS.LVJA3UHqPOUd8BYrO"
/* "carol" with an empty password */
#define CAROL \
	"carol:$2y$05$Zauw4VJKT/9cbojAsNEcpOCuVi6Qk3NRcI/MzEFNK87KP3lTTdiOS"
/* "hello", as $2a$ and $2b$ (libxcrypt) */
#define DAN "dan:$2a$04$abcdefghijklmnopqrstuuwHJMEGjfAzmL1lWmUmlphguIbWfjYey"
#define ERIN "erin:$2b$04$abcdefghijklmnopqrstuuwHJMEGjfAzmL1lWmUmlphguIbWfjYey"

/* Base64 of "alice:correct horse" and friends. */
#define ALICE_OK "Basic YWxpY2U6Y29ycmVjdCBob3JzZQ=="
#define BOB_OK "Basic Ym9iOnMzY3I6ZXQ="		/* bob:s3cr:et */
#define CAROL_OK "Basic Y2Fyb2w6"			/* carol: */
#define DAN_OK "Basic ZGFuOmhlbGxv"			/* dan:hello */
#define ERIN_OK "Basic ZXJpbjpoZWxsbw=="		/* erin:hello */

static char tmp_path[64];

static const char *
write_file_n(const char *text, size_t len)
{
	int fd;
	FILE *f;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/lb-test-htpasswd-XXXXXX");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	return tmp_path;
}

static const char *
write_file(const char *text)
{
	return write_file_n(text, strlen(text));
}

static struct lb_htpasswd *
load_ok(const char *text)
{
	struct lb_htpasswd *h = NULL;
	struct lb_err err = { { 0 } };
	const char *path = write_file(text);

	assert_int_equal(lb_htpasswd_load(path, &h, &err), 0);
	assert_non_null(h);
	unlink(path);
	return h;
}

/* Loading 'len' bytes fails with -EINVAL and "PATH" + 'suffix' as message. */
static void
expect_load_error_n(const char *text, size_t len, const char *suffix)
{
	struct lb_htpasswd *h = NULL;
	struct lb_err err = { { 0 } };
	const char *path = write_file_n(text, len);

	assert_int_equal(lb_htpasswd_load(path, &h, &err), -EINVAL);
	assert_null(h);
	assert_int_equal(strncmp(err.msg, path, strlen(path)), 0);
	assert_string_equal(err.msg + strlen(path), suffix);
	unlink(path);
}

static void
expect_load_error(const char *text, const char *suffix)
{
	expect_load_error_n(text, strlen(text), suffix);
}

static void
test_good_credentials(void **state)
{
	struct lb_htpasswd *h = load_ok(ALICE "\n" BOB "\n" CAROL "\n" DAN "\n"
	    ERIN "\n");

	(void)state;
	assert_int_equal(lb_htpasswd_check_header(h, ALICE_OK), 0);
	/* the password may hold ':'; the user ends at the first */
	assert_int_equal(lb_htpasswd_check_header(h, BOB_OK), 0);
	assert_int_equal(lb_htpasswd_check_header(h, CAROL_OK), 0);
	assert_int_equal(lb_htpasswd_check_header(h, DAN_OK), 0);
	assert_int_equal(lb_htpasswd_check_header(h, ERIN_OK), 0);
	lb_htpasswd_free(h);
}

static void
test_wrong_password(void **state)
{
	struct lb_htpasswd *h = load_ok(ALICE "\n" BOB "\n");

	(void)state;
	/* alice:correct horsE, alice:, alice:correct horse + ' ' */
	assert_int_equal(lb_htpasswd_check_header(h,
	    "Basic YWxpY2U6Y29ycmVjdCBob3JzRQ=="), -EACCES);
	assert_int_equal(lb_htpasswd_check_header(h, "Basic YWxpY2U6"),
	    -EACCES);
	assert_int_equal(lb_htpasswd_check_header(h,
	    "Basic YWxpY2U6Y29ycmVjdCBob3JzZSA="), -EACCES);
	/* bob's password is not alice's: bob:correct horse */
	assert_int_equal(lb_htpasswd_check_header(h,
	    "Basic Ym9iOmNvcnJlY3QgaG9yc2U="), -EACCES);
	lb_htpasswd_free(h);
}

static void
test_unknown_user(void **state)
{
	struct lb_htpasswd *h = load_ok(ALICE "\n");

	(void)state;
	/* mallory:correct horse, Alice:correct horse, alic:correct horse */
	assert_int_equal(lb_htpasswd_check_header(h,
	    "Basic bWFsbG9yeTpjb3JyZWN0IGhvcnNl"), -EACCES);
	assert_int_equal(lb_htpasswd_check_header(h,
	    "Basic QWxpY2U6Y29ycmVjdCBob3JzZQ=="), -EACCES);
	assert_int_equal(lb_htpasswd_check_header(h,
	    "Basic YWxpYzpjb3JyZWN0IGhvcnNl"), -EACCES);
	/* :correct horse (empty user) */
	assert_int_equal(lb_htpasswd_check_header(h,
	    "Basic OmNvcnJlY3QgaG9yc2U="), -EACCES);
	lb_htpasswd_free(h);
}

static void
test_header_forms(void **state)
{
	struct lb_htpasswd *h = load_ok(ALICE "\n");

	(void)state;
	assert_int_equal(lb_htpasswd_check_header(h,
	    "basic YWxpY2U6Y29ycmVjdCBob3JzZQ=="), 0);
	assert_int_equal(lb_htpasswd_check_header(h,
	    "  BASIC \t YWxpY2U6Y29ycmVjdCBob3JzZQ== \t"), 0);
	/* unpadded base64 */
	assert_int_equal(lb_htpasswd_check_header(h,
	    "Basic YWxpY2U6Y29ycmVjdCBob3JzZQ"), 0);
	lb_htpasswd_free(h);
}

/* The user name history records: before the first colon, never more. */
static void
test_user_name(void **state)
{
	char user[16];

	(void)state;
	assert_int_equal(lb_htpasswd_user("Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==",
	    user, sizeof(user)), 0);
	assert_string_equal(user, "alice");
	/* "bob:pass:word": the password may hold a colon */
	assert_int_equal(lb_htpasswd_user("basic  Ym9iOnBhc3M6d29yZA==", user,
	    sizeof(user)), 0);
	assert_string_equal(user, "bob");
	/* no colon, not base64, not Basic, none */
	assert_int_equal(lb_htpasswd_user("Basic bm8tY29sb24=", user,
	    sizeof(user)), -EINVAL);
	assert_int_equal(lb_htpasswd_user("Basic !!!", user, sizeof(user)),
	    -EINVAL);
	assert_int_equal(lb_htpasswd_user("Bearer YWxpY2U6eA==", user,
	    sizeof(user)), -EINVAL);
	assert_int_equal(lb_htpasswd_user(NULL, user, sizeof(user)), -EINVAL);
}

static void
test_malformed_header(void **state)
{
	static const char *const bad[] = {
		"",
		"Basic",
		"Basic ",
		"Basic\tYWxpY2U6",
		"BasicYWxpY2U6Y29ycmVjdCBob3JzZQ==",
		"Bearer YWxpY2U6Y29ycmVjdCBob3JzZQ==",
		"Digest username=\"alice\"",
		"Basic !!!!",
		"Basic YWxpY2U6Y29ycmVjdCBob3JzZQ=",	/* bad padding */
		"Basic YWxpY2U6Y29ycmVjdCBob3JzZQ===",
		"Basic YWxpY2U6Y29y cmVjdCBob3JzZQ==",	/* inner space */
		"Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==x",
		"Basic YWxpY2U",			/* no ':' ("alice") */
		"Basic Y",				/* 1 mod 4 */
		/* alice:correct horse\0x (NUL inside) */
		"Basic YWxpY2U6Y29ycmVjdCBob3JzZQB4",
		/* alice\0:correct horse */
		"Basic YWxpY2UAOmNvcnJlY3QgaG9yc2U=",
	};
	struct lb_htpasswd *h = load_ok(ALICE "\n");
	char *long_header;
	size_t n;

	(void)state;
	assert_int_equal(lb_htpasswd_check_header(h, NULL), -EACCES);
	assert_int_equal(lb_htpasswd_check_header(NULL, ALICE_OK), -EACCES);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(lb_htpasswd_check_header(h, bad[i]), -EACCES);

	/* the good header padded with blanks past the limit */
	n = LB_HTPASSWD_HEADER_MAX + 1;
	long_header = malloc(n + 1);
	assert_non_null(long_header);
	memset(long_header, ' ', n);
	memcpy(long_header, ALICE_OK, strlen(ALICE_OK));
	long_header[n] = '\0';
	assert_int_equal(lb_htpasswd_check_header(h, long_header), -EACCES);
	long_header[n - 1] = '\0';	/* at the limit it is accepted */
	assert_int_equal(lb_htpasswd_check_header(h, long_header), 0);
	free(long_header);
	lb_htpasswd_free(h);
}

static void
test_non_bcrypt_rejected(void **state)
{
	(void)state;
	expect_load_error(ALICE "\ndave:$apr1$fdAEKjbU$QgN0G/uvmU5HyLkoh4jKY.\n",
	    ":2: the entry of user 'dave' is not bcrypt (create it with "
	    "htpasswd -B)");
	expect_load_error("eve:{SHA}nU4eI71bcnBGqeO0t9tXvY1u5oQ=\n",
	    ":1: the entry of user 'eve' is not bcrypt (create it with "
	    "htpasswd -B)");
	expect_load_error("\n\nfrank:plaintext\n",
	    ":3: the entry of user 'frank' is not bcrypt (create it with "
	    "htpasswd -B)");
	/* $2x$, cost 03, short, bad alphabet */
	expect_load_error(
	    "g:$2x$04$0eQEXvnDc8eVZaelPdXaVeHWtTT1U.gdLyJLLieToHGRUjlX75TFa\n",
	    ":1: the entry of user 'g' is not bcrypt (create it with "
	    "htpasswd -B)");
	expect_load_error(
	    "g:$2y$03$0eQEXvnDc8eVZaelPdXaVeHWtTT1U.gdLyJLLieToHGRUjlX75TFa\n",
	    ":1: the entry of user 'g' is not bcrypt (create it with "
	    "htpasswd -B)");
	expect_load_error(
	    "g:$2y$04$0eQEXvnDc8eVZaelPdXaVeHWtTT1U.gdLyJLLieToHGRUjlX75TF\n",
	    ":1: the entry of user 'g' is not bcrypt (create it with "
	    "htpasswd -B)");
	expect_load_error(
	    "g:$2y$04$0eQEXvnDc8eVZaelPdXaVeHWtTT1U+gdLyJLLieToHGRUjlX75TFa\n",
	    ":1: the entry of user 'g' is not bcrypt (create it with "
	    "htpasswd -B)");
}

static void
test_malformed_file(void **state)
{
	char *text;

	(void)state;
	expect_load_error(ALICE "\n# comment\nbob\n",
	    ":3: missing ':' between user and password hash");
	expect_load_error(":$2y$04$0eQEXvnDc8eVZaelPdXaVeHWtTT1U.gdLyJLLieToHGR"
	    "UjlX75TFa\n", ":1: user name is empty or longer than 255 bytes");
	expect_load_error(ALICE "\n" BOB "\n" ALICE "\n",
	    ":3: user 'alice' is listed twice");
	expect_load_error("", ": no users");
	expect_load_error("# only a comment\n\n", ": no users");
	expect_load_error_n(ALICE "\n\0" BOB "\n",
	    sizeof(ALICE "\n\0" BOB "\n") - 1, ": contains a NUL byte");
	text = malloc(2000);
	assert_non_null(text);
	memset(text, 'u', 1999);
	text[1999] = '\0';
	expect_load_error(text, ":1: line longer than 1024 bytes");
	free(text);
}

static void
test_file_errors(void **state)
{
	struct lb_htpasswd *h = NULL;
	struct lb_err err = { { 0 } };
	const char *path;
	char *big;
	FILE *f;

	(void)state;
	assert_int_equal(lb_htpasswd_load("/nonexistent/htpasswd", &h, &err),
	    -ENOENT);
	assert_string_equal(err.msg, "cannot open '/nonexistent/htpasswd': "
	    "No such file or directory");
	assert_null(h);

	path = write_file(ALICE "\n");
	if (geteuid() != 0) {
		/* root reads anything, so this part needs a normal user */
		assert_int_equal(chmod(path, 0), 0);
		assert_int_equal(lb_htpasswd_load(path, &h, &err), -EACCES);
		assert_null(h);
		assert_int_equal(chmod(path, 0600), 0);
	}
	/* larger than the limit */
	big = malloc(LB_HTPASSWD_FILE_MAX + 1);
	assert_non_null(big);
	memset(big, '\n', LB_HTPASSWD_FILE_MAX + 1);
	memcpy(big, ALICE "\n", strlen(ALICE) + 1);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(big, 1, LB_HTPASSWD_FILE_MAX + 1, f),
	    LB_HTPASSWD_FILE_MAX + 1);
	fclose(f);
	assert_int_equal(lb_htpasswd_load(path, &h, &err), -EINVAL);
	assert_int_equal(strncmp(err.msg, path, strlen(path)), 0);
	assert_string_equal(err.msg + strlen(path),
	    ": larger than 1048576 bytes");
	assert_int_equal(truncate(path, LB_HTPASSWD_FILE_MAX), 0);
	assert_int_equal(lb_htpasswd_load(path, &h, &err), 0);
	assert_int_equal(lb_htpasswd_check_header(h, ALICE_OK), 0);
	lb_htpasswd_free(h);
	lb_htpasswd_free(NULL);
	free(big);
	unlink(path);
}

static void
test_comments_blanks_crlf(void **state)
{
	struct lb_htpasswd *h = load_ok("# users of lifeboat\r\n\r\n  " ALICE
	    "  \r\n\t\n" BOB);

	(void)state;
	assert_int_equal(lb_htpasswd_check_header(h, ALICE_OK), 0);
	assert_int_equal(lb_htpasswd_check_header(h, BOB_OK), 0);
	lb_htpasswd_free(h);
}

/* A file written by the real htpasswd(1), if it is installed. */
static void
test_real_htpasswd_tool(void **state)
{
	struct lb_htpasswd *h = NULL;
	struct lb_err err;
	const char *path;
	int status;
	pid_t pid;

	(void)state;
	if (access("/usr/bin/htpasswd", X_OK) != 0)
		skip();
	path = write_file("");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		/* it says "Adding password for user operator" */
		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execl("/usr/bin/htpasswd", "htpasswd", "-bB", "-C", "4", path,
		    "operator", "p@ss w:rd", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(lb_htpasswd_load(path, &h, &err), 0);
	/* operator:p@ss w:rd */
	assert_int_equal(lb_htpasswd_check_header(h,
	    "Basic b3BlcmF0b3I6cEBzcyB3OnJk"), 0);
	/* operator:p@ss w:rD */
	assert_int_equal(lb_htpasswd_check_header(h,
	    "Basic b3BlcmF0b3I6cEBzcyB3OnJE"), -EACCES);
	lb_htpasswd_free(h);
	unlink(path);
}

struct worker {
	const struct lb_htpasswd *h;
	int failures;
};

static void *
check_many(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 20; i++) {
		if (lb_htpasswd_check_header(w->h, ALICE_OK) != 0)
			w->failures++;
		if (lb_htpasswd_check_header(w->h, "Basic YWxpY2U6") != -EACCES)
			w->failures++;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct lb_htpasswd *h = load_ok(ALICE "\n" BOB "\n");
	struct worker w[4];
	pthread_t t[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ h, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, check_many, &w[i]),
		    0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	lb_htpasswd_free(h);
}

/* Base64 of "alice:wrong". */
#define ALICE_BAD "Basic YWxpY2U6d3Jvbmc="

static void
test_cache(void **state)
{
	struct lb_htpasswd *h = load_ok(ALICE "\n" BOB "\n");
	unsigned long runs = lb_htpasswd_bcrypt_runs(h);

	(void)state;
	assert_int_equal(lb_htpasswd_check_at(h, ALICE_OK, "10.0.0.1", 100), 0);
	assert_int_equal(lb_htpasswd_bcrypt_runs(h), runs + 1);
	/* within the minute: no bcrypt run, from any source */
	assert_int_equal(lb_htpasswd_check_at(h, ALICE_OK, "10.0.0.1", 130), 0);
	assert_int_equal(lb_htpasswd_check_at(h, ALICE_OK, "10.0.0.9", 159), 0);
	assert_int_equal(lb_htpasswd_check_at(h, ALICE_OK, NULL, 159), 0);
	assert_int_equal(lb_htpasswd_bcrypt_runs(h), runs + 1);
	/* the cache is of user and password together */
	assert_int_equal(lb_htpasswd_check_at(h, ALICE_BAD, NULL, 130),
	    -EACCES);
	assert_int_equal(lb_htpasswd_check_at(h, BOB_OK, NULL, 130), 0);
	assert_int_equal(lb_htpasswd_bcrypt_runs(h), runs + 3);
	/* failures are never cached: each one is a run */
	assert_int_equal(lb_htpasswd_check_at(h, ALICE_BAD, NULL, 131),
	    -EACCES);
	assert_int_equal(lb_htpasswd_bcrypt_runs(h), runs + 4);
	/* after the minute, bcrypt again */
	assert_int_equal(lb_htpasswd_check_at(h, ALICE_OK, NULL, 160), 0);
	assert_int_equal(lb_htpasswd_bcrypt_runs(h), runs + 5);
	lb_htpasswd_free(h);
}

static void
test_failures_limited(void **state)
{
	struct lb_htpasswd *h = load_ok(ALICE "\n" BOB "\n");
	unsigned long runs = lb_htpasswd_bcrypt_runs(h);

	(void)state;
	for (int i = 0; i < 50; i++)
		assert_int_equal(lb_htpasswd_check_at(h, ALICE_BAD,
		    "192.0.2.7", 1000 + i / 10), -EACCES);
	assert_int_equal(lb_htpasswd_bcrypt_runs(h),
	    runs + LB_HTPASSWD_FAIL_MAX);
	/* another source still gets its run, and in */
	assert_int_equal(lb_htpasswd_check_at(h, ALICE_OK, "192.0.2.8", 1004),
	    0);
	assert_int_equal(lb_htpasswd_bcrypt_runs(h),
	    runs + LB_HTPASSWD_FAIL_MAX + 1);
	/* the blocked source: a cached credential passes, a new one waits */
	assert_int_equal(lb_htpasswd_check_at(h, ALICE_OK, "192.0.2.7", 1005),
	    0);
	assert_int_equal(lb_htpasswd_check_at(h, BOB_OK, "192.0.2.7", 1005),
	    -EACCES);
	assert_int_equal(lb_htpasswd_bcrypt_runs(h),
	    runs + LB_HTPASSWD_FAIL_MAX + 1);
	/* the window over, it runs again (and a good login counts nothing) */
	assert_int_equal(lb_htpasswd_check_at(h, BOB_OK, "192.0.2.7",
	    1000 + LB_HTPASSWD_FAIL_WINDOW), 0);
	for (int i = 0; i < LB_HTPASSWD_FAIL_MAX; i++)
		assert_int_equal(lb_htpasswd_check_at(h, ALICE_BAD,
		    "192.0.2.7", 1000 + LB_HTPASSWD_FAIL_WINDOW), -EACCES);
	assert_int_equal(lb_htpasswd_bcrypt_runs(h),
	    runs + 2 * LB_HTPASSWD_FAIL_MAX + 2);
	/* malformed headers cost no run and count no failure */
	assert_int_equal(lb_htpasswd_check_at(h, "Basic !!", "192.0.2.9", 2000),
	    -EACCES);
	assert_int_equal(lb_htpasswd_bcrypt_runs(h),
	    runs + 2 * LB_HTPASSWD_FAIL_MAX + 2);
	lb_htpasswd_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_credentials),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_unknown_user),
		cmocka_unit_test(test_header_forms),
		cmocka_unit_test(test_user_name),
		cmocka_unit_test(test_malformed_header),
		cmocka_unit_test(test_non_bcrypt_rejected),
		cmocka_unit_test(test_malformed_file),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_comments_blanks_crlf),
		cmocka_unit_test(test_real_htpasswd_tool),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_failures_limited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
