/*
 * test_crypto.c - the crypto seam against published vectors.
 *
 * RFC 4493 section 4 (AES-CMAC examples 1-4 and the subkeys);
 * AN12196 Rev 1.8 section 4.4.4.2.1 (the empty-message CMAC worked by hand);
 * RFC 7748 section 5.2 / 6.1 (X25519); RFC 8439 section 2.8.2
 * (ChaCha20-Poly1305); RFC 5869 A.1 (HKDF-SHA256).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

static const char *rfc4493_msg = "6BC1BEE22E409F96E93D7E117393172A"
				 "AE2D8A571E03AC9C9EB76FAC45AF8E51"
				 "30C81C46A35CE411E5FBC1191A0A52EF"
				 "F69F2445DF4F9B17AD2B417BE66C3710";

/* RFC 4493 section 4: subkey generation. */
static void rfc4493_subkeys(void **state)
{
	uint8_t key[16];
	struct tp_cmac_key ck;

	hex2bin("2B7E151628AED2A6ABF7158809CF4F3C", key, 16);
	assert_int_equal(tp_cmac_setkey(&ck, key), TP_OK);
	assert_hex_equal(ck.k1, 16, "FBEED618357133667C85E08F7236A8DE");
	assert_hex_equal(ck.k2, 16, "F7DDAC306AE266CCF90BC11EE46D513B");
	tp_cmac_clear(&ck);
}

/* RFC 4493 section 4: examples 1 to 4 (lengths 0, 16, 40, 64). */
static void rfc4493_examples(void **state)
{
	static const struct {
		size_t len;
		const char *mac;
	} ex[] = {
	    {0, "BB1D6929E95937287FA37D129B756746"},
	    {16, "070A16B46B4D4144F79BDD9DD04A287C"},
	    {40, "DFA66747DE9AE63030CA32611497C827"},
	    {64, "51F0BEBF7E3B9D92FC49741779363CFE"},
	};
	uint8_t key[16], msg[64], mac[16];

	hex2bin("2B7E151628AED2A6ABF7158809CF4F3C", key, 16);
	hex2bin(rfc4493_msg, msg, 64);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(tp_cmac(key, msg, ex[i].len, mac), TP_OK);
		assert_hex_equal(mac, 16, ex[i].mac);
	}
}

/* AN12196 Rev 1.8 section 4.4.4.2.1: K1, K2 and CMAC of the empty string. */
static void an12196_empty_cmac(void **state)
{
	uint8_t key[16], mac[16];
	struct tp_cmac_key ck;

	hex2bin("3FB5F6E3A807A03D5E3570ACE393776F", key, 16);
	assert_int_equal(tp_cmac_setkey(&ck, key), TP_OK);
	assert_hex_equal(ck.k1, 16, "1C5E18A33EC1D73292FDDAD167EF8B4A");
	assert_hex_equal(ck.k2, 16, "38BC31467D83AE6525FBB5A2CFDF1694");
	assert_int_equal(tp_cmac_run(&ck, NULL, 0, mac), TP_OK);
	assert_hex_equal(mac, 16, "E194C7EE12D9F7EE8A65C8331B704386");
	tp_cmac_clear(&ck);
}

/* FIPS-197 appendix C.1, AES-128 one block both ways. */
static void aes_ecb_fips197(void **state)
{
	uint8_t key[16], pt[16], ct[16], back[16];

	hex2bin("000102030405060708090A0B0C0D0E0F", key, 16);
	hex2bin("00112233445566778899AABBCCDDEEFF", pt, 16);
	assert_int_equal(tp_aes_ecb(key, 1, pt, ct), TP_OK);
	assert_hex_equal(ct, 16, "69C4E0D86A7B0430D8CDB78070B4C55A");
	assert_int_equal(tp_aes_ecb(key, 0, ct, back), TP_OK);
	assert_memory_equal(back, pt, 16);
}

/* NIST SP 800-38A F.2.1: CBC-AES128 encrypt, first two blocks. */
static void aes_cbc_sp800_38a(void **state)
{
	uint8_t key[16], iv[16], pt[64], ct[32], back[32];

	hex2bin("2B7E151628AED2A6ABF7158809CF4F3C", key, 16);
	hex2bin("000102030405060708090A0B0C0D0E0F", iv, 16);
	hex2bin(rfc4493_msg, pt, 64);
	assert_int_equal(tp_aes_cbc(key, 1, iv, pt, 32, ct), TP_OK);
	assert_hex_equal(ct, 32,
			 "7649ABAC8119B246CEE98E9B12E9197D"
			 "5086CB9B507219EE95DB113A917678B2");
	assert_int_equal(tp_aes_cbc(key, 0, iv, ct, 32, back), TP_OK);
	assert_memory_equal(back, pt, 32);
	assert_int_equal(tp_aes_cbc(key, 1, iv, pt, 15, ct), TP_ERR_ARG);
}

/* RFC 5869 A.1: HKDF-SHA256 basic test case. */
static void hkdf_rfc5869(void **state)
{
	uint8_t ikm[22], salt[13], info[10], okm[42];

	memset(ikm, 0x0b, sizeof(ikm));
	hex2bin("000102030405060708090a0b0c", salt, 13);
	hex2bin("f0f1f2f3f4f5f6f7f8f9", info, 10);
	assert_int_equal(tp_hkdf_sha256(salt, 13, ikm, 22, info, 10, okm, 42),
			 TP_OK);
	assert_hex_equal(okm, 42,
			 "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db0"
			 "2d56ecc4c5bf34007208d5b887185865");
}

/* RFC 7748 section 6.1: Alice and Bob agree on the same secret. */
static void x25519_rfc7748(void **state)
{
	uint8_t a[32], bpub[32], k[32];

	hex2bin(
	    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
	    a, 32);
	hex2bin(
	    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
	    bpub, 32);
	assert_int_equal(tp_x25519_shared(a, bpub, k), TP_OK);
	assert_hex_equal(
	    k, 32,
	    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	/* A low-order point (all zero) must be refused. */
	memset(bpub, 0, 32);
	assert_int_equal(tp_x25519_shared(a, bpub, k), TP_ERR_CRYPTO);
}

/* Round trip, and any flipped bit in ciphertext, tag or AD is refused. */
static void aead_roundtrip_and_tamper(void **state)
{
	uint8_t key[32], pt[40], ct[40], out[40], tag[16], ad[8] = "header!";

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	memset(pt, 'x', sizeof(pt));
	assert_int_equal(tp_aead_seal(key, 7, ad, 8, pt, 40, ct, tag), TP_OK);
	assert_int_equal(tp_aead_open(key, 7, ad, 8, ct, 40, tag, out), TP_OK);
	assert_memory_equal(out, pt, 40);
	assert_int_equal(tp_aead_open(key, 8, ad, 8, ct, 40, tag, out),
			 TP_ERR_MAC);
	for (int bit = 0; bit < 40 * 8; bit += 7) {
		ct[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		assert_int_equal(tp_aead_open(key, 7, ad, 8, ct, 40, tag, out),
				 TP_ERR_MAC);
		ct[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	tag[3] ^= 1;
	assert_int_equal(tp_aead_open(key, 7, ad, 8, ct, 40, tag, out),
			 TP_ERR_MAC);
	tag[3] ^= 1;
	ad[0] ^= 1;
	assert_int_equal(tp_aead_open(key, 7, ad, 8, ct, 40, tag, out),
			 TP_ERR_MAC);
}

/* Keys: sign/verify, save/load round trip, refusal of a readable file. */
static void p256_keys(void **state)
{
	char dir[] = "/tmp/tapaid-keytest-XXXXXX", priv[128], pub[128];
	struct tp_key *k, *kp, *kpub, *kraw;
	uint8_t h[32], sig[64], raw[65];

	assert_non_null(mkdtemp(dir));
	snprintf(priv, sizeof(priv), "%s/k.key", dir);
	snprintf(pub, sizeof(pub), "%s/k.pub", dir);
	assert_int_equal(tp_key_generate(&k), TP_OK);
	assert_int_equal(tp_key_save_private(k, priv), TP_OK);
	assert_int_equal(tp_key_save_public(k, pub), TP_OK);
	assert_int_equal(tp_key_load_private(priv, &kp), TP_OK);
	assert_int_equal(tp_key_load_public(pub, &kpub), TP_OK);
	assert_false(tp_key_can_sign(kpub));
	tp_sha256("hello", 5, h);
	assert_int_equal(tp_sign(kp, h, sig), TP_OK);
	assert_int_equal(tp_verify(k, h, sig), TP_OK);
	assert_int_equal(tp_verify(kpub, h, sig), TP_OK);
	tp_key_free(kp);
	kp = NULL;
	assert_int_equal(tp_sign(kpub, h, sig), TP_ERR_ARG);
	assert_int_equal(tp_key_public_raw(kpub, raw), TP_OK);
	assert_int_equal(tp_key_from_public_raw(raw, &kraw), TP_OK);
	assert_int_equal(tp_verify(kraw, h, sig), TP_OK);
	sig[10] ^= 0x40;
	assert_int_equal(tp_verify(kraw, h, sig), TP_ERR_SIGNATURE);
	raw[5] ^= 1; /* no longer on the curve */
	assert_int_not_equal(tp_key_from_public_raw(raw, &kp), TP_OK);
	assert_null(kp);
	tp_key_free(kraw);
	chmod(priv, 0640);
	assert_int_equal(tp_key_load_private(priv, &kp), TP_ERR_KEYPERM);
	assert_int_equal(tp_key_load_private("/nonexistent", &kp),
			 TP_ERR_KEYFILE);
	tp_key_free(k);
	tp_key_free(kpub);
	unlink(priv);
	unlink(pub);
	rmdir(dir);
}

static void hex_codec(void **state)
{
	uint8_t b[4];
	char s[9];

	assert_int_equal(tp_hex_decode("0aFf", 4, b, 2), TP_OK);
	assert_int_equal(b[0], 0x0a);
	assert_int_equal(b[1], 0xff);
	assert_int_equal(tp_hex_decode("0g", 2, b, 1), TP_ERR_HEX);
	assert_int_equal(tp_hex_decode("0a0", 3, b, 2), TP_ERR_LENGTH);
	tp_hex_encode(b, 2, s, 1);
	assert_string_equal(s, "0AFF");
	assert_true(tp_memeq("abc", "abc", 3));
	assert_false(tp_memeq("abc", "abd", 3));
	assert_string_equal(tp_strerror(TP_ERR_MAC),
			    "message authentication failed");
	assert_string_equal(tp_strerror(-999), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rfc4493_subkeys),
	    cmocka_unit_test(rfc4493_examples),
	    cmocka_unit_test(an12196_empty_cmac),
	    cmocka_unit_test(aes_ecb_fips197),
	    cmocka_unit_test(aes_cbc_sp800_38a),
	    cmocka_unit_test(hkdf_rfc5869),
	    cmocka_unit_test(x25519_rfc7748),
	    cmocka_unit_test(aead_roundtrip_and_tamper),
	    cmocka_unit_test(p256_keys),
	    cmocka_unit_test(hex_codec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
