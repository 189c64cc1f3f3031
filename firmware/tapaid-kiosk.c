/*
 * tapaid-kiosk - the kiosk program: reader, screen, host session, offline
 * queue.  See tapaid-kiosk(1).
 *
 *   tapaid-kiosk --enroll --dir KDIR      make KDIR/kiosk.key (0600) and
 *                                         KDIR/kiosk.pub
 *   tapaid-kiosk -c FILE [--events PATH|-] [-n]
 *
 * main() wires the real backends into struct hal, hands them to the core
 * and runs kiosk_step() until SIGTERM or SIGINT.  Between steps it sleeps
 * on the host socket for as long as the core allows, so a decision that
 * arrives wakes it at once.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/kiosk.h"
#include "hal/backends.h"
#include "kiosk_conf.h"
#include "tapaid/crypto.h"
#include "tapaid/proto.h"

#define KIOSK_VERSION "1.0"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static const char usage[] =
    "usage: tapaid-kiosk -c FILE [--events PATH|-] [-n]\n"
    "       tapaid-kiosk --enroll --dir KDIR\n"
    "  -c, --config FILE   the kiosk's configuration (INI, see "
    "tapaid-kiosk(1))\n"
    "      --events PATH   append one JSON line per tap to PATH ('-': stdout;\n"
    "                      the screen then goes to stderr)\n"
    "  -n, --check         check the configuration and the keys, then exit\n"
    "      --enroll        make a kiosk key pair in --dir KDIR\n"
    "      --dir KDIR      where --enroll writes kiosk.key and kiosk.pub\n"
    "  -h, --help          this text\n"
    "  -V, --version       the firmware version\n";

static int enroll(const char *dir)
{
	char key[PATH_MAX], pub[PATH_MAX], abs[PATH_MAX];
	struct tp_key *k = NULL;
	int rc;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "tapaid-kiosk: cannot create %s: %s\n", dir,
			strerror(errno));
		return 1;
	}
	if ((size_t)snprintf(key, sizeof(key), "%s/kiosk.key", dir) >=
		sizeof(key) ||
	    (size_t)snprintf(pub, sizeof(pub), "%s/kiosk.pub", dir) >=
		sizeof(pub)) {
		fprintf(stderr, "tapaid-kiosk: %s: path too long\n", dir);
		return 1;
	}
	if (access(key, F_OK) == 0) {
		fprintf(
		    stderr,
		    "tapaid-kiosk: %s already exists; a kiosk keeps its key "
		    "(remove it first to make a new one, then enrol the kiosk "
		    "again)\n",
		    key);
		return 1;
	}
	if ((rc = tp_key_generate(&k)) != 0 ||
	    (rc = tp_key_save_private(k, key)) != 0 ||
	    (rc = tp_key_save_public(k, pub)) != 0) {
		fprintf(stderr,
			"tapaid-kiosk: cannot make the kiosk key in %s: %s\n",
			dir, tp_strerror(rc));
		tp_key_free(k);
		return 1;
	}
	tp_key_free(k);
	if (!realpath(pub, abs))
		snprintf(abs, sizeof(abs), "%s", pub);
	printf("kiosk key: %s/kiosk.key (mode 0600, stays on this kiosk)\n"
	       "public key: %s\n"
	       "enrol it on the host: tapaidctl kiosk add --id ID --point "
	       "POINT --pubkey %s\n",
	       dir, abs, abs);
	return 0;
}

/* One line on stderr when the reader or the host link changes state. */
static void log_changes(struct kiosk *k, struct kiosk_stats *prev)
{
	struct kiosk_stats st;

	kiosk_get_stats(k, &st);
	if (st.reader != prev->reader)
		fprintf(stderr,
			"tapaid-kiosk: reader %s (resets %u, reopens %u)\n",
			kiosk_reader_state_name(st.reader), st.reader_resets,
			st.reader_reopens);
	if (st.host_up != prev->host_up)
		fprintf(stderr, "tapaid-kiosk: host %s (queue %zu)%s%s\n",
			st.host_up ? "connected" : "disconnected",
			st.queue_depth,
			!st.host_up && st.link_error ? ": " : "",
			!st.host_up && st.link_error ? st.link_error : "");
	*prev = st;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"events", required_argument, NULL, 'e'},
	    {"check", no_argument, NULL, 'n'},
	    {"enroll", no_argument, NULL, 'E'},
	    {"dir", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {0}};
	const char *cfg_path = NULL, *events = NULL, *dir = NULL;
	int o, do_enroll = 0, check = 0, rc = 1;
	static struct kiosk_conf conf;
	struct tp_key *kkey = NULL;
	struct hal hal;
	struct kiosk *k = NULL;
	FILE *ev = NULL, *screen = stdout;

	while ((o = getopt_long(argc, argv, "c:nhV", lo, NULL)) != -1) {
		switch (o) {
		case 'c':
			cfg_path = optarg;
			break;
		case 'e':
			events = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'E':
			do_enroll = 1;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			puts("tapaid-kiosk " KIOSK_VERSION);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (do_enroll) {
		if (!dir || cfg_path || events) {
			fputs("tapaid-kiosk: --enroll needs --dir KDIR (and "
			      "nothing else)\n",
			      stderr);
			return 2;
		}
		return enroll(dir);
	}
	if (!cfg_path || dir) {
		fputs(usage, stderr);
		return 2;
	}
	if (kiosk_conf_load(&conf, cfg_path) != 0) {
		fprintf(stderr, "tapaid-kiosk: %s\n", conf.err);
		return 1;
	}
	if ((rc = tp_key_load_private(conf.key_path, &kkey)) != 0) {
		fprintf(stderr, "tapaid-kiosk: kiosk key %s: %s%s\n",
			conf.key_path, tp_strerror(rc),
			rc == TP_ERR_KEYPERM ? " (chmod 600 it)" : "");
		return 1;
	}
	conf.core.kiosk_key = kkey;
	if (check) {
		printf("configuration ok: kiosk %s, benefit %s, reader %s, "
		       "host %s\n",
		       conf.core.kiosk_id, conf.core.benefit, conf.connstring,
		       conf.host_addr);
		tp_key_free(kkey);
		return 0;
	}

	memset(&hal, 0, sizeof(hal));
	if (events) {
		if (strcmp(events, "-") == 0) {
			ev = stdout;
			screen = stderr;
		} else if (!(ev = fopen(events, "a"))) {
			fprintf(stderr, "tapaid-kiosk: cannot open %s: %s\n",
				events, strerror(errno));
			goto out;
		}
	}
	rc = 1;
	if (hal_reader_libnfc_new(&hal.reader, conf.connstring) != 0) {
		fprintf(stderr, "tapaid-kiosk: bad reader connstring\n");
		goto out;
	}
	if (conf.usb_auto) {
		if (hal_usb_libusb_new(&hal.usb, &hal.reader,
				       conf.connstring) != 0)
			fprintf(stderr,
				"tapaid-kiosk: libusb unavailable: the reader "
				"will be reopened but not reset\n");
	} else {
		hal_usb_libusb_new(&hal.usb, &hal.reader, "");
	}
	if (hal_net_tcp_new(&hal.net, conf.host_addr) != 0) {
		fprintf(stderr, "tapaid-kiosk: bad host address %s\n",
			conf.host_addr);
		goto out;
	}
	rc =
	    hal_store_file_open(&hal.store, conf.state_dir, KIOSK_JREC_HDR_MAX);
	if (rc == HAL_ERR_CORRUPT) {
		fprintf(stderr,
			"tapaid-kiosk: the offline queue %s/queue.log is "
			"damaged in the "
			"middle; nothing was removed. Copy it aside for the "
			"staff, then "
			"move it away to start an empty queue\n",
			conf.state_dir);
		rc = 1;
		goto out;
	} else if (rc != 0) {
		fprintf(
		    stderr,
		    "tapaid-kiosk: cannot open the offline queue in %s: %s\n",
		    conf.state_dir, strerror(errno));
		rc = 1;
		goto out;
	}
	hal_display_term_new(&hal.display, screen, ev);
	hal_clock_posix(&hal.clock);
	hal_rng_posix(&hal.rng);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((rc = kiosk_setup(&conf.core, &hal, &k)) != 0) {
		fprintf(stderr, "tapaid-kiosk: cannot start: %s\n",
			rc == HAL_ERR_FULL ? "out of memory" : tp_strerror(rc));
		rc = 1;
		goto out;
	}
	fprintf(stderr,
		"tapaid-kiosk %s: kiosk %s, benefit %s, reader %s, host %s\n",
		KIOSK_VERSION, conf.core.kiosk_id, conf.core.benefit,
		conf.connstring, conf.host_addr);
	struct kiosk_stats prev;
	kiosk_get_stats(k, &prev);
	prev.host_up = 0;
	prev.reader = KIOSK_READER_OK;
	while (!stop) {
		int w = kiosk_step(k);
		log_changes(k, &prev);
		if (w > 50)
			w = 50;
		if (w > 0)
			hal.net.wait(hal.net.ctx, w);
	}
	rc = 0;
out:
	kiosk_teardown(k);
	if (hal.reader.ctx)
		hal_reader_libnfc_free(&hal.reader);
	if (hal.usb.ctx)
		hal_usb_libusb_free(&hal.usb);
	if (hal.net.ctx)
		hal_net_tcp_free(&hal.net);
	if (hal.store.ctx)
		hal_store_file_close(&hal.store);
	if (hal.display.ctx)
		hal_display_term_free(&hal.display);
	if (ev && ev != stdout)
		fclose(ev);
	tp_key_free(kkey);
	return rc;
}
