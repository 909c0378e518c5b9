/* SPDX-License-Identifier: ISC */
/*
 * The event loop: one epoll set and monotonic one-shot timers. Every wait in
 * healthagent is a registration here; nothing else blocks. Objects deleted
 * from inside a callback are freed at the end of the loop turn, so a callback
 * may delete any io or timer, including its own.
 */
#ifndef EV_H
#define EV_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define EV_READ 0x1u
#define EV_WRITE 0x2u
#define EV_ERROR 0x4u /* EPOLLERR or EPOLLHUP; always reported */

struct ev;
struct ev_io;
struct ev_timer;

typedef void (*ev_io_cb)(int fd, unsigned events, void *arg);
typedef void (*ev_timer_cb)(void *arg);

struct ev *ev_new(void);
void ev_free(struct ev *ev);
/* Run until ev_stop(); returns 0, or -1 if epoll itself failed. */
int ev_run(struct ev *ev);
void ev_stop(struct ev *ev);
/* Time at the start of the current loop turn. */
mono_ms ev_now(struct ev *ev);
/* Loop turns completed; the watchdog uses it as proof of progress. */
uint64_t ev_turns(struct ev *ev);

/* Watch fd for events (EV_READ|EV_WRITE). NULL on failure (logged). */
struct ev_io *ev_io_add(struct ev *ev, int fd, unsigned events, ev_io_cb cb,
    void *arg);
int ev_io_set(struct ev_io *io, unsigned events);
/* Stop watching and free; does not close the fd. NULL is a no-op. */
void ev_io_del(struct ev_io *io);

struct ev_timer *ev_timer_new(struct ev *ev, ev_timer_cb cb, void *arg);
/* (Re)arm to fire once after delay milliseconds. */
void ev_timer_arm(struct ev_timer *t, mono_ms delay);
/* (Re)arm to fire once at an absolute monotonic time. */
void ev_timer_arm_at(struct ev_timer *t, mono_ms when);
void ev_timer_disarm(struct ev_timer *t);
bool ev_timer_armed(const struct ev_timer *t);
/* Disarm and free. NULL is a no-op. */
void ev_timer_free(struct ev_timer *t);

#endif
