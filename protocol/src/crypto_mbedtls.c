/*
 * crypto_mbedtls.c - the crypto seam (tapaid/crypto.h) over mbedTLS 2.28.
 *
 * AES-CMAC is written here over the raw AES block function rather than
 * through mbedtls_cipher_cmac_*: the cipher layer allocates per context and
 * leaks when restarted (DESIGN.md), and a SUN check needs three CMACs under
 * three different keys, so the key schedule and subkeys are what we cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/chachapoly.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include "tapaid/crypto.h"

_Static_assert(sizeof(struct tp_sha256_ctx) >= sizeof(mbedtls_sha256_context),
	       "tp_sha256_ctx too small");

int tp_rng_cb(void *ctx, unsigned char *out, size_t n)
{
	(void)ctx;
	return tp_random(out, n) == TP_OK ? 0 : -1;
}

void tp_wipe(void *p, size_t n)
{
#if defined(__GLIBC__) || defined(__linux__)
	/* A word-wide memset the compiler may not drop as a dead store; the
	 * byte loop below took 2.4% of tapaidd's loop thread at 10,000
	 * taps/s. */
	explicit_bzero(p, n);
#else
	volatile uint8_t *v = p;

	while (n--)
		*v++ = 0;
#endif
}

int tp_memeq(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

int tp_aes_ecb(const uint8_t key[static 16], int encrypt,
	       const uint8_t in[static 16], uint8_t out[static 16])
{
	mbedtls_aes_context a;
	int rc;

	mbedtls_aes_init(&a);
	rc = encrypt ? mbedtls_aes_setkey_enc(&a, key, 128)
		     : mbedtls_aes_setkey_dec(&a, key, 128);
	if (rc == 0)
		rc = mbedtls_aes_crypt_ecb(
		    &a, encrypt ? MBEDTLS_AES_ENCRYPT : MBEDTLS_AES_DECRYPT, in,
		    out);
	mbedtls_aes_free(&a);
	return rc ? TP_ERR_CRYPTO : TP_OK;
}

int tp_aes_cbc(const uint8_t key[static 16], int encrypt,
	       const uint8_t iv[static 16], const uint8_t *in, size_t len,
	       uint8_t *out)
{
	mbedtls_aes_context a;
	uint8_t v[16];
	int rc;

	if (len % 16)
		return TP_ERR_ARG;
	if (len == 0)
		return TP_OK;
	memcpy(v, iv, 16);
	mbedtls_aes_init(&a);
	rc = encrypt ? mbedtls_aes_setkey_enc(&a, key, 128)
		     : mbedtls_aes_setkey_dec(&a, key, 128);
	if (rc == 0)
		rc = mbedtls_aes_crypt_cbc(
		    &a, encrypt ? MBEDTLS_AES_ENCRYPT : MBEDTLS_AES_DECRYPT,
		    len, v, in, out);
	mbedtls_aes_free(&a);
	tp_wipe(v, sizeof(v));
	return rc ? TP_ERR_CRYPTO : TP_OK;
}

/* Doubling in GF(2^128) as RFC 4493 generate_subkey does it. */
static void dbl(const uint8_t in[16], uint8_t out[16])
{
	uint8_t carry = in[0] >> 7;

	for (int i = 0; i < 15; i++)
		out[i] = (uint8_t)(in[i] << 1 | in[i + 1] >> 7);
	out[15] = (uint8_t)(in[15] << 1);
	/* Branch-free: the secret-dependent bit selects the constant. */
	out[15] ^= (uint8_t)(0x87 & (0 - carry));
}

int tp_cmac_setkey(struct tp_cmac_key *ck, const uint8_t key[static 16])
{
	uint8_t l[16] = {0};
	int rc;

	mbedtls_aes_init(&ck->aes);
	rc = mbedtls_aes_setkey_enc(&ck->aes, key, 128);
	if (rc == 0)
		rc = mbedtls_aes_crypt_ecb(&ck->aes, MBEDTLS_AES_ENCRYPT, l, l);
	if (rc) {
		tp_cmac_clear(ck);
		tp_wipe(l, sizeof(l));
		return TP_ERR_CRYPTO;
	}
	dbl(l, ck->k1);
	dbl(ck->k1, ck->k2);
	tp_wipe(l, sizeof(l));
	return TP_OK;
}

int tp_cmac_run(const struct tp_cmac_key *ck, const uint8_t *msg, size_t len,
		uint8_t out[static 16])
{
	/* mbedtls_aes_crypt_ecb takes a non-const context but only reads it. */
	mbedtls_aes_context *aes = (mbedtls_aes_context *)&ck->aes;
	uint8_t x[16] = {0}, last[16];
	size_t nblocks = len == 0 ? 1 : (len + 15) / 16;
	size_t i, j, rest;
	int rc = 0;

	for (i = 0; i + 1 < nblocks; i++) {
		for (j = 0; j < 16; j++)
			x[j] ^= msg[i * 16 + j];
		if ((rc =
			 mbedtls_aes_crypt_ecb(aes, MBEDTLS_AES_ENCRYPT, x, x)))
			goto out;
	}
	rest = len - i * 16;
	if (rest == 16) {
		for (j = 0; j < 16; j++)
			last[j] = msg[i * 16 + j] ^ ck->k1[j];
	} else {
		memset(last, 0, sizeof(last));
		if (rest)
			memcpy(last, msg + i * 16, rest);
		last[rest] = 0x80;
		for (j = 0; j < 16; j++)
			last[j] ^= ck->k2[j];
	}
	for (j = 0; j < 16; j++)
		x[j] ^= last[j];
	rc = mbedtls_aes_crypt_ecb(aes, MBEDTLS_AES_ENCRYPT, x, out);
out:
	tp_wipe(x, sizeof(x));
	tp_wipe(last, sizeof(last));
	return rc ? TP_ERR_CRYPTO : TP_OK;
}

void tp_cmac_clear(struct tp_cmac_key *ck)
{
	mbedtls_aes_free(&ck->aes);
	tp_wipe(ck, sizeof(*ck));
}

int tp_cmac(const uint8_t key[static 16], const uint8_t *msg, size_t len,
	    uint8_t out[static 16])
{
	struct tp_cmac_key ck;
	int rc = tp_cmac_setkey(&ck, key);

	if (rc == TP_OK)
		rc = tp_cmac_run(&ck, msg, len, out);
	tp_cmac_clear(&ck);
	return rc;
}

int tp_sha256(const void *msg, size_t len, uint8_t out[static 32])
{
	return mbedtls_sha256_ret(msg, len, out, 0) ? TP_ERR_CRYPTO : TP_OK;
}

int tp_sha256_start(struct tp_sha256_ctx *c)
{
	mbedtls_sha256_context *s = (mbedtls_sha256_context *)c->opaque;

	mbedtls_sha256_init(s);
	return mbedtls_sha256_starts_ret(s, 0) ? TP_ERR_CRYPTO : TP_OK;
}

int tp_sha256_update(struct tp_sha256_ctx *c, const void *msg, size_t len)
{
	mbedtls_sha256_context *s = (mbedtls_sha256_context *)c->opaque;

	return mbedtls_sha256_update_ret(s, msg, len) ? TP_ERR_CRYPTO : TP_OK;
}

int tp_sha256_finish(struct tp_sha256_ctx *c, uint8_t out[static 32])
{
	mbedtls_sha256_context *s = (mbedtls_sha256_context *)c->opaque;
	int rc = mbedtls_sha256_finish_ret(s, out);

	mbedtls_sha256_free(s);
	return rc ? TP_ERR_CRYPTO : TP_OK;
}

int tp_hmac_sha256(const uint8_t *key, size_t keylen, const void *msg,
		   size_t len, uint8_t out[static 32])
{
	const mbedtls_md_info_t *md =
	    mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);

	return mbedtls_md_hmac(md, key, keylen, msg, len, out) ? TP_ERR_CRYPTO
							       : TP_OK;
}

int tp_hkdf_sha256(const uint8_t *salt, size_t saltlen, const uint8_t *ikm,
		   size_t ikmlen, const uint8_t *info, size_t infolen,
		   uint8_t *out, size_t outlen)
{
	const mbedtls_md_info_t *md =
	    mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);

	return mbedtls_hkdf(md, salt, saltlen, ikm, ikmlen, info, infolen, out,
			    outlen)
		   ? TP_ERR_CRYPTO
		   : TP_OK;
}

int tp_x25519_keypair(uint8_t priv[static 32], uint8_t pub[static 32])
{
	mbedtls_ecp_group g;
	mbedtls_mpi d;
	mbedtls_ecp_point q;
	int rc;

	mbedtls_ecp_group_init(&g);
	mbedtls_mpi_init(&d);
	mbedtls_ecp_point_init(&q);
	rc = mbedtls_ecp_group_load(&g, MBEDTLS_ECP_DP_CURVE25519);
	if (rc == 0)
		rc = mbedtls_ecdh_gen_public(&g, &d, &q, tp_rng_cb, NULL);
	if (rc == 0)
		rc = mbedtls_mpi_write_binary_le(&d, priv, 32);
	if (rc == 0)
		rc = mbedtls_mpi_write_binary_le(&q.X, pub, 32);
	mbedtls_ecp_point_free(&q);
	mbedtls_mpi_free(&d);
	mbedtls_ecp_group_free(&g);
	return rc ? TP_ERR_CRYPTO : TP_OK;
}

int tp_x25519_shared(const uint8_t priv[static 32],
		     const uint8_t peer[static 32], uint8_t shared[static 32])
{
	mbedtls_ecp_group g;
	mbedtls_mpi d, z;
	mbedtls_ecp_point q;
	uint8_t zero[32] = {0}, d_le[32], u_le[32];
	int rc;

	/* RFC 7748 section 5: clamp the scalar, mask the top bit of u. */
	memcpy(d_le, priv, 32);
	d_le[0] &= 248;
	d_le[31] &= 127;
	d_le[31] |= 64;
	memcpy(u_le, peer, 32);
	u_le[31] &= 127;
	mbedtls_ecp_group_init(&g);
	mbedtls_mpi_init(&d);
	mbedtls_mpi_init(&z);
	mbedtls_ecp_point_init(&q);
	rc = mbedtls_ecp_group_load(&g, MBEDTLS_ECP_DP_CURVE25519);
	if (rc == 0)
		rc = mbedtls_mpi_read_binary_le(&d, d_le, 32);
	if (rc == 0)
		rc = mbedtls_mpi_read_binary_le(&q.X, u_le, 32);
	if (rc == 0)
		rc = mbedtls_mpi_lset(&q.Z, 1);
	if (rc == 0)
		rc = mbedtls_ecdh_compute_shared(&g, &z, &q, &d, tp_rng_cb,
						 NULL);
	if (rc == 0)
		rc = mbedtls_mpi_write_binary_le(&z, shared, 32);
	/* A low-order peer key gives an all-zero secret: refuse it. */
	if (rc == 0 && tp_memeq(shared, zero, 32))
		rc = -1;
	mbedtls_ecp_point_free(&q);
	mbedtls_mpi_free(&z);
	mbedtls_mpi_free(&d);
	mbedtls_ecp_group_free(&g);
	tp_wipe(d_le, sizeof(d_le));
	if (rc)
		tp_wipe(shared, 32);
	return rc ? TP_ERR_CRYPTO : TP_OK;
}

static void aead_nonce(uint64_t n, uint8_t iv[12])
{
	memset(iv, 0, 4);
	for (int i = 0; i < 8; i++)
		iv[4 + i] = (uint8_t)(n >> (8 * i));
}

int tp_aead_seal(const uint8_t key[static 32], uint64_t nonce,
		 const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t len,
		 uint8_t *ct, uint8_t tag[static 16])
{
	mbedtls_chachapoly_context c;
	uint8_t iv[12];
	int rc;

	aead_nonce(nonce, iv);
	mbedtls_chachapoly_init(&c);
	rc = mbedtls_chachapoly_setkey(&c, key);
	if (rc == 0)
		rc = mbedtls_chachapoly_encrypt_and_tag(&c, len, iv, ad, adlen,
							pt, ct, tag);
	mbedtls_chachapoly_free(&c);
	return rc ? TP_ERR_CRYPTO : TP_OK;
}

int tp_aead_open(const uint8_t key[static 32], uint64_t nonce,
		 const uint8_t *ad, size_t adlen, const uint8_t *ct, size_t len,
		 const uint8_t tag[static 16], uint8_t *pt)
{
	mbedtls_chachapoly_context c;
	uint8_t iv[12];
	int rc;

	aead_nonce(nonce, iv);
	mbedtls_chachapoly_init(&c);
	rc = mbedtls_chachapoly_setkey(&c, key);
	if (rc == 0)
		rc = mbedtls_chachapoly_auth_decrypt(&c, len, iv, ad, adlen,
						     tag, ct, pt);
	mbedtls_chachapoly_free(&c);
	if (rc == MBEDTLS_ERR_CHACHAPOLY_AUTH_FAILED)
		return TP_ERR_MAC;
	return rc ? TP_ERR_CRYPTO : TP_OK;
}

/* ---- P-256 keys ---- */

struct tp_key {
	mbedtls_ecdsa_context ec; /* group, d (when private), Q */
	int has_private;
};

static struct tp_key *key_new(void)
{
	struct tp_key *k = calloc(1, sizeof(*k));

	if (k)
		mbedtls_ecdsa_init(&k->ec);
	return k;
}

void tp_key_free(struct tp_key *k)
{
	if (!k)
		return;
	mbedtls_ecdsa_free(&k->ec);
	tp_wipe(k, sizeof(*k));
	free(k);
}

int tp_key_can_sign(const struct tp_key *k)
{
	return k && k->has_private;
}

int tp_key_generate(struct tp_key **out)
{
	struct tp_key *k = key_new();

	if (!k)
		return TP_ERR_NOMEM;
	if (mbedtls_ecdsa_genkey(&k->ec, MBEDTLS_ECP_DP_SECP256R1, tp_rng_cb,
				 NULL)) {
		tp_key_free(k);
		return TP_ERR_CRYPTO;
	}
	k->has_private = 1;
	*out = k;
	return TP_OK;
}

/* Reads a whole small file (keys are under 4 KiB) into buf, NUL-ended. */
static int read_small(const char *path, int private, unsigned char *buf,
		      size_t cap, size_t *len)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return TP_ERR_KEYFILE;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return TP_ERR_KEYFILE;
	}
	if (private && (st.st_mode & 077)) {
		close(fd);
		return TP_ERR_KEYPERM;
	}
	while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return TP_ERR_KEYFILE;
		}
		got += (size_t)n;
	}
	close(fd);
	if (got + 1 >= cap)
		return TP_ERR_KEYFILE;
	buf[got] = 0;
	*len = got + 1; /* mbedtls wants the NUL counted for PEM */
	return TP_OK;
}

static int from_pk(mbedtls_pk_context *pk, int private, struct tp_key **out)
{
	struct tp_key *k;
	const mbedtls_ecp_keypair *kp;

	if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY)
		return TP_ERR_KEYFILE;
	kp = mbedtls_pk_ec(*pk);
	if (kp->grp.id != MBEDTLS_ECP_DP_SECP256R1)
		return TP_ERR_KEYFILE;
	if (!(k = key_new()))
		return TP_ERR_NOMEM;
	if (mbedtls_ecdsa_from_keypair(&k->ec, kp)) {
		tp_key_free(k);
		return TP_ERR_CRYPTO;
	}
	k->has_private = private;
	*out = k;
	return TP_OK;
}

int tp_key_load_private(const char *path, struct tp_key **out)
{
	unsigned char buf[4096];
	size_t len;
	mbedtls_pk_context pk;
	int rc = read_small(path, 1, buf, sizeof(buf), &len);

	if (rc)
		return rc;
	mbedtls_pk_init(&pk);
	if (mbedtls_pk_parse_key(&pk, buf, len, NULL, 0) == 0)
		rc = from_pk(&pk, 1, out);
	else
		rc = TP_ERR_KEYFILE;
	mbedtls_pk_free(&pk);
	tp_wipe(buf, sizeof(buf));
	return rc;
}

int tp_key_load_public(const char *path, struct tp_key **out)
{
	unsigned char buf[4096];
	size_t len;
	mbedtls_pk_context pk;
	int rc = read_small(path, 0, buf, sizeof(buf), &len);

	if (rc)
		return rc;
	mbedtls_pk_init(&pk);
	if (mbedtls_pk_parse_public_key(&pk, buf, len) == 0)
		rc = from_pk(&pk, 0, out);
	else
		rc = TP_ERR_KEYFILE;
	mbedtls_pk_free(&pk);
	return rc;
}

/* Writes buf to path via a temporary file with the given mode, fsync'd. */
static int write_atomic(const char *path, const unsigned char *buf, size_t len,
			mode_t mode)
{
	char tmp[4096];
	size_t off = 0;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return TP_ERR_ARG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return TP_ERR_IO;
	if (fchmod(fd, mode) < 0)
		goto fail;
	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return TP_ERR_IO;
	}
	return TP_OK;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return TP_ERR_IO;
}

static int key_to_pk(const struct tp_key *k, mbedtls_pk_context *pk)
{
	mbedtls_pk_init(pk);
	if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)))
		return TP_ERR_CRYPTO;
	if (mbedtls_ecp_group_copy(&mbedtls_pk_ec(*pk)->grp, &k->ec.grp) ||
	    mbedtls_ecp_copy(&mbedtls_pk_ec(*pk)->Q, &k->ec.Q) ||
	    (k->has_private &&
	     mbedtls_mpi_copy(&mbedtls_pk_ec(*pk)->d, &k->ec.d)))
		return TP_ERR_CRYPTO;
	return TP_OK;
}

int tp_key_save_private(const struct tp_key *k, const char *path)
{
	unsigned char buf[4096];
	mbedtls_pk_context pk;
	int rc;

	if (!tp_key_can_sign(k))
		return TP_ERR_ARG;
	rc = key_to_pk(k, &pk);
	if (rc == TP_OK && mbedtls_pk_write_key_pem(&pk, buf, sizeof(buf)))
		rc = TP_ERR_CRYPTO;
	if (rc == TP_OK)
		rc = write_atomic(path, buf, strlen((char *)buf), 0600);
	mbedtls_pk_free(&pk);
	tp_wipe(buf, sizeof(buf));
	return rc;
}

int tp_key_save_public(const struct tp_key *k, const char *path)
{
	unsigned char buf[4096];
	mbedtls_pk_context pk;
	struct tp_key pubonly;
	int rc;

	pubonly = *k;
	pubonly.has_private = 0;
	rc = key_to_pk(&pubonly, &pk);
	if (rc == TP_OK && mbedtls_pk_write_pubkey_pem(&pk, buf, sizeof(buf)))
		rc = TP_ERR_CRYPTO;
	if (rc == TP_OK)
		rc = write_atomic(path, buf, strlen((char *)buf), 0644);
	mbedtls_pk_free(&pk);
	return rc;
}

int tp_key_public_raw(const struct tp_key *k, uint8_t out[static 65])
{
	size_t olen = 0;

	if (mbedtls_ecp_point_write_binary(&k->ec.grp, &k->ec.Q,
					   MBEDTLS_ECP_PF_UNCOMPRESSED, &olen,
					   out, 65) ||
	    olen != 65)
		return TP_ERR_CRYPTO;
	return TP_OK;
}

int tp_key_from_public_raw(const uint8_t in[static 65], struct tp_key **out)
{
	struct tp_key *k = key_new();

	if (!k)
		return TP_ERR_NOMEM;
	if (mbedtls_ecp_group_load(&k->ec.grp, MBEDTLS_ECP_DP_SECP256R1) ||
	    mbedtls_ecp_point_read_binary(&k->ec.grp, &k->ec.Q, in, 65) ||
	    mbedtls_ecp_check_pubkey(&k->ec.grp, &k->ec.Q)) {
		tp_key_free(k);
		return TP_ERR_KEYFILE;
	}
	*out = k;
	return TP_OK;
}

int tp_sign(const struct tp_key *k, const uint8_t hash[static 32],
	    uint8_t sig[static 64])
{
	mbedtls_mpi r, s;
	int rc;

	if (!tp_key_can_sign(k))
		return TP_ERR_ARG;
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	/* mbedTLS takes a non-const group although it does not change it. */
	rc = mbedtls_ecdsa_sign((mbedtls_ecp_group *)&k->ec.grp, &r, &s,
				&k->ec.d, hash, 32, tp_rng_cb, NULL);
	if (rc == 0)
		rc = mbedtls_mpi_write_binary(&r, sig, 32);
	if (rc == 0)
		rc = mbedtls_mpi_write_binary(&s, sig + 32, 32);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return rc ? TP_ERR_CRYPTO : TP_OK;
}

int tp_verify(const struct tp_key *k, const uint8_t hash[static 32],
	      const uint8_t sig[static 64])
{
	mbedtls_mpi r, s;
	int rc;

	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	rc = mbedtls_mpi_read_binary(&r, sig, 32);
	if (rc == 0)
		rc = mbedtls_mpi_read_binary(&s, sig + 32, 32);
	if (rc == 0)
		rc = mbedtls_ecdsa_verify((mbedtls_ecp_group *)&k->ec.grp, hash,
					  32, &k->ec.Q, &r, &s);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return rc ? TP_ERR_SIGNATURE : TP_OK;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int tp_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outlen)
{
	for (size_t i = 0; i < hexlen; i++)
		if (hexval(hex[i]) < 0)
			return TP_ERR_HEX;
	if (hexlen != 2 * outlen)
		return TP_ERR_LENGTH;
	for (size_t i = 0; i < outlen; i++)
		out[i] = (uint8_t)((unsigned)hexval(hex[2 * i]) << 4 |
				   (unsigned)hexval(hex[2 * i + 1]));
	return TP_OK;
}

void tp_hex_encode(const uint8_t *in, size_t len, char *out, int upper)
{
	const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * len] = 0;
}
