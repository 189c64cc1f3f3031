/*
 * test_ntag.c - SUN verification, key diversification and NDEF/SDM
 * settings against the published vectors in /work/shared/vectors/ntag424.md
 * (AN12196 Rev 1.8 tables, AN10922, third-party tests), plus tampering and
 * bad-input checks.
 */
#include "test_util.h"

#include <stdlib.h>

#include "tapaid/ntag.h"

static const uint8_t zero16[16];

static void parse_ok(const char *url, struct tp_sun_msg *m)
{
	assert_int_equal(tp_sun_parse(url, strlen(url), m), TP_OK);
}

/* AN12196 Rev 1.8 section 1 / data sheet 9.1.3: MACt keeps odd indices. */
static void test_mact(void **state)
{
	uint8_t full[16], t[8];

	(void)state;
	hex2bin("E194C7EE12D9F7EE8A65C8331B704386", full, 16);
	tp_ntag_mact(full, t);
	assert_hex_equal(t, 8, "94EED9EE65337086");
}

/* AN12196 Rev 1.8 Table 2: SDM session keys with a non-zero key. */
static void test_table2_session_keys(void **state)
{
	uint8_t k[16], uid[7], enc[16], mac[16];

	(void)state;
	hex2bin("5ACE7E50AB65D5D51FD5BF5A16B8205B", k, 16);
	hex2bin("04C767F2066180", uid, 7);
	assert_int_equal(tp_sun_session_keys(k, uid, 1, enc, mac), TP_OK);
	assert_hex_equal(enc, 16, "66DA61797E23DECA5D8ECA13BBADF7A9");
	assert_hex_equal(mac, 16, "3A3E8110E05311F7A3FCF0D969BF2B48");
}

/* AN12196 Rev 1.8 Table 3 (PICCData) and Table 5 (SDMMAC, empty input). */
static void test_table3_table5(void **state)
{
	const char *url = "https://ntag.nxp.com/424?e=EF963FF7828658A599F30415"
			  "10671E88&c=94EED9EE65337086";
	struct tp_sun_msg m;
	struct tp_sun_result r;
	uint8_t uid[7], ses[16], full[16], mac[8];
	uint32_t ctr;

	(void)state;
	parse_ok(url, &m);
	assert_int_equal(m.kind, TP_SUN_ENC);
	assert_int_equal(m.mac_in_len, 0);
	assert_int_equal(tp_sun_decrypt_picc(zero16, m.picc_enc, uid, &ctr),
			 TP_OK);
	assert_hex_equal(uid, 7, "04DE5F1EACC040");
	assert_int_equal(ctr, 61);
	assert_int_equal(tp_sun_session_keys(zero16, uid, ctr, NULL, ses),
			 TP_OK);
	assert_hex_equal(ses, 16, "3FB5F6E3A807A03D5E3570ACE393776F");
	assert_int_equal(tp_cmac(ses, NULL, 0, full), TP_OK);
	assert_hex_equal(full, 16, "E194C7EE12D9F7EE8A65C8331B704386");
	assert_int_equal(tp_sun_mac(zero16, uid, ctr, "", 0, mac), TP_OK);
	assert_hex_equal(mac, 8, "94EED9EE65337086");
	assert_int_equal(tp_sun_verify(zero16, zero16, &m, &r), TP_OK);
	assert_hex_equal(r.uid, 7, "04DE5F1EACC040");
	assert_int_equal(r.ctr, 61);
	/* [CALC] the same tap's ENC session key (vectors 2.2). */
	assert_int_equal(tp_sun_session_keys(zero16, uid, ctr, ses, NULL),
			 TP_OK);
	assert_hex_equal(ses, 16, "DF38382B84FB90D2DDDB24E51AAFF7AC");
}

/* AN12196 Rev 1.8 Table 6: SDMMAC over a non-empty ASCII input. */
static void test_table6(void **state)
{
	const char *url = "https://www.my424dna.com/?picc_data=FD91EC26430987"
			  "8BE6345CBE53BADF40&enc=CEE9A53E3E463EF1F45963573673"
			  "8962&cmac=ECC1E7F6C6C73BF6";
	struct tp_sun_msg m;
	struct tp_sun_result r;
	uint8_t ses[16], pt[16];

	(void)state;
	parse_ok(url, &m);
	assert_int_equal(m.mac_in_len, 38);
	assert_memory_equal(m.mac_in,
			    "CEE9A53E3E463EF1F459635736738962&cmac=", 38);
	assert_int_equal(tp_sun_verify(zero16, zero16, &m, &r), TP_OK);
	assert_hex_equal(r.uid, 7, "04958CAA5C5E80");
	assert_int_equal(r.ctr, 8);
	assert_int_equal(tp_sun_session_keys(zero16, r.uid, 8, NULL, ses),
			 TP_OK);
	assert_hex_equal(ses, 16, "3ED0920E5E6A0320D823D5987FEAFBB1");
	/* [CALC] the enc= value decrypts to 16 x "x". */
	assert_int_equal(tp_sun_session_keys(zero16, r.uid, 8, ses, NULL),
			 TP_OK);
	assert_hex_equal(ses, 16, "42132D669442AD43E072C8C0C9828A72");
	assert_int_equal(m.enc_len, 16);
	assert_int_equal(tp_sun_decrypt_file(zero16, r.uid, 8, m.enc, 16, pt),
			 TP_OK);
	assert_hex_equal(pt, 16, "78787878787878787878787878787878");
}

/* AN12196 Rev 1.8 Table 4: SDMENCFileData decryption. */
static void test_table4(void **state)
{
	const char *url = "https://my424dna.com/?picc_data=FDE4AFA99B5C820A2C1"
			  "BB0F1C792D0EB&enc=94592FDE69FA06E8E3B6CA686A22842B&"
			  "cmac=C48B89C17A233B2C";
	struct tp_sun_msg m;
	struct tp_sun_result r;
	uint8_t ses[16], pt[16];

	(void)state;
	parse_ok(url, &m);
	assert_int_equal(tp_sun_verify(zero16, zero16, &m, &r), TP_OK);
	assert_hex_equal(r.uid, 7, "04958CAA5C5E80");
	assert_int_equal(r.ctr, 1);
	assert_int_equal(tp_sun_session_keys(zero16, r.uid, 1, ses, NULL),
			 TP_OK);
	assert_hex_equal(ses, 16, "8097D73344D53F963B09E23E03B62336");
	assert_int_equal(tp_sun_decrypt_file(zero16, r.uid, 1, m.enc, 16, pt),
			 TP_OK);
	assert_hex_equal(pt, 16, "78787878787878787878787878787878");
	assert_int_equal(tp_sun_session_keys(zero16, r.uid, 1, NULL, ses),
			 TP_OK);
	assert_hex_equal(ses, 16, "D614936CE4EFE207BBC8D66B005A1EC5");
}

/* Plain mirror: nfc-developer/sdm-backend test_plain_sdm (vectors 2.5). */
static void test_plain_mirror(void **state)
{
	struct tp_sun_msg m;
	struct tp_sun_result r;

	(void)state;
	parse_ok("uid=041E3C8A2D6B80&ctr=000006&c=4B00064004B0B3D3", &m);
	assert_int_equal(m.kind, TP_SUN_PLAIN);
	assert_int_equal(m.ctr, 6);
	assert_int_equal(tp_sun_verify(NULL, zero16, &m, &r), TP_OK);
	assert_int_equal(r.ctr, 6);
	/* The ASCII counter is MSB first: reading it LSB first fails. */
	parse_ok("uid=041E3C8A2D6B80&ctr=060000&c=4B00064004B0B3D3", &m);
	assert_int_equal(tp_sun_verify(NULL, zero16, &m, &r), TP_ERR_MAC);
}

/* sdm-backend test_sun3_custom (vectors 2.6): non-zero meta and file keys;
 * its MAC input is the 32 ASCII characters of the enc data. */
static void test_sun3_custom(void **state)
{
	const char *enc = "B8436E11F627BB7F543FCC0C1E0D1A89";
	uint8_t meta[16], file[16], p[16], e[16], mac[8], uid[7], pt[16];
	uint32_t ctr;

	(void)state;
	hex2bin("42aff114f2cb3b6141be6dc95dfc5416", meta, 16);
	hex2bin("b62a9baf092439bd43c62aee96b970c5", file, 16);
	hex2bin("8ACADDEF0A9B62CDAE39A16B83FC14DE", p, 16);
	hex2bin(enc, e, 16);
	hex2bin("238B2543A8DEBAD8", mac, 8);
	assert_int_equal(tp_sun_decrypt_picc(meta, p, uid, &ctr), TP_OK);
	assert_hex_equal(uid, 7, "041D3C8A2D6B80");
	assert_int_equal(ctr, 291);
	assert_int_equal(tp_sun_check_mac(file, uid, ctr, enc, 32, mac), TP_OK);
	assert_int_equal(tp_sun_decrypt_file(file, uid, ctr, e, 16, pt), TP_OK);
	assert_memory_equal(pt, "NTXXqno_oBFpwy-V", 16);
	/* The wrong (meta) key as file key must fail. */
	assert_int_equal(tp_sun_check_mac(meta, uid, ctr, enc, 32, mac),
			 TP_ERR_MAC);
}

/* nfc-developer/sdm-backend libsdm/derive.py (vectors 5.3), rebuilt here
 * from its description to check its vectors and test_decrypt_with_kdf2. */
static void sdmb_undiv(const uint8_t *mk, size_t mklen, uint8_t out[16])
{
	uint8_t h[32];

	assert_int_equal(tp_hmac_sha256(mk, mklen, "PICCDataKey", 11, h),
			 TP_OK);
	memcpy(out, h, 16);
}

static void sdmb_tag_key(const uint8_t *mk, size_t mklen, const uint8_t uid[7],
			 uint8_t n, uint8_t out[16])
{
	uint8_t msg[14], h[32], k[16], base[32], d[17];

	memcpy(msg, "SlotMasterKey", 13);
	msg[13] = n;
	assert_int_equal(tp_hmac_sha256(mk, mklen, msg, 14, h), TP_OK);
	memcpy(k, h, 16);
	assert_int_equal(tp_hmac_sha256(mk, mklen, "DivBaseKey", 10, base),
			 TP_OK);
	assert_int_equal(tp_hmac_sha256(base, 32, uid, 7, h), TP_OK);
	d[0] = 0x01;
	memcpy(d + 1, h, 16);
	assert_int_equal(tp_cmac(k, d, 17, out), TP_OK);
}

static void test_sdm_backend_kdf(void **state)
{
	uint8_t mk[32], uid[7], k[16], p[16], mac[8], e[16], pt[16], meta[16];
	uint32_t ctr;
	const char *enc = "5CE7DCDEA93F5DA7AAA0AADC97485ABF";

	(void)state;
	hex2bin("C9EB67DF090AFF47C3B19A2516680B9D", mk, 16);
	sdmb_undiv(mk, 16, k);
	assert_hex_equal(k, 16, "a13086f194d7bdfd108dd11716ea2bdf");
	hex2bin("010203040506AB", uid, 7);
	sdmb_tag_key(mk, 16, uid, 1, k);
	assert_hex_equal(k, 16, "f18cdd9389d47ae7ab381e80e5ab6fe3");
	hex2bin("03030303030303", uid, 7);
	sdmb_tag_key(mk, 16, uid, 2, k);
	assert_hex_equal(k, 16, "85f7cc459a5b4b2f5d1a5019ded61c88");
	hex2bin("B95F4C27E3D0BC333792EA968545217F", mk, 16);
	sdmb_undiv(mk, 16, k);
	assert_hex_equal(k, 16, "3a553c40846fda656faa0fce4f45fdbd");
	hex2bin("010203040506AB", uid, 7);
	sdmb_tag_key(mk, 16, uid, 1, k);
	assert_hex_equal(k, 16, "00883874c67dd23032b2acd10d771635");
	hex2bin("05050505050505", uid, 7);
	sdmb_tag_key(mk, 16, uid, 2, k);
	assert_hex_equal(k, 16, "89ae686de793fdf48057ee6e78505cfc");

	/* test_decrypt_with_kdf2 (vectors 2.6), end to end. */
	hex2bin("47BBB68AFA73F31310BEEFCE5DDA692DBAD671A03FEAD5A9BBDBCF3CD6D4"
		"C521",
		mk, 32);
	sdmb_undiv(mk, 32, meta);
	hex2bin("4F5B914723915D456C038FE658686CD5", p, 16);
	assert_int_equal(tp_sun_decrypt_picc(meta, p, uid, &ctr), TP_OK);
	assert_hex_equal(uid, 7, "047D5F2AAA6180");
	assert_int_equal(ctr, 2);
	sdmb_tag_key(mk, 32, uid, 2, k);
	hex2bin("FFCD8DE82AD05289", mac, 8);
	assert_int_equal(tp_sun_check_mac(k, uid, ctr, enc, 32, mac), TP_OK);
	hex2bin(enc, e, 16);
	assert_int_equal(tp_sun_decrypt_file(k, uid, ctr, e, 16, pt), TP_OK);
	assert_memory_equal(pt,
			    "CC\x04"
			    "aaaaEEEEEEEEE",
			    16);
}

/* Every single-bit change in p or c is rejected. */
static void test_bitflip(void **state)
{
	const char *url = "https://ntag.nxp.com/424?e=EF963FF7828658A599F30415"
			  "10671E88&c=94EED9EE65337086";
	struct tp_sun_msg m, t;
	struct tp_sun_result r;
	int n = 0;

	(void)state;
	parse_ok(url, &m);
	for (int bit = 0; bit < 128; bit++) {
		t = m;
		t.picc_enc[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(tp_sun_verify(zero16, zero16, &t, &r),
				 TP_ERR_MAC);
		assert_int_equal(r.ctr, 0);
		n++;
	}
	for (int bit = 0; bit < 64; bit++) {
		t = m;
		t.mac[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(tp_sun_verify(zero16, zero16, &t, &r),
				 TP_ERR_MAC);
		n++;
	}
	assert_int_equal(n, 192);
	/* And at the text level: every hex digit of p and c changed. */
	for (size_t i = strlen("https://ntag.nxp.com/424?e="); url[i]; i++) {
		char buf[128];

		if (url[i] == '&' || url[i] == 'c' || url[i] == '=')
			continue;
		strcpy(buf, url);
		buf[i] = buf[i] == '0' ? '1' : '0';
		parse_ok(buf, &t);
		assert_int_equal(tp_sun_verify(zero16, zero16, &t, &r),
				 TP_ERR_MAC);
	}
}

/* Wrong length and non-hex input get named errors. */
static void test_bad_input(void **state)
{
	static const struct {
		const char *q;
		int err;
	} cases[] = {
	    {"p=EF963FF7828658A599F3041510671E8&c=94EED9EE65337086",
	     TP_ERR_LENGTH},
	    {"p=EF963FF7828658A599F3041510671E888&c=94EED9EE65337086",
	     TP_ERR_LENGTH},
	    {"p=EF963FF7828658A599F3041510671EGG&c=94EED9EE65337086",
	     TP_ERR_HEX},
	    {"p=EF963FF7828658A599F3041510671E88&c=94EED9EE6533708",
	     TP_ERR_LENGTH},
	    {"p=EF963FF7828658A599F3041510671E88&c=94EED9EE6533708x",
	     TP_ERR_HEX},
	    {"p=EF963FF7828658A599F3041510671E88&c=", TP_ERR_LENGTH},
	    {"p=EF963FF7828658A599F3041510671E88", TP_ERR_PARSE},
	    {"c=94EED9EE65337086", TP_ERR_PARSE},
	    {"p=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086&c="
	     "94EED9EE65337086",
	     TP_ERR_PARSE},
	    {"uid=041E3C8A2D6B80&c=4B00064004B0B3D3", TP_ERR_PARSE},
	    {"uid=041E3C8A2D6B8&ctr=000006&c=4B00064004B0B3D3", TP_ERR_LENGTH},
	    {"uid=041E3C8A2D6B80&ctr=00006&c=4B00064004B0B3D3", TP_ERR_LENGTH},
	    {"https://x.org/no-query", TP_ERR_PARSE},
	    {"", TP_ERR_PARSE},
	    {"p=EF963FF7828658A599F3041510671E88&enc=0011&c="
	     "94EED9EE65337086",
	     TP_ERR_LENGTH},
	};
	struct tp_sun_msg m;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = tp_sun_parse(cases[i].q, strlen(cases[i].q), &m);

		if (rc != cases[i].err)
			print_error("case %zu: %s\n", i, tp_strerror(rc));
		assert_int_equal(rc, cases[i].err);
	}
	assert_string_equal(tp_strerror(TP_ERR_HEX), "not hexadecimal");
	/* An embedded NUL is refused. */
	assert_int_equal(tp_sun_parse("c=\0", 3, &m), TP_ERR_PARSE);
	/* A bare query and a "?query" parse the same as the full URL. */
	parse_ok("?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086\n",
		 &m);
	assert_int_equal(m.kind, TP_SUN_ENC);
}

/* SDMReadCtr 0xFFFFFF: the last value the card gives, mirrored and
 * verified end to end; one more is refused. */
static void test_ctr_max(void **state)
{
	uint8_t meta[16], fkey[16], uid[7], file[256], out[256];
	struct tp_sdm_settings sdm;
	struct tp_sun_msg m;
	struct tp_sun_result r;
	char url[300];
	size_t n, ulen;

	(void)state;
	rng_stub_seed("ctr-max");
	memset(meta, 0x11, 16);
	memset(fkey, 0x22, 16);
	hex2bin("04A1B2C3D4E5F6", uid, 7);
	assert_int_equal(tp_ndef_sun_template("https://tap.example.org/t", file,
					      sizeof(file), &n, &sdm),
			 TP_OK);
	assert_int_equal(tp_sun_card_mirror(meta, fkey, uid, 0xFFFFFF, &sdm,
					    file, n, out, sizeof(out)),
			 TP_OK);
	assert_int_equal(tp_ndef_uri(out, n, url, sizeof(url), &ulen), TP_OK);
	parse_ok(url, &m);
	assert_int_equal(tp_sun_verify(meta, fkey, &m, &r), TP_OK);
	assert_int_equal(r.ctr, 0xFFFFFF);
	assert_memory_equal(r.uid, uid, 7);
	assert_int_equal(tp_sun_card_mirror(meta, fkey, uid, 0x1000000, &sdm,
					    file, n, out, sizeof(out)),
			 TP_ERR_COUNTER);
	assert_int_equal(tp_sun_session_keys(fkey, uid, 0x1000000, NULL, meta),
			 TP_ERR_VALUE);
	parse_ok("uid=04A1B2C3D4E5F6&ctr=FFFFFF&c=0000000000000000", &m);
	assert_int_equal(m.ctr, 0xFFFFFF);
	/* Wrong meta key: the tag byte check fails. */
	parse_ok(url, &m);
	memset(meta, 0x12, 16);
	assert_int_equal(tp_sun_verify(meta, fkey, &m, &r), TP_ERR_MAC);
}

/* NXP AN10922 Rev 2.0 section 2.2.1 (Table 2), AES-128 example. */
static void test_an10922(void **state)
{
	uint8_t k[16], m[31], out[16], d[32], cm[16];

	(void)state;
	hex2bin("00112233445566778899AABBCCDDEEFF", k, 16);
	hex2bin("04782E21801D803042F54E585020416275", m, 17);
	assert_int_equal(tp_kdf_an10922(k, m, 17, out), TP_OK);
	assert_hex_equal(out, 16, "A8DD63A3B89D54B37CA802473FDA9175");
	/* For |M| >= 16 it equals CMAC(01 || M); 31 bytes needs no padding. */
	for (size_t len = 16; len <= 31; len++) {
		for (size_t i = 0; i < len; i++)
			m[i] = (uint8_t)(i * 7 + len);
		d[0] = 1;
		memcpy(d + 1, m, len);
		assert_int_equal(tp_kdf_an10922(k, m, len, out), TP_OK);
		assert_int_equal(tp_cmac(k, d, len + 1, cm), TP_OK);
		assert_memory_equal(out, cm, 16);
	}
	/* Shorter M is padded to 32 bytes, unlike CMAC. */
	for (size_t len = 1; len <= 15; len++) {
		assert_int_equal(tp_kdf_an10922(k, m, len, out), TP_OK);
		d[0] = 1;
		memcpy(d + 1, m, len);
		assert_int_equal(tp_cmac(k, d, len + 1, cm), TP_OK);
		assert_memory_not_equal(out, cm, 16);
	}
	assert_int_equal(tp_kdf_an10922(k, m, 0, out), TP_ERR_ARG);
	assert_int_equal(tp_kdf_an10922(k, m, 32, out), TP_ERR_ARG);
}

/* The project scheme (CARD.md): AN10922 over UID||"TAP"||keyno||ver||
 * "tapaid"; key 1 is never diversified; version changes the key. */
static void test_card_key(void **state)
{
	uint8_t mk[16], uid[7], m[18], a[16], b[16], id1[16], id2[16];

	(void)state;
	hex2bin("00112233445566778899AABBCCDDEEFF", mk, 16);
	hex2bin("04782E21801D80", uid, 7);
	hex2bin("04782E21801D80"
		"544150"
		"02"
		"01"
		"746170616964",
		m, 18);
	assert_int_equal(tp_card_key(mk, uid, 2, 1, a), TP_OK);
	assert_int_equal(tp_kdf_an10922(mk, m, 18, b), TP_OK);
	assert_memory_equal(a, b, 16);
	assert_int_equal(tp_card_key(mk, uid, 2, 2, b), TP_OK);
	assert_memory_not_equal(a, b, 16);
	assert_int_equal(tp_card_key(mk, uid, 0, 1, b), TP_OK);
	assert_memory_not_equal(a, b, 16);
	{
		struct tp_cmac_key ck;

		assert_int_equal(tp_cmac_setkey(&ck, mk), TP_OK);
		for (int kn = 0; kn <= 4; kn++) {
			if (kn == 1)
				continue;
			assert_int_equal(tp_card_key(mk, uid, kn, 9, a), TP_OK);
			assert_int_equal(tp_card_key_ck(&ck, uid, kn, 9, b),
					 TP_OK);
			assert_memory_equal(a, b, 16);
		}
		assert_int_equal(tp_card_key_ck(&ck, uid, 1, 1, b), TP_ERR_ARG);
		tp_cmac_clear(&ck);
	}
	assert_int_equal(tp_card_key(mk, uid, 2, 1, a), TP_OK);
	assert_int_equal(tp_card_key(mk, uid, 1, 1, b), TP_ERR_ARG);
	assert_int_equal(tp_card_key(mk, uid, 5, 1, b), TP_ERR_ARG);
	/* Lookup id: HMAC-SHA256(salt, "tapaid-card-id" || UID)[0..15]. */
	assert_int_equal(tp_card_lookup_id(mk, uid, id1), TP_OK);
	{
		uint8_t msg[21], h[32];

		memcpy(msg, "tapaid-card-id", 14);
		memcpy(msg + 14, uid, 7);
		assert_int_equal(tp_hmac_sha256(mk, 16, msg, 21, h), TP_OK);
		assert_memory_equal(id1, h, 16);
	}
	mk[0] ^= 1;
	assert_int_equal(tp_card_lookup_id(mk, uid, id2), TP_OK);
	assert_memory_not_equal(id1, id2, 16);
}

/* ChangeKey CRC32NK: JAMCRC (AN12196 Rev 1.8 Table 26; BoltCardTools). */
static void test_jamcrc(void **state)
{
	uint8_t k[16];
	uint32_t c;

	(void)state;
	assert_int_equal(tp_jamcrc32((const uint8_t *)"hello world", 11),
			 0xF2B5EE7Au);
	hex2bin("F3847D627727ED3BC9C4CC050489B966", k, 16);
	c = tp_jamcrc32(k, 16);
	/* Stored LSB first: 78 9D FA DC. */
	assert_int_equal(c, 0xDCFA9D78u);
}

/* AN12196 Rev 1.8 Tables 15-17: the NDEF template and its SDM offsets
 * (the table uses "e=" where we write "p="). */
static void test_template_table15(void **state)
{
	uint8_t file[256], want[0x53];
	struct tp_sdm_settings sdm;
	size_t n, ulen;
	char url[200];

	(void)state;
	hex2bin("0051D1014D550463686F6F73652E75726C2E636F6D2F6E7461673432343F"
		"653D",
		want, 32);
	memset(want + 32, 0x30, 32);
	memcpy(want + 64, "&c=", 3);
	memset(want + 67, 0x30, 16);
	want[30] = 'p';
	assert_int_equal(tp_ndef_sun_template("https://choose.url.com/ntag424",
					      file, sizeof(file), &n, &sdm),
			 TP_OK);
	assert_int_equal(n, 0x53);
	assert_memory_equal(file, want, 0x53);
	assert_int_equal(sdm.picc_off, 0x20);
	assert_int_equal(sdm.mac_off, 0x43);
	assert_int_equal(sdm.mac_in_off, 0x43);
	assert_int_equal(tp_ndef_uri(file, n, url, sizeof(url), &ulen), TP_OK);
	assert_string_equal(url, "https://choose.url.com/ntag424?p="
				 "00000000000000000000000000000000&c="
				 "0000000000000000");
	assert_int_equal(ulen, strlen(url));
	/* A base URL with a query gets '&'. */
	assert_int_equal(tp_ndef_sun_template("http://a.b/x?k=1", file,
					      sizeof(file), &n, &sdm),
			 TP_OK);
	assert_int_equal(tp_ndef_uri(file, n, url, sizeof(url), &ulen), TP_OK);
	assert_non_null(strstr(url, "http://a.b/x?k=1&p=0000"));
	assert_int_equal(
	    tp_ndef_sun_template("ftp://a.b", file, sizeof(file), &n, &sdm),
	    TP_ERR_PARSE);
	assert_int_equal(tp_ndef_uri(file, 3, url, sizeof(url), &ulen),
			 TP_ERR_PARSE);
}

/* AN12196 Rev 1.8 Table 19 (ChangeFileSettings body) and Table 8
 * (GetFileSettings answer). */
static void test_sdm_settings(void **state)
{
	struct tp_sdm_settings s;
	uint8_t buf[64];
	size_t n;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.file_option = 0x40;
	s.ar_rw = 0;
	s.ar_change = 0;
	s.ar_read = 0xE;
	s.ar_write = 0;
	s.sdm_options = 0xC1;
	s.sdm_ctr_ret = 1;
	s.sdm_meta_read = 2;
	s.sdm_file_read = 1;
	s.picc_off = 0x20;
	s.mac_in_off = 0x43;
	s.mac_off = 0x43;
	assert_int_equal(tp_sdm_settings_encode(&s, buf, sizeof(buf), &n),
			 TP_OK);
	assert_hex_equal(buf, n, "4000E0C1F121200000430000430000");
	assert_int_equal(tp_sdm_settings_decode_change(buf, n, &s), TP_OK);
	assert_int_equal(s.sdm_meta_read, 2);
	assert_int_equal(s.mac_off, 0x43);

	n = hex2bin("0040EEEE000100D1FE001F00004400004400002000006A0000", buf,
		    sizeof(buf));
	assert_int_equal(tp_sdm_settings_decode(buf, n, &s), TP_OK);
	assert_int_equal(s.file_type, 0);
	assert_int_equal(s.file_size, 256);
	assert_int_equal(s.ar_read, 0xE);
	assert_int_equal(s.sdm_options, 0xD1);
	assert_int_equal(s.sdm_ctr_ret, 0xE);
	assert_int_equal(s.sdm_meta_read, 0);
	assert_int_equal(s.sdm_file_read, 0);
	assert_int_equal(s.picc_off, 0x1F);
	assert_int_equal(s.mac_in_off, 0x44);
	assert_int_equal(s.enc_off, 0x44);
	assert_int_equal(s.enc_len, 0x20);
	assert_int_equal(s.mac_off, 0x6A);
	assert_int_equal(tp_sdm_settings_decode(buf, n - 1, &s), TP_ERR_LENGTH);
	/* BoltCardTools CanCreateFileSettings encoding [3P]. */
	n = hex2bin("4000E0C1FF12030000010000020000", buf, sizeof(buf));
	assert_int_equal(tp_sdm_settings_decode_change(buf, n, &s), TP_OK);
	assert_int_equal(s.sdm_meta_read, 1);
	assert_int_equal(s.sdm_file_read, 2);
	assert_int_equal(s.sdm_ctr_ret, 0xF);
	assert_int_equal(s.picc_off, 3);
	assert_int_equal(s.mac_in_off, 1);
	assert_int_equal(s.mac_off, 2);
}

/* The card side mirrors ENC file data too, and the verifier agrees. */
static void test_mirror_encfile(void **state)
{
	uint8_t file[128], out[128], k[16];
	struct tp_sdm_settings sdm;
	struct tp_sun_msg m;
	struct tp_sun_result r;
	uint8_t uid[7] = {4, 1, 2, 3, 4, 5, 6}, pt[16];
	const char *t = "https://x.org/?p=00000000000000000000000000000000"
			"&enc=xxxxxxxxxxxxxxxx0000000000000000&c="
			"0000000000000000";
	size_t tl = strlen(t);
	char url[128];

	(void)state;
	rng_stub_seed("encfile");
	memset(k, 0x5A, 16);
	memcpy(file, t, tl);
	memset(&sdm, 0, sizeof(sdm));
	sdm.file_option = 0x40;
	sdm.sdm_options = 0xD1;
	sdm.sdm_meta_read = 1;
	sdm.sdm_file_read = 2;
	sdm.picc_off = (uint32_t)(strstr(t, "p=") - t + 2);
	sdm.enc_off = (uint32_t)(strstr(t, "enc=") - t + 4);
	sdm.enc_len = 32;
	sdm.mac_in_off = sdm.enc_off;
	sdm.mac_off = (uint32_t)(tl - 16);
	assert_int_equal(
	    tp_sun_card_mirror(k, k, uid, 42, &sdm, file, tl, out, sizeof(out)),
	    TP_OK);
	memcpy(url, out, tl);
	url[tl] = 0;
	parse_ok(url, &m);
	assert_int_equal(tp_sun_verify(k, k, &m, &r), TP_OK);
	assert_int_equal(r.ctr, 42);
	assert_int_equal(tp_sun_decrypt_file(k, uid, 42, m.enc, 16, pt), TP_OK);
	assert_memory_equal(pt, "xxxxxxxxxxxxxxxx", 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mact),
	    cmocka_unit_test(test_table2_session_keys),
	    cmocka_unit_test(test_table3_table5),
	    cmocka_unit_test(test_table6),
	    cmocka_unit_test(test_table4),
	    cmocka_unit_test(test_plain_mirror),
	    cmocka_unit_test(test_sun3_custom),
	    cmocka_unit_test(test_sdm_backend_kdf),
	    cmocka_unit_test(test_bitflip),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_ctr_max),
	    cmocka_unit_test(test_an10922),
	    cmocka_unit_test(test_card_key),
	    cmocka_unit_test(test_jamcrc),
	    cmocka_unit_test(test_template_table15),
	    cmocka_unit_test(test_sdm_settings),
	    cmocka_unit_test(test_mirror_encfile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
