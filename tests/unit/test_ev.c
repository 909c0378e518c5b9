/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the event loop: timer order, re-arming from a callback,
 * deleting objects from inside callbacks, and fd readiness.
 */
#include "config.h"

#include <unistd.h>

#include "ev.h"
#include "tap.h"

static struct ev *loop;
static char order[16];
static size_t norder;

static void
mark_cb(void *arg)
{
	order[norder++] = *(const char *)arg;
	if (norder == 3)
		ev_stop(loop);
}

static struct ev_timer *rearm_t;
static int rearm_count, rearm_seen_by_other = -1;

static void
rearm_cb(void *arg)
{
	/* A 0-delay re-arm must not run again in the same turn. */
	if (++rearm_count < 100)
		ev_timer_arm(rearm_t, 0);
}

static void
other_cb(void *arg)
{
	rearm_seen_by_other = rearm_count;
	ev_stop(loop);
}

static struct ev_timer *victim, *killer;
static int victim_ran;

static void
victim_cb(void *arg)
{
	victim_ran++;
}

static void
killer_cb(void *arg)
{
	ev_timer_free(victim);
	ev_timer_free(killer);
}

static void
stop_cb(void *arg)
{
	ev_stop(loop);
}

static int io_events;
static struct ev_io *io_a, *io_b;

static void
io_cb(int fd, unsigned events, void *arg)
{
	char c;

	io_events++;
	if (read(fd, &c, 1) != 1)
		return;
	/* Delete both watchers; the other one is ready in this turn too. */
	ev_io_del(io_a);
	ev_io_del(io_b);
	ev_stop(loop);
}

int
main(void)
{
	static const char a = 'a', b = 'b', c = 'c';
	struct ev_timer *t1, *t2, *t3, *other, *s;
	int p1[2], p2[2];

	loop = ev_new();
	ok(loop != NULL, "ev_new");

	t1 = ev_timer_new(loop, mark_cb, (void *)&c);
	t2 = ev_timer_new(loop, mark_cb, (void *)&a);
	t3 = ev_timer_new(loop, mark_cb, (void *)&b);
	ev_timer_arm(t1, 30);
	ev_timer_arm(t2, 0);
	ev_timer_arm(t3, 10);
	ok(ev_timer_armed(t1), "an armed timer reports armed");
	ev_run(loop);
	order[norder] = '\0';
	is_str(order, "abc", "timers fire in deadline order");
	ok(!ev_timer_armed(t1), "a fired timer is disarmed");

	rearm_t = ev_timer_new(loop, rearm_cb, NULL);
	other = ev_timer_new(loop, other_cb, NULL);
	ev_timer_arm(rearm_t, 0);
	ev_timer_arm(other, 0);
	ev_run(loop);
	ok(rearm_seen_by_other >= 1 && rearm_seen_by_other < 100,
	    "a timer re-armed at 0 does not starve others (ran %d times)",
	    rearm_seen_by_other);

	victim = ev_timer_new(loop, victim_cb, NULL);
	killer = ev_timer_new(loop, killer_cb, NULL);
	s = ev_timer_new(loop, stop_cb, NULL);
	ev_timer_arm(killer, 0);
	ev_timer_arm(victim, 0);
	ev_timer_arm(s, 20);
	ev_run(loop);
	is_int(victim_ran, 0,
	    "a due timer freed by an earlier callback of the turn does not "
	    "run");

	if (pipe(p1) != 0 || pipe(p2) != 0)
		return 1;
	io_a = ev_io_add(loop, p1[0], EV_READ, io_cb, NULL);
	io_b = ev_io_add(loop, p2[0], EV_READ, io_cb, NULL);
	ok(io_a != NULL && io_b != NULL, "io watchers added");
	if (write(p1[1], "x", 1) != 1 || write(p2[1], "y", 1) != 1)
		return 1;
	ev_run(loop);
	is_int(io_events, 1,
	    "a watcher deleted in another's callback is not called");
	ok(ev_turns(loop) > 0, "turns are counted");

	ev_timer_free(t1);
	ev_timer_free(t2);
	ev_timer_free(t3);
	ev_timer_free(rearm_t);
	ev_timer_free(other);
	ev_timer_free(s);
	ev_free(loop);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
	return done_testing();
}
