/*
 * display_fake.c - remembers the last screen and every event line.
 */
#include <stdio.h>
#include <string.h>

#include "hal/fakes.h"

static void fd_show(void *ctx, enum hal_indicator ind, const char *head,
		    const char *detail)
{
	struct fake_display *f = ctx;

	f->ind = ind;
	snprintf(f->head, sizeof(f->head), "%s", head);
	snprintf(f->detail, sizeof(f->detail), "%s", detail ? detail : "");
	f->shows++;
}

static void fd_event(void *ctx, const char *json)
{
	struct fake_display *f = ctx;

	if (f->nevents < FAKE_EVENTS_MAX)
		snprintf(f->events[f->nevents], sizeof(f->events[0]), "%s",
			 json);
	f->nevents++;
}

void fake_display_init(struct hal_display *d, struct fake_display *f)
{
	memset(f, 0, sizeof(*f));
	d->ctx = f;
	d->show = fd_show;
	d->event = fd_event;
}
