/*
 * test_hostd_config.c - tapaidd.conf parsing (host/config.c): defaults,
 * every key, the listen forms, roles by name and uid, and the refusals,
 * each naming its line.
 */
#include <stdlib.h>
#include <unistd.h>

#include "test_util.h"

#include "../../host/daemon.h"

static char path[64];

static int write_conf(const char *text)
{
	int fd;

	strcpy(path, "/tmp/test-hostd-conf-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int load(const char *text, struct daemon_config *cf, char *err,
		size_t errlen)
{
	int rc;

	assert_int_equal(write_conf(text), 0);
	rc = config_load(path, cf, err, errlen);
	unlink(path);
	return rc;
}

/* The file tapaidctl init writes, comments and empty roles included. */
static void full_file(void **state)
{
	struct daemon_config cf;
	char err[512] = "";

	assert_int_equal(load("[host]\n"
			      "data_dir = /var/lib/tapaid        ; database\n"
			      "listen = 127.0.0.1:7420           ; kiosk port\n"
			      "host_key = /var/lib/tapaid/host.key\n"
			      "log_level = debug\n"
			      "max_sessions = 100\n"
			      "max_halfopen = 500\n"
			      "handshake_timeout_ms = 2500\n"
			      "checkpoint_interval_s = 30\n"
			      "[roles]\n"
			      "admin = root\n"
			      "staff =\n"
			      "auditor = 4242, 4343\n",
			      &cf, err, sizeof(err)),
			 0);
	assert_string_equal(cf.data_dir, "/var/lib/tapaid");
	assert_string_equal(cf.listen_host, "127.0.0.1");
	assert_string_equal(cf.listen_port, "7420");
	assert_string_equal(cf.host_key, "/var/lib/tapaid/host.key");
	assert_int_equal(cf.log_level, LOG_LVL_DEBUG);
	assert_int_equal(cf.max_sessions, 100);
	/* Never more half-open connections than sessions. */
	assert_int_equal(cf.max_halfopen, 100);
	assert_int_equal(cf.handshake_timeout_ms, 2500);
	assert_int_equal(cf.checkpoint_interval_s, 30);
	assert_int_equal(config_role(&cf, 4242), ROLE_AUDITOR);
	assert_int_equal(config_role(&cf, 4343), ROLE_AUDITOR);
	assert_int_equal(config_role(&cf, 0), ROLE_ADMIN);
	assert_int_equal(config_role(&cf, geteuid()), ROLE_ADMIN);
	assert_int_equal(config_role(&cf, 4444),
			 geteuid() == 4444 ? ROLE_ADMIN : ROLE_NONE);
	config_free(&cf);
}

static void defaults_and_v6(void **state)
{
	struct daemon_config cf;
	char err[512] = "";

	assert_int_equal(load("[host]\ndata_dir = /srv/t\nlisten = [::1]:9\n",
			      &cf, err, sizeof(err)),
			 0);
	assert_string_equal(cf.listen_host, "::1");
	assert_string_equal(cf.listen_port, "9");
	assert_string_equal(cf.host_key, "/srv/t/host.key");
	assert_int_equal(cf.max_sessions, 4096);
	assert_int_equal(cf.max_halfopen, 2048);
	assert_int_equal(cf.max_sessions_per_kiosk, 2);
	assert_int_equal(cf.handshake_timeout_ms, 5000);
	assert_int_equal(cf.checkpoint_interval_s, 60);
	assert_int_equal(cf.log_level, LOG_LVL_INFO);
	config_free(&cf);
}

/* Highest role wins when a user is listed twice. */
static void role_precedence(void **state)
{
	struct daemon_config cf;
	char err[512] = "";

	assert_int_equal(load("[roles]\nauditor = 5000\nstaff = 5000\n", &cf,
			      err, sizeof(err)),
			 0);
	assert_int_equal(config_role(&cf, 5000), ROLE_STAFF);
	assert_string_equal(role_name(ROLE_STAFF), "staff");
	config_free(&cf);
}

/* Each refusal names the file line and what is wrong. */
static void refusals(void **state)
{
	static const struct {
		const char *text, *want;
	} t[] = {
	    {"[host]\nmax_sesions = 4\n", "line 2: unknown key"},
	    {"[host]\nmax_sessions = lots\n", "line 2: max_sessions"},
	    {"[host]\nmax_sessions = 0\n", "max_sessions must be"},
	    {"[host]\nlisten = 7420\n", "listen must be"},
	    {"[host]\nlisten = 127.0.0.1:70000\n", "listen must be"},
	    {"[host]\ndata_dir = relative\n", "absolute"},
	    {"[host]\nlog_level = loud\n", "log_level"},
	    {"[host]\ncheckpoint_interval_s = 120\n", "1 to 60"},
	    {"[host]\ncard_url = ftp://x/\n", "card_url"},
	    {"[roles]\nboss = root\n", "unknown role 'boss'"},
	    {"[roles]\nadmin = no-such-user-tapaid\n", "no such user"},
	    {"[other]\nx = 1\n", "unknown section [other]"},
	    {"[host]\nthis is not ini\n", "line 2"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct daemon_config cf;
		char err[512] = "";

		assert_int_equal(load(t[i].text, &cf, err, sizeof(err)), -1);
		if (!strstr(err, t[i].want)) {
			print_error("case %zu: '%s' lacks '%s'\n", i, err,
				    t[i].want);
			fail();
		}
	}
}

static void missing_file(void **state)
{
	struct daemon_config cf;
	char err[512] = "";

	assert_int_equal(
	    config_load("/nonexistent/tapaidd.conf", &cf, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "cannot read /nonexistent/tapaidd.conf"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(full_file),
	    cmocka_unit_test(defaults_and_v6),
	    cmocka_unit_test(role_precedence),
	    cmocka_unit_test(refusals),
	    cmocka_unit_test(missing_file),
	};

	log_init(1, LOG_LVL_WARN, "test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
