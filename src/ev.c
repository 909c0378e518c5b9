/* SPDX-License-Identifier: ISC */
/*
 * The event loop: epoll for fds and a sorted list of one-shot timers on
 * CLOCK_MONOTONIC. A loop turn waits until the earliest timer, dispatches
 * ready fds, then runs the timers that are due. Objects deleted during a
 * turn are only marked dead and freed at its end, so callbacks may delete
 * anything, including themselves, without use-after-free.
 */
#include "config.h"

#include <sys/epoll.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev.h"
#include "log.h"
#include "xmalloc.h"

#define EV_MAX_EVENTS 64

struct ev_io {
	struct ev *ev;
	int fd;
	unsigned events;
	ev_io_cb cb;
	void *arg;
	bool dead;
	struct ev_io *next_dead;
};

struct ev_timer {
	struct ev *ev;
	mono_ms when;
	bool armed;   /* in the sorted list */
	bool pending; /* popped as due in this turn, not yet run */
	bool dead;
	ev_timer_cb cb;
	void *arg;
	struct ev_timer *prev, *next;
	struct ev_timer *next_dead;
};

struct ev {
	int epfd;
	bool stop;
	mono_ms now;
	uint64_t turns;
	struct ev_timer *timers; /* sorted by when */
	struct ev_io *dead_io;
	struct ev_timer *dead_timers;
	struct ev_timer **due;
	size_t due_cap;
};

struct ev *
ev_new(void)
{
	struct ev *ev = xcalloc(1, sizeof(*ev));

	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ev->epfd < 0) {
		log_err("epoll_create1: %s", strerror(errno));
		free(ev);
		return NULL;
	}
	ev->now = util_now_ms();
	return ev;
}

static void
reap_dead(struct ev *ev)
{
	while (ev->dead_io != NULL) {
		struct ev_io *io = ev->dead_io;

		ev->dead_io = io->next_dead;
		free(io);
	}
	while (ev->dead_timers != NULL) {
		struct ev_timer *t = ev->dead_timers;

		ev->dead_timers = t->next_dead;
		free(t);
	}
}

void
ev_free(struct ev *ev)
{
	if (ev == NULL)
		return;
	/* Timers still armed belong to modules that did not clean up; they
	 * are unlinked here so that nothing dangles. */
	while (ev->timers != NULL)
		ev_timer_disarm(ev->timers);
	reap_dead(ev);
	close(ev->epfd);
	free(ev->due);
	free(ev);
}

mono_ms
ev_now(struct ev *ev)
{
	return ev->now;
}

uint64_t
ev_turns(struct ev *ev)
{
	return ev->turns;
}

void
ev_stop(struct ev *ev)
{
	ev->stop = true;
}

static uint32_t
to_epoll(unsigned events)
{
	uint32_t e = 0;

	if (events & EV_READ)
		e |= EPOLLIN | EPOLLRDHUP;
	if (events & EV_WRITE)
		e |= EPOLLOUT;
	return e;
}

struct ev_io *
ev_io_add(struct ev *ev, int fd, unsigned events, ev_io_cb cb, void *arg)
{
	struct ev_io *io = xcalloc(1, sizeof(*io));
	struct epoll_event ee;

	io->ev = ev;
	io->fd = fd;
	io->events = events;
	io->cb = cb;
	io->arg = arg;
	memset(&ee, 0, sizeof(ee));
	ee.events = to_epoll(events);
	ee.data.ptr = io;
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &ee) < 0) {
		log_err("epoll_ctl add fd %d: %s", fd, strerror(errno));
		free(io);
		return NULL;
	}
	return io;
}

int
ev_io_set(struct ev_io *io, unsigned events)
{
	struct epoll_event ee;

	if (io->events == events)
		return 0;
	memset(&ee, 0, sizeof(ee));
	ee.events = to_epoll(events);
	ee.data.ptr = io;
	if (epoll_ctl(io->ev->epfd, EPOLL_CTL_MOD, io->fd, &ee) < 0) {
		log_err("epoll_ctl mod fd %d: %s", io->fd, strerror(errno));
		return -1;
	}
	io->events = events;
	return 0;
}

void
ev_io_del(struct ev_io *io)
{
	if (io == NULL || io->dead)
		return;
	/* EBADF/ENOENT mean the fd was closed first, which already removed
	 * it from the set. */
	epoll_ctl(io->ev->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->dead = true;
	io->next_dead = io->ev->dead_io;
	io->ev->dead_io = io;
}

struct ev_timer *
ev_timer_new(struct ev *ev, ev_timer_cb cb, void *arg)
{
	struct ev_timer *t = xcalloc(1, sizeof(*t));

	t->ev = ev;
	t->cb = cb;
	t->arg = arg;
	return t;
}

static void
unlink_timer(struct ev_timer *t)
{
	if (!t->armed)
		return;
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		t->ev->timers = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
	t->armed = false;
}

void
ev_timer_arm_at(struct ev_timer *t, mono_ms when)
{
	struct ev_timer *p, *last = NULL;

	if (t->dead)
		return;
	unlink_timer(t);
	t->pending = false;
	t->when = when;
	/* Insert after every timer due at or before `when`, keeping FIFO
	 * order among equal deadlines. */
	for (p = t->ev->timers; p != NULL && p->when <= when; p = p->next)
		last = p;
	t->prev = last;
	t->next = last != NULL ? last->next : t->ev->timers;
	if (t->next != NULL)
		t->next->prev = t;
	if (last != NULL)
		last->next = t;
	else
		t->ev->timers = t;
	t->armed = true;
}

void
ev_timer_arm(struct ev_timer *t, mono_ms delay)
{
	ev_timer_arm_at(t, util_now_ms() + delay);
}

void
ev_timer_disarm(struct ev_timer *t)
{
	unlink_timer(t);
	t->pending = false;
}

bool
ev_timer_armed(const struct ev_timer *t)
{
	return t->armed || t->pending;
}

void
ev_timer_free(struct ev_timer *t)
{
	if (t == NULL || t->dead)
		return;
	ev_timer_disarm(t);
	t->dead = true;
	t->next_dead = t->ev->dead_timers;
	t->ev->dead_timers = t;
}

/* Pop every timer due by now, then run them; a timer re-armed for "now" by
 * its own callback runs in the next turn, so a 0-delay timer cannot starve
 * the fds. */
static void
run_timers(struct ev *ev)
{
	size_t n = 0;

	while (ev->timers != NULL && ev->timers->when <= ev->now) {
		struct ev_timer *t = ev->timers;

		unlink_timer(t);
		t->pending = true;
		if (n == ev->due_cap) {
			ev->due_cap = ev->due_cap ? ev->due_cap * 2 : 16;
			ev->due = xreallocarray(ev->due, ev->due_cap,
			    sizeof(*ev->due));
		}
		ev->due[n++] = t;
	}
	for (size_t i = 0; i < n; i++) {
		struct ev_timer *t = ev->due[i];

		if (t->dead || !t->pending)
			continue;
		t->pending = false;
		t->cb(t->arg);
	}
}

int
ev_run(struct ev *ev)
{
	struct epoll_event evs[EV_MAX_EVENTS];

	ev->stop = false;
	while (!ev->stop) {
		int timeout = -1, n;

		ev->now = util_now_ms();
		if (ev->timers != NULL) {
			mono_ms w = ev->timers->when;

			timeout = w <= ev->now    ? 0
			    : w - ev->now > 60000 ? 60000
			                          : (int)(w - ev->now);
		}
		n = epoll_wait(ev->epfd, evs, EV_MAX_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			return -1;
		}
		ev->now = util_now_ms();
		for (int i = 0; i < n; i++) {
			struct ev_io *io = evs[i].data.ptr;
			unsigned e = 0;

			if (io->dead)
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
				e |= EV_READ;
			if (evs[i].events & EPOLLOUT)
				e |= EV_WRITE;
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				e |= EV_ERROR;
			io->cb(io->fd, e, io->arg);
		}
		run_timers(ev);
		reap_dead(ev);
		ev->turns++;
	}
	return 0;
}
