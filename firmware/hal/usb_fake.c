/*
 * usb_fake.c - a USB watch whose hot-plug events the test posts, and whose
 * reset can bring a dead fake reader back.
 */
#include <string.h>

#include "hal/fakes.h"

static int fu_applies(void *ctx)
{
	struct fake_usb *f = ctx;
	return f->on_usb;
}

static int fu_poll(void *ctx)
{
	struct fake_usb *f = ctx;
	int ev = f->pending;

	f->pending = 0;
	return ev;
}

static int fu_reset(void *ctx)
{
	struct fake_usb *f = ctx;

	f->resets++;
	if (f->revive)
		f->revive->dead = false;
	return 0;
}

void fake_usb_init(struct hal_usb *u, struct fake_usb *f)
{
	memset(f, 0, sizeof(*f));
	u->ctx = f;
	u->applies = fu_applies;
	u->poll = fu_poll;
	u->reset = fu_reset;
}
