/*
 * bench_sun.c - SUN verification throughput beside the raw AES-CMAC cost,
 * measured in the same run (the floor).  Each figure is the median of 11
 * interleaved rounds.  No pass/fail: numbers for humans.
 *
 *   floor:  tp_cmac over one 16-byte message (key schedule + subkeys + 1
 *           block), the cost of one of the 3 CMACs a check needs
 *   check:  tp_sun_verify (decrypt PICCData, derive the session MAC key,
 *           CMAC the MAC input, compare)
 *   parse+check: the same plus tp_sun_parse of the URL
 *   host path: decrypt, tp_card_key_ck (AN10922 per-card file key with
 *           the master's CMAC context set once), check
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tapaid/crypto.h"
#include "tapaid/ntag.h"

#define ROUNDS 11

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static uint8_t meta[16], master[16], fkey[16], uid[7];
static struct tp_cmac_key master_ck;
static struct tp_sun_msg msg;
static char url[256];
static size_t url_len;
static volatile int sink;

static void do_cmac(void)
{
	uint8_t out[16];

	sink += tp_cmac(fkey, (const uint8_t *)url, 16, out);
}

static void do_check(void)
{
	struct tp_sun_result r;

	sink += tp_sun_verify(meta, fkey, &msg, &r);
}

static void do_parse_check(void)
{
	struct tp_sun_msg m;
	struct tp_sun_result r;

	sink += tp_sun_parse(url, url_len, &m);
	sink += tp_sun_verify(meta, fkey, &m, &r);
}

static void do_host(void)
{
	uint8_t u[7], k[16];
	uint32_t ctr;

	sink += tp_sun_decrypt_picc(meta, msg.picc_enc, u, &ctr);
	sink += tp_card_key_ck(&master_ck, u, TP_KEY_SDM_FILE, 1, k);
	sink +=
	    tp_sun_check_mac(k, u, ctr, msg.mac_in, msg.mac_in_len, msg.mac);
}

#define NFN 4

/*
 * Times every function once per round, interleaved, so that the noise of a
 * shared machine hits all of them alike; us[f] gets the median
 * microseconds per call and ratio[f] the median of the per-round ratios
 * to function 0 (the floor).
 */
static void measure(void (*const fn[NFN])(void), long n, double us[NFN],
		    double ratio[NFN])
{
	double t[NFN][ROUNDS], q[ROUNDS];

	for (int f = 0; f < NFN; f++)
		for (long i = 0; i < n / 10; i++)
			fn[f]();
	for (int r = 0; r < ROUNDS; r++) {
		for (int f = 0; f < NFN; f++) {
			double t0 = now();

			for (long i = 0; i < n; i++)
				fn[f]();
			t[f][r] = (now() - t0) * 1e6 / (double)n;
		}
	}
	for (int f = 0; f < NFN; f++) {
		for (int r = 0; r < ROUNDS; r++)
			q[r] = t[f][r] / t[0][r];
		qsort(q, ROUNDS, sizeof(q[0]), cmp);
		ratio[f] = q[ROUNDS / 2];
		qsort(t[f], ROUNDS, sizeof(t[f][0]), cmp);
		us[f] = t[f][ROUNDS / 2];
	}
}

int main(void)
{
	struct tp_sdm_settings sdm;
	uint8_t file[256], out[256];
	struct tp_sun_result r;
	size_t n;
	long iters = 20000;
	void (*const fns[NFN])(void) = {do_cmac, do_check, do_parse_check,
					do_host};
	double us[NFN], ratio[NFN];

	memset(meta, 0x4D, 16);
	memset(master, 0x6B, 16);
	memcpy(uid, "\x04\x11\x22\x33\x44\x55\x66", 7);
	if (tp_cmac_setkey(&master_ck, master) ||
	    tp_card_key(master, uid, TP_KEY_SDM_FILE, 1, fkey) ||
	    tp_ndef_sun_template("https://tap.example.org/t", file,
				 sizeof(file), &n, &sdm) ||
	    tp_sun_card_mirror(meta, fkey, uid, 12345, &sdm, file, n, out,
			       sizeof(out)) ||
	    tp_ndef_uri(out, n, url, sizeof(url), &url_len) ||
	    tp_sun_parse(url, url_len, &msg) ||
	    tp_sun_verify(meta, fkey, &msg, &r) || r.ctr != 12345) {
		fprintf(stderr, "bench_sun: setup failed\n");
		return 1;
	}
	if (getenv("BENCH_QUICK"))
		iters = 2000;
	measure(fns, iters, us, ratio);

	printf("bench_sun: median of %d interleaved rounds x %ld calls\n",
	       ROUNDS, iters);
	printf("  floor: AES-CMAC, one 16-byte message    %7.3f us  "
	       "(%.0f /s)\n",
	       us[0], 1e6 / us[0]);
	printf("  SUN check (tp_sun_verify)               %7.3f us  "
	       "(%.0f checks/s)  %.2fx floor\n",
	       us[1], 1e6 / us[1], ratio[1]);
	printf("  SUN parse + check                       %7.3f us  "
	       "(%.0f checks/s)  %.2fx floor\n",
	       us[2], 1e6 / us[2], ratio[2]);
	printf("  host path (decrypt, AN10922 key, check) %7.3f us  "
	       "(%.0f checks/s)  %.2fx floor\n",
	       us[3], 1e6 / us[3], ratio[3]);
	printf("  (DESIGN.md floor for a full check: ~0.4 us)\n");
	return sink == 0 ? 0 : 1;
}
