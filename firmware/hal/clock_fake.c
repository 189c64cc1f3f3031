/*
 * clock_fake.c - a clock that moves only when the test moves it, and a
 * deterministic random source (a counter through SHA-256).
 */
#include <string.h>

#include "hal/fakes.h"

static uint64_t fc_mono(void *ctx)
{
	struct fake_clock *f = ctx;
	f->mono += f->auto_tick;
	return f->mono;
}

static int64_t fc_wall(void *ctx)
{
	struct fake_clock *f = ctx;
	return f->wall;
}

static int fc_off(void *ctx)
{
	struct fake_clock *f = ctx;
	return f->utc_offset;
}

static int fc_fill(void *ctx, void *buf, size_t len)
{
	struct fake_clock *f = ctx;
	uint8_t *p = buf, blk[32];

	while (len > 0) {
		size_t k = len < 32 ? len : 32;
		f->rng_ctr++;
		tp_sha256(&f->rng_ctr, sizeof(f->rng_ctr), blk);
		memcpy(p, blk, k);
		p += k;
		len -= k;
	}
	return 0;
}

void fake_clock_init(struct hal_clock *c, struct hal_rng *r,
		     struct fake_clock *f)
{
	memset(f, 0, sizeof(*f));
	f->mono = 1000;
	f->wall = 1790000000; /* 2026-09-21 */
	f->utc_offset = 8 * 3600;
	c->ctx = f;
	c->mono_ms = fc_mono;
	c->wall = fc_wall;
	c->utc_offset = fc_off;
	r->ctx = f;
	r->fill = fc_fill;
}
