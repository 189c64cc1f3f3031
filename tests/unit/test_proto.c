/*
 * test_proto.c - the pure codec: reason names, frame split, frame sealing,
 * the sequence rule, every message type and every decoder rejection, and
 * signed offline records.  Session-level tests are in test_proto_session.c.
 */
#include <stdlib.h>

#include "test_util.h"
#include "test_proto_samples.h"

#include "tapaid/proto.h"

/* DESIGN.md, "Benefits": the names, in order. */
static void reason_names(void **state)
{
	static const char *const want[] = {
	    "granted",		"unknown_card",
	    "revoked_card",	"replayed_tap",
	    "member_suspended", "not_eligible",
	    "quota_used_up",	"wrong_service_point",
	    "outside_hours",	"kiosk_not_enrolled",
	    "bad_signature",	"not_a_service_card",
	    "offline_limit",	"host_unavailable",
	};

	assert_int_equal(TP_REASON__COUNT, 14);
	for (int i = 0; i < TP_REASON__COUNT; i++) {
		assert_string_equal(tp_reason_name(i), want[i]);
		assert_int_equal(tp_reason_from_name(want[i]), i);
	}
	assert_null(tp_reason_name(-1));
	assert_null(tp_reason_name(TP_REASON__COUNT));
	assert_int_equal(tp_reason_from_name("Granted"), TP_ERR_VALUE);
	assert_int_equal(tp_reason_from_name(""), TP_ERR_VALUE);
	assert_int_equal(tp_reason_from_name(NULL), TP_ERR_VALUE);
}

/* The lookup id pinned against Python: sha256(label || uid)[:16]. */
static void card_lookup_id(void **state)
{
	uint8_t uid[7], id[16];

	hex2bin("04A1B2C3D4E580", uid, 7);
	assert_int_equal(tp_kiosk_lookup_id(uid, id), TP_OK);
	assert_hex_equal(id, 16, "9DA709C5756F54FC67377E9F3D0AC87E");
}

/* --- frame split: a numbered table --- */

struct split_case {
	int n;
	const char *hex; /* the stream buffer */
	int rc;
	size_t frame_len;
};

static void frame_split_table(void **state)
{
	static const struct split_case t[] = {
	    {1, "", TP_ERR_NEED_MORE, 0},
	    {2, "54", TP_ERR_NEED_MORE, 0},
	    {3, "58", TP_ERR_FRAME, 0},	  /* bad first magic byte */
	    {4, "5458", TP_ERR_FRAME, 0}, /* bad second byte */
	    {5, "545001", TP_ERR_NEED_MORE, 0},
	    {6, "545000", TP_ERR_VERSION, 0}, /* version 0 */
	    {7, "545002", TP_ERR_VERSION, 0}, /* version 2 unknown */
	    {8, "5450FF", TP_ERR_VERSION, 0},
	    {9, "54500100", TP_ERR_TYPE, 0},  /* type 0 */
	    {10, "54500106", TP_ERR_TYPE, 0}, /* type 6 */
	    {11, "545001FF", TP_ERR_TYPE, 0},
	    {12, "5450010518", TP_ERR_NEED_MORE, 0},
	    /* SEALED: body 24 is under seq + tag + type byte */
	    {13, "545001051800", TP_ERR_LENGTH, 0},
	    /* SEALED: body 1058 = TP_SEALED_MAX, waits for it */
	    {14, "545001052204", TP_ERR_NEED_MORE, 0},
	    /* SEALED: body 1059 > TP_SEALED_MAX: refused at once */
	    {15, "545001052304", TP_ERR_TOO_BIG, 0},
	    {16, "54500105FFFF", TP_ERR_TOO_BIG, 0},
	    {17, "545001050004", TP_ERR_NEED_MORE, 0},
	    /* HELLO: 67 < 68, 100 > 99 */
	    {18, "545001014300", TP_ERR_LENGTH, 0},
	    {19, "545001016400", TP_ERR_TOO_BIG, 0},
	    /* HELLO_REPLY exactly 129, AUTH exactly 64 */
	    {20, "545001028000", TP_ERR_LENGTH, 0},
	    {21, "545001028200", TP_ERR_TOO_BIG, 0},
	    {22, "545001033F00", TP_ERR_LENGTH, 0},
	    {23, "545001034100", TP_ERR_TOO_BIG, 0},
	    /* plaintext ERROR: 3..131 */
	    {24, "545001040200", TP_ERR_LENGTH, 0},
	    {25, "545001048400", TP_ERR_TOO_BIG, 0},
	    {26, "545001040300000000", TP_OK, 9},
	    {27, "54500104030000000054", TP_OK, 9}, /* next frame begins */
	    {28, "5450010403000000", TP_ERR_NEED_MORE, 0},
	    /* HELLO must keep version 1 even when 2 exists (only 1 here) */
	};
	uint8_t buf[64];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = hex2bin(t[i].hex, buf, sizeof(buf)), fl = 99;
		int rc = tp_frame_split(buf, n, &fl);

		if (rc != t[i].rc || (rc == TP_OK && fl != t[i].frame_len)) {
			print_error("case %d: rc %d (want %d) len %zu\n",
				    t[i].n, rc, t[i].rc, fl);
			fail();
		}
	}
}

static void frame_parse_exact(void **state)
{
	uint8_t b[10];
	struct tp_frame_hdr h;
	size_t n = hex2bin("54500104030000000054", b, sizeof(b));

	assert_int_equal(tp_frame_parse(b, n, &h), TP_ERR_LENGTH);
	assert_int_equal(tp_frame_parse(b, n - 2, &h), TP_ERR_LENGTH);
	assert_int_equal(tp_frame_parse(b, n - 1, &h), TP_OK);
	assert_int_equal(h.type, TP_FRAME_ERROR);
	assert_int_equal(h.body_len, 3);
	assert_ptr_equal(h.body, b + 6);
}

/* --- the sequence rule: a numbered table (wg selftest/counter.c style) - */

static void seq_table(void **state)
{
	static const struct {
		int n;
		uint64_t expected, got;
		int rc;
	} t[] = {
	    {1, 0, 0, TP_OK},
	    {2, 0, 1, TP_ERR_REPLAY}, /* skipped one */
	    {3, 1, 0, TP_ERR_REPLAY}, /* replayed */
	    {4, 1, 1, TP_OK},
	    {5, 5, 4, TP_ERR_REPLAY}, /* one behind */
	    {6, 5, 6, TP_ERR_REPLAY}, /* one ahead: reordered */
	    {7, 5, 5, TP_OK},
	    {8, 5, UINT64_MAX, TP_ERR_REPLAY},
	    {9, 0xFFFFFFFFu, 0xFFFFFFFFu, TP_OK},
	    {10, 0x100000000ull, 0, TP_ERR_REPLAY}, /* no 32-bit wrap */
	    {11, 0, 0x100000000ull, TP_ERR_REPLAY},
	    {12, 0x100000000ull, 0x100000000ull, TP_OK},
	    {13, TP_SEQ_LIMIT - 1, TP_SEQ_LIMIT - 1, TP_OK}, /* last */
	    {14, TP_SEQ_LIMIT - 1, TP_SEQ_LIMIT, TP_ERR_REPLAY},
	    {15, TP_SEQ_LIMIT, TP_SEQ_LIMIT, TP_ERR_COUNTER}, /* spent */
	    {16, UINT64_MAX, UINT64_MAX, TP_ERR_COUNTER},
	    {17, UINT64_MAX, 0, TP_ERR_COUNTER},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = tp_seq_check(t[i].expected, t[i].got);

		if (rc != t[i].rc) {
			print_error("case %d: rc %d want %d\n", t[i].n, rc,
				    t[i].rc);
			fail();
		}
	}
}

/* --- sealing --- */

static const uint8_t k1[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
static const uint8_t k2[32] = {2};

static void seal_open_roundtrip(void **state)
{
	uint8_t pt[100], f[TP_FRAME_MAX], out[TP_MSG_MAX];
	size_t fl, ol;

	sample_fill(pt, sizeof(pt), 3);
	assert_int_equal(
	    tp_frame_seal(k1, 1, 9, pt, sizeof(pt), f, sizeof(f), &fl), TP_OK);
	assert_int_equal(fl, 6 + 8 + 100 + 16);
	assert_int_equal(tp_frame_open(k1, 9, f, fl, out, sizeof(out), &ol),
			 TP_OK);
	assert_int_equal(ol, 100);
	assert_memory_equal(out, pt, 100);
	/* the wrong key, the wrong expected seq, a plaintext frame */
	assert_int_equal(tp_frame_open(k2, 9, f, fl, out, sizeof(out), &ol),
			 TP_ERR_MAC);
	assert_int_equal(ol, 0);
	assert_int_equal(tp_frame_open(k1, 8, f, fl, out, sizeof(out), &ol),
			 TP_ERR_REPLAY);
	assert_int_equal(tp_frame_open(k1, 10, f, fl, out, sizeof(out), &ol),
			 TP_ERR_REPLAY);
	/* truncated or with a byte more: the frame length is a lie */
	assert_int_equal(tp_frame_open(k1, 9, f, fl - 1, out, sizeof(out), &ol),
			 TP_ERR_LENGTH);
	assert_int_equal(tp_frame_open(k1, 9, f, fl + 1, out, sizeof(out), &ol),
			 TP_ERR_LENGTH);
	/* limits */
	assert_int_equal(
	    tp_frame_seal(k1, 1, TP_SEQ_LIMIT, pt, 1, f, sizeof(f), &fl),
	    TP_ERR_COUNTER);
	assert_int_equal(tp_frame_seal(k1, 1, 0, pt, 0, f, sizeof(f), &fl),
			 TP_ERR_LENGTH);
	assert_int_equal(
	    tp_frame_seal(k1, 1, 0, f, TP_MSG_MAX + 1, out, sizeof(out), &fl),
	    TP_ERR_TOO_BIG);
	assert_int_equal(tp_frame_seal(k1, 1, 0, pt, 100, f, 129, &fl),
			 TP_ERR_ARG);
	assert_int_equal(tp_frame_seal(k1, 2, 0, pt, 100, f, sizeof(f), &fl),
			 TP_ERR_VERSION);
}

/* Every single-bit flip anywhere in a sealed frame is refused. */
static void seal_every_bit_flip(void **state)
{
	uint8_t pt[40], f[200], out[TP_MSG_MAX];
	size_t fl, ol;

	sample_fill(pt, sizeof(pt), 9);
	assert_int_equal(
	    tp_frame_seal(k1, 1, 3, pt, sizeof(pt), f, sizeof(f), &fl), TP_OK);
	for (size_t i = 0; i < fl * 8; i++) {
		f[i / 8] ^= (uint8_t)(1 << (i % 8));
		int rc = tp_frame_open(k1, 3, f, fl, out, sizeof(out), &ol);
		assert_true(rc < 0);
		assert_int_equal(ol, 0);
		f[i / 8] ^= (uint8_t)(1 << (i % 8));
	}
	assert_int_equal(tp_frame_open(k1, 3, f, fl, out, sizeof(out), &ol),
			 TP_OK);
}

/* --- messages --- */

static void msg_roundtrip_every_type(void **state)
{
	for (size_t i = 0; i < N_SAMPLE_TYPES; i++) {
		struct tp_msg m, d;
		uint8_t b[TP_MSG_MAX], b2[TP_MSG_MAX];
		size_t n, n2;

		sample_msg(sample_types[i], &m);
		assert_int_equal(tp_msg_encode(&m, b, sizeof(b), &n), TP_OK);
		assert_int_equal(b[0], sample_types[i]);
		assert_int_equal(tp_msg_decode(b, n, &d), TP_OK);
		assert_memory_equal(&m, &d, sizeof(m));
		assert_int_equal(tp_msg_encode(&d, b2, sizeof(b2), &n2), TP_OK);
		assert_int_equal(n, n2);
		assert_memory_equal(b, b2, n);
		/* every shorter prefix and one trailing byte are refused */
		for (size_t k = 0; k < n; k++)
			assert_true(tp_msg_decode(b, k, &d) < 0);
		b[n] = 0;
		assert_int_equal(tp_msg_decode(b, n + 1, &d), TP_ERR_LENGTH);
		assert_int_equal(d.type, TP_MSG_NONE);
		/* too small an output buffer */
		assert_int_equal(tp_msg_encode(&m, b, n - 1, &n2), TP_ERR_ARG);
		assert_string_not_equal(tp_msg_type_name(sample_types[i]), "?");
	}
}

/* Exact lengths of the fixed-size messages (PROTOCOL.md). */
static void msg_exact_lengths(void **state)
{
	static const struct {
		uint8_t type;
		size_t len;
	} t[] = {
	    {TP_MSG_STATUS_ACK, 1 + 12},
	    {TP_MSG_RECORD_ACK, 1 + 10},
	    {TP_MSG_BYE, 1},
	    {TP_MSG_DENYLIST, 1 + 9 + 3 * 16},
	    {TP_MSG_TAP_REQUEST, 1 + 16 + 16 + 8 + 1 + 6 + 1 + 77},
	};
	struct tp_msg m;
	uint8_t b[TP_MSG_MAX];
	size_t n;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		sample_msg(t[i].type, &m);
		assert_int_equal(tp_msg_encode(&m, b, sizeof(b), &n), TP_OK);
		assert_int_equal(n, t[i].len);
	}
}

static void msg_unknown_types(void **state)
{
	uint8_t b[64] = {0};
	struct tp_msg m;

	for (int t = 0; t < 256; t++) {
		int known = 0;

		for (size_t i = 0; i < N_SAMPLE_TYPES; i++)
			known |= sample_types[i] == t;
		if (known)
			continue;
		b[0] = (uint8_t)t;
		assert_int_equal(tp_msg_decode(b, sizeof(b), &m), TP_ERR_TYPE);
		assert_int_equal(tp_msg_decode(b, 1, &m), TP_ERR_TYPE);
	}
	assert_int_equal(tp_msg_decode(b, 0, &m), TP_ERR_LENGTH);
	m.type = TP_MSG_NONE;
	assert_int_equal(tp_msg_encode(&m, b, sizeof(b), &(size_t){0}),
			 TP_ERR_TYPE);
}

/* Encodes a sample, lets fix() corrupt it, expects rc from the decoder. */
#define expect_decode(t, f, rc) expect_decode_(t, f, rc, #f)
static void expect_decode_(uint8_t type, void (*fix)(uint8_t *b, size_t *n),
			   int rc, const char *what)
{
	struct tp_msg m;
	uint8_t b[TP_MSG_MAX + 64];
	size_t n;

	sample_msg(type, &m);
	assert_int_equal(tp_msg_encode(&m, b, sizeof(b), &n), TP_OK);
	fix(b, &n);
	if (tp_msg_decode(b, n, &m) != rc) {
		print_error("%s: got %d want %d\n", what,
			    tp_msg_decode(b, n, &m), rc);
		fail();
	}
}

/* Offsets into the sample encodings (see PROTOCOL.md tables). */
#define TAP_BEN	 41 /* benefit length byte */
#define DEC_RES	 17 /* result */
#define DEC_NAME 30 /* name length byte: 17+2+1+6+4 */

static void fix_benefit_char(uint8_t *b, size_t *n)
{
	b[TAP_BEN + 1] = '/';
}
static void fix_benefit_empty(uint8_t *b, size_t *n)
{
	/* benefit length 0: shift the SUN down over the 6 benefit bytes */
	memmove(b + TAP_BEN + 1, b + TAP_BEN + 7, *n - TAP_BEN - 7);
	b[TAP_BEN] = 0;
	*n -= 6;
}
static void fix_benefit_long(uint8_t *b, size_t *n)
{
	b[TAP_BEN] = 17;
}
static void fix_sun_nul(uint8_t *b, size_t *n)
{
	b[*n - 3] = 0;
}
static void fix_sun_space(uint8_t *b, size_t *n)
{
	b[*n - 3] = ' ';
}
static void fix_granted_reason(uint8_t *b, size_t *n)
{
	b[DEC_RES + 1] = TP_REASON_QUOTA_USED_UP;
}
static void fix_denied_granted(uint8_t *b, size_t *n)
{
	b[DEC_RES] = 0;
}
static void fix_result_2(uint8_t *b, size_t *n)
{
	b[DEC_RES] = 2;
}
static void fix_reason_14(uint8_t *b, size_t *n)
{
	b[DEC_RES] = 0;
	b[DEC_RES + 1] = 14;
}
static void fix_left_m2(uint8_t *b, size_t *n)
{
	memcpy(b + DEC_NAME - 4, "\xfe\xff\xff\xff", 4);
}
static void fix_name_overlong(uint8_t *b, size_t *n)
{
	b[DEC_NAME + 1] = 0xc0;
	b[DEC_NAME + 2] = 0x80;
}
static void fix_name_surrogate(uint8_t *b, size_t *n)
{
	memcpy(b + DEC_NAME + 1, "\xed\xa0\x80", 3);
}
static void fix_name_cut(uint8_t *b, size_t *n)
{
	b[DEC_NAME + 3] = (uint8_t)0x78;
}
static void fix_name_ctrl(uint8_t *b, size_t *n)
{
	b[DEC_NAME + 4] = '\n';
}
static void fix_name_65(uint8_t *b, size_t *n)
{
	b[DEC_NAME] = 65;
}
static void fix_reader_4(uint8_t *b, size_t *n)
{
	b[1] = 4;
}
static void fix_fw_empty(uint8_t *b, size_t *n)
{
	b[1 + 1 + 16 + 8] = 0;
	*n = 1 + 1 + 16 + 8 + 1;
}
static void fix_deny_n65(uint8_t *b, size_t *n)
{
	b[9] = 65;
}
static void fix_deny_n4(uint8_t *b, size_t *n)
{
	b[9] = 4;
}
static void fix_deny_idx(uint8_t *b, size_t *n)
{
	b[5] = 2;
}
static void fix_deny_cnt0(uint8_t *b, size_t *n)
{
	b[5] = 0;
	b[7] = 0;
}
static void fix_record_short(uint8_t *b, size_t *n)
{
	b[1] = TP_RECORD_MIN - 1;
	*n = 3 + TP_RECORD_MIN - 1;
}
static void fix_record_long(uint8_t *b, size_t *n)
{
	b[1] = (TP_RECORD_MAX + 1) & 0xff;
	b[2] = (TP_RECORD_MAX + 1) >> 8;
}
static void fix_rack_status(uint8_t *b, size_t *n)
{
	b[9] = 4;
}
static void fix_rack_reason(uint8_t *b, size_t *n)
{
	b[10] = 200;
}
static void fix_error_text(uint8_t *b, size_t *n)
{
	b[4] = 0xff;
}

static void msg_value_rejections(void **state)
{
	expect_decode(TP_MSG_TAP_REQUEST, fix_benefit_char, TP_ERR_VALUE);
	expect_decode(TP_MSG_TAP_REQUEST, fix_benefit_empty, TP_ERR_VALUE);
	expect_decode(TP_MSG_TAP_REQUEST, fix_benefit_long, TP_ERR_TOO_BIG);
	expect_decode(TP_MSG_TAP_REQUEST, fix_sun_nul, TP_ERR_VALUE);
	expect_decode(TP_MSG_TAP_REQUEST, fix_sun_space, TP_ERR_VALUE);
	expect_decode(TP_MSG_DECISION, fix_granted_reason, TP_ERR_VALUE);
	expect_decode(TP_MSG_DECISION, fix_denied_granted, TP_ERR_VALUE);
	expect_decode(TP_MSG_DECISION, fix_result_2, TP_ERR_VALUE);
	expect_decode(TP_MSG_DECISION, fix_reason_14, TP_ERR_VALUE);
	expect_decode(TP_MSG_DECISION, fix_left_m2, TP_ERR_VALUE);
	expect_decode(TP_MSG_DECISION, fix_name_overlong, TP_ERR_VALUE);
	expect_decode(TP_MSG_DECISION, fix_name_surrogate, TP_ERR_VALUE);
	expect_decode(TP_MSG_DECISION, fix_name_cut, TP_ERR_VALUE);
	expect_decode(TP_MSG_DECISION, fix_name_ctrl, TP_ERR_VALUE);
	expect_decode(TP_MSG_DECISION, fix_name_65, TP_ERR_TOO_BIG);
	expect_decode(TP_MSG_STATUS, fix_reader_4, TP_ERR_VALUE);
	expect_decode(TP_MSG_STATUS, fix_fw_empty, TP_ERR_VALUE);
	expect_decode(TP_MSG_DENYLIST, fix_deny_n65, TP_ERR_TOO_BIG);
	expect_decode(TP_MSG_DENYLIST, fix_deny_n4, TP_ERR_LENGTH);
	expect_decode(TP_MSG_DENYLIST, fix_deny_idx, TP_ERR_VALUE);
	expect_decode(TP_MSG_DENYLIST, fix_deny_cnt0, TP_ERR_VALUE);
	expect_decode(TP_MSG_RECORD, fix_record_short, TP_ERR_LENGTH);
	expect_decode(TP_MSG_RECORD, fix_record_long, TP_ERR_TOO_BIG);
	expect_decode(TP_MSG_RECORD_ACK, fix_rack_status, TP_ERR_VALUE);
	expect_decode(TP_MSG_RECORD_ACK, fix_rack_reason, TP_ERR_VALUE);
	expect_decode(TP_MSG_ERROR, fix_error_text, TP_ERR_VALUE);
}

/* The largest messages fit the limits exactly. */
static void msg_limits(void **state)
{
	struct tp_msg m, d;
	uint8_t b[TP_MSG_MAX];
	size_t n;

	sample_msg(TP_MSG_DENYLIST, &m);
	m.u.deny.n = TP_DENY_CHUNK_MAX;
	assert_int_equal(tp_msg_encode(&m, b, sizeof(b), &n), TP_OK);
	assert_int_equal(n, TP_MSG_MAX);
	assert_int_equal(tp_msg_decode(b, n, &d), TP_OK);
	m.u.deny.n = TP_DENY_CHUNK_MAX + 1;
	assert_int_equal(tp_msg_encode(&m, b, sizeof(b), &n), TP_ERR_TOO_BIG);

	sample_msg(TP_MSG_TAP_REQUEST, &m);
	memset(m.u.tap.sun, 'a', TP_SUN_MAX);
	memset(m.u.tap.benefit, 'B', TP_BENEFIT_MAX);
	assert_int_equal(tp_msg_encode(&m, b, sizeof(b), &n), TP_OK);
	assert_int_equal(tp_msg_decode(b, n, &d), TP_OK);
	assert_memory_equal(&m, &d, sizeof(m));

	sample_msg(TP_MSG_RECORD, &m);
	m.u.record.len = TP_RECORD_MAX;
	assert_int_equal(tp_msg_encode(&m, b, sizeof(b), &n), TP_OK);
	assert_int_equal(tp_msg_decode(b, n, &d), TP_OK);
	assert_int_equal(tp_msg_decode(b, TP_MSG_MAX + 1, &d), TP_ERR_TOO_BIG);
}

/* --- offline records --- */

static void record_sign_verify(void **state)
{
	struct tp_key *k, *other;
	struct tp_record r, d, d2;
	uint8_t b[TP_RECORD_MAX], b2[TP_RECORD_MAX];
	size_t n, n2;

	assert_int_equal(tp_key_generate(&k), TP_OK);
	assert_int_equal(tp_key_generate(&other), TP_OK);
	sample_record(&r, 7);
	assert_int_equal(tp_record_encode_signed(&r, k, b, sizeof(b), &n),
			 TP_OK);
	assert_int_equal(n, TP_RECORD_FIXED + 6 + 6 + strlen(r.sun));
	assert_int_equal(tp_record_decode_verify(b, n, k, &d), TP_OK);
	assert_string_equal(d.kiosk_id, r.kiosk_id);
	assert_int_equal(d.seq, 7);
	assert_memory_equal(d.request_id, r.request_id, 16);
	assert_memory_equal(d.lookup_id, r.lookup_id, 16);
	assert_string_equal(d.benefit, r.benefit);
	assert_int_equal(d.kiosk_time_ms, r.kiosk_time_ms);
	assert_int_equal(d.offline, 1);
	assert_string_equal(d.sun, r.sun);
	assert_memory_equal(d.sig, b + n - 64, 64);

	/* The wrong kiosk key. */
	assert_int_equal(tp_record_decode_verify(b, n, other, &d),
			 TP_ERR_SIGNATURE);
	assert_int_equal(d.seq, 0);

	/* Every byte altered: never accepted. */
	for (size_t i = 0; i < n; i++) {
		b[i] ^= 0x01;
		assert_true(tp_record_decode_verify(b, n, k, &d) < 0);
		b[i] ^= 0x01;
	}
	/* Truncated, extended. */
	assert_true(tp_record_decode_verify(b, n - 1, k, &d) < 0);
	b[n] = 0;
	assert_true(tp_record_decode_verify(b, n + 1, k, &d) < 0);
	assert_int_equal(tp_record_decode(b, TP_RECORD_MIN - 1, &d),
			 TP_ERR_LENGTH);
	assert_int_equal(tp_record_decode(b, TP_RECORD_MAX + 1, &d),
			 TP_ERR_TOO_BIG);
	b[0] = 2;
	assert_int_equal(tp_record_decode(b, n, &d), TP_ERR_VERSION);
	b[0] = 1;
	b[1] = 0;
	assert_int_equal(tp_record_decode(b, n, &d), TP_ERR_VALUE);
	b[1] = 1;

	/*
	 * Duplicates: the same record signed twice gives different bytes
	 * (ECDSA is randomized) but the same (kiosk_id, seq, request_id),
	 * which is what the host keys on.
	 */
	assert_int_equal(tp_record_encode_signed(&r, k, b2, sizeof(b2), &n2),
			 TP_OK);
	assert_int_equal(tp_record_decode_verify(b2, n2, k, &d2), TP_OK);
	assert_int_equal(tp_record_decode_verify(b, n, k, &d), TP_OK);
	assert_string_equal(d.kiosk_id, d2.kiosk_id);
	assert_int_equal(d.seq, d2.seq);
	assert_memory_equal(d.request_id, d2.request_id, 16);

	/* What the encoder refuses to sign. */
	r.seq = 0;
	assert_int_equal(tp_record_encode_signed(&r, k, b, sizeof(b), &n),
			 TP_ERR_VALUE);
	sample_record(&r, 1);
	r.offline = 0;
	assert_int_equal(tp_record_encode_signed(&r, k, b, sizeof(b), &n),
			 TP_ERR_VALUE);
	sample_record(&r, 1);
	strcpy(r.benefit, "a b");
	assert_int_equal(tp_record_encode_signed(&r, k, b, sizeof(b), &n),
			 TP_ERR_VALUE);
	sample_record(&r, 1);
	assert_int_equal(tp_record_encode_signed(&r, k, b, 100, &n),
			 TP_ERR_ARG);
	/* Longest record fits TP_RECORD_MAX exactly. */
	sample_record(&r, UINT64_MAX);
	memset(r.kiosk_id, 'K', TP_KIOSK_ID_MAX);
	memset(r.benefit, 'B', TP_BENEFIT_MAX);
	memset(r.sun, 's', TP_SUN_MAX);
	assert_int_equal(tp_record_encode_signed(&r, k, b, sizeof(b), &n),
			 TP_OK);
	assert_int_equal(n, TP_RECORD_MAX);
	assert_int_equal(tp_record_decode_verify(b, n, k, &d), TP_OK);
	tp_key_free(k);
	tp_key_free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(reason_names),
	    cmocka_unit_test(card_lookup_id),
	    cmocka_unit_test(frame_split_table),
	    cmocka_unit_test(frame_parse_exact),
	    cmocka_unit_test(seq_table),
	    cmocka_unit_test(seal_open_roundtrip),
	    cmocka_unit_test(seal_every_bit_flip),
	    cmocka_unit_test(msg_roundtrip_every_type),
	    cmocka_unit_test(msg_exact_lengths),
	    cmocka_unit_test(msg_unknown_types),
	    cmocka_unit_test(msg_value_rejections),
	    cmocka_unit_test(msg_limits),
	    cmocka_unit_test(record_sign_verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
