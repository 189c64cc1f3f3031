/*
 * ntag_int.h - helpers shared by the protocol/src/ntag_*.c files.
 */
#ifndef TAPAID_NTAG_INT_H
#define TAPAID_NTAG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tapaid/ntag.h"

/* --- ntag_prim.c --- */

static inline void ntag_put24le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
}

static inline uint32_t ntag_get24le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

/* MACt(key, msg). */
int ntag_mact(const uint8_t key[16], const uint8_t *msg, size_t len,
	      uint8_t mact[8]);

/* IVc (resp 0: A5 5A) or IVr (resp 1: 5A A5) for CmdCtr ctr. */
int ntag_iv(const struct tp_ev2 *s, int resp, uint16_t ctr, uint8_t iv[16]);

/* ISO 9797-1 method 2 padding, always added: returns the padded length,
 * or 0 if it would not fit in cap. */
size_t ntag_pad(uint8_t *buf, size_t len, size_t cap);

/* Strips method 2 padding: TP_ERR_PARSE if malformed. */
int ntag_unpad(const uint8_t *buf, size_t len, size_t *out_len);

/* MAC input Cmd || CmdCtr || TI || hdr || data (cmd), or
 * RC || CmdCtr || TI || data (resp): computes its MACt. */
int ntag_sm_mact(const struct tp_ev2 *s, uint8_t code, uint16_t ctr,
		 const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		 uint8_t mact[8]);

/* Upper-case hex. */
void ntag_hex_upper(const uint8_t *in, size_t len, char *out);

#endif
