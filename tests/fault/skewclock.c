/*
 * skewclock.c - LD_PRELOAD shim that moves one process's wall clock by
 * TAPAID_SKEW_S seconds (may be negative), for the clock-skew fault test:
 * time(), gettimeofday() and clock_gettime(CLOCK_REALTIME*) are shifted;
 * monotonic clocks are not.  Nothing else on the machine is touched.
 *
 *   LD_PRELOAD=build/tests/fault/libskewclock.so TAPAID_SKEW_S=-86400 prog
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

typedef int (*cg_fn)(clockid_t, struct timespec *);

static long long skew(void)
{
	static int done;
	static long long s;

	if (!done) {
		const char *v = getenv("TAPAID_SKEW_S");
		s = v ? strtoll(v, NULL, 10) : 0;
		done = 1;
	}
	return s;
}

static cg_fn real_cg(void)
{
	static cg_fn f;

	if (!f)
		f = (cg_fn)dlsym(RTLD_NEXT, "clock_gettime");
	return f;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	int rc = real_cg()(id, ts);

	if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		ts->tv_sec += (time_t)skew();
	return rc;
}

time_t time(time_t *t)
{
	struct timespec ts;
	time_t r;

	clock_gettime(CLOCK_REALTIME, &ts);
	r = ts.tv_sec;
	if (t)
		*t = r;
	return r;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec ts;

	(void)tz;
	clock_gettime(CLOCK_REALTIME, &ts);
	{
		tv->tv_sec = ts.tv_sec;
		tv->tv_usec = ts.tv_nsec / 1000;
	}
	return 0;
}
