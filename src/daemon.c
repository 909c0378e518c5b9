/* SPDX-License-Identifier: ISC */
/*
 * The daemon's lifecycle. Start-up loads and validates the config, binds
 * the endpoint and the control socket, and only then says READY=1. The loop
 * samples the system, runs the checks, answers requests and pings the
 * watchdog. SIGHUP reloads by parse -> validate -> swap, keeping the old
 * config on any error; SIGTERM turns the endpoint to 503 for drain_seconds,
 * then exits 0.
 */
#include "config.h"

#include <sys/signalfd.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "check_exec.h"
#include "cloud.h"
#include "ctl.h"
#include "daemon.h"
#include "ev.h"
#include "health.h"
#include "healthagent.h"
#include "httpc.h"
#include "httpd.h"
#include "lifecycle.h"
#include "log.h"
#include "sample.h"
#include "sdnotify.h"
#include "status.h"
#include "sysstat.h"
#include "xmalloc.h"

struct daemon {
	const struct daemon_opts *opts;
	struct ev *ev;
	struct conf *conf;
	struct health *health;
	struct checks *checks;
	struct httpc *httpc;
	struct cloud *cloud;
	struct httpd *httpd;
	struct ctl *ctl;
	struct sysstat *sysstat;
	struct sampler *sampler;
	struct sample sample;
	struct ev_timer *sample_t, *watchdog_t, *drain_t;
	struct ev_io *sig_io;
	int sigfd;
	mono_ms started;
	uint64_t watchdog_usec;
	uint64_t watchdog_turns;
	bool stopping;
	mono_ms exit_by; /* the final publish waits until then */
	int exit_code;
	unsigned long reloads, reload_failures;
	char *last_reload_error;
};

static void
sd_status(struct daemon *d)
{
	char msg[600];

	snprintf(msg, sizeof(msg), "STATUS=%s: %s",
	    health_state_names[health_state(d->health)], health_why(d->health));
	sdnotify(msg);
}

static void
transition_cb(const struct health *h, int check, int from, int to, void *arg)
{
	struct daemon *d = arg;

	if (check >= 0) {
		struct health_check_view v;
		enum log_level lvl =
		    to == HEALTH_C_DOWN ? LOG_LEVEL_WARNING : LOG_LEVEL_NOTICE;

		health_check(h, (size_t)check, &v);
		log_msg(lvl, "check %s: %s -> %s (%s%s%s)", v.name,
		    health_cstate_names[from], health_cstate_names[to],
		    health_reason_names[v.last.reason],
		    v.last.detail[0] ? ": " : "", v.last.detail);
		return;
	}
	log_msg(health_state_ok((enum health_state)to) ? LOG_LEVEL_NOTICE
	                                               : LOG_LEVEL_WARNING,
	    "state %s -> %s: %s", health_state_names[from],
	    health_state_names[to], health_why(h));
	sd_status(d);
	/* Self-eviction starts from the verdict, not from the next tick. */
	if (h == d->health)
		cloud_health_changed(d->cloud, h, util_now_ms());
}

static void
fill_src(struct daemon *d, struct status_src *s, struct httpd_stats *hs)
{
	memset(s, 0, sizeof(*s));
	s->health = d->health;
	s->conf = d->conf;
	s->sample = &d->sample;
	if (d->httpd != NULL) {
		httpd_stats(d->httpd, hs);
		s->http = hs;
	}
	s->backend = sysstat_backend_names[sysstat_backend(d->sysstat)];
	s->now = util_now_ms();
	s->wall_now_ms = util_wall_ms();
	s->daemon_started = d->started;
	s->reloads = d->reloads;
	s->reload_failures = d->reload_failures;
	s->last_reload_error = d->last_reload_error;
	s->cloud = d->cloud;
}

static bool
path_is(const struct http_request *req, const char *path)
{
	return req->path.len == strlen(path) &&
	    memcmp(req->path.p, path, req->path.len) == 0;
}

/* The endpoint's router. It only reads cached state: no check runs here. */
static void
http_handler(const struct http_request *req, const struct sockaddr *peer,
    struct httpd_resp *resp, void *arg)
{
	struct daemon *d = arg;
	struct status_src src;
	struct httpd_stats hs;

	fill_src(d, &src, &hs);
	if (path_is(req, d->conf->health_path)) {
		resp->status =
		    health_state_ok(health_state(d->health)) ? 200 : 503;
		if (d->conf->health_verbose)
			resp->body = status_health_body(&src, &resp->body_len);
		else
			resp->static_body =
			    status_health_brief(health_state(d->health),
			        &resp->body_len);
		return;
	}
	if (path_is(req, "/status") || path_is(req, "/metrics")) {
		if (!conf_status_allowed(d->conf, peer)) {
			resp->status = 403;
			resp->body = xstrdup(
			    "{\"error\":\"forbidden: see status_allow\"}\n");
			resp->body_len = strlen(resp->body);
			return;
		}
		resp->status = 200;
		if (path_is(req, "/status")) {
			resp->body = status_json(&src, &resp->body_len);
		} else {
			resp->content_type = "text/plain; version=0.0.4";
			resp->body = status_metrics(&src, &resp->body_len);
		}
		return;
	}
	resp->status = 404;
	resp->body = xstrdup("{\"error\":\"not found\"}\n");
	resp->body_len = strlen(resp->body);
}

/* lifecycle.c (through cloud.c) drains on a termination signal or by
 * hand, and undrains. */
static void
lc_set_draining(bool on, const char *why, void *arg)
{
	struct daemon *d = arg;

	if (d->health == NULL || (d->stopping && !on))
		return;
	health_set_draining(d->health, on, why, util_now_ms());
	/* Send what is queued while the endpoint drains. */
	if (on)
		cloud_flush(d->cloud);
}

static void
control_handler(const char *cmd, char **reply, void *arg)
{
	struct daemon *d = arg;
	struct status_src src;
	struct httpd_stats hs;

	if (strcmp(cmd, "drain") == 0 || strcmp(cmd, "undrain") == 0) {
		bool on = cmd[0] == 'd';
		char err[400];

		if (d->stopping && !on) {
			*reply = xstrdup("{\"ok\":false,\"error\":\"the agent "
			                 "is shutting down\"}\n");
			return;
		}
		log_notice("%s requested over the control socket", cmd);
		if (on) {
			lifecycle_drain(cloud_lifecycle(d->cloud),
			    "operator request");
		} else if (lifecycle_undrain(cloud_lifecycle(d->cloud), err,
		               sizeof(err)) < 0) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "ok",
			    json_object_new_boolean(false));
			json_object_object_add(o, "error",
			    json_object_new_string(err));
			*reply = xasprintf("%s\n",
			    json_object_to_json_string_ext(o,
			        JSON_C_TO_STRING_PLAIN));
			json_object_put(o);
			return;
		}
	} else if (strcmp(cmd, "reload") == 0) {
		/* ctl.c has checked the peer. The signalfd picks this up at
		 * the next loop turn, so the reload does not run under the
		 * control client (it may replace the socket). */
		log_notice("reload requested over the control socket");
		kill(getpid(), SIGHUP);
		*reply = xstrdup("{\"ok\":true,\"reload\":\"requested\"}\n");
		return;
	} else if (strcmp(cmd, "status") != 0) {
		*reply = xasprintf("{\"ok\":false,\"error\":\"unknown command; "
		                   "try status, drain, undrain or reload\"}\n");
		return;
	}
	fill_src(d, &src, &hs);
	*reply = status_json(&src, NULL);
}

static void
sample_cb(void *arg)
{
	struct daemon *d = arg;
	mono_ms now;

	/* The sampler logs which part failed, once per failure episode. */
	sampler_read(d->sampler, &d->sample, util_now_ms());
	now = util_now_ms();
	health_tick(d->health, now);
	cloud_tick(d->cloud, &d->sample, d->health, now, util_wall_ms());
	ev_timer_arm(d->sample_t, util_sec_to_ms(d->conf->sample_interval));
}

static void
watchdog_cb(void *arg)
{
	struct daemon *d = arg;

	/* This runs from the loop itself, so a wedged loop stops the pings
	 * and systemd restarts the agent. */
	if (ev_turns(d->ev) != d->watchdog_turns)
		sdnotify("WATCHDOG=1");
	d->watchdog_turns = ev_turns(d->ev);
	ev_timer_arm(d->watchdog_t, d->watchdog_usec / 2000);
}

/* Longest wait at exit for the last metrics and messages to be sent. */
#define EXIT_FLUSH_MAX_MS 10000

/* The drain is over. Publish everything, the period still open included,
 * and wait a bounded time (aws.timeout, at most 10 s) for it: what the
 * agent queued is not dropped at exit while the endpoint answers. */
static void
drain_done_cb(void *arg)
{
	struct daemon *d = arg;
	mono_ms now = util_now_ms();
	size_t left;

	if (d->exit_by == 0) {
		mono_ms wait = util_sec_to_ms(d->conf->aws_timeout);

		/* No new samples: nothing may open a period after this. */
		ev_timer_disarm(d->sample_t);
		cloud_flush(d->cloud);
		d->exit_by =
		    now + (wait < EXIT_FLUSH_MAX_MS ? wait : EXIT_FLUSH_MAX_MS);
	}
	left = cloud_pending(d->cloud);
	if (left == 0) {
		log_notice("drain finished; exiting");
		ev_stop(d->ev);
	} else if (now >= d->exit_by) {
		log_warn("drain finished; exiting with %zu metric entries or "
		         "messages still unsent",
		    left);
		ev_stop(d->ev);
	} else {
		ev_timer_arm(d->drain_t, 50);
	}
}

static struct httpd_limits
limits_of(const struct conf *c)
{
	struct httpd_limits lim = {
	    .max_connections = c->max_connections,
	    .header_timeout = util_sec_to_ms(c->header_timeout),
	    .idle_timeout = util_sec_to_ms(c->idle_timeout),
	    .max_request_size = (size_t)c->max_request_size,
	};

	return lim;
}

static bool
same_addr(const struct conf *a, const struct conf *b)
{
	return a->listen_addrlen == b->listen_addrlen &&
	    memcmp(&a->listen_addr, &b->listen_addr, a->listen_addrlen) == 0;
}

static struct health *
health_for(const struct conf *c, mono_ms now)
{
	return health_new(now, util_sec_to_ms(c->start_grace));
}

static struct checks *
checks_for(struct daemon *d, const struct conf *c, struct health *h)
{
	struct check_env env = {
	    .ev = d->ev,
	    .httpc = d->httpc,
	    .sysstat = d->sysstat,
	    .sample = &d->sample,
	    .health = h,
	};

	return checks_new(c, &env);
}

static void
log_conf_errors(const struct conf_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		log_err("%s", errs->msgs[i]);
}

static void
reload(struct daemon *d)
{
	struct conf_errors errs = {0};
	struct conf *nc;
	struct health *nh;
	struct checks *ncs;
	struct httpd *nd = NULL;
	struct ctl *nctl = NULL;
	struct httpd_limits lim;
	char err[256];
	mono_ms now = util_now_ms();

	sdnotify("RELOADING=1");
	log_notice("reloading %s", d->opts->conf_path);
	nc = conf_load(d->opts->conf_path, &errs);
	if (nc == NULL) {
		log_conf_errors(&errs);
		free(d->last_reload_error);
		d->last_reload_error =
		    xstrdup(errs.n ? errs.msgs[0] : "unknown error");
		log_err("reload failed (%zu error%s); keeping the running "
		        "configuration",
		    errs.n, errs.n == 1 ? "" : "s");
		conf_errors_free(&errs);
		d->reload_failures++;
		goto out;
	}
	if (!same_addr(nc, d->conf)) {
		int fd = httpd_listen((struct sockaddr *)&nc->listen_addr,
		    nc->listen_addrlen, err, sizeof(err));

		if (fd < 0) {
			log_err("reload failed: %s; keeping the running "
			        "configuration",
			    err);
			free(d->last_reload_error);
			d->last_reload_error = xstrdup(err);
			d->reload_failures++;
			conf_free(nc);
			goto out;
		}
		lim = limits_of(nc);
		nd = httpd_new(d->ev, fd, &lim, http_handler, d);
	}
	if (strcmp(nc->socket_path, d->conf->socket_path) != 0 ||
	    nc->socket_mode != d->conf->socket_mode ||
	    strcmp(nc->socket_group, d->conf->socket_group) != 0) {
		/* The old socket must go first: ctl_new refuses a path that a
		 * live daemon (this one) still answers on. */
		ctl_free(d->ctl);
		d->ctl = NULL;
		nctl = ctl_new(d->ev, nc->socket_path, nc->socket_mode,
		    nc->socket_group, control_handler, d);
		if (nctl == NULL)
			log_err("control socket %s unavailable after reload",
			    nc->socket_path);
	}

	nh = health_for(nc, now);
	health_on_transition(nh, transition_cb, d);
	ncs = checks_for(d, nc, nh);
	health_adopt(nh, d->health);

	checks_free(d->checks);
	health_free(d->health);
	d->checks = ncs;
	d->health = nh;
	cloud_set_health(d->cloud, nh);
	if (nd != NULL) {
		httpd_free(d->httpd);
		d->httpd = nd;
	}
	lim = limits_of(nc);
	httpd_set_limits(d->httpd, &lim);
	if (nctl != NULL || d->ctl == NULL)
		d->ctl = nctl;
	if (d->opts->log_level < 0)
		log_set_level((enum log_level)nc->log_level);
	cloud_reconfigure(d->cloud, nc);
	conf_free(d->conf);
	d->conf = nc;
	free(d->last_reload_error);
	d->last_reload_error = NULL;
	d->reloads++;
	checks_start(d->checks);
	health_tick(d->health, util_now_ms());
	log_notice("reloaded: %zu checks, listening on %s", nc->n_checks,
	    nc->listen);
out:
	sdnotify("READY=1");
	sd_status(d);
}

static void
begin_shutdown(struct daemon *d, const char *why)
{
	mono_ms drain = util_sec_to_ms(d->conf->drain_seconds);

	if (d->stopping) {
		log_notice("%s again: exiting now", why);
		ev_stop(d->ev);
		return;
	}
	d->stopping = true;
	sdnotify("STOPPING=1");
	if (health_state(d->health) == HEALTH_DRAINING) {
		/* A drain (by hand, a lifecycle hook or a Spot notice) has
		 * already taken the instance out of the load balancer. */
		log_notice("%s while drained: exiting without another wait",
		    why);
		drain = 0;
	}
	health_set_draining(d->health, true, why, util_now_ms());
	/* Send what is queued while the endpoint drains. */
	cloud_flush(d->cloud);
	log_notice("%s: draining for %llu ms, then exiting", why,
	    (unsigned long long)drain);
	ev_timer_arm(d->drain_t, drain);
}

static void
signal_cb(int fd, unsigned events, void *arg)
{
	struct daemon *d = arg;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			if (d->stopping)
				log_notice(
				    "SIGHUP ignored while shutting down");
			else
				reload(d);
			break;
		case SIGTERM:
			begin_shutdown(d, "SIGTERM");
			break;
		case SIGINT:
			begin_shutdown(d, "SIGINT");
			break;
		case SIGUSR1:
			log_set_level(log_get_level() == LOG_LEVEL_DEBUG
			        ? (enum log_level)d->conf->log_level
			        : LOG_LEVEL_DEBUG);
			log_notice("log level now %s",
			    log_get_level() == LOG_LEVEL_DEBUG ? "debug"
			                                       : "configured");
			break;
		default:
			break;
		}
	}
}

static int
setup_signals(struct daemon *d)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sigfd < 0)
		return -1;
	d->sig_io = ev_io_add(d->ev, d->sigfd, EV_READ, signal_cb, d);
	return d->sig_io == NULL ? -1 : 0;
}

static void
teardown(struct daemon *d)
{
	ev_timer_free(d->sample_t);
	ev_timer_free(d->watchdog_t);
	ev_timer_free(d->drain_t);
	checks_free(d->checks);
	check_exec_reap_all();
	httpd_free(d->httpd);
	ctl_free(d->ctl);
	cloud_free(d->cloud);
	httpc_free(d->httpc);
	health_free(d->health);
	sampler_free(d->sampler);
	sysstat_free(d->sysstat);
	ev_io_del(d->sig_io);
	if (d->sigfd >= 0)
		close(d->sigfd);
	conf_free(d->conf);
	free(d->last_reload_error);
	ev_free(d->ev);
}

int
daemon_run(const struct daemon_opts *o)
{
	struct daemon d;
	struct conf_errors errs = {0};
	struct httpd_limits lim;
	char err[256];
	int fd;

	memset(&d, 0, sizeof(d));
	d.opts = o;
	d.sigfd = -1;
	d.started = util_now_ms();
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());

	d.conf = conf_load(o->conf_path, &errs);
	if (d.conf == NULL) {
		log_conf_errors(&errs);
		log_err("%s: %zu error%s; not starting", o->conf_path, errs.n,
		    errs.n == 1 ? "" : "s");
		conf_errors_free(&errs);
		return 1;
	}
	if (o->log_level < 0)
		log_set_level((enum log_level)d.conf->log_level);
	d.ev = ev_new();
	if (d.ev == NULL || setup_signals(&d) < 0) {
		log_err("cannot set up the event loop: %s", strerror(errno));
		teardown(&d);
		return 1;
	}
	d.sysstat = sysstat_new();
	if (d.sysstat == NULL) {
		log_err("cannot open /proc: %s", strerror(errno));
		teardown(&d);
		return 1;
	}
	d.sampler = sampler_new(d.sysstat, d.conf->disk_path);
	d.httpc = httpc_new(d.ev);
	{
		const struct lifecycle_hooks lh = {
		    .set_draining = lc_set_draining,
		    .arg = &d,
		};

		d.cloud = cloud_new(d.ev, d.httpc, d.conf, &lh);
	}
	fd = httpd_listen((struct sockaddr *)&d.conf->listen_addr,
	    d.conf->listen_addrlen, err, sizeof(err));
	if (fd < 0) {
		log_err("%s", err);
		teardown(&d);
		return 1;
	}
	lim = limits_of(d.conf);
	d.httpd = httpd_new(d.ev, fd, &lim, http_handler, &d);
	d.ctl = ctl_new(d.ev, d.conf->socket_path, d.conf->socket_mode,
	    d.conf->socket_group, control_handler, &d);
	if (d.ctl == NULL) {
		teardown(&d);
		return 1;
	}

	d.health = health_for(d.conf, d.started);
	health_on_transition(d.health, transition_cb, &d);
	d.checks = checks_for(&d, d.conf, d.health);
	checks_start(d.checks);

	d.sample_t = ev_timer_new(d.ev, sample_cb, &d);
	ev_timer_arm(d.sample_t, 0);
	d.drain_t = ev_timer_new(d.ev, drain_done_cb, &d);
	d.watchdog_usec = sdnotify_watchdog_usec();
	d.watchdog_t = ev_timer_new(d.ev, watchdog_cb, &d);
	if (d.watchdog_usec > 0)
		ev_timer_arm(d.watchdog_t, d.watchdog_usec / 2000);

	log_notice("healthagent %s started: %zu checks, endpoint %s%s, "
	           "control %s, sampling via %s",
	    HEALTHAGENT_VERSION, d.conf->n_checks, d.conf->listen,
	    d.conf->health_path, d.conf->socket_path,
	    sysstat_backend_names[sysstat_backend(d.sysstat)]);
	sdnotify("READY=1");
	sd_status(&d);

	if (ev_run(d.ev) < 0)
		d.exit_code = 1;
	log_notice("stopped");
	teardown(&d);
	return d.exit_code;
}
