/*
 * clock_posix.c - time and randomness for the kiosk on a POSIX system:
 * CLOCK_MONOTONIC for timeouts, CLOCK_REALTIME for the tap's time and the
 * local day (offline allowances are per local day), getrandom() for
 * request ids and jitter.
 */
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include "hal/backends.h"

static uint64_t mono_ms(void *ctx)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int64_t wall(void *ctx)
{
	return (int64_t)time(NULL);
}

static int utc_offset(void *ctx)
{
	time_t t = time(NULL);
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return 0;
	return (int)tm.tm_gmtoff;
}

void hal_clock_posix(struct hal_clock *c)
{
	c->ctx = NULL;
	c->mono_ms = mono_ms;
	c->wall = wall;
	c->utc_offset = utc_offset;
}

static int rng_fill(void *ctx, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n <= 0)
			return HAL_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void hal_rng_posix(struct hal_rng *r)
{
	r->ctx = NULL;
	r->fill = rng_fill;
}
