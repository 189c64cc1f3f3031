/*
 * test_import.c - a member import's rows packed as they are parsed
 * (host/import.c): what the loop reads back, which row is refused and
 * why, and the request tree left without them.  fuzz_ctl_import checks
 * the same parse against cJSON over arbitrary bytes; these are the cases
 * staff meet.
 */
#include "test_util.h"

#include <cJSON.h>
#include <stdlib.h>

#include "../../host/daemon.h"

static cJSON *parse(const char *line, struct import_rows *rows)
{
	int oom = 1;
	cJSON *root = import_parse_line(line, strlen(line), rows, &oom);

	assert_int_equal(oom, 0);
	return root;
}

/* Rows come back field by field; the rest of the request stays a tree,
 * with first_line wherever it was. */
static void packs_rows(void **state)
{
	struct import_rows rows;
	struct store_member m;
	cJSON *root = parse(
	    "{\"v\":1,\"cmd\":\"member.import\",\"args\":{\"rows\":["
	    "[\"M1\",\"王小明\",\"教育工会\",\"teacher\"],"
	    "[\"M2\",\"Ann \\\"Bo\\\" Lee\",\"U\",\"retired\",\"suspended\"]"
	    "],\"first_line\":7}}",
	    &rows);
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(root, "args");

	assert_non_null(root);
	assert_true(rows.present);
	assert_int_equal(rows.n, 2);
	assert_true(rows.bad == SIZE_MAX);
	import_row_get(&rows, 0, &m);
	assert_string_equal(m.no, "M1");
	assert_string_equal(m.name, "王小明");
	assert_string_equal(m.union_, "教育工会");
	assert_string_equal(m.category, "teacher");
	assert_int_equal(m.status, STORE_ACTIVE);
	import_row_get(&rows, 1, &m);
	assert_string_equal(import_row_no(&rows, 1), "M2");
	assert_string_equal(m.name, "Ann \"Bo\" Lee");
	assert_int_equal(m.status, STORE_SUSPENDED);
	assert_null(cJSON_GetObjectItemCaseSensitive(args, "rows"));
	assert_int_equal(
	    cJSON_GetObjectItemCaseSensitive(args, "first_line")->valueint, 7);
	assert_string_equal(
	    cJSON_GetObjectItemCaseSensitive(root, "cmd")->valuestring,
	    "member.import");
	cJSON_Delete(root);
	import_rows_free(&rows);
}

/* The first bad row is the one named, with what is wrong; the rows after
 * it are still counted and parsed, so a JSON error later still counts. */
static void names_first_bad_row(void **state)
{
	static const struct {
		const char *row, *why;
	} t[] = {
	    {"[\"M9\",\"A\",\"U\"]", "expected 4 or 5 fields"},
	    {"{\"no\":\"M9\"}", "expected 4 or 5 fields"},
	    {"[\"M9\",\"\",\"U\",\"c\"]", "name is empty"},
	    {"[\"M9\",\"A\",7,\"c\"]", "union is not text"},
	    {"[\"M9\",\"A\",\"U\",\"c\",\"gone\"]",
	     "status must be active or suspended"},
	    {"[\"0123456789012345678901234567890123\",\"A\",\"U\",\"c\"]",
	     "member number is too long"},
	};
	char line[512];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct import_rows rows;
		cJSON *root;

		snprintf(line, sizeof(line),
			 "{\"args\":{\"rows\":[[\"M1\",\"A\",\"U\",\"c\"],%s,"
			 "[\"M3\",\"\",\"U\",\"c\"]]}}",
			 t[i].row);
		root = parse(line, &rows);
		assert_non_null(root);
		assert_int_equal(rows.n, 3);
		assert_int_equal(rows.bad, 1);
		assert_string_equal(rows.why, t[i].why);
		cJSON_Delete(root);
		import_rows_free(&rows);
		/* The same with a syntax error after the bad row. */
		snprintf(line, sizeof(line),
			 "{\"args\":{\"rows\":[[\"M1\",\"A\",\"U\",\"c\"],%s,"
			 "[\"M3\",}]}}",
			 t[i].row);
		assert_null(parse(line, &rows));
		import_rows_free(&rows);
	}
}

/* cJSON's reading, kept: the first of two equal keys counts, bytes after
 * the object are ignored, a BOM only at the very start. */
static void reads_as_cjson_does(void **state)
{
	struct import_rows rows;
	cJSON *root, *args;

	root = parse("{\"args\":{\"rows\":[[\"A1\",\"n\",\"u\",\"c\"]],"
		     "\"rows\":[[\"B1\",\"n\",\"u\",\"c\"]]}} trailing",
		     &rows);
	assert_non_null(root);
	assert_int_equal(rows.n, 1);
	assert_string_equal(import_row_no(&rows, 0), "A1");
	args = cJSON_GetObjectItemCaseSensitive(root, "args");
	assert_true(
	    cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(args, "rows")));
	cJSON_Delete(root);
	import_rows_free(&rows);

	/* "args" that is not an object first: nothing is taken as rows. */
	root = parse("{\"args\":5,\"args\":{\"rows\":[]}}", &rows);
	assert_non_null(root);
	assert_false(rows.present);
	cJSON_Delete(root);
	import_rows_free(&rows);

	root = parse("\xEF\xBB\xBF {\"args\":{\"rows\":[]}}", &rows);
	assert_non_null(root);
	assert_true(rows.present);
	assert_int_equal(rows.n, 0);
	cJSON_Delete(root);
	import_rows_free(&rows);
	assert_null(parse("{\"args\":\xEF\xBB\xBF{\"rows\":[]}}", &rows));
	assert_null(
	    parse("{\"args\":{\"rows\":[[\"A\",\"n\",\"u\",\"c\"],]}}", &rows));
	assert_null(parse("{\"args\":{\"rows\":[]},}", &rows));
	assert_null(parse("", &rows));
	import_rows_free(&rows);

	/* Not an object: cJSON's own parse, for the loop to refuse. */
	root = parse("[1,2]", &rows);
	assert_true(cJSON_IsArray(root));
	assert_false(rows.present);
	cJSON_Delete(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(packs_rows),
	    cmocka_unit_test(names_first_bad_row),
	    cmocka_unit_test(reads_as_cjson_does),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
