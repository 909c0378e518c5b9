/* SPDX-License-Identifier: ISC */
/*
 * Renderings of the daemon's state, built from plain values: the small
 * /health body, the full /status document (also the control socket's
 * reply), and /metrics in the Prometheus text format. JSON through json-c.
 */
#ifndef STATUS_H
#define STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "cloud.h"
#include "conf.h"
#include "health.h"
#include "httpd.h"
#include "sample.h"

/* Everything a rendering may look at. */
struct status_src {
	const struct health *health;
	const struct conf *conf; /* checks[i] matches health check i */
	const struct sample *sample;
	const struct httpd_stats *http;
	const char *backend; /* sampling backend name */
	mono_ms now;
	int64_t wall_now_ms;
	mono_ms daemon_started; /* monotonic time the daemon started */
	unsigned long reloads, reload_failures;
	const char *last_reload_error; /* NULL if none */
	const struct cloud *cloud;     /* the AWS side, or NULL */
};

/* The /health body: state, reason, and the failing checks. */
char *status_health_body(const struct status_src *s, size_t *len);
/* The /health body that reveals nothing but the verdict, e.g.
 * {"status":"healthy"}: a static string, for health.verbose = false. */
const char *status_health_brief(enum health_state st, size_t *len);
/* The full status document. */
char *status_json(const struct status_src *s, size_t *len);
/* Prometheus text exposition format 0.0.4. */
char *status_metrics(const struct status_src *s, size_t *len);

#endif
