/*
 * metrics.c - the metrics registry (metrics.h): series found by their
 * label values under the metric's mutex, and the exposition text.  Any
 * thread; the hot paths (API requests, BMC calls, store transactions)
 * take one mutex for a few comparisons and additions.
 */
#include "conductor/util/metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conductor/util/hash.h"
#include "conductor/util/banned.h"

struct series {
	char *values[LB_METRIC_LABELS_MAX];
	uint64_t hash;
	double value;			/* counter, gauge */
	double sum;			/* histogram */
	uint64_t count;
	uint64_t *buckets;		/* nbuckets + 1, not cumulative */
};

struct metric {
	const struct lb_metric_def *def;
	size_t nlabels;
	pthread_mutex_t lock;
	size_t n;			/* series in use */
	struct series *series;		/* max_series */
	uint64_t *bucket_store;
};

struct lb_metrics {
	size_t n;
	struct metric *metrics;
};

static void
series_clear(struct series *s, size_t nbuckets)
{
	for (size_t i = 0; i < LB_METRIC_LABELS_MAX; i++) {
		free(s->values[i]);
		s->values[i] = NULL;
	}
	s->hash = 0;
	s->value = 0;
	s->sum = 0;
	s->count = 0;
	if (s->buckets != NULL)
		memset(s->buckets, 0, (nbuckets + 1) * sizeof(uint64_t));
}

static int
metric_init(struct metric *mt, const struct lb_metric_def *def)
{
	size_t nb = def->kind == LB_METRIC_HISTOGRAM ? def->nbuckets + 1 : 0;
	size_t max = def->max_series > 1 ? def->max_series : 2;

	mt->def = def;
	while (mt->nlabels < LB_METRIC_LABELS_MAX &&
	    def->labels[mt->nlabels] != NULL)
		mt->nlabels++;
	mt->series = calloc(max, sizeof(*mt->series));
	if (nb > 0)
		mt->bucket_store = calloc(max * nb, sizeof(uint64_t));
	if (mt->series == NULL || (nb > 0 && mt->bucket_store == NULL))
		return -ENOMEM;
	for (size_t i = 0; nb > 0 && i < max; i++)
		mt->series[i].buckets = mt->bucket_store + i * nb;
	/* Without labels there is one series, shown from the start. */
	if (mt->nlabels == 0)
		mt->n = 1;
	pthread_mutex_init(&mt->lock, NULL);
	return 0;
}

int
lb_metrics_new(const struct lb_metric_def *defs, size_t n,
    struct lb_metrics **ret)
{
	struct lb_metrics *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return -ENOMEM;
	m->metrics = calloc(n, sizeof(*m->metrics));
	if (m->metrics == NULL) {
		free(m);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (metric_init(&m->metrics[i], &defs[i]) < 0) {
			m->n = i + 1;
			lb_metrics_free(m);
			return -ENOMEM;
		}
	}
	m->n = n;
	*ret = m;
	return 0;
}

void
lb_metrics_free(struct lb_metrics *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		struct metric *mt = &m->metrics[i];
		size_t max = mt->def->max_series > 1 ? mt->def->max_series : 2;

		for (size_t j = 0; mt->series != NULL && j < max; j++)
			series_clear(&mt->series[j], 0);
		free(mt->series);
		free(mt->bucket_store);
		if (mt->series != NULL)
			pthread_mutex_destroy(&mt->lock);
	}
	free(m->metrics);
	free(m);
}

static uint64_t
values_hash(const char *const *values, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = h * 31 + lb_hash_str(values[i] != NULL ? values[i] : "");
	return h;
}

static bool
values_equal(const struct series *s, const char *const *values, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->values[i], values[i] != NULL ? values[i] : "")
		    != 0)
			return false;
	return true;
}

/* Fills a new series with copies of 'values'; false on no memory. */
static bool
series_fill(struct series *s, const char *const *values, size_t n,
    uint64_t hash)
{
	for (size_t i = 0; i < n; i++) {
		s->values[i] = strdup(values[i] != NULL ? values[i] : "");
		if (s->values[i] == NULL) {
			for (size_t j = 0; j <= i; j++) {
				free(s->values[j]);
				s->values[j] = NULL;
			}
			return false;
		}
	}
	s->hash = hash;
	return true;
}

/*
 * The series of 'values', made when new; the last slot is the "other"
 * series for combinations past max_series.  Called with the lock held.
 */
static struct series *
series_find(struct metric *mt, const char *const *values)
{
	static const char *const other[LB_METRIC_LABELS_MAX] = {
		"other", "other", "other"
	};
	size_t max = mt->def->max_series > 1 ? mt->def->max_series : 2;
	uint64_t h;

	if (mt->nlabels == 0)
		return &mt->series[0];
	h = values_hash(values, mt->nlabels);
	for (size_t i = 0; i < mt->n; i++)
		if (mt->series[i].hash == h &&
		    values_equal(&mt->series[i], values, mt->nlabels))
			return &mt->series[i];
	if (mt->n < max - 1 && series_fill(&mt->series[mt->n], values,
	    mt->nlabels, h))
		return &mt->series[mt->n++];
	/* Full (or out of memory): the overflow series, made once. */
	if (mt->series[max - 1].values[0] == NULL &&
	    !series_fill(&mt->series[max - 1], other, mt->nlabels,
	    values_hash(other, mt->nlabels)))
		return NULL;
	return &mt->series[max - 1];
}

static struct metric *
metric_of(struct lb_metrics *m, size_t id, enum lb_metric_kind kind)
{
	if (m == NULL || id >= m->n)
		return NULL;
	if (kind != m->metrics[id].def->kind &&
	    !(kind == LB_METRIC_COUNTER &&
	    m->metrics[id].def->kind == LB_METRIC_GAUGE))
		return NULL;
	return &m->metrics[id];
}

void
lb_metrics_add(struct lb_metrics *m, size_t id, const char *const *values,
    double v)
{
	struct metric *mt = metric_of(m, id, LB_METRIC_COUNTER);
	struct series *s;

	/* A counter only goes up. */
	if (mt == NULL || (mt->def->kind == LB_METRIC_COUNTER && !(v >= 0)))
		return;
	pthread_mutex_lock(&mt->lock);
	s = series_find(mt, values);
	if (s != NULL)
		s->value += v;
	pthread_mutex_unlock(&mt->lock);
}

void
lb_metrics_set(struct lb_metrics *m, size_t id, const char *const *values,
    double v)
{
	struct metric *mt = metric_of(m, id, LB_METRIC_GAUGE);
	struct series *s;

	if (mt == NULL)
		return;
	pthread_mutex_lock(&mt->lock);
	s = series_find(mt, values);
	if (s != NULL)
		s->value = v;
	pthread_mutex_unlock(&mt->lock);
}

void
lb_metrics_observe(struct lb_metrics *m, size_t id,
    const char *const *values, double v)
{
	struct metric *mt = metric_of(m, id, LB_METRIC_HISTOGRAM);
	struct series *s;
	size_t b = 0;

	if (mt == NULL || isnan(v))
		return;
	while (b < mt->def->nbuckets && v > mt->def->buckets[b])
		b++;
	pthread_mutex_lock(&mt->lock);
	s = series_find(mt, values);
	if (s != NULL) {
		s->buckets[b]++;
		s->count++;
		s->sum += v;
	}
	pthread_mutex_unlock(&mt->lock);
}

void
lb_metrics_clear(struct lb_metrics *m, size_t id)
{
	struct metric *mt;
	size_t max;

	if (m == NULL || id >= m->n)
		return;
	mt = &m->metrics[id];
	max = mt->def->max_series > 1 ? mt->def->max_series : 2;
	pthread_mutex_lock(&mt->lock);
	for (size_t i = 0; i < max; i++)
		series_clear(&mt->series[i], mt->def->kind ==
		    LB_METRIC_HISTOGRAM ? mt->def->nbuckets : 0);
	mt->n = mt->nlabels == 0 ? 1 : 0;
	pthread_mutex_unlock(&mt->lock);
}

/* ---- the exposition text ---- */

/* HELP: backslash and newline escaped; label values: the quote too. */
static void
add_escaped(struct lb_buf *out, const char *s, bool quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			lb_buf_adds(out, "\\\\");
		else if (*s == '\n')
			lb_buf_adds(out, "\\n");
		else if (*s == '"' && quote)
			lb_buf_adds(out, "\\\"");
		else
			lb_buf_addc(out, *s);
	}
}

static void
add_number(struct lb_buf *out, double v)
{
	if (isinf(v))
		lb_buf_adds(out, v > 0 ? "+Inf" : "-Inf");
	else if (isnan(v))
		lb_buf_adds(out, "NaN");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		lb_buf_addf(out, "%.0f", v);
	else
		lb_buf_addf(out, "%.17g", v);
}

/* name{a="x",b="y"[,le="..."]} */
static void
add_series_name(struct lb_buf *out, const struct metric *mt,
    const struct series *s, const char *suffix, const char *le)
{
	bool any = mt->nlabels > 0 || le != NULL;

	lb_buf_addf(out, "%s%s", mt->def->name, suffix);
	if (any)
		lb_buf_addc(out, '{');
	for (size_t i = 0; i < mt->nlabels; i++) {
		lb_buf_addf(out, "%s%s=\"", i > 0 ? "," : "",
		    mt->def->labels[i]);
		add_escaped(out, s->values[i], true);
		lb_buf_addc(out, '"');
	}
	if (le != NULL)
		lb_buf_addf(out, "%sle=\"%s\"", mt->nlabels > 0 ? "," : "",
		    le);
	if (any)
		lb_buf_addc(out, '}');
	lb_buf_addc(out, ' ');
}

static void
render_histogram(struct lb_buf *out, const struct metric *mt,
    const struct series *s)
{
	uint64_t cum = 0;
	char le[32];

	for (size_t b = 0; b <= mt->def->nbuckets; b++) {
		cum += s->buckets[b];
		if (b < mt->def->nbuckets)
			snprintf(le, sizeof(le), "%g", mt->def->buckets[b]);
		else
			snprintf(le, sizeof(le), "+Inf");
		add_series_name(out, mt, s, "_bucket", le);
		lb_buf_addf(out, "%llu\n", (unsigned long long)cum);
	}
	add_series_name(out, mt, s, "_sum", NULL);
	add_number(out, s->sum);
	lb_buf_addc(out, '\n');
	add_series_name(out, mt, s, "_count", NULL);
	lb_buf_addf(out, "%llu\n", (unsigned long long)s->count);
}

static void
render_metric(struct lb_buf *out, struct metric *mt)
{
	static const char *const types[] = {
		[LB_METRIC_COUNTER] = "counter",
		[LB_METRIC_GAUGE] = "gauge",
		[LB_METRIC_HISTOGRAM] = "histogram",
	};
	size_t max = mt->def->max_series > 1 ? mt->def->max_series : 2;

	lb_buf_addf(out, "# HELP %s ", mt->def->name);
	add_escaped(out, mt->def->help, false);
	lb_buf_addf(out, "\n# TYPE %s %s\n", mt->def->name,
	    types[mt->def->kind]);
	pthread_mutex_lock(&mt->lock);
	for (size_t i = 0; i < max; i++) {
		const struct series *s = &mt->series[i];

		/* In use: below n, or the overflow series once made. */
		if (i >= mt->n && !(i == max - 1 && s->values[0] != NULL))
			continue;
		if (mt->def->kind == LB_METRIC_HISTOGRAM) {
			render_histogram(out, mt, s);
			continue;
		}
		add_series_name(out, mt, s, "", NULL);
		add_number(out, s->value);
		lb_buf_addc(out, '\n');
	}
	pthread_mutex_unlock(&mt->lock);
}

void
lb_metrics_render(struct lb_metrics *m, struct lb_buf *out)
{
	for (size_t i = 0; m != NULL && i < m->n; i++)
		render_metric(out, &m->metrics[i]);
}
