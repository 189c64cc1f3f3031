/*
 * random.c - the one source of randomness: the kernel CSPRNG.
 *
 * Kept alone in its file so a test can link a deterministic tp_random()
 * instead (the archive member is then never pulled in).
 */
#include <errno.h>
#include <sys/random.h>

#include "tapaid/crypto.h"

int tp_random(void *out, size_t n)
{
	uint8_t *p = out;

	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return TP_ERR_RANDOM;
		}
		p += r;
		n -= (size_t)r;
	}
	return TP_OK;
}
