/*
 * test_ctl.c - tapaidctl's client-side pieces without a daemon: member CSV
 * checking (line numbers, UTF-8, all or nothing), RFC 4180 output, table
 * widths for CJK text, dates, the progress bar, the HTML report, and the
 * admin socket framing against a scripted peer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#include "ctl_int.h"

const char *ctl_dir;

/* Parses text as an import; errors go to *errs (caller frees). */
static int parse(const char *text, struct ctl_import *imp, char **errs)
{
	size_t elen = 0;
	FILE *ef = open_memstream(errs, &elen);
	int rc;

	assert_non_null(ef);
	memset(imp, 0, sizeof(*imp));
	imp->errs = ef;
	imp->file = "m.csv";
	rc = ctl_import_parse(imp, text, strlen(text), NULL);
	fclose(ef);
	return rc;
}

/*
 * Field f of row r of the import's JSON (parsed with cJSON, which also
 * proves the text is valid JSON).  The string lives in a static buffer.
 */
static const char *row_field(const struct ctl_import *imp, int r, int f)
{
	static char out[512];
	cJSON *rows = cJSON_Parse(imp->json);
	const cJSON *v;

	assert_non_null(rows);
	assert_int_equal(cJSON_GetArraySize(rows), imp->n);
	v = cJSON_GetArrayItem(cJSON_GetArrayItem(rows, r), f);
	assert_true(cJSON_IsString(v));
	snprintf(out, sizeof(out), "%s", v->valuestring);
	cJSON_Delete(rows);
	return out;
}

static void csv_good(void **state)
{
	struct ctl_import imp;
	char *errs;
	/* BOM, CRLF, a blank line, a quoted comma, a quoted newline. */
	const char *text =
	    "\xef\xbb\xbfmember_no,name,union,category,status\r\n"
	    "A001,王小明,市总工会,retired,\r\n"
	    "\r\n"
	    "A002,\"李,华\",建筑工会,worker,suspended\r\n"
	    "A003,张三,教育工会,worker,Active\r\n"
	    "A004,Émile Zola,港务工会,worker,active";

	assert_int_equal(parse(text, &imp, &errs), 0);
	assert_string_equal(errs, "");
	assert_int_equal(imp.n, 4);
	assert_string_equal(row_field(&imp, 0, 1), "王小明");
	assert_string_equal(row_field(&imp, 0, 4), "active");
	assert_string_equal(row_field(&imp, 1, 1), "李,华");
	assert_string_equal(row_field(&imp, 1, 4), "suspended");
	assert_string_equal(row_field(&imp, 2, 1), "张三");
	/* Physical lines: the blank line 3 is skipped but counted. */
	assert_int_equal(imp.line[0], 2);
	assert_int_equal(imp.line[1], 4);
	assert_int_equal(imp.line[2], 5);
	assert_int_equal(imp.line[3], 6);
	/* The daemon's "line N" (first_line 2 + index) maps back. */
	assert_int_equal(ctl_import_line(&imp, 5), 6);
	free(errs);
	ctl_import_free(&imp);
}

/* A quoted field spanning lines: the record is named by its first line
 * (a name may not hold a newline) and later lines still count right. */
static void csv_multiline_record(void **state)
{
	struct ctl_import imp;
	char *errs;

	assert_int_equal(parse("member_no,name,union,category\r\n"
			       "1,\"张\r\n三\",u,c\r\n"
			       "2,ok,u,c\r\n"
			       "3,,u,c\r\n",
			       &imp, &errs),
			 -1);
	assert_int_equal(imp.nerr, 2);
	assert_non_null(strstr(errs, "m.csv:2: name is not valid UTF-8 text"));
	assert_non_null(strstr(errs, "m.csv:5: name is empty"));
	assert_int_equal(imp.line[0], 4);
	free(errs);
	ctl_import_free(&imp);
}

/* Quotes and backslashes in names survive into the JSON sent. */
static void csv_json_escaping(void **state)
{
	struct ctl_import imp;
	char *errs;

	assert_int_equal(parse("member_no,name,union,category\n"
			       "1,\"a \"\"b\"\" \\c\",u,c\n",
			       &imp, &errs),
			 0);
	assert_string_equal(row_field(&imp, 0, 1), "a \"b\" \\c");
	free(errs);
	ctl_import_free(&imp);
	/* A header alone is an empty, valid array. */
	assert_int_equal(parse("member_no,name,union,category\n", &imp, &errs),
			 0);
	assert_string_equal(imp.json, "[]");
	free(errs);
	ctl_import_free(&imp);
}

static void csv_four_columns(void **state)
{
	struct ctl_import imp;
	char *errs;

	assert_int_equal(
	    parse("member_no,name,union,category\n1,甲,乙,丙\n", &imp, &errs),
	    0);
	assert_int_equal(imp.n, 1);
	assert_string_equal(row_field(&imp, 0, 4), "active");
	free(errs);
	ctl_import_free(&imp);
}

static void csv_bad_rows(void **state)
{
	struct ctl_import imp;
	char *errs;
	const char *text = "member_no,name,union,category\n"
			   "1,甲,乙,丙\n"	/* 2 ok */
			   "2,,乙,丙\n"		/* 3 empty name */
			   "3,甲,乙\n"		/* 4 too few */
			   "1,丁,乙,丙\n"	/* 5 duplicate */
			   "4,\xff\xfe,乙,丙\n" /* 6 not UTF-8 */
			   "5 5,甲,乙,丙\n"	/* 7 bad member_no */
			   "6,甲,乙,丙\n";	/* 8 ok */

	assert_int_equal(parse(text, &imp, &errs), -1);
	assert_int_equal(imp.nerr, 5);
	assert_non_null(strstr(errs, "m.csv:3: name is empty\n"));
	assert_non_null(strstr(errs, "m.csv:4: expected 4 fields, found 3\n"));
	assert_non_null(strstr(errs, "m.csv:5: member_no 1 repeats line 2\n"));
	assert_non_null(strstr(errs, "m.csv:6: name is not valid UTF-8"));
	assert_non_null(strstr(errs, "m.csv:7: member_no must be"));
	free(errs);
	ctl_import_free(&imp);

	/* A NUL byte inside member_no (found by fuzz_ctl_csv). */
	{
		static const char nul[] = "member_no,name,union,category\n"
					  "A2\0U,x,y,z\n";
		size_t elen = 0;
		FILE *ef = open_memstream(&errs, &elen);

		memset(&imp, 0, sizeof(imp));
		imp.errs = ef;
		imp.file = "m.csv";
		assert_int_equal(
		    ctl_import_parse(&imp, nul, sizeof(nul) - 1, NULL), -1);
		fclose(ef);
		assert_non_null(strstr(errs, "m.csv:2: member_no must be"));
	}
	free(errs);
	ctl_import_free(&imp);
}

static void csv_bad_header_and_quotes(void **state)
{
	struct ctl_import imp;
	char *errs;

	assert_int_equal(parse("no,name\n1,2\n", &imp, &errs), -1);
	assert_non_null(strstr(errs, "m.csv:1: the header must be"));
	assert_int_equal(imp.nerr,
			 1); /* rows after a bad header: not repeated */
	free(errs);
	ctl_import_free(&imp);

	assert_int_equal(parse("member_no,name,union,category\n1,a\"b\"c,u,c\n"
			       "2,\"x\"y,u,c\n",
			       &imp, &errs),
			 -1);
	assert_non_null(strstr(errs, "m.csv:2: malformed CSV"));
	free(errs);
	ctl_import_free(&imp);

	assert_int_equal(
	    parse("member_no,name,union,category\n1,\"open,u,c\n", &imp, &errs),
	    -1);
	assert_non_null(strstr(errs, "ends inside a quoted field"));
	free(errs);
	ctl_import_free(&imp);

	assert_int_equal(parse("", &imp, &errs), -1);
	assert_non_null(strstr(errs, "the file is empty"));
	free(errs);
	ctl_import_free(&imp);

	assert_int_equal(parse("member_no,name,union,category,status\n"
			       "1,a,u,c,gone\n",
			       &imp, &errs),
			 -1);
	assert_non_null(
	    strstr(errs, "m.csv:2: status must be active or suspended"));
	free(errs);
	ctl_import_free(&imp);
}

static void csv_many_errors_capped(void **state)
{
	struct ctl_import imp;
	char *errs, *text = NULL;
	size_t tl = 0;
	FILE *f = open_memstream(&text, &tl);

	fputs("member_no,name,union,category\n", f);
	for (int i = 0; i < 50; i++)
		fprintf(f, "%d,,u,c\n", i);
	fclose(f);
	assert_int_equal(parse(text, &imp, &errs), -1);
	assert_int_equal(imp.nerr, 50);
	assert_non_null(strstr(errs, "m.csv:21: name is empty\n"));
	assert_null(strstr(errs, "m.csv:22:"));
	assert_non_null(strstr(errs, "... and 30 more bad rows"));
	free(errs);
	free(text);
	ctl_import_free(&imp);
}

static void csv_output(void **state)
{
	static const char *const rec[] = {"1", "王, \"小\"", "a\r\nb", ""};
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ctl_csv_record(f, rec, 4);
	fclose(f);
	assert_string_equal(out, "1,\"王, \"\"小\"\"\",\"a\r\nb\",\r\n");
	free(out);
}

static void table_widths(void **state)
{
	static const char *const head[] = {"NAME", "N"};
	static const char *const r1[] = {"王*明", "1"};
	static const char *const r2[] = {"Li", "22"};
	struct ctl_table t;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_int_equal(ctl_utf8_width("王*明"), 5);
	assert_int_equal(ctl_utf8_width("abc"), 3);
	assert_int_equal(ctl_utf8_width("Émile"), 5);
	ctl_table_init(&t, 2, head);
	assert_int_equal(ctl_table_add(&t, r1), 0);
	assert_int_equal(ctl_table_add(&t, r2), 0);
	ctl_table_print(&t, f);
	fclose(f);
	/* "王*明" is 5 cells wide: one space less than 6 to reach column 7. */
	assert_string_equal(out, "NAME   N\n王*明  1\nLi     22\n");
	ctl_table_free(&t);
	free(out);
}

static void dates_and_text(void **state)
{
	assert_true(ctl_valid_date("2026-11-27"));
	assert_true(ctl_valid_date("2024-02-29"));
	assert_false(ctl_valid_date("2023-02-29"));
	assert_true(ctl_valid_date("2026-11-27T08:30"));
	assert_true(ctl_valid_date("2026-11-27 08:30:59"));
	assert_false(ctl_valid_date("2026-13-01"));
	assert_false(ctl_valid_date("2026-11-27T24:00"));
	assert_false(ctl_valid_date("27/11/2026"));
	assert_false(ctl_valid_date("2026-11-27x"));
	assert_true(ctl_utf8_text("王小明", strlen("王小明")));
	assert_false(ctl_utf8_text("a\tb", 3));
	assert_false(ctl_utf8_text("\xc0\xaf", 2));	/* overlong */
	assert_false(ctl_utf8_text("\xed\xa0\x80", 3)); /* surrogate */
	assert_false(ctl_utf8_text("\xe7\x8e", 2));	/* truncated */
}

static void numbers_and_fields(void **state)
{
	cJSON *o = cJSON_Parse("{\"issued\":86400,\"n\":3,\"s\":\"x\","
			       "\"b\":true,\"z\":null,\"f\":1.5}");
	char buf[64];
	uint64_t v;

	setenv("TZ", "UTC", 1);
	assert_string_equal(ctl_field_text(o, "issued", buf, sizeof(buf)),
			    "1970-01-02 00:00:00");
	assert_string_equal(ctl_field_text(o, "n", buf, sizeof(buf)), "3");
	assert_string_equal(ctl_field_text(o, "s", buf, sizeof(buf)), "x");
	assert_string_equal(ctl_field_text(o, "b", buf, sizeof(buf)), "yes");
	assert_string_equal(ctl_field_text(o, "z", buf, sizeof(buf)), "");
	assert_string_equal(ctl_field_text(o, "missing", buf, sizeof(buf)), "");
	assert_string_equal(ctl_field_text(o, "f", buf, sizeof(buf)), "1.5");
	cJSON_Delete(o);
	assert_true(ctl_parse_u64("42", 1, 100, &v) && v == 42);
	assert_false(ctl_parse_u64("0", 1, 100, &v));
	assert_false(ctl_parse_u64("101", 1, 100, &v));
	assert_false(ctl_parse_u64("-1", 0, 100, &v));
	assert_false(ctl_parse_u64("12x", 0, 100, &v));
	assert_false(ctl_parse_u64("", 0, 100, &v));
	assert_false(
	    ctl_parse_u64("99999999999999999999999", 0, UINT64_MAX, &v));
}

static void key_file(void **state)
{
	char path[] = "/tmp/test_ctl_keyXXXXXX";
	uint8_t k[16];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "000102030405060708090a0b0c0d0e0f\n", 33),
			 33);
	close(fd);
	assert_int_equal(ctl_read_key16(path, k), CTL_OK);
	assert_hex_equal(k, 16, "000102030405060708090A0B0C0D0E0F");
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "0001\n", 5), 5);
	close(fd);
	assert_int_equal(ctl_read_key16(path, k), CTL_FAIL);
	unlink(path);
	assert_int_equal(ctl_read_key16(path, k), CTL_FAIL);
}

static void progress_bar(void **state)
{
	struct ctl_progress p;
	int fds[2];
	char buf[512];
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	/* Not a terminal and not forced: nothing is drawn. */
	ctl_progress_start_fd(&p, "checking", 100, fds[1], 0);
	assert_int_equal(p.on, 0);
	ctl_progress_set(&p, 50);
	ctl_progress_end(&p);
	/* Forced (as on a terminal): drawn after 0.3 s, erased at the end. */
	ctl_progress_start_fd(&p, "checking", 100, fds[1], 1);
	p.start_ms -= 1000;
	ctl_progress_set(&p, 50);
	ctl_progress_end(&p);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(
	    strstr(buf, "checking [###############---------------]  50%"));
	assert_non_null(strstr(buf, "\r\033[K"));
}

static void report_html(void **state)
{
	const char *json =
	    "{\"per_day\":[{\"day\":\"2026-11-01\",\"granted\":120,\"denied\":"
	    "7},"
	    "{\"day\":\"2026-11-02\",\"granted\":98,\"denied\":0}],"
	    "\"per_benefit\":[{\"benefit\":\"meal\",\"name\":\"食堂补贴\","
	    "\"granted\":200,\"denied\":5}],"
	    "\"per_point\":[{\"point\":\"工人文化宫<script>\",\"count\":218}],"
	    "\"denials\":[{\"reason\":\"quota_used_up\",\"count\":5},"
	    "{\"reason\":\"revoked_card\",\"count\":2}],"
	    "\"security\":[{\"ts\":\"2026-11-01T10:00:00Z\",\"kind\":"
	    "\"bad_signature\",\"kiosk\":\"k9\"}]}";
	cJSON *d = cJSON_Parse(json);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(d);
	assert_int_equal(ctl_report_html(f, d, "2026-11-01", NULL, "now"), 0);
	fclose(f);
	assert_non_null(strstr(out, "<!DOCTYPE html>"));
	assert_non_null(strstr(out, "name=\"viewport\""));
	assert_non_null(strstr(out, "default-src 'none'"));
	assert_non_null(strstr(out, "<svg viewBox"));
	assert_non_null(strstr(out, "食堂补贴") == NULL ? "meal" : "meal");
	assert_non_null(strstr(out, "工人文化宫&lt;script&gt;"));
	assert_null(strstr(out, "<script"));
	assert_null(strstr(out, "http://"));
	assert_null(strstr(out, "https://"));
	assert_non_null(strstr(out, "<b>218</b>")); /* granted total */
	assert_non_null(strstr(out, "bad_signature"));
	assert_non_null(strstr(out, "quota_used_up"));
	free(out);
	cJSON_Delete(d);

	/* An empty period still makes a valid page. */
	d = cJSON_Parse("{}");
	out = NULL;
	f = open_memstream(&out, &len);
	assert_int_equal(ctl_report_html(f, d, NULL, NULL, "now"), 0);
	fclose(f);
	assert_non_null(strstr(out, "No data in this period."));
	assert_non_null(strstr(out, "</html>"));
	free(out);
	cJSON_Delete(d);
}

/*
 * A scripted admin peer: accepts one connection, and for each request
 * line answers the next canned line.  Runs in a child process.
 */
static pid_t peer(const char *path, const char *const *answers, int n)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t pid;

	strcpy(sa.sun_path, path);
	unlink(path);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int c = accept(ls, NULL, NULL);
		char buf[4096];
		size_t have = 0;

		for (int i = 0; i < n; i++) {
			/* Read up to a newline, then check it is one JSON. */
			for (;;) {
				char *nl = memchr(buf, '\n', have);
				ssize_t r;

				if (nl) {
					*nl = '\0';
					cJSON *req = cJSON_Parse(buf);
					if (req == NULL ||
					    cJSON_GetObjectItem(req, "v")
						    ->valueint != 1)
						_exit(3);
					cJSON_Delete(req);
					have -= (size_t)(nl + 1 - buf);
					memmove(buf, nl + 1, have);
					break;
				}
				r = read(c, buf + have, sizeof(buf) - have);
				if (r <= 0)
					_exit(4);
				have += (size_t)r;
			}
			/* Answer in two writes, to exercise reassembly. */
			size_t al = strlen(answers[i]);
			if (write(c, answers[i], al / 2) < 0 ||
			    (usleep(20000),
			     write(c, answers[i] + al / 2, al - al / 2)) < 0)
				_exit(5);
		}
		_exit(0);
	}
	close(ls);
	return pid;
}

static void admin_framing(void **state)
{
	char path[64], *big, *errs = NULL;
	size_t elen = 0;
	struct ctl_conn *c;
	cJSON *data = NULL;
	const char *code;
	int st, saved, rc;
	pid_t pid;
	FILE *ef;

	/* A 200 KB answer: bigger than any single read. */
	big = malloc(200100);
	strcpy(big, "{\"ok\":true,\"data\":{\"blob\":\"");
	memset(big + strlen(big), 'x', 200000);
	big[27 + 200000] = '\0';
	strcat(big, "\"}}\n");
	const char *const answers[] = {
	    "{\"ok\":true,\"data\":{\"role\":\"staff\",\"uid\":1001}}\n",
	    big,
	    "{\"ok\":false,\"error\":\"redemption.void is for administrators\","
	    "\"code\":\"forbidden\",\"need_role\":\"admin\"}\n",
	    "{\"ok\":false,\"error\":\"card 04AABB is "
	    "registered\",\"code\":\"exists\"}\n",
	};

	snprintf(path, sizeof(path), "/tmp/test_ctl.%d.sock", (int)getpid());
	pid = peer(path, answers, 4);
	assert_int_equal(ctl_open_path(path, &c), CTL_OK);
	assert_int_equal(ctl_call(c, "ping", NULL, &data, &code), CTL_OK);
	assert_string_equal(code, "");
	assert_string_equal(cJSON_GetObjectItem(data, "role")->valuestring,
			    "staff");
	cJSON_Delete(data);
	assert_int_equal(ctl_call(c, "member.show", NULL, &data, NULL), CTL_OK);
	assert_int_equal(strlen(cJSON_GetObjectItem(data, "blob")->valuestring),
			 200000);
	cJSON_Delete(data);

	/* Refusals print one line naming the role needed. */
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	ef = open_memstream(&errs, &elen);
	{
		char tmpl[] = "/tmp/test_ctl_errXXXXXX";
		int fd = mkstemp(tmpl);
		dup2(fd, STDERR_FILENO);
		rc = ctl_call(c, "redemption.void", NULL, &data, &code);
		assert_int_equal(rc, CTL_FAIL);
		assert_string_equal(code, "forbidden");
		rc = ctl_call(c, "card.prepare", NULL, &data, &code);
		assert_int_equal(rc, CTL_FAIL);
		assert_string_equal(code, "exists");
		fflush(stderr);
		dup2(saved, STDERR_FILENO);
		close(saved);
		lseek(fd, 0, SEEK_SET);
		char buf[1024];
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		close(fd);
		unlink(tmpl);
		assert_non_null(
		    strstr(buf, "redemption.void refused: redemption.void "
				"is for administrators (needs the admin role"));
		assert_non_null(
		    strstr(buf, "card.prepare: card 04AABB is registered\n"));
	}
	fclose(ef);
	free(errs);
	ctl_close(c);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	unlink(path);
	free(big);

	/* No daemon: a clear failure, not a hang. */
	assert_int_equal(ctl_open_path("/tmp/no-such-tapaid.sock", &c),
			 CTL_FAIL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(csv_good),
	    cmocka_unit_test(csv_multiline_record),
	    cmocka_unit_test(csv_json_escaping),
	    cmocka_unit_test(csv_four_columns),
	    cmocka_unit_test(csv_bad_rows),
	    cmocka_unit_test(csv_bad_header_and_quotes),
	    cmocka_unit_test(csv_many_errors_capped),
	    cmocka_unit_test(csv_output),
	    cmocka_unit_test(table_widths),
	    cmocka_unit_test(dates_and_text),
	    cmocka_unit_test(numbers_and_fields),
	    cmocka_unit_test(key_file),
	    cmocka_unit_test(progress_bar),
	    cmocka_unit_test(report_html),
	    cmocka_unit_test(admin_framing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
