/*
 * test_metrics.c - the metrics registry: the exposition text to the byte
 * (escaping, cumulative buckets, +Inf, _sum/_count), bounded series with
 * the "other" overflow, the kinds' rules, counts exact under threads, and
 * lifeboatd's own table named as Prometheus wants.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "conductor/util/metrics.h"

static const double buckets[] = { 0.5, 1, 2.5 };

static const struct lb_metric_def defs[] = {
	{ .name = "t_calls_total", .help = "Calls \\ with \"quotes\"\nand "
	    "a newline.", .kind = LB_METRIC_COUNTER,
	  .labels = { "op", "result" }, .max_series = 3 },
	{ .name = "t_open", .help = "Open things.", .kind = LB_METRIC_GAUGE,
	  .max_series = 1 },
	{ .name = "t_seconds", .help = "Durations.",
	  .kind = LB_METRIC_HISTOGRAM, .labels = { "phase" },
	  .buckets = buckets, .nbuckets = 3, .max_series = 4 },
	{ .name = "t_state", .help = "By state.", .kind = LB_METRIC_GAUGE,
	  .labels = { "state" }, .max_series = 8 },
};

enum { CALLS, OPEN, SECONDS, STATE };

static char *
render(struct lb_metrics *m)
{
	struct lb_buf out;
	size_t len;

	lb_buf_init(&out);
	lb_metrics_render(m, &out);
	assert_false(lb_buf_failed(&out));
	return lb_buf_steal(&out, &len);
}

static struct lb_metrics *
make(void)
{
	struct lb_metrics *m = NULL;

	assert_int_equal(lb_metrics_new(defs, 4, &m), 0);
	return m;
}

static void
test_text(void **state)
{
	struct lb_metrics *m = make();
	char *text;

	(void)state;
	lb_metrics_add(m, CALLS, LB_METRIC_LABELS("power \"on\"", "ok"), 1);
	lb_metrics_add(m, CALLS, LB_METRIC_LABELS("power \"on\"", "ok"), 2);
	lb_metrics_add(m, CALLS, LB_METRIC_LABELS("a\\b\nc", "error"), 1);
	lb_metrics_set(m, OPEN, LB_METRIC_LABELS(NULL), 7);
	lb_metrics_observe(m, SECONDS, LB_METRIC_LABELS("off"), 0.25);
	lb_metrics_observe(m, SECONDS, LB_METRIC_LABELS("off"), 1);
	lb_metrics_observe(m, SECONDS, LB_METRIC_LABELS("off"), 3);
	text = render(m);
	assert_string_equal(text,
	    "# HELP t_calls_total Calls \\\\ with \"quotes\"\\nand a "
	    "newline.\n"
	    "# TYPE t_calls_total counter\n"
	    "t_calls_total{op=\"power \\\"on\\\"\",result=\"ok\"} 3\n"
	    "t_calls_total{op=\"a\\\\b\\nc\",result=\"error\"} 1\n"
	    "# HELP t_open Open things.\n"
	    "# TYPE t_open gauge\n"
	    "t_open 7\n"
	    "# HELP t_seconds Durations.\n"
	    "# TYPE t_seconds histogram\n"
	    "t_seconds_bucket{phase=\"off\",le=\"0.5\"} 1\n"
	    "t_seconds_bucket{phase=\"off\",le=\"1\"} 2\n"
	    "t_seconds_bucket{phase=\"off\",le=\"2.5\"} 2\n"
	    "t_seconds_bucket{phase=\"off\",le=\"+Inf\"} 3\n"
	    "t_seconds_sum{phase=\"off\"} 4.25\n"
	    "t_seconds_count{phase=\"off\"} 3\n"
	    "# HELP t_state By state.\n"
	    "# TYPE t_state gauge\n");
	free(text);
	lb_metrics_free(m);
}

/* Past max_series, new label values all land in one "other" series. */
static void
test_bounded(void **state)
{
	struct lb_metrics *m = make();
	char name[32], *text;

	(void)state;
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "op%d", i);
		lb_metrics_add(m, CALLS, LB_METRIC_LABELS(name, "ok"), 1);
	}
	lb_metrics_add(m, CALLS, LB_METRIC_LABELS("op0", "ok"), 1);
	text = render(m);
	assert_non_null(strstr(text, "t_calls_total{op=\"op0\",result="
	    "\"ok\"} 2\n"));
	assert_non_null(strstr(text, "t_calls_total{op=\"op1\",result="
	    "\"ok\"} 1\n"));
	assert_null(strstr(text, "op2\""));
	assert_non_null(strstr(text, "t_calls_total{op=\"other\",result="
	    "\"other\"} 98\n"));
	free(text);
	lb_metrics_free(m);
}

/* A counter never goes down; a call of the wrong kind changes nothing. */
static void
test_kinds(void **state)
{
	struct lb_metrics *m = make();
	char *text;

	(void)state;
	lb_metrics_add(m, CALLS, LB_METRIC_LABELS("x", "ok"), -1);
	lb_metrics_set(m, CALLS, LB_METRIC_LABELS("x", "ok"), 5);
	lb_metrics_observe(m, CALLS, LB_METRIC_LABELS("x", "ok"), 5);
	lb_metrics_add(m, SECONDS, LB_METRIC_LABELS("x"), 1);
	lb_metrics_add(m, 99, LB_METRIC_LABELS("x"), 1);
	lb_metrics_add(m, OPEN, LB_METRIC_LABELS(NULL), -2);
	text = render(m);
	assert_null(strstr(text, "t_calls_total{"));
	assert_null(strstr(text, "t_seconds_"));
	assert_non_null(strstr(text, "t_open -2\n"));
	free(text);
	lb_metrics_free(m);
}

/* A gauge read at scrape: cleared, then only what is there now. */
static void
test_clear(void **state)
{
	struct lb_metrics *m = make();
	char *text;

	(void)state;
	lb_metrics_add(m, STATE, LB_METRIC_LABELS("active"), 3);
	lb_metrics_add(m, STATE, LB_METRIC_LABELS("rescue"), 2);
	lb_metrics_clear(m, STATE);
	lb_metrics_add(m, STATE, LB_METRIC_LABELS("rescue"), 1);
	lb_metrics_set(m, OPEN, LB_METRIC_LABELS(NULL), 4);
	lb_metrics_clear(m, OPEN);
	text = render(m);
	assert_null(strstr(text, "active"));
	assert_non_null(strstr(text, "t_state{state=\"rescue\"} 1\n"));
	assert_non_null(strstr(text, "t_open 0\n"));
	free(text);
	lb_metrics_free(m);
}

struct worker_arg {
	struct lb_metrics *m;
	const char *op;
};

static void *
worker(void *p)
{
	struct worker_arg *a = p;

	for (int i = 0; i < 20000; i++) {
		lb_metrics_add(a->m, CALLS, LB_METRIC_LABELS(a->op, "ok"), 1);
		lb_metrics_observe(a->m, SECONDS, LB_METRIC_LABELS("p"), 0.1);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct lb_metrics *m = make();
	struct worker_arg args[4] = {
		{ m, "a" }, { m, "b" }, { m, "a" }, { m, "b" },
	};
	pthread_t th[4];
	char *text;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]),
		    0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	text = render(m);
	assert_non_null(strstr(text, "t_calls_total{op=\"a\",result=\"ok\"} "
	    "40000\n"));
	assert_non_null(strstr(text, "t_calls_total{op=\"b\",result=\"ok\"} "
	    "40000\n"));
	assert_non_null(strstr(text, "t_seconds_count{phase=\"p\"} 80000\n"));
	assert_non_null(strstr(text, "t_seconds_bucket{phase=\"p\",le=\"0.5\"}"
	    " 80000\n"));
	free(text);
	lb_metrics_free(m);
}

/* lifeboatd's table: every metric announced, named by the conventions. */
static void
test_lifeboat_table(void **state)
{
	char *text = render(lb_metrics()), *line, *save = NULL;
	int helps = 0, types = 0;

	(void)state;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char name[128], kind[32];

		if (strncmp(line, "# HELP ", 7) == 0) {
			helps++;
			assert_int_equal(strncmp(line + 7, "lifeboat_", 9), 0);
			continue;
		}
		if (sscanf(line, "# TYPE %127s %31s", name, kind) != 2)
			continue;
		types++;
		size_t n = strlen(name);
		bool total = n > 6 && strcmp(name + n - 6, "_total") == 0;

		if (strcmp(kind, "counter") == 0)
			assert_true(total);
		else
			assert_false(total);
		if (strcmp(kind, "histogram") == 0)
			assert_string_equal(name + n - 8, "_seconds");
	}
	assert_int_equal(helps, LB_M_COUNT);
	assert_int_equal(types, LB_M_COUNT);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_lifeboat_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
