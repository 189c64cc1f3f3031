/*
 * test_kiosk_msg.c - the kiosk's words and inputs: reason names (the same
 * as the protocol's), every sentence in both languages, the event line,
 * the NDEF URI parser, GetVersion recognition, and the INI configuration.
 */
#include "test_util.h"
#include "core/kiosk.h"
#include "core/kiosk_int.h"
#include "hal/backends.h"
#include "hal/fakes.h"
#include "kiosk_conf.h"

static void reason_names_match_protocol(void **state)
{
	for (int r = 0; r < KIOSK_R__COUNT; r++) {
		assert_string_equal(kiosk_reason_name(r), tp_reason_name(r));
		assert_int_equal(kiosk_reason_from_name(kiosk_reason_name(r)),
				 r);
	}
	assert_int_equal(KIOSK_R__COUNT, TP_REASON__COUNT);
	assert_int_equal(kiosk_reason_from_name("nope"), -1);
}

static void every_reason_has_words(void **state)
{
	char h[KIOSK_TEXT_MAX], d[KIOSK_TEXT_MAX], h2[KIOSK_TEXT_MAX],
	    d2[KIOSK_TEXT_MAX];

	for (int r = 1; r < KIOSK_R__COUNT; r++) {
		kiosk_msg_decision(KIOSK_LANG_EN, r, -1, 0, "MEAL", "", h, d,
				   sizeof(h));
		kiosk_msg_decision(KIOSK_LANG_ZH, r, -1, 0, "MEAL", "", h2, d2,
				   sizeof(h2));
		assert_string_equal(h, "Not granted");
		assert_string_equal(h2, "未通过");
		assert_true(strlen(d) > 20);
		assert_true(strlen(d2) > 10);
		assert_string_not_equal(d, d2);
		/* A sentence, not a code. */
		assert_null(strchr(d, '_'));
		for (int q = 1; q < r; q++) {
			char o[KIOSK_TEXT_MAX];
			kiosk_msg_decision(KIOSK_LANG_EN, q, -1, 0, "MEAL", "",
					   h, o, sizeof(h));
			assert_string_not_equal(o, d);
		}
	}
	kiosk_msg_decision(KIOSK_LANG_EN, KIOSK_R_GRANTED, 2, 0, "MEAL",
			   "Wang*M", h, d, sizeof(h));
	assert_string_equal(h, "Granted — welcome, Wang*M");
	assert_string_equal(d, "MEAL: 2 left");
	kiosk_msg_decision(KIOSK_LANG_ZH, KIOSK_R_GRANTED, 0, 1, "MEAL", "", h,
			   d, sizeof(h));
	assert_string_equal(h, "已通过");
	assert_string_equal(d, "MEAL：本期剩余 0 次 （离线记录，稍后上传）");
	kiosk_msg_decision(KIOSK_LANG_EN, KIOSK_R_GRANTED, -1, 0, "MEAL", "", h,
			   d, sizeof(h));
	assert_string_equal(d, "MEAL");
	/* Truncation never overruns. */
	char tiny[8];
	kiosk_msg_decision(KIOSK_LANG_EN, KIOSK_R_OFFLINE_LIMIT, -1, 0, "MEAL",
			   "", tiny, tiny, sizeof(tiny));
	for (int i = 0; i < KIOSK_MSG__COUNT; i++) {
		assert_true(strlen(kiosk_msg_text(KIOSK_LANG_EN, i)) > 0);
		assert_true(strlen(kiosk_msg_text(KIOSK_LANG_ZH, i)) > 0);
	}
}

static void event_line(void **state)
{
	char b[256];

	kiosk_event_json(b, sizeof(b), 1, KIOSK_R_GRANTED, "MEAL", 3, 0);
	assert_string_equal(
	    b, "{\"result\":\"granted\",\"reason\":\"granted\","
	       "\"benefit\":\"MEAL\",\"left\":3,\"offline\":false}");
	kiosk_event_json(b, sizeof(b), 0, KIOSK_R_OFFLINE_LIMIT, "A\"B\\", -1,
			 1);
	assert_string_equal(
	    b, "{\"result\":\"denied\",\"reason\":\"offline_limit\","
	       "\"benefit\":\"A\\\"B\\\\\",\"left\":null,\"offline\":true}");
}

static void ndef_uri(void **state)
{
	uint8_t f[300];
	char url[KIOSK_URL_MAX];
	size_t n =
	    fake_ndef_file("https://a.example/t?p=00&c=11", f, sizeof(f));

	assert_int_equal(kiosk_ndef_uri(f + 2, n - 2, url, sizeof(url)),
			 (int)strlen("https://a.example/t?p=00&c=11"));
	assert_string_equal(url, "https://a.example/t?p=00&c=11");
	/* Too small a buffer, a wrong type, a bad prefix, a control byte,
	 * a payload longer than the message: all refused. */
	assert_int_equal(kiosk_ndef_uri(f + 2, n - 2, url, 10), -1);
	uint8_t bad[64];
	memcpy(bad, f + 2, n - 2);
	bad[3] = 'T';
	assert_int_equal(kiosk_ndef_uri(bad, n - 2, url, sizeof(url)), -1);
	memcpy(bad, f + 2, n - 2);
	bad[4] = 0x40;
	assert_int_equal(kiosk_ndef_uri(bad, n - 2, url, sizeof(url)), -1);
	memcpy(bad, f + 2, n - 2);
	bad[8] = 0x07;
	assert_int_equal(kiosk_ndef_uri(bad, n - 2, url, sizeof(url)), -1);
	memcpy(bad, f + 2, n - 2);
	bad[2] = 200;
	assert_int_equal(kiosk_ndef_uri(bad, n - 2, url, sizeof(url)), -1);
	for (size_t cut = 0; cut < n - 2; cut++)
		assert_int_equal(kiosk_ndef_uri(f + 2, cut, url, sizeof(url)),
				 -1);
	/* A long (non-SR) record is read too. */
	const uint8_t lr[] = {0xC1, 0x01, 0, 0, 0, 4, 'U', 0x04, 'a', '/', 'b'};
	assert_int_equal(kiosk_ndef_uri(lr, sizeof(lr), url, sizeof(url)), 11);
	assert_string_equal(url, "https://a/b");
}

static void getversion(void **state)
{
	/* AN12196 §3.14 and our fake card. */
	const uint8_t a[] = {0x04, 0x04, 0x08, 0x30, 0x00, 0x11, 0x05};
	const uint8_t b[] = {0x04, 0x04, 0x02, 0x30, 0x00, 0x11, 0x05};
	const uint8_t desfire[] = {0x04, 0x01, 0x01, 0x12, 0x00, 0x1A, 0x05};
	const uint8_t ntag213[] = {0x00, 0x04, 0x04, 0x02, 0x01, 0x00, 0x0F};

	assert_true(kiosk_is_ntag424(a, 7));
	assert_true(kiosk_is_ntag424(b, 7));
	assert_false(kiosk_is_ntag424(desfire, 7));
	assert_false(kiosk_is_ntag424(ntag213, 7));
	assert_false(kiosk_is_ntag424(a, 6));
}

static const char good_conf[] =
    "; a kiosk\n"
    "[host]\naddress = 127.0.0.1:7400\n"
    "key = 04"
    "6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296"
    "4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5\n"
    "[kiosk]\nid = K-0001\nkey = /etc/tapaid/k/kiosk.key\npoint = P1\n"
    "benefit = MEAL.15\nlang = zh\n"
    "[reader]\nconnstring = pn532_uart:/dev/ttyUSB0\nmax_errors = 5\nusb = "
    "off\n"
    "[offline]\nper_card_per_day = 2\nqueue_max = 500\n"
    "[timing]\ndecision_timeout_ms = 900\n";

static void config_good(void **state)
{
	static struct kiosk_conf c;

	assert_int_equal(kiosk_conf_parse(&c, good_conf, "k.conf"), 0);
	assert_string_equal(c.host_addr, "127.0.0.1:7400");
	assert_int_equal(c.core.host_pub[0], 0x04);
	assert_int_equal(c.core.host_pub[64], 0xF5);
	assert_string_equal(c.core.kiosk_id, "K-0001");
	assert_string_equal(c.core.benefit, "MEAL.15");
	assert_int_equal(c.core.lang, KIOSK_LANG_ZH);
	assert_string_equal(c.connstring, "pn532_uart:/dev/ttyUSB0");
	assert_int_equal(c.core.reader_max_errors, 5);
	assert_int_equal(c.usb_auto, 0);
	assert_int_equal(c.core.offline_per_day, 2);
	assert_int_equal(c.core.offline_queue_max, 500);
	assert_int_equal(c.core.decision_timeout_ms, 900);
	assert_string_equal(c.state_dir, "/etc/tapaid/k/queue");
}

/* What tapaidctl kiosk config prints (host/control.c) is accepted. */
static void config_from_tapaidctl(void **state)
{
	static struct kiosk_conf c;
	static const char t[] =
	    "; tapaid-kiosk configuration for kiosk K1 at P1\n"
	    "[kiosk]\nid = K1\nkey = /k/kiosk.key\nreader = pn53x_usb\n"
	    "benefit = MEAL\nlang = zh\n"
	    "[host]\naddress = 10.0.0.1:7300\npubkey = 04"
	    "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
	    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
	    "\n";

	assert_int_equal(kiosk_conf_parse(&c, t, "ctl"), 0);
	assert_string_equal(c.connstring, "pn53x_usb");
	assert_string_equal(c.host_addr, "10.0.0.1:7300");
	assert_int_equal(c.core.offline_per_day, 0); /* none unless allowed */
}

static void config_bad(void **state)
{
	static struct kiosk_conf c;
	static const struct {
		const char *find, *replace, *err;
	} cases[] = {
	    {"lang = zh", "lang = fr", "k.conf:10: bad value for [kiosk] lang"},
	    {"max_errors = 5", "max_errors = -1",
	     "bad value for [reader] max_errors"},
	    {"max_errors = 5", "max_errors = 5x", "bad value"},
	    {"benefit = MEAL.15", "benefit = MEAL 15",
	     "bad value for [kiosk] benefit"},
	    {"benefit = MEAL.15", "benefit = ABCDEFGHIJKLMNOPQ", "bad value"},
	    {"id = K-0001", "id = K 1", "bad value for [kiosk] id"},
	    {"key = 046B", "key = 056B", "bad value for [host] key"},
	    {"per_card_per_day = 2", "per_card = 2",
	     "unknown key [offline] per_card"},
	    {"[timing]", "[timing]\nnot a setting", "k.conf:19: syntax error"},
	    {"address = 127.0.0.1:7400\n", "", "[host] address is missing"},
	    {"connstring = pn532_uart:/dev/ttyUSB0\n", "",
	     "[reader] connstring is missing"},
	    {"benefit = MEAL.15\n", "", "[kiosk] benefit is missing"},
	};
	char text[2048];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p = strstr(good_conf, cases[i].find);
		assert_non_null(p);
		snprintf(text, sizeof(text), "%.*s%s%s", (int)(p - good_conf),
			 good_conf, cases[i].replace,
			 p + strlen(cases[i].find));
		assert_int_equal(kiosk_conf_parse(&c, text, "k.conf"), -1);
		if (!strstr(c.err, cases[i].err))
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, c.err,
				 cases[i].err);
	}
	/* 65 bytes starting 04 that are not a point on the curve. */
	const char *p = strstr(good_conf, "key = 04");
	snprintf(text, sizeof(text), "%.*skey = 04%0128d%s",
		 (int)(p - good_conf), good_conf, 1, strchr(p, '\n'));
	assert_int_equal(kiosk_conf_parse(&c, text, "k.conf"), -1);
	assert_non_null(strstr(c.err, "not a valid P-256 public key"));
	assert_int_equal(kiosk_conf_load(&c, "/nonexistent/k.conf"), -1);
	assert_non_null(strstr(c.err, "cannot read"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(reason_names_match_protocol),
	    cmocka_unit_test(every_reason_has_words),
	    cmocka_unit_test(event_line),
	    cmocka_unit_test(ndef_uri),
	    cmocka_unit_test(getversion),
	    cmocka_unit_test(config_good),
	    cmocka_unit_test(config_from_tapaidctl),
	    cmocka_unit_test(config_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
