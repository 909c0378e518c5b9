/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the CloudWatch module without a network: folding ticks
 * into StatisticValues, locale-independent numbers and timestamps, the
 * exact PutMetricData form keys of a batch, splitting at 1000 datums and at
 * the body limit, the bounded queue (drop-oldest, retry keeps order, a
 * rejected batch is bisected), the cost estimate, and the module's status
 * while it has no AWS client.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cloudwatch.h"
#include "ev.h"
#include "health.h"
#include "sample.h"
#include "tap.h"

/* 2015-08-30T12:36:00Z, on a minute boundary. */
#define W0 1440938160000LL

static char ns[] = "HealthAgent";
static char dim_inst[] = "InstanceId";
static char dim_group[] = "AutoScalingGroupName";

static void
conf_init(struct conf *c, size_t n_checks)
{
	memset(c, 0, sizeof(*c));
	c->cw_enabled = true;
	c->cw_namespace = ns;
	c->cw_interval = 60;
	c->cw_storage_resolution = 60;
	c->cw_buffer_seconds = 3600;
	c->cw_dimensions[0] = dim_inst;
	c->cw_dimensions[1] = dim_group;
	c->n_cw_dimensions = 2;
	c->n_checks = n_checks;
}

/* Form (RFC 3986) encoding, written independently of cloudwatch.c. */
static size_t
encoded_body_len(const struct cloudwatch_form *f)
{
	size_t n = strlen("Action=PutMetricData&Version=2010-08-01");

	for (size_t i = 0; i < f->n; i++) {
		const char *s[2] = {f->keys[i], f->values[i]};

		n += 2;
		for (int j = 0; j < 2; j++)
			for (const char *p = s[j]; *p != '\0'; p++)
				n += isalnum((unsigned char)*p) ||
				        strchr("-_.~", *p) != NULL
				    ? 1
				    : 3;
	}
	return n;
}

/* The value of MetricData.member.<m>.<suffix>. */
static const char *
fget(const struct cloudwatch_form *f, size_t m, const char *suffix)
{
	char key[160];

	snprintf(key, sizeof(key), "MetricData.member.%zu.%s", m, suffix);
	return cloudwatch_form_get(f, key);
}

static void
test_stat(void)
{
	struct cloudwatch_stat st = {0};

	ok(cloudwatch_stat_add(&st, 3), "stat: add 3");
	ok(cloudwatch_stat_add(&st, -1.5), "stat: add -1.5");
	ok(cloudwatch_stat_add(&st, 10), "stat: add 10");
	is_dbl(st.count, 3, 0, "stat: count");
	is_dbl(st.sum, 11.5, 1e-12, "stat: sum");
	is_dbl(st.min, -1.5, 0, "stat: min");
	is_dbl(st.max, 10, 0, "stat: max");
	ok(!cloudwatch_stat_add(&st, NAN), "stat: NaN refused");
	ok(!cloudwatch_stat_add(&st, INFINITY), "stat: inf refused");
	ok(!cloudwatch_stat_add(&st, 1e300), "stat: 1e300 refused");
	is_dbl(st.count, 3, 0, "stat: refused values not folded");
}

static void
test_fmt(void)
{
	char b[64];

	cloudwatch_fmt_double(b, sizeof(b), 0.1);
	is_str(b, "0.1", "fmt: 0.1 shortest");
	cloudwatch_fmt_double(b, sizeof(b), 60);
	is_str(b, "60", "fmt: integer");
	cloudwatch_fmt_double(b, sizeof(b), 1.0 / 3);
	ok(strtod(b, NULL) == 1.0 / 3, "fmt: 1/3 round-trips (%s)", b);
	cloudwatch_fmt_double(b, sizeof(b), -0.0);
	is_str(b, "0", "fmt: -0 is 0");
	cloudwatch_fmt_double(b, sizeof(b), NAN);
	is_str(b, "0", "fmt: NaN never reaches the wire");
	cloudwatch_fmt_double(b, sizeof(b), -INFINITY);
	is_str(b, "0", "fmt: -inf never reaches the wire");
	cloudwatch_fmt_double(b, sizeof(b), 2.5e-7);
	ok(strtod(b, NULL) == 2.5e-7, "fmt: small value round-trips (%s)", b);

	cloudwatch_fmt_time(b, sizeof(b), W0);
	is_str(b, "2015-08-30T12:36:00Z", "time: ISO-8601 UTC");
	cloudwatch_fmt_time(b, sizeof(b), W0 + 59999);
	is_str(b, "2015-08-30T12:36:59Z", "time: milliseconds truncated");
	cloudwatch_fmt_time(b, sizeof(b), 0);
	is_str(b, "1970-01-01T00:00:00Z", "time: epoch");
}

/* Under a locale whose decimal point is ',' the form still says '.'. */
static void
test_locale(void)
{
	char b[64], dir[] = "/tmp/test_cloudwatch.XXXXXX", cmd[256];
	bool made = false;

	if (setlocale(LC_ALL, "de_DE.UTF-8") == NULL && mkdtemp(dir) != NULL) {
		made = true;
		snprintf(cmd, sizeof(cmd),
		    "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 "
		    ">/dev/null 2>&1",
		    dir);
		if (system(cmd) == 0) {
			setenv("LOCPATH", dir, 1);
			setlocale(LC_ALL, "de_DE.UTF-8");
		}
	}
	snprintf(b, sizeof(b), "%.1f", 12.5);
	if (strcmp(b, "12,5") != 0) {
		/* localedef needs Debian's "locales" package; never skip. */
		ok(0, "a locale with a decimal comma could be made");
	} else {
		cloudwatch_fmt_double(b, sizeof(b), 12.5);
		is_str(b, "12.5", "fmt: '.' under de_DE");
	}
	setlocale(LC_ALL, "C");
	unsetenv("LOCPATH");
	if (made) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
}

static void
test_period_rejected(void)
{
	is_int(cloudwatch_period_s(60, 60), 60, "period: standard");
	is_int(cloudwatch_period_s(60, 2), 60, "period: standard, short iv");
	is_int(cloudwatch_period_s(1, 60), 10, "period: high-res 60 s iv");
	is_int(cloudwatch_period_s(1, 7), 5, "period: high-res 7 s iv");
	is_int(cloudwatch_period_s(1, 2), 1, "period: high-res 2 s iv");
	is_int(cloudwatch_period_ms(1, 2), 1000, "period ms: high-res 2 s iv");
	is_int(cloudwatch_period_ms(60, 0.1), 60000, "period ms: standard");
	is_int(cloudwatch_period_ms(1, 0.5), 500, "period ms: 0.5 s iv");
	is_int(cloudwatch_period_ms(1, 0.3), 250, "period ms: 0.3 s iv");
	is_int(cloudwatch_period_ms(1, 0.2), 200, "period ms: 0.2 s iv");
	is_int(cloudwatch_period_ms(1, 0.1), 100, "period ms: 0.1 s iv");

	ok(cloudwatch_rejected(400, "InvalidParameterValue"),
	    "rejected: InvalidParameterValue");
	ok(cloudwatch_rejected(400, "MissingParameter"),
	    "rejected: MissingParameter");
	ok(cloudwatch_rejected(413, ""), "rejected: 413");
	ok(!cloudwatch_rejected(400, "Throttling"), "kept: Throttling");
	ok(!cloudwatch_rejected(403, "AccessDenied"), "kept: AccessDenied");
	ok(!cloudwatch_rejected(403, "SignatureDoesNotMatch"),
	    "kept: SignatureDoesNotMatch");
	ok(!cloudwatch_rejected(500, "InternalServiceError"), "kept: 500");
	ok(!cloudwatch_rejected(0, "CURLE_COULDNT_CONNECT"),
	    "kept: transport error");
}

static struct sample
mk_sample(double cpu, double mem, double swap, double disk)
{
	struct sample s;

	memset(&s, 0, sizeof(s));
	s.valid = s.cpu_valid = s.mem_valid = s.disk_valid = true;
	s.cpu_pct = cpu;
	s.mem_used_pct = mem;
	s.swap_used_pct = swap;
	s.disk_used_pct = disk;
	return s;
}

/* Two checks through the real health state machine. */
static struct health *
mk_health(void)
{
	struct health *h = health_new(1000, 0);
	struct health_check_params p = {.rise = 1,
	    .fall = 1,
	    .interval = 5000,
	    .timeout = 1000};
	struct health_result r;

	p.name = "web";
	health_add_check(h, &p, 1000);
	p.name = "db";
	p.dependency = true;
	health_add_check(h, &p, 1000);
	health_result_set(&r, true, HEALTH_R_OK, NULL);
	r.latency_ms = 12.5;
	health_report(h, 0, &r, 1100);
	health_result_set(&r, false, HEALTH_R_REFUSED, "refused");
	r.latency_ms = 0.5;
	health_report(h, 1, &r, 1100);
	health_tick(h, 1200);
	return h;
}

static void
test_fold_and_form(void)
{
	struct conf c;
	struct cloudwatch_buf *b;
	struct health *h = mk_health();
	struct cloudwatch_form f = {0};
	struct health_result r;
	size_t n, m;
	const char *v;
	bool found_db = false, found_lat = false;

	conf_init(&c, 2);
	b = cloudwatch_buf_new(&c);
	is_int(cloudwatch_buf_period(b), 60, "fold: 60 s periods");
	is_str(health_state_names[health_state(h)], "degraded",
	    "fold: health fixture is DEGRADED");

	/* 60 ticks in the first minute, mem going 10..69. */
	for (int i = 0; i < 60; i++) {
		struct sample s = mk_sample(50, 10 + i, 0, 80);

		if (i == 30) {
			/* A second run of web, slower. */
			health_result_set(&r, true, HEALTH_R_OK, NULL);
			r.latency_ms = 20;
			health_report(h, 0, &r, 2000);
		}
		cloudwatch_buf_observe(b, &s, h, W0 + i * 1000 + 250);
	}
	cloudwatch_buf_add(b, CW_EVICTION_REFUSED, NULL, 2, W0 + 40000);
	cloudwatch_buf_add(b, CW_EVICTION_REFUSED, NULL, 1, W0 + 50000);
	is_int(cloudwatch_buf_queued(b), 0, "fold: nothing queued mid-period");
	cloudwatch_buf_close(b, W0 + 59999);
	is_int(cloudwatch_buf_queued(b), 0, "fold: not closed before its end");
	cloudwatch_buf_close(b, W0 + 60000);
	/* cpu mem swap disk healthy refused + web/db failed + web/db latency */
	is_int(cloudwatch_buf_queued(b), 10, "fold: 10 series closed");

	n = cloudwatch_buf_batch(b, "HealthAgent", "i-0123456789abcdef0",
	    "web-asg", W0 + 61000, 0, 0, &f);
	is_int(n, 20, "form: 10 entries x 2 dimension sets");
	is_int(f.members, 20, "form: members counted");
	is_int(f.entries, 10, "form: entries counted");
	is_str(cloudwatch_form_get(&f, "Namespace"), "HealthAgent",
	    "form: Namespace");
	is_str(f.keys[0], "Namespace", "form: Namespace first");
	is_int(f.body_len, encoded_body_len(&f),
	    "form: body_len is the exact encoded length");

	is_str(fget(&f, 1, "MetricName"), "cpu_usage_percent",
	    "form: member 1 name");
	is_str(fget(&f, 1, "Dimensions.member.1.Name"), "InstanceId",
	    "form: member 1 dimension name");
	is_str(fget(&f, 1, "Dimensions.member.1.Value"), "i-0123456789abcdef0",
	    "form: member 1 dimension value");
	ok(fget(&f, 1, "Dimensions.member.2.Name") == NULL,
	    "form: system metric has one dimension");
	is_str(fget(&f, 2, "Dimensions.member.1.Name"), "AutoScalingGroupName",
	    "form: member 2 is the group series");
	is_str(fget(&f, 2, "Dimensions.member.1.Value"), "web-asg",
	    "form: member 2 group value");
	is_str(fget(&f, 1, "Timestamp"), "2015-08-30T12:36:00Z",
	    "form: timestamp is the period start");
	is_str(fget(&f, 1, "StatisticValues.SampleCount"), "60",
	    "form: SampleCount");
	is_str(fget(&f, 1, "StatisticValues.Sum"), "3000", "form: Sum");
	is_str(fget(&f, 1, "StatisticValues.Minimum"), "50", "form: Minimum");
	is_str(fget(&f, 1, "StatisticValues.Maximum"), "50", "form: Maximum");
	is_str(fget(&f, 1, "Unit"), "Percent", "form: Unit");
	is_str(fget(&f, 1, "StorageResolution"), "60",
	    "form: StorageResolution");
	ok(fget(&f, 1, "Value") == NULL,
	    "form: no Value next to StatisticValues");

	is_str(fget(&f, 3, "MetricName"), "mem_used_percent",
	    "form: member 3 is mem");
	is_str(fget(&f, 3, "StatisticValues.Sum"), "2370",
	    "form: mem Sum 10+..+69");
	is_str(fget(&f, 3, "StatisticValues.Minimum"), "10",
	    "form: mem Minimum");
	is_str(fget(&f, 3, "StatisticValues.Maximum"), "69",
	    "form: mem Maximum");
	is_str(fget(&f, 9, "MetricName"), "healthy",
	    "form: member 9 is healthy");
	is_str(fget(&f, 9, "StatisticValues.Sum"), "60",
	    "form: healthy (DEGRADED answers 200) every tick");
	is_str(fget(&f, 9, "Unit"), "Count", "form: healthy Unit");
	is_str(fget(&f, 11, "MetricName"), "self_eviction_refused",
	    "form: member 11 is the counter");
	is_str(fget(&f, 11, "StatisticValues.SampleCount"), "1",
	    "form: counter is one value per period");
	is_str(fget(&f, 11, "StatisticValues.Sum"), "3", "form: counter total");

	for (m = 1; m <= 20; m++) {
		const char *name = fget(&f, m, "MetricName");
		const char *chk = fget(&f, m, "Dimensions.member.2.Value");

		if (name == NULL)
			break;
		if (strcmp(name, "check_failed") == 0 && chk != NULL &&
		    strcmp(chk, "db") == 0) {
			found_db = true;
			is_str(fget(&f, m, "Dimensions.member.2.Name"), "Check",
			    "form: per-check dimension name");
			v = fget(&f, m, "StatisticValues.Sum");
			is_str(v, "60", "form: db DOWN every tick");
		}
		if (strcmp(name, "check_latency_ms") == 0 && chk != NULL &&
		    strcmp(chk, "web") == 0 &&
		    strcmp(fget(&f, m, "Dimensions.member.1.Name"),
		        "InstanceId") == 0) {
			found_lat = true;
			is_str(fget(&f, m, "StatisticValues.SampleCount"), "2",
			    "form: web latency once per run");
			is_str(fget(&f, m, "StatisticValues.Sum"), "32.5",
			    "form: web latency sum");
			is_str(fget(&f, m, "Unit"), "Milliseconds",
			    "form: latency Unit");
		}
	}
	is_int(m, 21, "form: exactly 20 members");
	ok(found_db, "form: check_failed for db present");
	ok(found_lat, "form: check_latency_ms for web present");

	/* The batch is in flight; a second one is not given out. */
	{
		struct cloudwatch_form g = {0};

		is_int(cloudwatch_buf_batch(b, "HealthAgent", "i-1", NULL,
		           W0 + 61000, 0, 0, &g),
		    0, "batch: none while one is in flight");
		is_int(g.entries, 0, "batch: nothing taken");
	}
	cloudwatch_buf_done(b, CW_SENT_OK);
	is_int(cloudwatch_buf_queued(b), 0, "batch: OK removes what was sent");
	cloudwatch_form_free(&f);

	/* Not in a group: the group-level series is skipped. */
	{
		struct sample s = mk_sample(1, 2, 3, 4);

		cloudwatch_buf_observe(b, &s, NULL, W0 + 61000);
		cloudwatch_buf_close(b, W0 + 120000);
	}
	n = cloudwatch_buf_batch(b, "HealthAgent", "i-1", NULL, W0 + 121000, 0,
	    0, &f);
	is_int(n, 5, "form: no group, one member per entry");
	is_str(fget(&f, 1, "Timestamp"), "2015-08-30T12:37:00Z",
	    "form: second period's timestamp");
	cloudwatch_buf_done(b, CW_SENT_OK);
	cloudwatch_form_free(&f);

	health_free(h);
	cloudwatch_buf_free(b);
}

static void
test_only_group(void)
{
	struct conf c;
	struct cloudwatch_buf *b;
	struct cloudwatch_form f = {0};
	size_t n;

	conf_init(&c, 0);
	c.cw_dimensions[0] = dim_group;
	c.n_cw_dimensions = 1;
	b = cloudwatch_buf_new(&c);
	cloudwatch_buf_add(b, CW_HEALTHY, NULL, 1, W0);
	cloudwatch_buf_close(b, W0 + 60000);
	n = cloudwatch_buf_batch(b, "HealthAgent", "i-1", NULL, W0 + 60000, 0,
	    0, &f);
	is_int(n, 0, "group only, no group: no members");
	is_int(f.entries, 1, "group only, no group: the entry is consumed");
	cloudwatch_buf_done(b, CW_SENT_OK);
	is_int(cloudwatch_buf_queued(b), 0, "group only: nothing left");
	cloudwatch_form_free(&f);
	cloudwatch_buf_free(b);
}

/* A drain closes the period in progress early. */
static void
test_drain_close(void)
{
	struct conf c;
	struct cloudwatch_buf *b;

	conf_init(&c, 0);
	b = cloudwatch_buf_new(&c);
	cloudwatch_buf_add(b, CW_MEM_USED, NULL, 5, W0 + 1000);
	cloudwatch_buf_close(b, W0 + 2000);
	is_int(cloudwatch_buf_queued(b), 0, "drain: period still open");
	cloudwatch_buf_close(b, INT64_MAX);
	is_int(cloudwatch_buf_queued(b), 1, "drain: partial period queued");
	cloudwatch_buf_free(b);
}

static void
test_metric_selection(void)
{
	struct conf c;
	struct cloudwatch_buf *b;
	struct cloudwatch_form f = {0};
	char m1[] = "mem_used_percent", m2[] = "check_failed";
	struct sample s = mk_sample(1, 2, 3, 4);

	conf_init(&c, 1);
	c.cw_metrics[0] = m1;
	c.cw_metrics[1] = m2;
	c.n_cw_metrics = 2;
	c.n_cw_dimensions = 1;
	c.cw_storage_resolution = 1;
	c.cw_interval = 2;
	b = cloudwatch_buf_new(&c);
	is_int(cloudwatch_buf_period(b), 1, "hires: 1 s periods at 2 s iv");
	cloudwatch_buf_observe(b, &s, NULL, W0 + 500);
	cloudwatch_buf_add(b, CW_CHECK_FAILED, "web", 1, W0 + 600);
	cloudwatch_buf_add(b, CW_CHECK_LATENCY, "web", 5, W0 + 600);
	cloudwatch_buf_add(b, CW_EVICTION_REFUSED, NULL, 1, W0 + 600);
	cloudwatch_buf_observe(b, &s, NULL, W0 + 1500);
	cloudwatch_buf_close(b, W0 + 2000);
	is_int(cloudwatch_buf_queued(b), 3,
	    "selection: mem x2 periods + check_failed");
	is_int(cloudwatch_buf_batch(b, "NS", "i-1", "g", W0 + 2000, 0, 0, &f),
	    3, "selection: 3 members");
	is_str(fget(&f, 1, "MetricName"), "mem_used_percent",
	    "selection: mem first");
	is_str(fget(&f, 2, "MetricName"), "check_failed",
	    "selection: then check_failed");
	is_str(fget(&f, 3, "MetricName"), "mem_used_percent",
	    "selection: then next period's mem");
	is_str(fget(&f, 3, "Timestamp"), "2015-08-30T12:36:01Z",
	    "hires: 1 s period start");
	is_str(fget(&f, 1, "StorageResolution"), "1",
	    "hires: StorageResolution=1");
	cloudwatch_buf_done(b, CW_SENT_OK);
	cloudwatch_form_free(&f);

	/* Sub-second periods (tests, soak): timestamps keep their ms. */
	c.cw_interval = 0.25;
	cloudwatch_buf_configure(b, &c);
	cloudwatch_buf_observe(b, &s, NULL, W0 + 3100);
	cloudwatch_buf_observe(b, &s, NULL, W0 + 3300);
	cloudwatch_buf_close(b, W0 + 3500);
	is_int(cloudwatch_buf_batch(b, "NS", "i-1", "g", W0 + 3500, 0, 0, &f),
	    2, "sub-second: one member per 250 ms period");
	is_str(fget(&f, 1, "Timestamp"), "2015-08-30T12:36:03Z",
	    "sub-second: a period on the second");
	is_str(fget(&f, 2, "Timestamp"), "2015-08-30T12:36:03.250Z",
	    "sub-second: a period with milliseconds");
	cloudwatch_buf_done(b, CW_SENT_OK);
	cloudwatch_form_free(&f);
	cloudwatch_buf_free(b);
}

/* Queue n single-series entries, one per minute from W0, value = index. */
static void
fill(struct cloudwatch_buf *b, int from, int n)
{
	for (int i = from; i < from + n; i++)
		cloudwatch_buf_add(b, CW_MEM_USED, NULL, i,
		    W0 + (int64_t)i * 60000);
	cloudwatch_buf_close(b, W0 + (int64_t)(from + n) * 60000);
}

static double
first_value(const struct cloudwatch_form *f)
{
	const char *v = fget(f, 1, "StatisticValues.Sum");

	return v != NULL ? strtod(v, NULL) : -1;
}

static double
last_value(const struct cloudwatch_form *f)
{
	const char *v = fget(f, f->members, "StatisticValues.Sum");

	return v != NULL ? strtod(v, NULL) : -1;
}

static void
test_split(void)
{
	struct conf c;
	struct cloudwatch_buf *b;
	struct cloudwatch_form f = {0};
	int64_t now = W0 + 3000LL * 60000;
	size_t n;

	conf_init(&c, 0);
	c.n_cw_dimensions = 1;
	b = cloudwatch_buf_new(&c);
	fill(b, 0, 1500);
	is_int(cloudwatch_buf_queued(b), 1500, "split: 1500 queued");
	n = cloudwatch_buf_batch(b, "NS", "i-1", "g", now, 0, 0, &f);
	is_int(n, 1000, "split: first request holds 1000 datums");
	ok(f.body_len <= CW_MAX_BODY, "split: under 1 MB (%zu)", f.body_len);
	is_dbl(first_value(&f), 0, 0, "split: oldest first");
	is_dbl(last_value(&f), 999, 0, "split: in order");
	ok(fget(&f, 1001, "MetricName") == NULL, "split: no member 1001");
	cloudwatch_buf_done(b, CW_SENT_OK);
	n = cloudwatch_buf_batch(b, "NS", "i-1", "g", now, 0, 0, &f);
	is_int(n, 500, "split: second request holds the rest");
	is_dbl(first_value(&f), 1000, 0, "split: continues where it stopped");
	is_str(fget(&f, 1, "MetricName"), "mem_used_percent",
	    "split: numbering restarts at 1");
	cloudwatch_buf_done(b, CW_SENT_OK);
	is_int(cloudwatch_buf_queued(b), 0, "split: all sent");

	/* Two dimension sets: an entry's members stay together. */
	c.n_cw_dimensions = 2;
	cloudwatch_buf_configure(b, &c);
	fill(b, 0, 700);
	n = cloudwatch_buf_batch(b, "NS", "i-1", "g", now, 999, 0, &f);
	is_int(n, 998, "split: an odd member limit never splits an entry");
	is_int(f.entries, 499, "split: 499 entries x 2 sets");
	cloudwatch_buf_done(b, CW_SENT_OK);
	n = cloudwatch_buf_batch(b, "NS", "i-1", "g", now, 0, 0, &f);
	is_int(n, 402, "split: the rest, 201 entries x 2 sets");
	is_dbl(first_value(&f), 499, 0, "split: from entry 499");
	cloudwatch_buf_done(b, CW_SENT_OK);
	is_int(cloudwatch_buf_queued(b), 0, "split: all sent");
	fill(b, 0, 700);
	n = cloudwatch_buf_batch(b, "NS", "i-1", "g", now, 0, 0, &f);
	is_int(n, 1000, "split: 500 entries x 2 sets fill a request");
	cloudwatch_buf_done(b, CW_SENT_OK);
	n = cloudwatch_buf_batch(b, "NS", "i-1", "g", now, 0, 0, &f);
	is_int(n, 400, "split: the other 200 entries");
	cloudwatch_buf_done(b, CW_SENT_OK);

	/* The body limit: a small limit splits by size, never above it. */
	c.n_cw_dimensions = 1;
	cloudwatch_buf_configure(b, &c);
	fill(b, 0, 100);
	{
		size_t total = 0, requests = 0;
		double expect = 0;
		bool ordered = true, under = true, exact = true;

		while ((n = cloudwatch_buf_batch(b, "NS", "i-1", "g", now, 0,
		            4000, &f)) > 0) {
			requests++;
			total += n;
			under &= f.body_len <= 4000;
			exact &= f.body_len == encoded_body_len(&f);
			ordered &= first_value(&f) == expect;
			expect = last_value(&f) + 1;
			cloudwatch_buf_done(b, CW_SENT_OK);
		}
		is_int(total, 100, "body limit: every datum sent");
		ok(requests > 1, "body limit: split into %zu requests",
		    requests);
		ok(under, "body limit: no request above it");
		ok(exact, "body limit: body_len exact every time");
		ok(ordered, "body limit: in order across requests");
	}
	cloudwatch_form_free(&f);
	cloudwatch_buf_free(b);
}

static void
test_queue(void)
{
	struct conf c;
	struct cloudwatch_buf *b;
	struct cloudwatch_form f = {0};
	struct cloudwatch_drops d;
	int64_t now = W0 + 6000LL * 60000;
	size_t cap;

	conf_init(&c, 0);
	c.n_cw_dimensions = 1;
	b = cloudwatch_buf_new(&c);
	cap = cloudwatch_buf_capacity(b);
	is_int(cap, CW_QUEUE_MIN, "queue: small config gets the floor");
	fill(b, 0, (int)cap + 904);
	is_int(cloudwatch_buf_queued(b), cap, "queue: bounded");
	cloudwatch_buf_drops(b, &d);
	is_int(d.overflow, 904, "queue: overflow counted");
	cloudwatch_buf_batch(b, "NS", "i-1", NULL, now, 0, 0, &f);
	is_dbl(first_value(&f), 904, 0, "queue: the oldest were dropped");

	/* A failed request keeps its data, in order, at the head. */
	cloudwatch_buf_done(b, CW_SENT_RETRY);
	is_int(cloudwatch_buf_queued(b), cap, "retry: nothing lost");
	cloudwatch_buf_batch(b, "NS", "i-1", NULL, now, 0, 0, &f);
	is_dbl(first_value(&f), 904, 0, "retry: same head again");
	is_int(f.members, 1000, "retry: same size again");

	/* New data while the batch is in flight, then it fails: the
	 * in-flight batch is the oldest, so it is what overflows. */
	fill(b, (int)cap + 904, 1000);
	cloudwatch_buf_drops(b, &d);
	is_int(d.overflow, 904, "in flight: room for the new data");
	cloudwatch_buf_done(b, CW_SENT_RETRY);
	is_int(cloudwatch_buf_queued(b), cap, "in flight: still bounded");
	cloudwatch_buf_drops(b, &d);
	is_int(d.overflow, 1904, "in flight: the failed batch overflowed");
	cloudwatch_buf_batch(b, "NS", "i-1", NULL, now, 0, 0, &f);
	is_dbl(first_value(&f), 1904, 0, "in flight: oldest dropped first");
	cloudwatch_buf_done(b, CW_SENT_OK);
	is_int(cloudwatch_buf_queued(b), cap - 1000,
	    "ok: exactly the batch removed");

	/* Reconfigure keeps the queue. */
	c.n_cw_dimensions = 2;
	cloudwatch_buf_configure(b, &c);
	is_int(cloudwatch_buf_queued(b), cap - 1000, "reconfigure: kept");
	cloudwatch_form_free(&f);
	cloudwatch_buf_free(b);

	/* The capacity scales with the series: 1 h fits at the default. */
	conf_init(&c, 256);
	b = cloudwatch_buf_new(&c);
	ok(cloudwatch_buf_capacity(b) >= (6 + 2 * 256) * 60,
	    "capacity: 256 checks, one hour fits (%zu)",
	    cloudwatch_buf_capacity(b));
	c.cw_buffer_seconds = 7200;
	cloudwatch_buf_configure(b, &c);
	ok(cloudwatch_buf_capacity(b) >= (6 + 2 * 256) * 120,
	    "capacity: buffer_seconds 7200 (%zu)", cloudwatch_buf_capacity(b));
	cloudwatch_buf_free(b);
}

static void
test_expired(void)
{
	struct conf c;
	struct cloudwatch_buf *b;
	struct cloudwatch_form f = {0};
	struct cloudwatch_drops d;
	int64_t day = 86400000LL;

	conf_init(&c, 0);
	c.n_cw_dimensions = 1;
	b = cloudwatch_buf_new(&c);
	fill(b, 0, 3); /* W0, W0+1m, W0+2m */
	/* Just under 14 days (the window less a 10 min margin) after
	 * W0+1m: the first two are outside the window. */
	is_int(cloudwatch_buf_batch(b, "NS", "i-1", NULL,
	           W0 + 14 * day - 600000 + 60000 + 1, 0, 0, &f),
	    1, "expired: one left to send");
	is_dbl(first_value(&f), 2, 0, "expired: the young one");
	cloudwatch_buf_drops(b, &d);
	is_int(d.expired, 2, "expired: counted");
	cloudwatch_buf_done(b, CW_SENT_RETRY);
	is_int(cloudwatch_buf_queued(b), 1, "expired: not put back");
	cloudwatch_buf_batch(b, "NS", "i-1", NULL, W0, 0, 0, &f);
	cloudwatch_buf_done(b, CW_SENT_OK);

	/* Three hours ahead of the clock (the clock stepped back). */
	fill(b, 200, 1);
	is_int(cloudwatch_buf_batch(b, "NS", "i-1", NULL, W0, 0, 0, &f), 0,
	    "future: not sent");
	cloudwatch_buf_drops(b, &d);
	is_int(d.expired, 3, "future: counted");
	cloudwatch_buf_done(b, CW_SENT_OK);
	cloudwatch_form_free(&f);
	cloudwatch_buf_free(b);
}

/* A fake CloudWatch that rejects any request carrying the value 13. */
static void
test_bisect(void)
{
	struct conf c;
	struct cloudwatch_buf *b;
	struct cloudwatch_form f = {0};
	struct cloudwatch_drops d;
	double delivered[64];
	size_t nd = 0, requests = 0;
	bool ordered = true;

	conf_init(&c, 0);
	c.n_cw_dimensions = 1;
	b = cloudwatch_buf_new(&c);
	fill(b, 0, 40);
	while (cloudwatch_buf_batch(b, "NS", "i-1", NULL, W0 + 400 * 60000LL, 0,
	           0, &f) > 0 &&
	    requests < 200) {
		bool bad = false;

		requests++;
		for (size_t m = 1; m <= f.members; m++)
			bad |= strcmp(fget(&f, m, "StatisticValues.Sum"),
			           "13") == 0;
		if (bad) {
			cloudwatch_buf_done(b, CW_SENT_REJECTED);
			continue;
		}
		for (size_t m = 1; m <= f.members && nd < 64; m++)
			delivered[nd++] =
			    strtod(fget(&f, m, "StatisticValues.Sum"), NULL);
		cloudwatch_buf_done(b, CW_SENT_OK);
	}
	cloudwatch_buf_drops(b, &d);
	is_int(d.rejected, 1, "bisect: only the bad datum dropped");
	is_int(nd, 39, "bisect: the other 39 delivered");
	for (size_t i = 0; i < nd; i++)
		ordered &= delivered[i] == (double)(i < 13 ? i : i + 1);
	ok(ordered, "bisect: delivered in order");
	ok(requests < 20, "bisect: in %zu requests", requests);

	/* Afterwards, batches are full size again. */
	fill(b, 100, 300);
	is_int(cloudwatch_buf_batch(b, "NS", "i-1", NULL, W0 + 400 * 60000LL, 0,
	           0, &f),
	    300, "bisect: over, full batches again");
	cloudwatch_buf_done(b, CW_SENT_OK);
	cloudwatch_form_free(&f);
	cloudwatch_buf_free(b);
}

static void
test_estimate(void)
{
	struct conf c;
	size_t n;
	double usd;
	char m1[] = "cpu_usage_percent", m2[] = "healthy";

	conf_init(&c, 3);
	cloudwatch_estimate(&c, &n, &usd);
	is_int(n, 24, "estimate: (6 + 2x3) x 2 sets");
	is_dbl(usd, 24 * 0.30 + 43200 / 1000.0 * 0.01, 1e-9,
	    "estimate: $7.632 (43200 requests)");

	c.n_cw_dimensions = 1;
	c.n_checks = 0;
	c.cw_metrics[0] = m1;
	c.cw_metrics[1] = m2;
	c.n_cw_metrics = 2;
	cloudwatch_estimate(&c, &n, &usd);
	is_int(n, 2, "estimate: two metrics, one set");
	is_dbl(usd, 0.60 + 0.432, 1e-9, "estimate: $1.032");

	c.cw_interval = 300;
	cloudwatch_estimate(&c, &n, &usd);
	is_dbl(usd, 0.60 + 8640 / 1000.0 * 0.01, 1e-9,
	    "estimate: 5 min interval, 8640 requests");

	conf_init(&c, 256);
	c.cw_storage_resolution = 1;
	cloudwatch_estimate(&c, &n, &usd);
	is_int(n, 1036, "estimate: 256 checks");
	/* 10 s periods: 6216 datums per flush, 7 requests per flush. */
	is_dbl(usd, 1036 * 0.30 + 43200 * 7 / 1000.0 * 0.01, 1e-9,
	    "estimate: high resolution, 7 requests per flush");

	c.cw_enabled = false;
	cloudwatch_estimate(&c, &n, &usd);
	is_int(n, 0, "estimate: disabled, no metrics");
	is_dbl(usd, 0, 0, "estimate: disabled, free");

	/* An unset list means the defaults (all metrics, both sets). */
	conf_init(&c, 1);
	c.n_cw_dimensions = 0;
	cloudwatch_estimate(&c, &n, &usd);
	is_int(n, 16, "estimate: defaults for empty lists");
}

/* The reference: 64-bit FNV-1a. */
static uint64_t
ref_fnv1a(const char *p)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *p != '\0'; p++) {
		h ^= (unsigned char)*p;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void
test_slot(void)
{
	bool all_ok = true, in_range = true, spread_ok = true;
	int64_t prev;

	/* The fallback: the instance-id hash, stable and in range. */
	is_int(cloudwatch_slot_ms("i-0123456789abcdef0", -1, 0, 60000),
	    (long long)(ref_fnv1a("i-0123456789abcdef0") % 60000),
	    "slot: no rank gives the FNV-1a hash of the id mod the interval");
	is_int(cloudwatch_slot_ms("i-0123456789abcdef0", 5, 0, 60000),
	    cloudwatch_slot_ms("i-0123456789abcdef0", -1, 0, 60000),
	    "slot: n = 0 is the hash");
	is_int(cloudwatch_slot_ms("i-0123456789abcdef0", 7, 7, 60000),
	    cloudwatch_slot_ms("i-0123456789abcdef0", -1, 0, 60000),
	    "slot: rank beyond the list is the hash");
	is_int(cloudwatch_slot_ms(NULL, -1, 0, 60000), 0,
	    "slot: no id and no rank: 0");
	is_int(cloudwatch_slot_ms("", -1, 0, 60000), 0, "slot: empty id: 0");
	is_int(cloudwatch_slot_ms("i-1", 0, 1, 0), 0, "slot: no interval: 0");

	/* The rank: the centre of its slot of n. */
	is_int(cloudwatch_slot_ms("i-1", 0, 1, 60000), 30000,
	    "slot: alone in the group: mid-interval");
	is_int(cloudwatch_slot_ms("i-1", 0, 200, 60000), 150,
	    "slot: rank 0 of 200: 150 ms");
	is_int(cloudwatch_slot_ms("i-1", 17, 200, 60000), 5250,
	    "slot: rank 17 of 200: 5.25 s");
	is_int(cloudwatch_slot_ms("i-1", 199, 200, 60000), 59850,
	    "slot: rank 199 of 200: 59.85 s");
	is_int(cloudwatch_slot_ms(NULL, 3, 4, 60000), 52500,
	    "slot: the id does not matter once ranked");
	is_int(cloudwatch_slot_ms("i-1", 99999, 100000, 86400000), 86399568,
	    "slot: a day, 100000 instances: no overflow, in range");

	/* For every group size up to 2000: distinct, increasing, inside the
	 * interval, and no 1-s bucket of the minute holds more than
	 * floor(n / 60) + 1 flushes (peak <= 2 x mean from n = 60 on). */
	for (int n = 1; n <= 2000; n++) {
		int bucket[60] = {0}, peak = 0;

		prev = -1;
		for (int r = 0; r < n; r++) {
			int64_t off = cloudwatch_slot_ms("x", r, n, 60000);

			if (off <= prev)
				all_ok = false;
			if (off < 0 || off >= 60000)
				in_range = false;
			else if (++bucket[off / 1000] > peak)
				peak = bucket[off / 1000];
			prev = off;
		}
		if (peak > n / 60 + 1) {
			spread_ok = false;
			printf("# n = %d: peak %d\n", n, peak);
		}
		if (n == 200)
			is_int(peak, 4,
			    "slot: 200 of 60 s: peak 4 per second "
			    "(mean 3.33)");
	}
	ok(all_ok, "slot: distinct and increasing by rank, n = 1..2000");
	ok(in_range, "slot: always inside the interval");
	ok(spread_ok, "slot: peak 1-s bucket <= floor(n / 60) + 1");
}

static void
test_module(void)
{
	struct ev *ev = ev_new();
	struct conf c;
	struct cloudwatch *cw;
	struct sample s = mk_sample(5, 6, 7, 8);
	json_object *o = json_object_new_object(), *cwo, *v;

	conf_init(&c, 0);
	cw = cloudwatch_new(ev, NULL, &c);
	cloudwatch_observe(cw, &s, NULL, W0);
	cloudwatch_observe(cw, &s, NULL, W0 + 60000);
	cloudwatch_flush(cw);
	cloudwatch_status(cw, o);
	printf("# %s\n", json_object_to_json_string(o));
	ok(json_object_object_get_ex(o, "cloudwatch", &cwo),
	    "status: cloudwatch object");
	ok(json_object_object_get_ex(cwo, "queued", &v) &&
	        json_object_get_int(v) == 10,
	    "status: 2 periods x 5 series queued");
	ok(json_object_object_get_ex(cwo, "waiting", &v) &&
	        strcmp(json_object_get_string(v), "no AWS client") == 0,
	    "status: says why nothing is sent");
	ok(json_object_object_get_ex(cwo, "namespace", &v) &&
	        strcmp(json_object_get_string(v), "HealthAgent") == 0,
	    "status: namespace");
	ok(json_object_object_get_ex(cwo, "dropped", &v) &&
	        json_object_get_int(v) == 0,
	    "status: dropped 0");
	ok(json_object_object_get_ex(cwo, "next_flush_in_ms", &v) &&
	        json_object_get_int64(v) > 0 &&
	        json_object_get_int64(v) <= 60000,
	    "status: next flush within the interval");
	ok(json_object_object_get_ex(cwo, "last_success", &v) && v == NULL,
	    "status: no success yet");
	ok(json_object_object_get_ex(cwo, "requests_ok", &v),
	    "status: requests_ok");

	c.cw_interval = 30;
	cloudwatch_reconfigure(cw, &c);
	json_object_put(o);
	o = json_object_new_object();
	cloudwatch_status(cw, o);
	json_object_object_get_ex(o, "cloudwatch", &cwo);
	ok(json_object_object_get_ex(cwo, "queued", &v) &&
	        json_object_get_int(v) == 10,
	    "reload: queue kept");
	ok(json_object_object_get_ex(cwo, "interval_s", &v) &&
	        json_object_get_double(v) == 30,
	    "reload: new interval");

	/* The flush slot: none before the id, the hash, then a rank. */
	json_object_put(o);
	o = json_object_new_object();
	cloudwatch_status(cw, o);
	json_object_object_get_ex(o, "cloudwatch", &cwo);
	ok(json_object_object_get_ex(cwo, "flush_slot", &v) && v == NULL,
	    "slot: none before the instance id");
	cloudwatch_set_slot(cw, 17, 200); /* kept for when the id comes */
	cloudwatch_set_identity(cw, "i-0abc", NULL);
	json_object_put(o);
	o = json_object_new_object();
	cloudwatch_status(cw, o);
	json_object_object_get_ex(o, "cloudwatch", &cwo);
	ok(json_object_object_get_ex(cwo, "flush_slot", &v) &&
	        strcmp(json_object_get_string(v), "instance-id hash") == 0,
	    "slot: a new id starts on the hash");
	ok(json_object_object_get_ex(cwo, "flush_offset_s", &v) &&
	        json_object_get_double(v) ==
	            (double)(ref_fnv1a("i-0abc") % 30000) / 1000,
	    "slot: the hash offset in the 30 s interval");
	cloudwatch_set_slot(cw, 17, 200);
	cloudwatch_set_identity(cw, "i-0abc", "web"); /* the group came */
	json_object_put(o);
	o = json_object_new_object();
	cloudwatch_status(cw, o);
	printf("# %s\n", json_object_to_json_string(o));
	json_object_object_get_ex(o, "cloudwatch", &cwo);
	ok(json_object_object_get_ex(cwo, "flush_slot", &v) &&
	        strcmp(json_object_get_string(v), "group rank 18/200") == 0,
	    "slot: shown as group rank 18/200 (1-based)");
	ok(json_object_object_get_ex(cwo, "flush_offset_s", &v) &&
	        json_object_get_double(v) == 2.625,
	    "slot: rank 17 of 200 in 30 s is +2.625 s");
	ok(json_object_object_get_ex(cwo, "flush_rank", &v) &&
	        json_object_get_int(v) == 18 &&
	        json_object_object_get_ex(cwo, "flush_group_size", &v) &&
	        json_object_get_int(v) == 200,
	    "slot: rank and group size");
	ok(json_object_object_get_ex(cwo, "next_flush_in_ms", &v) &&
	        json_object_get_int64(v) > 0 &&
	        json_object_get_int64(v) <= 30000,
	    "slot: the next flush still within one interval");
	cloudwatch_set_slot(cw, 5, 5); /* not listed: back to the hash */
	json_object_put(o);
	o = json_object_new_object();
	cloudwatch_status(cw, o);
	json_object_object_get_ex(o, "cloudwatch", &cwo);
	ok(json_object_object_get_ex(cwo, "flush_slot", &v) &&
	        strcmp(json_object_get_string(v), "instance-id hash") == 0 &&
	        json_object_object_get_ex(cwo, "flush_rank", &v) && v == NULL,
	    "slot: an impossible rank falls back to the hash");
	ok(json_object_object_get_ex(cwo, "queued", &v) &&
	        json_object_get_int(v) == 10,
	    "slot: moving the slot leaves the queue alone");

	c.cw_enabled = false;
	cloudwatch_reconfigure(cw, &c);
	cloudwatch_observe(cw, &s, NULL, W0 + 120000);
	json_object_put(o);
	o = json_object_new_object();
	cloudwatch_status(cw, o);
	json_object_object_get_ex(o, "cloudwatch", &cwo);
	ok(json_object_object_get_ex(cwo, "enabled", &v) &&
	        !json_object_get_boolean(v),
	    "disabled: reported");
	ok(json_object_object_get_ex(cwo, "queued", &v) &&
	        json_object_get_int(v) == 10,
	    "disabled: queue kept, nothing folded");
	json_object_put(o);
	cloudwatch_free(cw);
	ev_free(ev);
}

int
main(void)
{
	test_stat();
	test_fmt();
	test_locale();
	test_period_rejected();
	test_fold_and_form();
	test_only_group();
	test_drain_close();
	test_metric_selection();
	test_split();
	test_queue();
	test_expired();
	test_bisect();
	test_estimate();
	test_slot();
	test_module();
	return done_testing();
}
