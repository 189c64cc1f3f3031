/*
 * tapaidd.c - the host daemon's start-up, signals and shutdown.
 *
 *   tapaidd -c FILE [-d] [-F] [-n]
 *
 * Start-up reads the configuration, loads the host key and the card
 * secrets, opens the kiosk listener and the admin socket, then (unless -d
 * or -F) detaches, and only then opens the database (SQLite locks do not
 * survive a fork).  One event loop serves everything; SIGTERM and SIGINT
 * stop it after the current turn (whose batch is committed and answered),
 * every session gets a BYE, and a final checkpoint is signed.  SIGHUP
 * reloads the kiosk list and the deny list.
 */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tapaid/crypto.h"

#include "chain.h"
#include "daemon.h"
#include "engine.h"
#include "store.h"

#define DEFAULT_CONF "/etc/tapaid/tapaidd.conf"

static const char usage_text[] =
    "usage: tapaidd -c FILE [-d] [-F] [-n]\n"
    "  -c FILE  configuration (tapaidctl init writes DIR/tapaidd.conf)\n"
    "  -d       stay in the foreground, log to stderr at debug level\n"
    "  -F       stay in the foreground, log to syslog (for systemd)\n"
    "  -n       check the configuration, keys and database, then exit\n"
    "  -h       this help\n";

static void sig_io(struct loop_io *io, uint32_t events)
{
	struct daemon *d = io->arg;
	struct signalfd_siginfo si;

	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal %u: shutting down", si.ssi_signo);
			d->terminating = 1;
			loop_stop(d->loop);
			break;
		case SIGHUP:
			log_info("SIGHUP: reloading kiosks and the deny list");
			net_reload(d);
			break;
		default:
			break;
		}
	}
}

static int setup_signals(struct daemon *d, char *err, size_t errlen)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		return -1;
	}
	d->sig_io.fd = fd;
	d->sig_io.fn = sig_io;
	d->sig_io.arg = d;
	if (loop_add(d->loop, &d->sig_io, EPOLLIN) < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Enough descriptors for max_sessions kiosks, half-open ones and admins. */
static void raise_nofile(const struct daemon_config *cf)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cf->max_sessions + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		log_warnx("only %llu file descriptors: fewer than "
			  "max_sessions=%d kiosks can connect",
			  (unsigned long long)rl.rlim_cur, cf->max_sessions);
}

/* Checks the data dir's secrets one by one, naming the bad file. */
static int check_secrets(const char *dir, char *err, size_t errlen)
{
	static const char *const names[] = {
	    ENGINE_MASTER_KEY_FILE, ENGINE_META_KEY_FILE, ENGINE_SALT_FILE};
	char path[PATH_MAX];
	uint8_t k[16];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >=
		    (int)sizeof(path)) {
			snprintf(err, errlen, "data_dir path too long");
			return -1;
		}
		if (keys_read_secret(path, k, err, errlen) < 0)
			return -1;
	}
	tp_wipe(k, sizeof(k));
	return 0;
}

static int open_store(struct daemon *d, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int rc;

	if (snprintf(path, sizeof(path), "%s/tapaid.db", d->cf.data_dir) >=
	    (int)sizeof(path)) {
		snprintf(err, errlen, "data_dir path too long");
		return -1;
	}
	rc = store_sqlite_open(path, &d->store);
	if (rc < 0) {
		if (snprintf(err, errlen, "cannot open the database %s (%s)",
			     path, store_err_code(rc)) >= (int)errlen)
			err[errlen - 1] = '\0';
		return -1;
	}
	rc = engine_new(d->store, &d->keys, NULL, &d->engine);
	if (rc < 0) {
		snprintf(err, errlen, "cannot start the decision engine: %s",
			 tp_strerror(rc));
		return -1;
	}
	return 0;
}

static void close_store(struct daemon *d)
{
	engine_free(d->engine);
	d->engine = NULL;
	store_close(d->store);
	d->store = NULL;
}

int main(int argc, char **argv)
{
	static struct daemon dd;
	struct daemon *d = &dd;
	const char *conf = DEFAULT_CONF;
	int debug = 0, fg = 0, check = 0, o, rc;
	char err[768];

	while ((o = getopt(argc, argv, "c:dFnh")) != -1) {
		switch (o) {
		case 'c':
			conf = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'F':
			fg = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	umask(077);
	log_init(1, debug ? LOG_LVL_DEBUG : LOG_LVL_INFO, "tapaidd");
	if (config_load(conf, &d->cf, err, sizeof(err)) < 0) {
		fprintf(stderr, "tapaidd: %s\n", err);
		return 1;
	}
	if (!debug)
		log_setlevel(d->cf.log_level);
	d->listen_io.fd = d->ctl_io.fd = d->sig_io.fd = d->spare_fd = -1;
	if (keys_load_host(d->cf.host_key, &d->host_key, err, sizeof(err)) <
		0 ||
	    check_secrets(d->cf.data_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "tapaidd: %s\n", err);
		return 1;
	}
	rc = engine_load_keys(d->cf.data_dir, &d->keys);
	if (rc < 0) {
		fprintf(stderr, "tapaidd: card keys in %s: %s\n",
			d->cf.data_dir, tp_strerror(rc));
		return 1;
	}
	/* Open (and migrate) the database once here, to report on a tty. */
	if (open_store(d, err, sizeof(err)) < 0) {
		fprintf(stderr, "tapaidd: %s\n", err);
		return 1;
	}
	close_store(d);
	if (check) {
		printf("tapaidd: configuration OK (%s, data in %s, kiosks on "
		       "%s:%s)\n",
		       conf, d->cf.data_dir, d->cf.listen_host,
		       d->cf.listen_port);
		tp_wipe(&d->keys, sizeof(d->keys));
		tp_key_free(d->host_key);
		config_free(&d->cf);
		return 0;
	}
	raise_nofile(&d->cf);
	{
		/* Users with a role must be able to reach admin.sock. */
		struct stat st;
		int others = 0;

		for (size_t i = 0; i < d->cf.nroles; i++)
			others |= d->cf.roles[i].uid != geteuid() &&
				  d->cf.roles[i].uid != 0;
		if (others && stat(d->cf.data_dir, &st) == 0 &&
		    !(st.st_mode & S_IXOTH))
			log_warnx("%s is not searchable by others (mode %03o): "
				  "users in [roles] cannot reach admin.sock; "
				  "chmod 711 it",
				  d->cf.data_dir,
				  (unsigned)(st.st_mode & 0777));
	}
	/*
	 * One malloc arena for every thread: the store thread would
	 * otherwise get an arena of its own and hold on to about 20 MB more
	 * (measured with bench_host) for no gain at this allocation rate.
	 */
	mallopt(M_ARENA_MAX, 1);
	/*
	 * The engine switches TZ to a service point's zone and back, under
	 * the store lock (engine.c, compute_lt).  With TZ unset it would add
	 * the variable and remove it again each time, and adding one can
	 * move environ while another thread reads it (SQLite looks up
	 * TMPDIR, for one).  Set here, before any thread, it only ever has
	 * its value replaced in place.  ":/etc/localtime" is what glibc
	 * reads when TZ is unset.
	 */
	if (!getenv("TZ"))
		setenv("TZ", ":/etc/localtime", 1);
	d->loop = loop_new();
	if (!d->loop || daemon_lock_init(d) < 0) {
		fprintf(stderr, "tapaidd: epoll: %s\n", strerror(errno));
		return 1;
	}
	if (net_listen(d, err, sizeof(err)) < 0 ||
	    control_listen(d, err, sizeof(err)) < 0 ||
	    setup_signals(d, err, sizeof(err)) < 0) {
		fprintf(stderr, "tapaidd: %s\n", err);
		return 1;
	}
	if (!debug && !fg) {
		if (daemon(0, 0) < 0) {
			fprintf(stderr, "tapaidd: daemon: %s\n",
				strerror(errno));
			return 1;
		}
	}
	if (!debug)
		log_init(0, d->cf.log_level, "tapaidd");
	if (open_store(d, err, sizeof(err)) < 0)
		fatalx("%s", err);
	{
		char db[PATH_MAX + 16];

		if (getenv("TAPAIDD_NO_WALCKPT"))
			log_info("WAL checkpoint thread off (environment)");
		else if (snprintf(db, sizeof(db), "%s/tapaid.db",
				  d->cf.data_dir) >= (int)sizeof(db) ||
			 walckpt_start(d->store, db, 500) < 0)
			log_warnx("no WAL checkpoint thread: SQLite "
				  "checkpoints inside commits");
	}
	if (net_reload(d) < 0)
		fatalx("cannot load kiosks and deny list");
	if (net_batcher_start(d) < 0)
		log_warnx("no store thread: batches are decided on the loop "
			  "thread");
	loop_set_tick(d->loop, 200, net_tick, d);
	loop_set_beforesleep(d->loop, net_beforesleep, d);
	d->last_checkpoint_ms = now_ms();
	log_info("tapaidd %s serving kiosks on %s:%s, admin socket %s",
		 TAPAIDD_VERSION, d->cf.listen_host, d->cf.listen_port,
		 d->ctl_path);
	if (loop_run(d->loop) < 0)
		log_warn("event loop");
	net_shutdown(d);
	control_shutdown(d);
	net_checkpoint(d, 1);
	walckpt_stop(d->store);
	close_store(d);
	tp_wipe(&d->keys, sizeof(d->keys));
	tp_key_free(d->host_key);
	loop_free(d->loop);
	config_free(&d->cf);
	log_info("stopped");
	return 0;
}
