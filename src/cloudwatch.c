/* SPDX-License-Identifier: ISC */
/*
 * CloudWatch custom metrics. A pure fold-and-queue buffer turns every tick
 * into per-period StatisticValues and keeps finished periods in a bounded
 * FIFO; the module around it publishes the head of that FIFO with
 * PutMetricData on a jittered ev timer, one request in flight at a time,
 * putting a failed batch back at the head so that data is delivered in
 * order with its original timestamps once CloudWatch answers again.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloudwatch.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

const char *const cloudwatch_metric_names[CW_METRIC_MAX] = {
    [CW_CPU_USAGE] = "cpu_usage_percent",
    [CW_MEM_USED] = "mem_used_percent",
    [CW_SWAP_USED] = "swap_used_percent",
    [CW_DISK_USED] = "disk_used_percent",
    [CW_HEALTHY] = "healthy",
    [CW_CHECK_FAILED] = "check_failed",
    [CW_CHECK_LATENCY] = "check_latency_ms",
    [CW_EVICTION_REFUSED] = "self_eviction_refused",
};

const char *const cloudwatch_metric_units[CW_METRIC_MAX] = {
    [CW_CPU_USAGE] = "Percent",
    [CW_MEM_USED] = "Percent",
    [CW_SWAP_USED] = "Percent",
    [CW_DISK_USED] = "Percent",
    [CW_HEALTHY] = "Count",
    [CW_CHECK_FAILED] = "Count",
    [CW_CHECK_LATENCY] = "Milliseconds",
    [CW_EVICTION_REFUSED] = "Count",
};

/* The dimension sets cloudwatch.dimensions may name. */
enum dimset { DIM_INSTANCE, DIM_GROUP, DIM_MAX };

static const char *const dimset_names[DIM_MAX] = {
    [DIM_INSTANCE] = "InstanceId",
    [DIM_GROUP] = "AutoScalingGroupName",
};

/* A series has at most one base dimension plus Check: far below the 30
 * CloudWatch allows. Values/Counts arrays (limit 150) are not used. */
#define MAX_DIMS_PER_DATUM 2
_Static_assert(MAX_DIMS_PER_DATUM <= 30, "dimensions per datum");

#define NO_CHECK UINT32_MAX
#define DAY_MS (86400 * (int64_t)1000)
/* CloudWatch accepts timestamps from 14 days back to 2 hours ahead; keep a
 * margin for the time the request spends in transit and retries. */
#define WINDOW_PAST_MS (14 * DAY_MS - 10 * 60 * (int64_t)1000)
#define WINDOW_FUTURE_MS (2 * 3600 * (int64_t)1000 - 10 * 60 * (int64_t)1000)
/* "Action=PutMetricData&Version=2010-08-01" */
#define BODY_BASE 39
/* Form pairs of one entry: 12 per member, one member per dimension set. */
#define MEMBER_KV_MAX (12 * DIM_MAX)

static bool
is_check_metric(enum cloudwatch_metric m)
{
	return m == CW_CHECK_FAILED || m == CW_CHECK_LATENCY;
}

/* ---- numbers and times ---- */

/* CloudWatch rejects NaN, infinities and magnitudes beyond 2^360. */
static bool
acceptable(double v)
{
	return isfinite(v) && v <= 1e100 && v >= -1e100;
}

/* ceil() for the small non-negative quotients here, without libm. */
static double
ceil_pos(double x)
{
	double t;

	if (!(x > 0))
		return 0;
	if (x >= 9e15)
		return x;
	t = (double)(int64_t)x;
	return t < x ? t + 1 : t;
}

bool
cloudwatch_stat_add(struct cloudwatch_stat *st, double v)
{
	if (!acceptable(v))
		return false;
	if (st->count == 0) {
		st->min = st->max = v;
		st->sum = 0;
	}
	st->count += 1;
	st->sum += v;
	if (v < st->min)
		st->min = v;
	if (v > st->max)
		st->max = v;
	return true;
}

static locale_t
c_locale(void)
{
	static locale_t loc;

	if (loc == (locale_t)0)
		loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	return loc;
}

void
cloudwatch_fmt_double(char *buf, size_t len, double v)
{
	locale_t loc = c_locale(), old = (locale_t)0;

	if (len == 0)
		return;
	if (!isfinite(v) || v == 0)
		v = 0; /* also turns -0 into 0 */
	if (loc != (locale_t)0)
		old = uselocale(loc);
	/* The shortest of %.15g..%.17g that reads back as the same double. */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (old != (locale_t)0)
		uselocale(old);
	/* Should newlocale have failed under an exotic LC_NUMERIC. */
	for (char *p = buf; *p != '\0'; p++)
		if (*p == ',')
			*p = '.';
}

void
cloudwatch_fmt_time(char *buf, size_t len, int64_t wall_ms)
{
	int64_t sec = wall_ms / 1000;
	time_t t;
	struct tm tm;

	if (wall_ms < 0 && wall_ms % 1000 != 0)
		sec--;
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int
cloudwatch_period_s(int storage_resolution, double interval_s)
{
	if (storage_resolution != 1)
		return 60;
	if (interval_s >= 10)
		return 10;
	if (interval_s >= 5)
		return 5;
	return 1;
}

int
cloudwatch_period_ms(int storage_resolution, double interval_s)
{
	static const int sub[] = {500, 250, 200, 100};

	if (storage_resolution != 1 || interval_s >= 1)
		return cloudwatch_period_s(storage_resolution, interval_s) *
		    1000;
	/* Sub-second intervals, for tests and soak runs: periods that divide
	 * a second, so CloudWatch's 1 s buckets merge them exactly. */
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++)
		if (interval_s * 1000 + 0.5 >= sub[i])
			return sub[i];
	return 100;
}

bool
cloudwatch_rejected(int http_status, const char *code)
{
	static const char *const invalid[] = {
	    "InvalidParameterValue",
	    "InvalidParameterValueException",
	    "InvalidParameterCombination",
	    "MissingParameter",
	    "ValidationError",
	    "MalformedQueryString",
	    "InvalidQueryParameter",
	    "RequestEntityTooLarge",
	};

	if (http_status == 413)
		return true;
	if (http_status != 400 || code == NULL)
		return false;
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		if (strcmp(code, invalid[i]) == 0)
			return true;
	return false;
}

/* ---- the form ---- */

static bool
unreserved(unsigned char ch)
{
	return isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~';
}

/* Length after form (RFC 3986) percent-encoding. */
static size_t
enc_len(const char *s)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		n += unreserved(*p) ? 1 : 3;
	return n;
}

static size_t
pair_len(const char *k, const char *v)
{
	return 2 + enc_len(k) + enc_len(v); /* "&k=v" */
}

static void
form_add(struct cloudwatch_form *f, char *k, char *v)
{
	if (f->n == f->cap) {
		f->cap = f->cap == 0 ? 64 : f->cap * 2;
		f->keys = xreallocarray(f->keys, f->cap, sizeof(*f->keys));
		f->values =
		    xreallocarray(f->values, f->cap, sizeof(*f->values));
	}
	f->keys[f->n] = k;
	f->values[f->n] = v;
	f->n++;
}

void
cloudwatch_form_free(struct cloudwatch_form *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++) {
		free(f->keys[i]);
		free(f->values[i]);
	}
	free(f->keys);
	free(f->values);
	memset(f, 0, sizeof(*f));
}

const char *
cloudwatch_form_get(const struct cloudwatch_form *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->keys[i], key) == 0)
			return f->values[i];
	return NULL;
}

/* ---- the buffer ---- */

/* One series over one period, waiting to be sent. */
struct rec {
	int64_t ts_ms; /* period start, wall clock */
	struct cloudwatch_stat st;
	uint32_t check; /* index into names[], or NO_CHECK */
	uint8_t metric; /* enum cloudwatch_metric */
	uint8_t resolution;
};

/* A check name seen in the health view, with its per-check folds. Names
 * are kept for the life of the buffer so queued entries can refer to them
 * after a reload removed the check. */
struct cname {
	char *name;
	struct cloudwatch_stat acc[2]; /* check_failed, check_latency_ms */
	unsigned long runs;            /* health runs counter last seen */
	bool runs_known;
};

struct cloudwatch_buf {
	bool metric_on[CW_METRIC_MAX];
	enum dimset dims[DIM_MAX];
	size_t n_dims;
	int resolution;
	int64_t period_ms;
	size_t capacity;

	/* the period in progress */
	bool have_cur;
	int64_t cur_start;
	struct cloudwatch_stat sys[CW_METRIC_MAX];
	struct cname *names;
	size_t n_names;
	uint32_t *hmap; /* health check index -> names[] index */
	size_t n_hmap;

	/* the queue: a ring of len entries from head, ring_cap allocated */
	struct rec *ring;
	size_t ring_cap, head, len;

	/* the batch in flight, taken off the head */
	struct rec *fly;
	size_t n_fly, fly_cap;

	/* bisecting a rejected batch: at most limit entries per batch while
	 * bisect_left entries are still under suspicion */
	size_t limit, bisect_left;

	struct cloudwatch_drops drops;
	bool overflowing;
	uint64_t episode_drops;
};

static struct rec *
ring_at(struct cloudwatch_buf *b, size_t i)
{
	return &b->ring[(b->head + i) % b->ring_cap];
}

/* Reallocate the ring to n slots (n >= len), linearised. */
static void
ring_resize(struct cloudwatch_buf *b, size_t n)
{
	struct rec *nr = xreallocarray(NULL, n, sizeof(*nr));

	for (size_t i = 0; i < b->len; i++)
		nr[i] = *ring_at(b, i);
	free(b->ring);
	b->ring = nr;
	b->ring_cap = n;
	b->head = 0;
}

static void
count_overflow(struct cloudwatch_buf *b, uint64_t n)
{
	b->drops.overflow += n;
	b->episode_drops += n;
	if (!b->overflowing) {
		b->overflowing = true;
		log_warn("cloudwatch: the queue is full (%zu entries); "
		         "dropping the oldest until CloudWatch accepts data "
		         "again",
		    b->capacity);
	}
}

static void
end_overflow(struct cloudwatch_buf *b)
{
	if (!b->overflowing || b->len >= b->capacity)
		return;
	log_notice("cloudwatch: the queue has room again; %llu entries were "
	           "dropped while it was full (%llu in total)",
	    (unsigned long long)b->episode_drops,
	    (unsigned long long)b->drops.overflow);
	b->overflowing = false;
	b->episode_drops = 0;
}

static void
drop_head(struct cloudwatch_buf *b)
{
	b->head = (b->head + 1) % b->ring_cap;
	b->len--;
}

static void
grow_for_one(struct cloudwatch_buf *b)
{
	size_t n;

	if (b->len < b->ring_cap)
		return;
	n = b->ring_cap < 64 ? 64 : b->ring_cap * 2;
	if (n > b->capacity)
		n = b->capacity;
	if (n <= b->ring_cap)
		n = b->ring_cap + 1;
	ring_resize(b, n);
}

/* Append at the tail, dropping the oldest entry if full. */
static void
push_tail(struct cloudwatch_buf *b, const struct rec *r)
{
	if (b->len >= b->capacity) {
		drop_head(b);
		count_overflow(b, 1);
	}
	grow_for_one(b);
	*ring_at(b, b->len) = *r;
	b->len++;
}

/* Put back at the head (it is older than everything queued): if full, it
 * is itself the oldest and is the one dropped. */
static void
push_head(struct cloudwatch_buf *b, const struct rec *r)
{
	if (b->len >= b->capacity) {
		count_overflow(b, 1);
		return;
	}
	grow_for_one(b);
	b->head = (b->head + b->ring_cap - 1) % b->ring_cap;
	b->ring[b->head] = *r;
	b->len++;
}

static int64_t
period_start(const struct cloudwatch_buf *b, int64_t wall_ms)
{
	int64_t p = b->period_ms;
	int64_t q = wall_ms / p;

	if (wall_ms < 0 && wall_ms % p != 0)
		q--;
	return q * p;
}

static void
emit_one(struct cloudwatch_buf *b, enum cloudwatch_metric m, uint32_t check,
    struct cloudwatch_stat *st)
{
	struct rec r;

	if (st->count <= 0)
		return;
	memset(&r, 0, sizeof(r));
	r.ts_ms = b->cur_start;
	r.st = *st;
	r.check = check;
	r.metric = (uint8_t)m;
	r.resolution = (uint8_t)b->resolution;
	push_tail(b, &r);
	memset(st, 0, sizeof(*st));
}

/* Queue every series folded in the period in progress. */
static void
emit(struct cloudwatch_buf *b)
{
	if (!b->have_cur)
		return;
	for (int m = 0; m < CW_METRIC_MAX; m++)
		if (!is_check_metric((enum cloudwatch_metric)m))
			emit_one(b, (enum cloudwatch_metric)m, NO_CHECK,
			    &b->sys[m]);
	for (size_t i = 0; i < b->n_names; i++) {
		emit_one(b, CW_CHECK_FAILED, (uint32_t)i, &b->names[i].acc[0]);
		emit_one(b, CW_CHECK_LATENCY, (uint32_t)i, &b->names[i].acc[1]);
	}
	b->have_cur = false;
}

/* Make wall_ms's period the one in progress. */
static void
roll(struct cloudwatch_buf *b, int64_t wall_ms)
{
	int64_t ps = period_start(b, wall_ms);

	if (b->have_cur && ps == b->cur_start)
		return;
	emit(b);
	b->have_cur = true;
	b->cur_start = ps;
}

static uint32_t
intern(struct cloudwatch_buf *b, const char *name)
{
	for (size_t i = 0; i < b->n_names; i++)
		if (strcmp(b->names[i].name, name) == 0)
			return (uint32_t)i;
	if (b->n_names >= NO_CHECK - 1)
		return NO_CHECK;
	b->names = xreallocarray(b->names, b->n_names + 1, sizeof(*b->names));
	memset(&b->names[b->n_names], 0, sizeof(*b->names));
	b->names[b->n_names].name = xstrdup(name);
	return (uint32_t)b->n_names++;
}

/* The names[] index of health check i, cached by position. */
static uint32_t
intern_at(struct cloudwatch_buf *b, size_t i, const char *name)
{
	if (i >= b->n_hmap) {
		b->hmap = xreallocarray(b->hmap, i + 1, sizeof(*b->hmap));
		for (size_t j = b->n_hmap; j <= i; j++)
			b->hmap[j] = NO_CHECK;
		b->n_hmap = i + 1;
	}
	if (b->hmap[i] == NO_CHECK ||
	    strcmp(b->names[b->hmap[i]].name, name) != 0)
		b->hmap[i] = intern(b, name);
	return b->hmap[i];
}

static void
fold(struct cloudwatch_buf *b, enum cloudwatch_metric m, uint32_t check,
    double v)
{
	struct cloudwatch_stat *st;

	if (is_check_metric(m)) {
		if (check == NO_CHECK)
			return;
		st = &b->names[check].acc[m == CW_CHECK_FAILED ? 0 : 1];
	} else
		st = &b->sys[m];
	if (m == CW_EVICTION_REFUSED) {
		/* A counter: one value per period, the total. */
		if (!acceptable(v))
			return;
		st->count = 1;
		st->sum += v;
		st->min = st->max = st->sum;
		return;
	}
	cloudwatch_stat_add(st, v);
}

void
cloudwatch_buf_add(struct cloudwatch_buf *b, enum cloudwatch_metric m,
    const char *check, double v, int64_t wall_ms)
{
	uint32_t ci = NO_CHECK;

	if ((unsigned)m >= CW_METRIC_MAX || !b->metric_on[m])
		return;
	if (is_check_metric(m)) {
		if (check == NULL)
			return;
		ci = intern(b, check);
	}
	roll(b, wall_ms);
	fold(b, m, ci, v);
}

void
cloudwatch_buf_observe(struct cloudwatch_buf *b, const struct sample *s,
    const struct health *h, int64_t wall_ms)
{
	bool *on = b->metric_on;

	roll(b, wall_ms);
	if (s != NULL) {
		if (s->cpu_valid && on[CW_CPU_USAGE])
			fold(b, CW_CPU_USAGE, NO_CHECK, s->cpu_pct);
		if (s->mem_valid && on[CW_MEM_USED])
			fold(b, CW_MEM_USED, NO_CHECK, s->mem_used_pct);
		if (s->mem_valid && on[CW_SWAP_USED])
			fold(b, CW_SWAP_USED, NO_CHECK, s->swap_used_pct);
		if (s->disk_valid && on[CW_DISK_USED])
			fold(b, CW_DISK_USED, NO_CHECK, s->disk_used_pct);
	}
	if (h != NULL) {
		size_t n = health_count(h);

		if (on[CW_HEALTHY])
			fold(b, CW_HEALTHY, NO_CHECK,
			    health_state_ok(health_state(h)) ? 1 : 0);
		for (size_t i = 0; i < n; i++) {
			struct health_check_view v;
			uint32_t ci;
			bool fresh;

			health_check(h, i, &v);
			if (v.name == NULL)
				continue;
			ci = intern_at(b, i, v.name);
			if (ci == NO_CHECK)
				continue;
			if (on[CW_CHECK_FAILED] && v.state != HEALTH_C_UNKNOWN)
				fold(b, CW_CHECK_FAILED, ci,
				    v.state == HEALTH_C_DOWN ? 1 : 0);
			fresh = v.last_at != 0 &&
			    (!b->names[ci].runs_known ||
			        v.runs != b->names[ci].runs);
			if (v.last_at != 0) {
				b->names[ci].runs = v.runs;
				b->names[ci].runs_known = true;
			}
			if (fresh && on[CW_CHECK_LATENCY] &&
			    v.last.latency_ms >= 0)
				fold(b, CW_CHECK_LATENCY, ci,
				    v.last.latency_ms);
		}
	}
	/* The counter gets a 0 in every period the agent ran, so alarms on
	 * it see data rather than gaps. */
	if (on[CW_EVICTION_REFUSED])
		fold(b, CW_EVICTION_REFUSED, NO_CHECK, 0);
}

void
cloudwatch_buf_close(struct cloudwatch_buf *b, int64_t wall_ms)
{
	if (b->have_cur && wall_ms >= b->cur_start + b->period_ms)
		emit(b);
}

/* Series per period the config creates (before dimension sets). */
static size_t
series_count(const bool *on, size_t n_checks)
{
	size_t n = 0;

	for (int m = 0; m < CW_METRIC_MAX; m++)
		if (on[m])
			n += is_check_metric((enum cloudwatch_metric)m)
			    ? n_checks
			    : 1;
	return n;
}

static void
metrics_from(const struct conf *c, bool *on)
{
	if (c->n_cw_metrics == 0) {
		for (int m = 0; m < CW_METRIC_MAX; m++)
			on[m] = true;
		return;
	}
	for (int m = 0; m < CW_METRIC_MAX; m++)
		on[m] = false;
	for (size_t i = 0; i < c->n_cw_metrics; i++) {
		int m;

		for (m = 0; m < CW_METRIC_MAX; m++)
			if (strcmp(c->cw_metrics[i],
			        cloudwatch_metric_names[m]) == 0)
				break;
		if (m < CW_METRIC_MAX)
			on[m] = true;
		else
			log_warn("cloudwatch: unknown metric \"%s\" ignored",
			    c->cw_metrics[i]);
	}
}

static size_t
dims_from(const struct conf *c, enum dimset *out)
{
	size_t n = 0;

	if (c->n_cw_dimensions == 0) {
		out[n++] = DIM_INSTANCE;
		out[n++] = DIM_GROUP;
		return n;
	}
	for (size_t i = 0; i < c->n_cw_dimensions && n < DIM_MAX; i++) {
		int d;
		bool dup = false;

		for (d = 0; d < DIM_MAX; d++)
			if (strcmp(c->cw_dimensions[i], dimset_names[d]) == 0)
				break;
		if (d == DIM_MAX) {
			log_warn("cloudwatch: unknown dimension \"%s\" ignored",
			    c->cw_dimensions[i]);
			continue;
		}
		for (size_t j = 0; j < n; j++)
			if (out[j] == (enum dimset)d)
				dup = true;
		if (!dup)
			out[n++] = (enum dimset)d;
	}
	return n;
}

static double
interval_of(const struct conf *c)
{
	return c->cw_interval > 0 ? c->cw_interval : 60;
}

void
cloudwatch_buf_configure(struct cloudwatch_buf *b, const struct conf *c)
{
	int res = c->cw_storage_resolution == 1 ? 1 : 60;
	int period_ms = cloudwatch_period_ms(res, interval_of(c));
	double buf_s = c->cw_buffer_seconds > 0 ? c->cw_buffer_seconds : 3600;
	size_t series, cap;
	double want;

	metrics_from(c, b->metric_on);
	b->n_dims = dims_from(c, b->dims);
	if (b->period_ms != period_ms || b->resolution != res)
		emit(b);
	b->resolution = res;
	b->period_ms = period_ms;

	series = series_count(b->metric_on, c->n_checks);
	/* Whole periods for buffer_seconds, plus the one being closed. */
	want = (double)series * (ceil_pos(buf_s * 1000 / period_ms) + 1);
	cap = want > (double)CW_QUEUE_MAX ? CW_QUEUE_MAX : (size_t)want;
	if (cap < CW_QUEUE_MIN)
		cap = CW_QUEUE_MIN;
	if (want > (double)CW_QUEUE_MAX)
		log_warn("cloudwatch: buffer_seconds %g needs %.0f queue "
		         "entries for %zu series; capped at %d (about %.0f s)",
		    buf_s, want, series, CW_QUEUE_MAX,
		    (double)CW_QUEUE_MAX / (double)(series ? series : 1) *
		        period_ms / 1000);
	b->capacity = cap;
	if (b->len > cap) {
		size_t n = b->len - cap;

		for (size_t i = 0; i < n; i++)
			drop_head(b);
		count_overflow(b, n);
	}
	if (b->ring_cap > cap)
		ring_resize(b, cap);
}

struct cloudwatch_buf *
cloudwatch_buf_new(const struct conf *c)
{
	struct cloudwatch_buf *b = xcalloc(1, sizeof(*b));

	cloudwatch_buf_configure(b, c);
	return b;
}

void
cloudwatch_buf_free(struct cloudwatch_buf *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n_names; i++)
		free(b->names[i].name);
	free(b->names);
	free(b->hmap);
	free(b->ring);
	free(b->fly);
	free(b);
}

size_t
cloudwatch_buf_queued(const struct cloudwatch_buf *b)
{
	return b->len + b->n_fly;
}

size_t
cloudwatch_buf_capacity(const struct cloudwatch_buf *b)
{
	return b->capacity;
}

int
cloudwatch_buf_period(const struct cloudwatch_buf *b)
{
	return (int)(b->period_ms / 1000);
}

void
cloudwatch_buf_drops(const struct cloudwatch_buf *b,
    struct cloudwatch_drops *out)
{
	*out = b->drops;
}

bool
cloudwatch_buf_ready(const struct cloudwatch_buf *b)
{
	return b->n_fly == 0 && b->len > 0;
}

/* The MetricData members for one entry, into k[]/v[]; returns the pair
 * count (0: no dimension set applies). */
static size_t
member_kvs(const struct cloudwatch_buf *b, const struct rec *r, size_t num,
    const char *instance_id, const char *group, char **k, char **v,
    size_t *members)
{
	const char *check =
	    r->check != NO_CHECK ? b->names[r->check].name : NULL;
	char ts[32], cnt[40], sum[40], mn[40], mx[40];
	size_t n = 0;

	*members = 0;
	cloudwatch_fmt_time(ts, sizeof(ts), r->ts_ms);
	if (r->ts_ms % 1000 != 0) /* a sub-second period: keep the ms */
		snprintf(ts + 19, sizeof(ts) - 19, ".%03dZ",
		    (int)(((r->ts_ms % 1000) + 1000) % 1000));
	cloudwatch_fmt_double(cnt, sizeof(cnt), r->st.count);
	cloudwatch_fmt_double(sum, sizeof(sum), r->st.sum);
	cloudwatch_fmt_double(mn, sizeof(mn), r->st.min);
	cloudwatch_fmt_double(mx, sizeof(mx), r->st.max);
	for (size_t d = 0; d < b->n_dims; d++) {
		const char *val =
		    b->dims[d] == DIM_INSTANCE ? instance_id : group;
		size_t m = num + *members + 1, di = 1;

		if (val == NULL || *val == '\0')
			continue;
		(*members)++;
#define KV(key_fmt, ...)                                                       \
	do {                                                                   \
		k[n] = xasprintf("MetricData.member.%zu." key_fmt, m,          \
		    ##__VA_ARGS__);                                            \
		n++;                                                           \
	} while (0)
		KV("MetricName");
		v[n - 1] = xstrdup(cloudwatch_metric_names[r->metric]);
		KV("Dimensions.member.%zu.Name", di);
		v[n - 1] = xstrdup(dimset_names[b->dims[d]]);
		KV("Dimensions.member.%zu.Value", di);
		v[n - 1] = xstrdup(val);
		if (check != NULL) {
			di++;
			KV("Dimensions.member.%zu.Name", di);
			v[n - 1] = xstrdup("Check");
			KV("Dimensions.member.%zu.Value", di);
			v[n - 1] = xstrdup(check);
		}
		KV("Timestamp");
		v[n - 1] = xstrdup(ts);
		KV("StatisticValues.SampleCount");
		v[n - 1] = xstrdup(cnt);
		KV("StatisticValues.Sum");
		v[n - 1] = xstrdup(sum);
		KV("StatisticValues.Minimum");
		v[n - 1] = xstrdup(mn);
		KV("StatisticValues.Maximum");
		v[n - 1] = xstrdup(mx);
		KV("Unit");
		v[n - 1] = xstrdup(cloudwatch_metric_units[r->metric]);
		KV("StorageResolution");
		v[n - 1] = xasprintf("%d", r->resolution == 1 ? 1 : 60);
#undef KV
	}
	return n;
}

static void
fly_push(struct cloudwatch_buf *b, const struct rec *r)
{
	if (b->n_fly == b->fly_cap) {
		b->fly_cap = b->fly_cap == 0 ? 64 : b->fly_cap * 2;
		b->fly = xreallocarray(b->fly, b->fly_cap, sizeof(*b->fly));
	}
	b->fly[b->n_fly++] = *r;
}

size_t
cloudwatch_buf_batch(struct cloudwatch_buf *b, const char *ns,
    const char *instance_id, const char *group, int64_t now_ms,
    size_t max_members, size_t max_body, struct cloudwatch_form *f)
{
	size_t max_entries = b->limit > 0 ? b->limit : SIZE_MAX;
	uint64_t expired = 0;

	cloudwatch_form_free(f);
	if (b->n_fly > 0 || b->len == 0)
		return 0;
	if (max_members == 0 || max_members > CW_MAX_DATUMS)
		max_members = CW_MAX_DATUMS;
	if (max_body == 0 || max_body > CW_MAX_BODY)
		max_body = CW_MAX_BODY;
	form_add(f, xstrdup("Namespace"), xstrdup(ns));
	f->body_len = BODY_BASE + pair_len("Namespace", ns);

	while (b->len > 0 && f->entries < max_entries) {
		struct rec *r = ring_at(b, 0);
		char *k[MEMBER_KV_MAX], *v[MEMBER_KV_MAX];
		size_t n, members, size = 0;

		if (r->ts_ms < now_ms - WINDOW_PAST_MS ||
		    r->ts_ms > now_ms + WINDOW_FUTURE_MS) {
			expired++;
			drop_head(b);
			continue;
		}
		n = member_kvs(b, r, f->members, instance_id, group, k, v,
		    &members);
		for (size_t i = 0; i < n; i++)
			size += pair_len(k[i], v[i]);
		if (n > 0 &&
		    (f->members + members > max_members ||
		        f->body_len + size > max_body)) {
			for (size_t i = 0; i < n; i++) {
				free(k[i]);
				free(v[i]);
			}
			if (f->members > 0)
				break;
			/* Cannot fit even alone: it can never be sent. */
			b->drops.rejected++;
			log_err("cloudwatch: dropped a %s datum of %zu bytes "
			        "that exceeds the request limit",
			    cloudwatch_metric_names[r->metric], size);
			drop_head(b);
			continue;
		}
		for (size_t i = 0; i < n; i++)
			form_add(f, k[i], v[i]);
		f->members += members;
		f->body_len += size;
		f->entries++;
		if (n > 0)
			fly_push(b, r);
		drop_head(b);
	}
	if (expired > 0) {
		b->drops.expired += expired;
		log_warn("cloudwatch: dropped %llu queued datums outside "
		         "CloudWatch's timestamp window (older than 14 days or "
		         "more than 2 hours ahead)",
		    (unsigned long long)expired);
	}
	if (f->members == 0) {
		size_t entries = f->entries;

		cloudwatch_form_free(f);
		f->entries = entries;
	}
	return f->members;
}

void
cloudwatch_buf_done(struct cloudwatch_buf *b, enum cloudwatch_outcome outcome)
{
	size_t n = b->n_fly;

	switch (outcome) {
	case CW_SENT_OK:
		if (b->bisect_left > 0) {
			b->bisect_left =
			    b->bisect_left > n ? b->bisect_left - n : 0;
			b->limit = b->bisect_left == 0 ? 0 : b->limit * 2;
		}
		b->n_fly = 0;
		break;
	case CW_SENT_RETRY:
	case CW_SENT_REJECTED:
		if (outcome == CW_SENT_REJECTED && n <= 1) {
			b->drops.rejected += n;
			b->bisect_left =
			    b->bisect_left > n ? b->bisect_left - n : 0;
			if (b->bisect_left == 0)
				b->limit = 0;
			b->n_fly = 0;
			break;
		}
		if (outcome == CW_SENT_REJECTED) {
			/* Send the suspect range in halves to find the
			 * entries CloudWatch refuses. */
			b->limit = (n + 1) / 2;
			if (b->bisect_left < n)
				b->bisect_left = n;
		}
		for (size_t i = n; i > 0; i--)
			push_head(b, &b->fly[i - 1]);
		b->n_fly = 0;
		break;
	}
	end_overflow(b);
}

/* ---- the module ---- */

struct cloudwatch {
	struct ev *ev;
	struct aws *aws;
	struct cloudwatch_buf *buf;
	struct ev_timer *flush_t; /* the jittered publish schedule */
	struct ev_timer *kick_t;  /* the next batch of a backlog */

	bool enabled;
	char *ns;
	double interval_s;
	int resolution;
	char *instance_id, *group;
	int slot_rank, slot_n; /* group rank of slot_n; -1, 0: the hash */
	mono_ms next_flush_at;

	struct aws_call *call;
	bool in_flight;
	size_t fly_members;
	const char *waiting; /* why nothing is being sent, or NULL */

	int64_t last_success_wall;
	mono_ms last_success_at;
	char err_code[96];
	char err_msg[512];
	int err_status;
	mono_ms err_at;
	unsigned long requests_ok, requests_failed, fail_streak;
	uint64_t datums_ok;
};

static void send_next(struct cloudwatch *cw);

static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

int64_t
cloudwatch_slot_ms(const char *instance_id, int rank, int n,
    int64_t interval_ms)
{
	if (interval_ms <= 0)
		return 0;
	if (n >= 1 && rank >= 0 && rank < n)
		return (2 * (int64_t)rank + 1) * interval_ms / (2 * (int64_t)n);
	if (instance_id == NULL || *instance_id == '\0')
		return 0;
	return (int64_t)(fnv1a(instance_id) % (uint64_t)interval_ms);
}

static mono_ms
interval_ms(const struct cloudwatch *cw)
{
	mono_ms i = util_sec_to_ms(cw->interval_s);

	return i > 0 ? i : 60000;
}

static bool
ranked(const struct cloudwatch *cw)
{
	return cw->instance_id != NULL && cw->slot_n >= 1 &&
	    cw->slot_rank >= 0 && cw->slot_rank < cw->slot_n;
}

static int64_t
slot_offset(const struct cloudwatch *cw)
{
	int64_t iv = (int64_t)interval_ms(cw);

	return ranked(cw)
	    ? cloudwatch_slot_ms(NULL, cw->slot_rank, cw->slot_n, iv)
	    : cloudwatch_slot_ms(cw->instance_id, -1, 0, iv);
}

/* The delay from now to the next wall-clock moment congruent to the slot
 * offset modulo the interval, so every instance keeps its own moment of
 * the minute. */
static int64_t
flush_delay(const struct cloudwatch *cw)
{
	int64_t iv = (int64_t)interval_ms(cw);
	int64_t off = slot_offset(cw);
	int64_t now = util_wall_ms();
	int64_t k = (now - off) / iv;
	int64_t next = (k + 1) * iv + off;
	int64_t delay = next - now;

	if (delay < 1)
		delay = 1;
	if (delay > iv)
		delay = iv;
	return delay;
}

static void
arm_flush(struct cloudwatch *cw)
{
	int64_t delay = flush_delay(cw);

	ev_timer_arm(cw->flush_t, (mono_ms)delay);
	cw->next_flush_at = util_now_ms() + (mono_ms)delay;
}

/* The slot moved: a flush already due sooner than the new slot still
 * happens (flush_cb then re-arms on the new slot), one due later is
 * brought forward; so no flush is skipped, and nothing in the queue is
 * affected. */
static void
rearm_for_slot(struct cloudwatch *cw)
{
	mono_ms now = util_now_ms();
	int64_t delay;

	if (!cw->enabled)
		return;
	delay = flush_delay(cw);
	if (ev_timer_armed(cw->flush_t) && cw->next_flush_at > now &&
	    (int64_t)(cw->next_flush_at - now) <= delay)
		return;
	ev_timer_arm(cw->flush_t, (mono_ms)delay);
	cw->next_flush_at = now + (mono_ms)delay;
}

static void
slot_text(const struct cloudwatch *cw, char *buf, size_t len)
{
	if (ranked(cw))
		snprintf(buf, len, "group rank %d/%d", cw->slot_rank + 1,
		    cw->slot_n);
	else
		snprintf(buf, len, "instance-id hash");
}

static void
log_slot(const struct cloudwatch *cw)
{
	char what[64];

	if (cw->instance_id == NULL)
		return;
	slot_text(cw, what, sizeof(what));
	log_info("cloudwatch: publishing at +%.3f s of every %g s (%s)",
	    (double)slot_offset(cw) / 1000, cw->interval_s, what);
}

static void
flush_cb(void *arg)
{
	struct cloudwatch *cw = arg;

	cloudwatch_flush(cw);
	if (cw->enabled)
		arm_flush(cw);
}

static void
kick_cb(void *arg)
{
	send_next(arg);
}

static void
done_cb(const struct aws_result *r, void *arg)
{
	struct cloudwatch *cw = arg;

	cw->call = NULL;
	cw->in_flight = false;
	if (r->ok) {
		cloudwatch_buf_done(cw->buf, CW_SENT_OK);
		if (cw->fail_streak > 0)
			log_notice("cloudwatch: PutMetricData succeeds again "
			           "after %lu failed requests; %zu entries "
			           "still queued",
			    cw->fail_streak, cloudwatch_buf_queued(cw->buf));
		cw->requests_ok++;
		cw->datums_ok += cw->fly_members;
		cw->fail_streak = 0;
		cw->last_success_wall = util_wall_ms();
		cw->last_success_at = util_now_ms();
		/* A backlog goes out now, one request after another. */
		if (cloudwatch_buf_ready(cw->buf))
			ev_timer_arm(cw->kick_t, 0);
		return;
	}
	cw->requests_failed++;
	cw->err_status = r->http_status;
	cw->err_at = util_now_ms();
	util_strlcpy(cw->err_msg, r->message, sizeof(cw->err_msg));
	if (cloudwatch_rejected(r->http_status, r->code) && !r->throttled &&
	    !r->auth_error) {
		log_err("cloudwatch: PutMetricData rejected %zu datums: %s: "
		        "%s%s",
		    cw->fly_members, r->code, r->message,
		    cw->fly_members > 1 ? "; retrying in halves to isolate "
		                          "the bad ones"
		                        : "; dropped");
		util_strlcpy(cw->err_code, r->code, sizeof(cw->err_code));
		cloudwatch_buf_done(cw->buf, CW_SENT_REJECTED);
		ev_timer_arm(cw->kick_t, 200);
		return;
	}
	if (cw->fail_streak == 0 || strcmp(cw->err_code, r->code) != 0)
		log_warn("cloudwatch: PutMetricData failed after %d "
		         "attempt%s (HTTP %d): %s: %s; %zu entries kept for "
		         "the next flush",
		    r->attempts, r->attempts == 1 ? "" : "s", r->http_status,
		    r->code, r->message, cloudwatch_buf_queued(cw->buf));
	else
		log_debug("cloudwatch: PutMetricData failed again: %s",
		    r->code);
	util_strlcpy(cw->err_code, r->code, sizeof(cw->err_code));
	cw->fail_streak++;
	cloudwatch_buf_done(cw->buf, CW_SENT_RETRY);
}

static void
send_next(struct cloudwatch *cw)
{
	struct cloudwatch_form f;

	memset(&f, 0, sizeof(f));
	while (cw->enabled && !cw->in_flight) {
		struct aws_params *p;
		struct aws_call *call;
		int64_t now;
		size_t members;

		if (!cloudwatch_buf_ready(cw->buf)) {
			cw->waiting = NULL;
			return;
		}
		if (cw->aws == NULL) {
			cw->waiting = "no AWS client";
			return;
		}
		if (cw->instance_id == NULL) {
			cw->waiting = "instance id not known yet";
			return;
		}
		now =
		    util_wall_ms() + (int64_t)aws_clock_offset(cw->aws) * 1000;
		members = cloudwatch_buf_batch(cw->buf, cw->ns, cw->instance_id,
		    cw->group, now, 0, 0, &f);
		if (members == 0) {
			/* Only entries with nothing to publish (expired, or
			 * group-level without a group): they are gone. */
			cloudwatch_buf_done(cw->buf, CW_SENT_OK);
			continue;
		}
		p = aws_params_new();
		for (size_t i = 0; i < f.n; i++)
			aws_params_add(p, f.keys[i], "%s", f.values[i]);
		log_debug("cloudwatch: PutMetricData with %zu datums (%zu "
		          "bytes before compression)",
		    members, f.body_len);
		cloudwatch_form_free(&f);
		cw->fly_members = members;
		cw->in_flight = true;
		call = aws_query(cw->aws, AWS_SVC_CLOUDWATCH, "PutMetricData",
		    p, done_cb, cw);
		if (call == NULL && cw->in_flight) {
			cw->in_flight = false;
			cloudwatch_buf_done(cw->buf, CW_SENT_RETRY);
			cw->waiting = "no region or credentials yet";
			return;
		}
		if (cw->in_flight)
			cw->call = call;
		cw->waiting = NULL;
		return;
	}
}

static void
apply(struct cloudwatch *cw, const struct conf *c)
{
	double old_iv = cw->interval_s;
	bool was = cw->enabled;

	free(cw->ns);
	cw->ns = xstrdup(c->cw_namespace != NULL && *c->cw_namespace != '\0'
	        ? c->cw_namespace
	        : "HealthAgent");
	cw->interval_s = interval_of(c);
	cw->resolution = c->cw_storage_resolution == 1 ? 1 : 60;
	cw->enabled = c->cw_enabled;
	cloudwatch_buf_configure(cw->buf, c);
	if (!cw->enabled) {
		ev_timer_disarm(cw->flush_t);
		ev_timer_disarm(cw->kick_t);
		if (cw->in_flight) {
			aws_cancel(cw->call);
			cw->call = NULL;
			cw->in_flight = false;
			cloudwatch_buf_done(cw->buf, CW_SENT_RETRY);
		}
		cw->waiting = "disabled";
		return;
	}
	if (!was || old_iv != cw->interval_s || !ev_timer_armed(cw->flush_t))
		arm_flush(cw);
	if (cw->waiting != NULL && strcmp(cw->waiting, "disabled") == 0)
		cw->waiting = NULL;
}

struct cloudwatch *
cloudwatch_new(struct ev *ev, struct aws *aws, const struct conf *c)
{
	struct cloudwatch *cw = xcalloc(1, sizeof(*cw));

	cw->ev = ev;
	cw->aws = aws;
	cw->buf = cloudwatch_buf_new(c);
	cw->flush_t = ev_timer_new(ev, flush_cb, cw);
	cw->kick_t = ev_timer_new(ev, kick_cb, cw);
	cw->slot_rank = -1;
	apply(cw, c);
	if (cw->enabled)
		log_info("cloudwatch: namespace %s, every %g s, %g s periods, "
		         "queue of %zu entries",
		    cw->ns, cw->interval_s, (double)cw->buf->period_ms / 1000,
		    cloudwatch_buf_capacity(cw->buf));
	return cw;
}

void
cloudwatch_free(struct cloudwatch *cw)
{
	size_t q;

	if (cw == NULL)
		return;
	if (cw->in_flight)
		aws_cancel(cw->call);
	q = cloudwatch_buf_queued(cw->buf);
	if (q > 0 && cw->enabled)
		log_notice("cloudwatch: %zu queued entries not published at "
		           "exit",
		    q);
	ev_timer_free(cw->flush_t);
	ev_timer_free(cw->kick_t);
	cloudwatch_buf_free(cw->buf);
	free(cw->ns);
	free(cw->instance_id);
	free(cw->group);
	free(cw);
}

void
cloudwatch_reconfigure(struct cloudwatch *cw, const struct conf *c)
{
	apply(cw, c);
}

void
cloudwatch_set_identity(struct cloudwatch *cw, const char *instance_id,
    const char *group)
{
	bool same_id = instance_id != NULL && cw->instance_id != NULL &&
	    strcmp(instance_id, cw->instance_id) == 0;

	free(cw->instance_id);
	free(cw->group);
	cw->instance_id = instance_id != NULL && *instance_id != '\0'
	    ? xstrdup(instance_id)
	    : NULL;
	cw->group = group != NULL && *group != '\0' ? xstrdup(group) : NULL;
	if (!same_id) {
		/* A rank belongs to an instance id. */
		cw->slot_rank = -1;
		cw->slot_n = 0;
		if (cw->enabled)
			log_slot(cw);
	}
	if (cw->enabled) {
		if (same_id)
			rearm_for_slot(cw);
		else
			arm_flush(cw);
		/* Data waiting only for the identity goes out now. */
		if (cw->instance_id != NULL && cloudwatch_buf_ready(cw->buf))
			ev_timer_arm(cw->kick_t, 0);
	}
}

void
cloudwatch_set_slot(struct cloudwatch *cw, int rank, int n)
{
	bool was = ranked(cw);
	int old_rank = cw->slot_rank, old_n = cw->slot_n;

	if (n < 1 || rank < 0 || rank >= n) {
		rank = -1;
		n = 0;
	}
	cw->slot_rank = rank;
	cw->slot_n = n;
	if (ranked(cw) == was && (!was || (old_rank == rank && old_n == n)))
		return;
	if (cw->enabled)
		log_slot(cw);
	rearm_for_slot(cw);
}

void
cloudwatch_observe(struct cloudwatch *cw, const struct sample *s,
    const struct health *h, int64_t wall_ms)
{
	if (!cw->enabled)
		return;
	cloudwatch_buf_observe(cw->buf, s, h, wall_ms);
}

void
cloudwatch_count(struct cloudwatch *cw, enum cloudwatch_metric m, double n,
    int64_t wall_ms)
{
	if (!cw->enabled || m != CW_EVICTION_REFUSED)
		return;
	cloudwatch_buf_add(cw->buf, m, NULL, n, wall_ms);
}

void
cloudwatch_flush(struct cloudwatch *cw)
{
	if (!cw->enabled)
		return;
	cloudwatch_buf_close(cw->buf, util_wall_ms());
	send_next(cw);
}

void
cloudwatch_drain(struct cloudwatch *cw)
{
	if (!cw->enabled)
		return;
	cloudwatch_buf_close(cw->buf, INT64_MAX);
	send_next(cw);
}

size_t
cloudwatch_pending(const struct cloudwatch *cw)
{
	if (cw == NULL || !cw->enabled)
		return 0;
	return cloudwatch_buf_queued(cw->buf) + (cw->in_flight ? 1 : 0);
}

static int64_t
age_ms(mono_ms now, mono_ms t)
{
	return t == 0 || t > now ? -1 : (int64_t)(now - t);
}

void
cloudwatch_status(const struct cloudwatch *cw, json_object *into)
{
	json_object *o = json_object_new_object();
	mono_ms now = util_now_ms();
	struct cloudwatch_drops d;
	const char *ep;
	char ts[32];

	cloudwatch_buf_drops(cw->buf, &d);
	json_object_object_add(o, "enabled",
	    json_object_new_boolean(cw->enabled));
	json_object_object_add(o, "namespace", json_object_new_string(cw->ns));
	json_object_object_add(o, "interval_s",
	    json_object_new_double(cw->interval_s));
	json_object_object_add(o, "storage_resolution",
	    json_object_new_int(cw->resolution));
	json_object_object_add(o, "period_s",
	    cw->buf->period_ms % 1000 == 0
	        ? json_object_new_int(cloudwatch_buf_period(cw->buf))
	        : json_object_new_double((double)cw->buf->period_ms / 1000));
	ep = cw->aws != NULL ? aws_endpoint(cw->aws, AWS_SVC_CLOUDWATCH) : NULL;
	json_object_object_add(o, "endpoint",
	    ep != NULL ? json_object_new_string(ep) : NULL);
	json_object_object_add(o, "waiting",
	    cw->waiting != NULL ? json_object_new_string(cw->waiting) : NULL);
	json_object_object_add(o, "in_flight",
	    json_object_new_boolean(cw->in_flight));
	if (cw->last_success_at != 0) {
		cloudwatch_fmt_time(ts, sizeof(ts), cw->last_success_wall);
		json_object_object_add(o, "last_success",
		    json_object_new_string(ts));
		json_object_object_add(o, "last_success_age_ms",
		    json_object_new_int64(age_ms(now, cw->last_success_at)));
	} else {
		json_object_object_add(o, "last_success", NULL);
		json_object_object_add(o, "last_success_age_ms", NULL);
	}
	if (cw->err_at != 0) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "code",
		    json_object_new_string(cw->err_code));
		json_object_object_add(e, "message",
		    json_object_new_string(cw->err_msg));
		json_object_object_add(e, "http_status",
		    json_object_new_int(cw->err_status));
		json_object_object_add(e, "age_ms",
		    json_object_new_int64(age_ms(now, cw->err_at)));
		json_object_object_add(o, "last_error", e);
	} else
		json_object_object_add(o, "last_error", NULL);
	json_object_object_add(o, "queued",
	    json_object_new_int64((int64_t)cloudwatch_buf_queued(cw->buf)));
	json_object_object_add(o, "capacity",
	    json_object_new_int64((int64_t)cloudwatch_buf_capacity(cw->buf)));
	json_object_object_add(o, "dropped",
	    json_object_new_int64(
	        (int64_t)(d.overflow + d.expired + d.rejected)));
	json_object_object_add(o, "dropped_overflow",
	    json_object_new_int64((int64_t)d.overflow));
	json_object_object_add(o, "dropped_expired",
	    json_object_new_int64((int64_t)d.expired));
	json_object_object_add(o, "dropped_rejected",
	    json_object_new_int64((int64_t)d.rejected));
	json_object_object_add(o, "requests_ok",
	    json_object_new_int64((int64_t)cw->requests_ok));
	json_object_object_add(o, "requests_failed",
	    json_object_new_int64((int64_t)cw->requests_failed));
	json_object_object_add(o, "datums_ok",
	    json_object_new_int64((int64_t)cw->datums_ok));
	if (cw->instance_id != NULL) {
		char what[64];

		slot_text(cw, what, sizeof(what));
		json_object_object_add(o, "flush_slot",
		    json_object_new_string(what));
		json_object_object_add(o, "flush_offset_s",
		    json_object_new_double((double)slot_offset(cw) / 1000));
	} else {
		json_object_object_add(o, "flush_slot", NULL);
		json_object_object_add(o, "flush_offset_s", NULL);
	}
	json_object_object_add(o, "flush_rank",
	    ranked(cw) ? json_object_new_int(cw->slot_rank + 1) : NULL);
	json_object_object_add(o, "flush_group_size",
	    ranked(cw) ? json_object_new_int(cw->slot_n) : NULL);
	json_object_object_add(o, "next_flush_in_ms",
	    cw->enabled && ev_timer_armed(cw->flush_t)
	        ? json_object_new_int64(cw->next_flush_at > now
	                  ? (int64_t)(cw->next_flush_at - now)
	                  : 0)
	        : NULL);
	json_object_object_add(into, "cloudwatch", o);
}

void
cloudwatch_estimate(const struct conf *c, size_t *n_metrics, double *usd_month)
{
	bool on[CW_METRIC_MAX];
	enum dimset dims[DIM_MAX];
	size_t n_dims, n;
	double iv, per_flush, flushes, requests;
	int period_ms;

	*n_metrics = 0;
	*usd_month = 0;
	if (!c->cw_enabled)
		return;
	metrics_from(c, on);
	n_dims = dims_from(c, dims);
	n = series_count(on, c->n_checks) * n_dims;
	if (n == 0)
		return;
	iv = interval_of(c);
	period_ms = cloudwatch_period_ms(c->cw_storage_resolution, iv);
	/* Datums per flush: one per metric per period in the interval. */
	per_flush = (double)n * ceil_pos(iv * 1000 / period_ms);
	flushes = 30.0 * 86400.0 / iv;
	requests = flushes * ceil_pos(per_flush / CW_MAX_DATUMS);
	*n_metrics = n;
	*usd_month = (double)n * CW_PRICE_METRIC_MONTH +
	    requests / 1000.0 * CW_PRICE_PER_1000_REQUESTS;
}
