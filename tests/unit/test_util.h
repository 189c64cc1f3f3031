/*
 * test_util.h - helpers shared by the cmocka unit tests.
 */
#ifndef TAPAID_TEST_UTIL_H
#define TAPAID_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tapaid/crypto.h"

/* Decodes a hex literal into buf (asserting it is valid); returns length. */
static inline size_t hex2bin(const char *hex, uint8_t *buf, size_t cap)
{
	size_t n = strlen(hex) / 2;

	assert_true(n <= cap);
	assert_int_equal(tp_hex_decode(hex, strlen(hex), buf, n), TP_OK);
	return n;
}

/*
 * Compares got against the expected hex, printing both as hex dumps on a
 * mismatch (libosdp's CHECK_ARRAY habit), then fails the test.
 */
#define assert_hex_equal(got, len, hex)                                        \
	do {                                                                   \
		uint8_t exp_[512];                                             \
		size_t n_ = hex2bin((hex), exp_, sizeof(exp_));                \
		if (n_ != (size_t)(len) || memcmp((got), exp_, n_) != 0) {     \
			char g_[1025];                                         \
			tp_hex_encode(                                         \
			    (const uint8_t *)(got),                            \
			    (size_t)(len) > 512 ? 512 : (size_t)(len), g_, 1); \
			print_error("expected %s\n     got %s\n", (hex), g_);  \
			fail();                                                \
		}                                                              \
	} while (0)

/* Seeds rng_stub.c (only in tests that link it). */
void rng_stub_seed(const char *s);

#endif
