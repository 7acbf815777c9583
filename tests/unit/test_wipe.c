/*
 * test_wipe.c - request bodies that held a password are zeroed before
 * their memory is freed: the secret lb_buf (conductor/util/buf.c) that
 * collects an upload, and jansson's blocks once lb_json_wipe_on_free()
 * is set (conductor/util/jsonbody.c).  Linked with -Wl,--wrap=free, so
 * every free() of the code under test passes through __wrap_free below,
 * which looks at the block before it goes.  Single-threaded.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conductor/util/buf.h"
#include "conductor/util/jsonbody.h"

#include "conductor/util/banned.h"

#define SECRET "Resc-ue-PW1-do-not-keep-me"

void __real_free(void *p);
void __wrap_free(void *p);

static bool watching;
static unsigned int freed, dirty;

void
__wrap_free(void *p)
{
	const unsigned char *c = p;
	size_t n;

	if (watching && p != NULL) {
		n = malloc_usable_size(p);
		freed++;
		for (size_t i = 0; i < n; i++) {
			if (c[i] != 0) {
				dirty++;
				break;
			}
		}
	}
	__real_free(p);
}

static void
watch(void)
{
	watching = true;
	freed = dirty = 0;
}

static void
test_secret_buf_wipes_on_growth_and_release(void **state)
{
	struct lb_buf b;

	(void)state;
	lb_buf_init_secret(&b);
	watch();
	/* 256 bytes at first, then doubled: several blocks let go of */
	for (int i = 0; i < 200; i++)
		lb_buf_adds(&b, "{\"rescue_password\": \"" SECRET "\"}");
	assert_false(lb_buf_failed(&b));
	assert_true(freed >= 5);
	lb_buf_release(&b);
	watching = false;
	assert_true(freed >= 6);
	assert_int_equal(dirty, 0);
	/* still secret after a release, as the API reuses it */
	assert_true(b.secret);
}

/* The check above would pass with a hook that saw nothing: prove it sees. */
static void
test_plain_buf_is_not_wiped(void **state)
{
	struct lb_buf b;

	(void)state;
	lb_buf_init(&b);
	lb_buf_adds(&b, SECRET);
	watch();
	lb_buf_release(&b);
	watching = false;
	assert_int_equal(freed, 1);
	assert_int_equal(dirty, 1);
}

static void
test_parsed_body_is_wiped(void **state)
{
	static const char body[] = "{\"target\": \"rescue\", "
	    "\"rescue_password\": \"" SECRET "\"}";
	struct lb_err err = { "" };
	json_t *v = NULL;

	(void)state;
	lb_json_wipe_on_free();
	watch();
	assert_int_equal(lb_json_parse_body(body, strlen(body), &v, &err), 0);
	assert_string_equal(json_string_value(json_object_get(v,
	    "rescue_password")), SECRET);
	json_decref(v);
	watching = false;
	/* the parser's buffers, the keys, the strings, the object */
	assert_true(freed >= 4);
	assert_int_equal(dirty, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_buf_wipes_on_growth_and_release),
		cmocka_unit_test(test_plain_buf_is_not_wiped),
		cmocka_unit_test(test_parsed_body_is_wiped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
