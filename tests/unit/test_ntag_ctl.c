/*
 * test_ntag_ctl.c - "tapaidctl sun verify" (tools/tapaidctl/ctl_sun.c):
 * exit codes 0/1/2, its output line and its one-line errors.
 */
#include "test_util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../tools/tapaidctl/ctl_sun.h"

static char dir[64], zero_key[96], one_key[96], bad_hex[96], bad_len[96];
static char out[1024], err[1024];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/tapaid-ntag-ctl-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(zero_key, sizeof(zero_key), "%s/zero.key", dir);
	snprintf(one_key, sizeof(one_key), "%s/one.key", dir);
	snprintf(bad_hex, sizeof(bad_hex), "%s/badhex.key", dir);
	snprintf(bad_len, sizeof(bad_len), "%s/badlen.key", dir);
	write_file(zero_key, "00000000000000000000000000000000\n");
	write_file(one_key, "00000000000000000000000000000001\n");
	write_file(bad_hex, "0000000000000000000000000000000g\n");
	write_file(bad_len, "000000000000000000000000000000\n");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(zero_key);
	unlink(one_key);
	unlink(bad_hex);
	unlink(bad_len);
	rmdir(dir);
	return 0;
}

/* Runs ctl_sun_verify with stdout and stderr captured into out/err. */
static int run(int argc, char **argv)
{
	char po[96], pe[96];
	int so, se, fo, fe, rc;
	ssize_t n;

	snprintf(po, sizeof(po), "%s/out", dir);
	snprintf(pe, sizeof(pe), "%s/err", dir);
	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	fo = open(po, O_RDWR | O_CREAT | O_TRUNC, 0600);
	fe = open(pe, O_RDWR | O_CREAT | O_TRUNC, 0600);
	dup2(fo, 1);
	dup2(fe, 2);
	rc = ctl_sun_verify(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	n = pread(fo, out, sizeof(out) - 1, 0);
	out[n > 0 ? n : 0] = 0;
	n = pread(fe, err, sizeof(err) - 1, 0);
	err[n > 0 ? n : 0] = 0;
	close(fo);
	close(fe);
	unlink(po);
	unlink(pe);
	return rc;
}

#define URL                                                                    \
	"https://ntag.nxp.com/424?e=EF963FF7828658A599F3041510671E88"          \
	"&c=94EED9EE65337086"

/* AN12196 Rev 1.8 Tables 3 and 5 through the command line. */
static void test_verify_ok(void **state)
{
	char *argv[] = {"verify",     "--meta-key", zero_key,
			"--file-key", zero_key,	    URL};
	char *argv2[] = {"verify",
			 "--meta-key",
			 zero_key,
			 "--file-key",
			 zero_key,
			 "e=EF963FF7828658A599F3041510671E88&c="
			 "94EED9EE65337086"};

	(void)state;
	assert_int_equal(run(6, argv), 0);
	assert_string_equal(out, "uid=04DE5F1EACC040 ctr=61\n");
	assert_string_equal(err, "");
	assert_int_equal(run(6, argv2), 0);
	assert_string_equal(out, "uid=04DE5F1EACC040 ctr=61\n");
}

static void test_verify_bad_mac(void **state)
{
	char *argv[] = {"verify",     "--meta-key", zero_key,
			"--file-key", one_key,	    URL};
	char *argv2[] = {"verify",     "--meta-key", one_key,
			 "--file-key", zero_key,     URL};
	char *argv3[] = {"verify",
			 "--meta-key",
			 zero_key,
			 "--file-key",
			 zero_key,
			 "p=EF963FF7828658A599F3041510671E88&c="
			 "94EED9EE65337087"};

	(void)state;
	assert_int_equal(run(6, argv), 1);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "CMAC does not match"));
	assert_int_equal(run(6, argv2), 1);
	assert_non_null(strstr(err, "meta-read key"));
	assert_int_equal(run(6, argv3), 1);
	assert_non_null(strstr(err, "CMAC does not match"));
	/* One line each. */
	assert_ptr_equal(strchr(err, '\n'), err + strlen(err) - 1);
}

static void test_verify_usage(void **state)
{
	char *a1[] = {"verify", "--meta-key", zero_key, URL};
	char *a2[] = {"verify", "--meta-key", zero_key, "--file-key",
		      zero_key, URL,	      URL};
	char *a3[] = {"verify",
		      "--meta-key",
		      zero_key,
		      "--file-key",
		      zero_key,
		      "p=EF963FF7828658A599F3041510671E8&c="
		      "94EED9EE65337086"};
	char *a4[] = {"verify",
		      "--meta-key",
		      zero_key,
		      "--file-key",
		      zero_key,
		      "p=EF963FF7828658A599F3041510671EXX&c="
		      "94EED9EE65337086"};
	char *a5[] = {"verify", "--bogus", URL};
	char *a6[] = {"verify", "--help"};

	(void)state;
	assert_int_equal(run(4, a1), 2);
	assert_non_null(strstr(err, "--file-key"));
	assert_int_equal(run(7, a2), 2);
	assert_int_equal(run(6, a3), 2);
	assert_non_null(strstr(err, "wrong length"));
	assert_int_equal(run(6, a4), 2);
	assert_non_null(strstr(err, "not hexadecimal"));
	assert_int_equal(run(3, a5), 2);
	assert_int_equal(run(2, a6), 0);
	assert_non_null(strstr(out, "usage:"));
}

static void test_verify_bad_key_file(void **state)
{
	char *a1[] = {"verify",	    "--meta-key", bad_hex,
		      "--file-key", zero_key,	  URL};
	char *a2[] = {"verify",	    "--meta-key", zero_key,
		      "--file-key", bad_len,	  URL};
	char *a3[] = {"verify",	    "--meta-key", "/nonexistent/key",
		      "--file-key", zero_key,	  URL};

	(void)state;
	assert_int_equal(run(6, a1), 1);
	assert_non_null(strstr(err, "not hexadecimal"));
	assert_non_null(strstr(err, bad_hex));
	assert_int_equal(run(6, a2), 1);
	assert_non_null(strstr(err, "wrong length"));
	assert_int_equal(run(6, a3), 1);
	assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verify_ok),
	    cmocka_unit_test(test_verify_bad_mac),
	    cmocka_unit_test(test_verify_usage),
	    cmocka_unit_test(test_verify_bad_key_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
