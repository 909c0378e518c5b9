/* SPDX-License-Identifier: ISC */
/*
 * Render the daemon's state for readers: the load balancer (/health), the
 * operator (/status and the control socket, formatted by the CLI) and a
 * scraper (/metrics). Times are given as ages in milliseconds, which need
 * no clock agreement between the daemon and the reader.
 */
#include "config.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "healthagent.h"
#include "jsonw.h"
#include "status.h"
#include "xmalloc.h"

static char *
finish(json_object *o, size_t *len)
{
	const char *txt = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *out = xasprintf("%s\n", txt);

	json_object_put(o);
	if (len != NULL)
		*len = strlen(out);
	return out;
}

static int64_t
age(const struct status_src *s, mono_ms t)
{
	return t == 0 || t > s->now ? -1 : (int64_t)(s->now - t);
}

static json_object *
check_json(const struct status_src *s, size_t i, bool brief)
{
	struct health_check_view v;
	const struct conf_check *cc = &s->conf->checks[i];
	json_object *o = json_object_new_object();

	health_check(s->health, i, &v);
	jsonw_str(o, "name", v.name);
	if (!brief) {
		jsonw_str(o, "type", conf_check_type_names[cc->type]);
		jsonw_str(o, "scope", conf_scope_names[cc->scope]);
	}
	jsonw_str(o, "state", health_cstate_names[v.state]);
	jsonw_str(o, "reason", health_reason_names[v.last.reason]);
	jsonw_str(o, "detail", v.last.detail);
	if (brief)
		return o;
	if (v.last.latency_ms >= 0)
		jsonw_dbl(o, "latency_ms", v.last.latency_ms);
	else
		json_object_object_add(o, "latency_ms", NULL);
	jsonw_int(o, "last_result_age_ms", age(s, v.last_at));
	jsonw_int(o, "last_change_age_ms", age(s, v.changed_at));
	jsonw_int(o, "consecutive_ok", v.consecutive_ok);
	jsonw_int(o, "consecutive_fail", v.consecutive_fail);
	jsonw_int(o, "runs", (int64_t)v.runs);
	jsonw_int(o, "failures", (int64_t)v.failures);
	jsonw_int(o, "transitions", (int64_t)v.transitions);
	jsonw_dbl(o, "interval_s", cc->interval);
	jsonw_dbl(o, "timeout_s", cc->timeout);
	jsonw_int(o, "rise", cc->rise);
	jsonw_int(o, "fall", cc->fall);
	return o;
}

char *
status_health_body(const struct status_src *s, size_t *len)
{
	json_object *o = json_object_new_object();
	json_object *failing = json_object_new_array();
	enum health_state st = health_state(s->health);

	jsonw_str(o, "status", health_state_names[st]);
	jsonw_str(o, "reason", health_why(s->health));
	for (size_t i = 0; i < health_count(s->health); i++) {
		struct health_check_view v;

		health_check(s->health, i, &v);
		if (v.state == HEALTH_C_DOWN)
			json_object_array_add(failing, check_json(s, i, true));
	}
	json_object_object_add(o, "failing", failing);
	return finish(o, len);
}

const char *
status_health_brief(enum health_state st, size_t *len)
{
	/* Built once per state; the names are static. */
	static char bodies[HEALTH_STATE_MAX][48];
	static size_t lens[HEALTH_STATE_MAX];

	if ((unsigned)st >= HEALTH_STATE_MAX)
		st = HEALTH_UNHEALTHY;
	if (lens[st] == 0) {
		int n = snprintf(bodies[st], sizeof(bodies[st]),
		    "{\"status\":\"%s\"}\n", health_state_names[st]);

		lens[st] =
		    n > 0 && (size_t)n < sizeof(bodies[st]) ? (size_t)n : 0;
	}
	*len = lens[st];
	return bodies[st];
}

static json_object *
sample_json(const struct sample *sm)
{
	json_object *o = json_object_new_object();
	json_object *load = json_object_new_array();

	json_object_object_add(o, "valid", json_object_new_boolean(sm->valid));
	if (sm->cpu_valid)
		jsonw_dbl(o, "cpu_usage_percent", sm->cpu_pct);
	else
		json_object_object_add(o, "cpu_usage_percent", NULL);
	jsonw_dbl(o, "mem_used_percent", sm->mem_used_pct);
	jsonw_dbl(o, "swap_used_percent", sm->swap_used_pct);
	jsonw_dbl(o, "disk_used_percent", sm->disk_used_pct);
	for (int i = 0; i < 3; i++) {
		char buf[32];

		snprintf(buf, sizeof(buf), "%.2f", sm->load[i]);
		json_object_array_add(load,
		    json_object_new_double_s(sm->load[i], buf));
	}
	json_object_object_add(o, "load", load);
	jsonw_int(o, "mem_total_kb", (int64_t)sm->mem_total_kb);
	jsonw_int(o, "mem_available_kb", (int64_t)sm->mem_available_kb);
	jsonw_int(o, "swap_total_kb", (int64_t)sm->swap_total_kb);
	jsonw_int(o, "disk_total_kb", (int64_t)sm->disk_total_kb);
	jsonw_int(o, "disk_avail_kb", (int64_t)sm->disk_avail_kb);
	jsonw_int(o, "errors", (int64_t)sm->errors);
	return o;
}

char *
status_json(const struct status_src *s, size_t *len)
{
	json_object *o = json_object_new_object();
	json_object *checks = json_object_new_array();
	json_object *http = json_object_new_object();
	json_object *d = json_object_new_object();
	enum health_state st = health_state(s->health);

	jsonw_str(o, "state", health_state_names[st]);
	json_object_object_add(o, "ok",
	    json_object_new_boolean(health_state_ok(st)));
	jsonw_str(o, "reason", health_why(s->health));
	jsonw_int(o, "state_age_ms", age(s, health_state_since(s->health)));

	jsonw_str(d, "version", HEALTHAGENT_VERSION);
	jsonw_int(d, "pid", (int64_t)getpid());
	jsonw_int(d, "uptime_ms", age(s, s->daemon_started));
	jsonw_str(d, "config", s->conf->path);
	jsonw_str(d, "listen", s->conf->listen);
	jsonw_str(d, "health_path", s->conf->health_path);
	jsonw_str(d, "sampling_backend", s->backend);
	jsonw_dbl(d, "start_grace_s", s->conf->start_grace);
	jsonw_int(d, "wall_ms", s->wall_now_ms);
	jsonw_int(d, "reloads", (int64_t)s->reloads);
	jsonw_int(d, "reload_failures", (int64_t)s->reload_failures);
	if (s->last_reload_error != NULL)
		jsonw_str(d, "last_reload_error", s->last_reload_error);
	json_object_object_add(o, "daemon", d);

	for (size_t i = 0; i < health_count(s->health); i++)
		json_object_array_add(checks, check_json(s, i, false));
	json_object_object_add(o, "checks", checks);
	json_object_object_add(o, "sample", sample_json(s->sample));
	if (s->http != NULL) {
		jsonw_int(http, "accepted", (int64_t)s->http->accepted);
		jsonw_int(http, "requests", (int64_t)s->http->requests);
		jsonw_int(http, "rejected", (int64_t)s->http->rejected);
		jsonw_int(http, "evicted", (int64_t)s->http->evicted);
		jsonw_int(http, "errors_4xx", (int64_t)s->http->errors_4xx);
		jsonw_int(http, "timeouts", (int64_t)s->http->timeouts);
		jsonw_int(http, "open", s->http->open);
	}
	json_object_object_add(o, "http", http);
	if (s->cloud != NULL)
		cloud_status(s->cloud, o);
	return finish(o, len);
}

/* A growable text buffer for the metrics page. */
struct text {
	char *p;
	size_t len, cap;
};

static void tprintf(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
tprintf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		t->cap = t->cap * 2 + (size_t)(n > 0 ? n : 0) + 1024;
		t->p = xreallocarray(t->p, t->cap, 1);
	}
}

/* Escape a label value: backslash, double quote and newline. */
static const char *
label(const char *in, char *buf, size_t len)
{
	size_t o = 0;

	for (; *in != '\0' && o + 3 < len; in++) {
		if (*in == '\\' || *in == '"') {
			buf[o++] = '\\';
			buf[o++] = *in;
		} else if (*in == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = *in;
		}
	}
	buf[o] = '\0';
	return buf;
}

static void
gauge(struct text *t, const char *name, const char *help, double v)
{
	tprintf(t,
	    "# HELP healthagent_%s %s\n# TYPE healthagent_%s gauge\n"
	    "healthagent_%s %.6g\n",
	    name, help, name, name, v);
}

static bool
check_up(const struct health_check_view *v, double *out)
{
	*out = v->state == HEALTH_C_UP ? 1 : v->state == HEALTH_C_DOWN ? 0 : -1;
	return true;
}

static bool
check_latency(const struct health_check_view *v, double *out)
{
	*out = v->last.latency_ms;
	return v->last.latency_ms >= 0;
}

static bool
check_runs(const struct health_check_view *v, double *out)
{
	*out = (double)v->runs;
	return true;
}

static bool
check_failures(const struct health_check_view *v, double *out)
{
	*out = (double)v->failures;
	return true;
}

/* The per-check metric families, each one labelled by check and scope. */
static const struct {
	const char *name, *help, *type;
	bool (*value)(const struct health_check_view *v, double *out);
} families[] = {
    {"check_up", "1 up, 0 down, -1 unknown.", "gauge", check_up},
    {"check_latency_ms", "Latency of the last run.", "gauge", check_latency},
    {"check_runs_total", "Results received.", "counter", check_runs},
    {"check_failures_total", "Failed results.", "counter", check_failures},
};

char *
status_metrics(const struct status_src *s, size_t *len)
{
	struct text t = {.p = xmalloc(4096), .len = 0, .cap = 4096};
	enum health_state st = health_state(s->health);
	size_t n = health_count(s->health);
	char lb[256];

	t.p[0] = '\0';
	gauge(&t, "healthy",
	    "1 when the verdict answers 200 (healthy or degraded).",
	    health_state_ok(st) ? 1 : 0);
	tprintf(&t,
	    "# HELP healthagent_state 1 for the current aggregate state.\n"
	    "# TYPE healthagent_state gauge\n");
	for (int i = 0; i < HEALTH_STATE_MAX; i++)
		tprintf(&t, "healthagent_state{state=\"%s\"} %d\n",
		    health_state_names[i], (int)st == i);

	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		tprintf(&t,
		    "# HELP healthagent_%s %s\n# TYPE healthagent_%s %s\n",
		    families[f].name, families[f].help, families[f].name,
		    families[f].type);
		for (size_t i = 0; i < n; i++) {
			struct health_check_view v;
			double val;

			health_check(s->health, i, &v);
			if (!families[f].value(&v, &val))
				continue;
			tprintf(&t,
			    "healthagent_%s{check=\"%s\",scope=\"%s\"} %.15g\n",
			    families[f].name, label(v.name, lb, sizeof(lb)),
			    v.dependency ? "dependency" : "local", val);
		}
	}
	if (s->sample->cpu_valid)
		gauge(&t, "cpu_usage_percent", "CPU busy %, all CPUs.",
		    s->sample->cpu_pct);
	if (s->sample->valid) {
		gauge(&t, "mem_used_percent",
		    "Memory used % (from MemAvailable).",
		    s->sample->mem_used_pct);
		gauge(&t, "swap_used_percent", "Swap used %.",
		    s->sample->swap_used_pct);
		gauge(&t, "disk_used_percent",
		    "Used % of the sampled filesystem.",
		    s->sample->disk_used_pct);
		gauge(&t, "load1", "1-minute load average.",
		    s->sample->load[0]);
		gauge(&t, "load5", "5-minute load average.",
		    s->sample->load[1]);
		gauge(&t, "load15", "15-minute load average.",
		    s->sample->load[2]);
	}
	gauge(&t, "uptime_seconds", "Seconds since the daemon started.",
	    (double)(s->now - s->daemon_started) / 1000.0);
	if (s->http != NULL) {
		tprintf(&t,
		    "# HELP healthagent_http_requests_total Requests "
		    "answered.\n"
		    "# TYPE healthagent_http_requests_total counter\n"
		    "healthagent_http_requests_total %lu\n",
		    s->http->requests);
	}
	if (len != NULL)
		*len = t.len;
	return t.p;
}
