/*
 * tapaidctl - what staff and administrators do every day: enrol members,
 * manage cards, benefits and kiosks, read, export and prove the log.
 *
 * A thin client of tapaidd's admin socket (host/ADMIN.md).  The daemon
 * identifies the user by kernel credentials and enforces roles; nothing
 * here is a security boundary.  Subcommands are a {name, fn, help} table,
 * as in wireguard-tools' wg.c.
 *
 * Exit codes: 0 success, 1 refused or failed (one line on stderr saying
 * why and what to do), 2 bad usage.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"

const char *ctl_dir;

#ifdef CTL_HAVE_SUN
#include "ctl_sun.h"

int ctl_sun(int argc, char **argv)
{
	static const struct ctl_cmd sun_cmds[] = {
	    {"verify", ctl_sun_verify,
	     "check one SUN message (URL or query) with key files"},
	};

	return ctl_dispatch(sun_cmds, 1, "tapaidctl sun", argc, argv);
}
#endif

int ctl_ping(int argc, char **argv)
{
	cJSON *data = NULL;
	int rc;

	if (ctl_want_help(argc, argv)) {
		puts("tapaidctl ping: ask tapaidd who you are (role, uid)");
		return CTL_OK;
	}
	if (argc != 1)
		return ctl_usage("tapaidctl ping");
	rc = ctl_rpc("ping", NULL, &data);
	if (rc == CTL_OK)
		ctl_print_object(stdout, data, 0);
	cJSON_Delete(data);
	return rc;
}

static const struct ctl_cmd commands[] = {
    {"init", ctl_init, "make a new data directory (keys, tapaidd.conf)"},
    {"member", ctl_member, "import, add, show, suspend, resume members"},
    {"benefit", ctl_benefit, "add and list benefits"},
    {"kiosk", ctl_kiosk, "enrol, revoke, list and configure kiosks"},
    {"card", ctl_card, "issue, replace, revoke, show and list cards"},
    {"log", ctl_log, "read and export the redemption log; log verify"},
    {"redemption", ctl_redemption, "void a redemption"},
    {"report", ctl_report, "write an HTML report with charts"},
#ifdef CTL_HAVE_SUN
    {"sun", ctl_sun, "diagnostics: sun verify"},
#endif
    {"ping", ctl_ping, "check the connection and show your role"},
};

static void usage(FILE *f)
{
	fputs("usage: tapaidctl [--dir DIR] <command> [args]   (or "
	      "TAPAID_DIR=DIR)\n"
	      "       tapaidctl <command> --help\n\n",
	      f);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].help);
	fputs("\nexit status: 0 success, 1 refused or failed, 2 bad usage;"
	      " see tapaidctl(1)\n",
	      f);
}

/*
 * Takes --dir DIR / --dir=DIR out of argv wherever it appears before "--",
 * so that both "tapaidctl --dir D log" and "tapaidctl log --dir D" work.
 * Returns the new argc, or -1 when --dir has no value.
 */
static int take_dir(int argc, char **argv)
{
	int i = 1, j = 1;

	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--dir") == 0) {
			if (i + 1 >= argc)
				return -1;
			ctl_dir = argv[++i];
			continue;
		}
		if (strncmp(argv[i], "--dir=", 6) == 0) {
			ctl_dir = argv[i] + 6;
			continue;
		}
		argv[j++] = argv[i];
	}
	for (; i < argc; i++)
		argv[j++] = argv[i];
	argv[j] = NULL;
	return j;
}

int main(int argc, char **argv)
{
	ctl_dir = getenv("TAPAID_DIR");
	if (ctl_dir != NULL && *ctl_dir == '\0')
		ctl_dir = NULL;
	argc = take_dir(argc, argv);
	if (argc < 0) {
		ctl_err("--dir needs a directory");
		return CTL_USAGE;
	}
	if (argc < 2) {
		usage(stderr);
		return CTL_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return CTL_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		puts("tapaidctl 0.1");
		return CTL_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	ctl_err("'%s' is not a command; see 'tapaidctl --help'", argv[1]);
	return CTL_USAGE;
}
