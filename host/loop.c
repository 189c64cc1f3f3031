/*
 * loop.c - the daemon's one event loop: epoll over non-blocking sockets,
 * a periodic tick for timeouts and checkpoints, and a before-sleep hook.
 *
 * A turn is: epoll_wait, run every ready handler, run the tick when due,
 * run the before-sleep hook.  Handlers only decode and queue; the hook does
 * the group commit and writes the answers, so one fsync serves every tap
 * that arrived in the turn (Redis ae.c beforesleep).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"

#define LOOP_MAX_EVENTS 512

struct loop {
	int epfd;
	int stop;
	int tick_ms;
	uint64_t next_tick;
	void (*tick)(void *);
	void *tick_arg;
	void (*before)(void *);
	void *before_arg;
	struct epoll_event ev[LOOP_MAX_EVENTS];
};

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l);
}

int loop_add(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = io};

	io->events = events;
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev);
}

int loop_mod(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = io};

	if (io->events == events)
		return 0;
	io->events = events;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev);
}

/*
 * Removes io from the set.  Events for io already returned by this turn's
 * epoll_wait are dropped: the handler of a closed connection never runs.
 */
void loop_del(struct loop *l, struct loop_io *io)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	for (int i = 0; i < LOOP_MAX_EVENTS; i++)
		if (l->ev[i].data.ptr == io)
			l->ev[i].data.ptr = NULL;
}

void loop_set_tick(struct loop *l, int ms, void (*fn)(void *), void *arg)
{
	l->tick_ms = ms;
	l->tick = fn;
	l->tick_arg = arg;
	l->next_tick = now_ms() + (uint64_t)ms;
}

void loop_set_beforesleep(struct loop *l, void (*fn)(void *), void *arg)
{
	l->before = fn;
	l->before_arg = arg;
}

void loop_stop(struct loop *l)
{
	l->stop = 1;
}

int loop_run(struct loop *l)
{
	while (!l->stop) {
		int timeout = -1, n;
		uint64_t now;

		if (l->tick) {
			now = now_ms();
			timeout =
			    l->next_tick > now ? (int)(l->next_tick - now) : 0;
		}
		n = epoll_wait(l->epfd, l->ev, LOOP_MAX_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (int i = 0; i < n; i++) {
			struct loop_io *io = l->ev[i].data.ptr;

			if (io)
				io->fn(io, l->ev[i].events);
		}
		memset(l->ev, 0, sizeof(l->ev[0]) * (size_t)n);
		if (l->tick && now_ms() >= l->next_tick) {
			l->next_tick = now_ms() + (uint64_t)l->tick_ms;
			l->tick(l->tick_arg);
		}
		if (l->before)
			l->before(l->before_arg);
	}
	return 0;
}
