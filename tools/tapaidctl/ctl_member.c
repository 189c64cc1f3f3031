/*
 * ctl_member.c - tapaidctl member import|add|show|suspend|resume.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"

#define MAX_IMPORT_FILE (1u << 30)

static const char import_usage[] =
    "tapaidctl member import FILE.csv\n"
    "  CSV in UTF-8 with the header member_no,name,union,category[,status];\n"
    "  all or nothing: every bad row is reported with its line number and\n"
    "  nothing is imported until the whole file is right.";

static int member_import(int argc, char **argv)
{
	struct ctl_import imp = {0};
	struct ctl_progress prog;
	struct ctl_conn *c = NULL;
	cJSON *ans = NULL;
	char *buf = NULL, *args = NULL;
	size_t len;
	int rc = CTL_FAIL, e;

	if (ctl_want_help(argc, argv)) {
		puts(import_usage);
		return CTL_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return ctl_usage(import_usage);
	e = ctl_read_file(argv[1], MAX_IMPORT_FILE, &buf, &len);
	if (e < 0) {
		ctl_err("cannot read %s: %s", argv[1],
			e == -EFBIG ? "larger than 1 GiB; split it"
				    : strerror(-e));
		return CTL_FAIL;
	}
	imp.file = argv[1];
	ctl_progress_start(&prog, "checking", len);
	e = ctl_import_parse(&imp, buf, len, &prog);
	ctl_progress_end(&prog);
	free(buf);
	if (e < 0) {
		if (imp.nerr > 0)
			ctl_err(
			    "%zu bad row%s in %s; nothing was imported. Fix "
			    "%s and run the import again",
			    imp.nerr, imp.nerr == 1 ? "" : "s", argv[1],
			    imp.nerr == 1 ? "it" : "them");
		goto out;
	}
	if (imp.n == 0) {
		ctl_err("%s has a header but no members; nothing to import",
			argv[1]);
		goto out;
	}
	if (ctl_open(&c) != CTL_OK)
		goto out;
	/* {"rows":[...],"first_line":2}, built as text around the rows. */
	args = malloc(imp.jlen + 40);
	if (args == NULL) {
		ctl_err("out of memory");
		goto out;
	}
	memcpy(args, "{\"rows\":", 8);
	memcpy(args + 8, imp.json, imp.jlen);
	memcpy(args + 8 + imp.jlen, ",\"first_line\":2}", 16);
	ctl_progress_start(&prog, "importing", 0);
	ctl_wait_progress = &prog;
	ans = ctl_request_raw(c, "member.import", args, imp.jlen + 24);
	ctl_wait_progress = NULL;
	ctl_progress_end(&prog);
	if (ans == NULL)
		goto out;
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ans, "ok"))) {
		const cJSON *err =
		    cJSON_GetObjectItemCaseSensitive(ans, "error");
		unsigned dline;
		int n = 0;

		/* "line 17: ..." counts rows as sent; name the file's line. */
		if (cJSON_IsString(err) &&
		    sscanf(err->valuestring, "line %u: %n", &dline, &n) == 1 &&
		    n > 0)
			ctl_err("%s:%u: %s; nothing was imported", argv[1],
				ctl_import_line(&imp, dline),
				err->valuestring + n);
		else
			ctl_report_refusal("member import", ans);
		goto out;
	}
	{
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(ans, "data");
		const cJSON *k =
		    cJSON_GetObjectItemCaseSensitive(d, "imported");
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(d, "stored");

		printf("imported %lld members from %s",
		       cJSON_IsNumber(k) ? (long long)k->valuedouble
					 : (long long)imp.n,
		       argv[1]);
		/* The daemon stores only the rows that change a member. */
		if (cJSON_IsNumber(w))
			printf(" (%lld new or changed)",
			       (long long)w->valuedouble);
		putchar('\n');
	}
	rc = CTL_OK;
out:
	cJSON_Delete(ans);
	free(args);
	ctl_close(c);
	ctl_import_free(&imp);
	return rc;
}

static const char add_usage[] =
    "tapaidctl member add --no N --name NAME --union U --category C";

static int member_add(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"no", required_argument, NULL, 'n'},
	    {"name", required_argument, NULL, 'N'},
	    {"union", required_argument, NULL, 'u'},
	    {"category", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	const char *v[4] = {0};
	static const char *const key[4] = {"no", "name", "union", "category"};
	cJSON *args, *data = NULL;
	int o, rc;

	optind = 0;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'n':
			v[0] = optarg;
			break;
		case 'N':
			v[1] = optarg;
			break;
		case 'u':
			v[2] = optarg;
			break;
		case 'c':
			v[3] = optarg;
			break;
		case 'h':
			puts(add_usage);
			return CTL_OK;
		default:
			return ctl_usage(add_usage);
		}
	}
	if (optind != argc || !v[0] || !v[1] || !v[2] || !v[3])
		return ctl_usage(add_usage);
	for (int i = 0; i < 4; i++) {
		if (v[i][0] == '\0' || !ctl_utf8_text(v[i], strlen(v[i]))) {
			ctl_err("--%s must be non-empty UTF-8 text", key[i]);
			return CTL_USAGE;
		}
	}
	args = cJSON_CreateObject();
	for (int i = 0; i < 4; i++)
		cJSON_AddStringToObject(args, key[i], v[i]);
	rc = ctl_rpc("member.add", args, &data);
	if (rc == CTL_OK)
		printf("added member %s\n", v[0]);
	cJSON_Delete(data);
	return rc;
}

static const char show_usage[] =
    "tapaidctl member show N [--show-names] [--json]\n"
    "  names are masked unless --show-names (staff and admin; recorded)";

static int member_show(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"show-names", no_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	int o, show = 0, json = 0, rc;
	cJSON *args, *data = NULL;
	struct ctl_conn *c;

	optind = 0;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 's':
			show = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			puts(show_usage);
			return CTL_OK;
		default:
			return ctl_usage(show_usage);
		}
	}
	if (optind + 1 != argc)
		return ctl_usage(show_usage);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "no", argv[optind]);
	cJSON_AddBoolToObject(args, "show_names", show);
	if (ctl_open(&c) != CTL_OK) {
		cJSON_Delete(args);
		return CTL_FAIL;
	}
	rc = ctl_call(c, "member.show", args, &data, NULL);
	if (rc == CTL_OK && show)
		rc = ctl_check_show_names(c, "member show");
	ctl_close(c);
	if (rc == CTL_OK) {
		if (json)
			ctl_json_line(stdout, data);
		else
			ctl_print_object(stdout, data, 0);
	}
	cJSON_Delete(data);
	return rc;
}

static int set_status(int argc, char **argv, const char *cmd)
{
	cJSON *args, *data = NULL;
	char usage[64];
	int rc;

	snprintf(usage, sizeof(usage), "tapaidctl member %s N",
		 strchr(cmd, '.') + 1);
	if (ctl_want_help(argc, argv)) {
		puts(usage);
		return CTL_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return ctl_usage(usage);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "no", argv[1]);
	rc = ctl_rpc(cmd, args, &data);
	if (rc == CTL_OK) {
		const cJSON *s =
		    cJSON_GetObjectItemCaseSensitive(data, "status");

		printf("member %s is %s\n", argv[1],
		       cJSON_IsString(s) ? s->valuestring : "updated");
	}
	cJSON_Delete(data);
	return rc;
}

static int member_suspend(int argc, char **argv)
{
	return set_status(argc, argv, "member.suspend");
}

static int member_resume(int argc, char **argv)
{
	return set_status(argc, argv, "member.resume");
}

static const struct ctl_cmd member_cmds[] = {
    {"import", member_import,
     "import members from a CSV file (all or nothing)"},
    {"add", member_add, "add one member"},
    {"show", member_show, "show a member, their cards and usage"},
    {"suspend", member_suspend, "suspend a member (taps are denied)"},
    {"resume", member_resume, "resume a suspended member"},
};

int ctl_member(int argc, char **argv)
{
	return ctl_dispatch(member_cmds,
			    sizeof(member_cmds) / sizeof(member_cmds[0]),
			    "tapaidctl member", argc, argv);
}
