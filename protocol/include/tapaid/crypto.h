/*
 * tapaid/crypto.h - the crypto seam.
 *
 * Every primitive tapaid uses goes through these functions, implemented over
 * mbedTLS 2.28 in protocol/src/crypto_mbedtls.c and random.c.  Rules:
 *  - each function returns 0 or a negative enum tp_err; callers fail closed;
 *  - nothing here asserts on a crypto result;
 *  - secrets in stack buffers are wiped on every exit path (tp_wipe);
 *  - comparisons of MACs and tags use tp_memeq (constant time).
 *
 * tp_random() lives alone in random.c so that a test can link a
 * deterministic replacement (tests/unit/rng_stub.c) for known-answer vectors.
 */
#ifndef TAPAID_CRYPTO_H
#define TAPAID_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/aes.h>

#include "tapaid/err.h"

#define TP_AES_KEY_LEN	16
#define TP_AES_BLOCK	16
#define TP_CMAC_LEN	16
#define TP_SHA256_LEN	32
#define TP_P256_PUB_LEN 65 /* uncompressed point 04 || X || Y */
#define TP_P256_SIG_LEN 64 /* raw r || s, each 32 bytes big-endian */
#define TP_X25519_LEN	32
#define TP_AEAD_KEY_LEN 32
#define TP_AEAD_TAG_LEN 16

/* --- random.c --- */

/* Fills out with n bytes from the kernel CSPRNG (getrandom). */
int tp_random(void *out, size_t n);

/* --- crypto_mbedtls.c --- */

/* An f_rng for mbedTLS that draws from tp_random(); ctx is unused. */
int tp_rng_cb(void *ctx, unsigned char *out, size_t n);

/* Zeroes n bytes at p in a way the compiler cannot drop. */
void tp_wipe(void *p, size_t n);

/* Constant-time comparison: 1 when the n bytes are equal, 0 otherwise. */
int tp_memeq(const void *a, const void *b, size_t n);

/* One AES-128 block; encrypt is 1 to encrypt, 0 to decrypt. */
int tp_aes_ecb(const uint8_t key[static 16], int encrypt,
	       const uint8_t in[static 16], uint8_t out[static 16]);

/*
 * AES-128-CBC over len bytes (a multiple of 16, may be 0), no padding.
 * iv is read and not changed.  in and out may be the same buffer.
 */
int tp_aes_cbc(const uint8_t key[static 16], int encrypt,
	       const uint8_t iv[static 16], const uint8_t *in, size_t len,
	       uint8_t *out);

/*
 * AES-CMAC (RFC 4493) with the key schedule and subkeys cached, for many
 * messages under one key.  The context holds secrets: tp_cmac_clear() it.
 */
struct tp_cmac_key {
	mbedtls_aes_context aes;
	uint8_t k1[16];
	uint8_t k2[16];
};
int tp_cmac_setkey(struct tp_cmac_key *ck, const uint8_t key[static 16]);
int tp_cmac_run(const struct tp_cmac_key *ck, const uint8_t *msg, size_t len,
		uint8_t out[static 16]);
void tp_cmac_clear(struct tp_cmac_key *ck);

/* One-shot AES-CMAC. */
int tp_cmac(const uint8_t key[static 16], const uint8_t *msg, size_t len,
	    uint8_t out[static 16]);

/* SHA-256, one-shot and incremental. */
int tp_sha256(const void *msg, size_t len, uint8_t out[static 32]);
struct tp_sha256_ctx {
	uint8_t opaque[128] __attribute__((aligned(8)));
};
int tp_sha256_start(struct tp_sha256_ctx *c);
int tp_sha256_update(struct tp_sha256_ctx *c, const void *msg, size_t len);
int tp_sha256_finish(struct tp_sha256_ctx *c, uint8_t out[static 32]);

/* HMAC-SHA256 and HKDF-SHA256 (RFC 5869; salt may be NULL). */
int tp_hmac_sha256(const uint8_t *key, size_t keylen, const void *msg,
		   size_t len, uint8_t out[static 32]);
int tp_hkdf_sha256(const uint8_t *salt, size_t saltlen, const uint8_t *ikm,
		   size_t ikmlen, const uint8_t *info, size_t infolen,
		   uint8_t *out, size_t outlen);

/* X25519: a fresh key pair, and the shared secret with a peer's key. */
int tp_x25519_keypair(uint8_t priv[static 32], uint8_t pub[static 32]);
int tp_x25519_shared(const uint8_t priv[static 32],
		     const uint8_t peer[static 32], uint8_t shared[static 32]);

/*
 * ChaCha20-Poly1305 with a 96-bit nonce built from a 64-bit counter
 * (4 zero bytes || counter little-endian).  tp_aead_open returns TP_ERR_MAC
 * when the tag is wrong and then leaves no plaintext in out.
 */
int tp_aead_seal(const uint8_t key[static 32], uint64_t nonce,
		 const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t len,
		 uint8_t *ct, uint8_t tag[static 16]);
int tp_aead_open(const uint8_t key[static 32], uint64_t nonce,
		 const uint8_t *ad, size_t adlen, const uint8_t *ct, size_t len,
		 const uint8_t tag[static 16], uint8_t *pt);

/*
 * ECDSA P-256 keys.  struct tp_key is opaque; it holds the curve and the
 * key already converted (see DESIGN.md: never sign through a freshly parsed
 * mbedtls_pk).  A key loaded from a public file cannot sign.
 *
 * Files are PEM: the private key as SEC1 "EC PRIVATE KEY", the public key as
 * SubjectPublicKeyInfo "PUBLIC KEY" (both readable by openssl).  A private
 * key file that group or others can read is refused with TP_ERR_KEYPERM.
 * Saving writes a temporary file with mode 0600 (0644 for the public key),
 * fsyncs it and renames it into place.
 */
struct tp_key;
int tp_key_generate(struct tp_key **out);
int tp_key_load_private(const char *path, struct tp_key **out);
int tp_key_load_public(const char *path, struct tp_key **out);
int tp_key_save_private(const struct tp_key *k, const char *path);
int tp_key_save_public(const struct tp_key *k, const char *path);
int tp_key_public_raw(const struct tp_key *k, uint8_t out[static 65]);
int tp_key_from_public_raw(const uint8_t in[static 65], struct tp_key **out);
int tp_key_can_sign(const struct tp_key *k);
void tp_key_free(struct tp_key *k);

/* Signs or verifies a SHA-256 digest; signatures are raw r || s. */
int tp_sign(const struct tp_key *k, const uint8_t hash[static 32],
	    uint8_t sig[static 64]);
int tp_verify(const struct tp_key *k, const uint8_t hash[static 32],
	      const uint8_t sig[static 64]);

/* Hex helpers: tp_hex_decode returns TP_ERR_HEX on a non-hex digit and
 * TP_ERR_LENGTH unless hex holds exactly 2*outlen digits. */
int tp_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outlen);
void tp_hex_encode(const uint8_t *in, size_t len, char *out, int upper);

#endif
