/*
 * ctl_progress.c - a progress bar for long imports and verifies.
 *
 * Drawn on stderr only when stderr is a terminal, never into a pipe or a
 * file, and only once the job has run 0.3 s, so short jobs stay quiet.
 * Redrawn at most ten times a second; erased when the job ends.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_int.h"

#define SHOW_AFTER_MS 300
#define REDRAW_MS     100
#define BAR	      30

uint64_t ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void ctl_progress_start_fd(struct ctl_progress *p, const char *label,
			   uint64_t total, int fd, int force)
{
	memset(p, 0, sizeof(*p));
	p->on = force || isatty(fd);
	p->label = label;
	p->total = total;
	p->fd = fd;
	p->start_ms = ctl_now_ms();
}

void ctl_progress_start(struct ctl_progress *p, const char *label,
			uint64_t total)
{
	ctl_progress_start_fd(p, label, total, STDERR_FILENO, 0);
}

static void draw(struct ctl_progress *p, uint64_t now)
{
	char line[160];
	unsigned secs = (unsigned)((now - p->start_ms) / 1000);
	int n;

	if (p->total > 0) {
		uint64_t d = p->done > p->total ? p->total : p->done;
		unsigned pct = (unsigned)(d * 100 / p->total);
		unsigned fill = (unsigned)(d * BAR / p->total);
		char bar[BAR + 1];

		memset(bar, '#', fill);
		memset(bar + fill, '-', BAR - fill);
		bar[BAR] = '\0';
		n = snprintf(line, sizeof(line), "\r%s [%s] %3u%% %us\033[K",
			     p->label, bar, pct, secs);
	} else {
		static const char spin[] = "|/-\\";

		n = snprintf(line, sizeof(line), "\r%s %c %us\033[K", p->label,
			     spin[p->spin++ % 4], secs);
	}
	if (n > 0 && write(p->fd, line, (size_t)n) < 0)
		p->on = 0;
	p->drawn = 1;
	p->last_ms = now;
}

void ctl_progress_set(struct ctl_progress *p, uint64_t done)
{
	uint64_t now;

	if (p == NULL || !p->on)
		return;
	if (done > p->done)
		p->done = done;
	now = ctl_now_ms();
	if (now - p->start_ms < SHOW_AFTER_MS)
		return;
	if (p->drawn && now - p->last_ms < REDRAW_MS)
		return;
	draw(p, now);
}

void ctl_progress_end(struct ctl_progress *p)
{
	static const char erase[] = "\r\033[K";

	if (p == NULL || !p->on || !p->drawn)
		return;
	if (write(p->fd, erase, sizeof(erase) - 1) < 0)
		p->on = 0;
	p->drawn = 0;
}
