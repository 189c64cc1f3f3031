/*
 * ctl_init.c - tapaidctl init --dir DIR: a new data directory.
 *
 * Makes DIR (0700) with the host's P-256 key pair, the three card system
 * keys (card master, SDM meta-read, lookup salt: 16 random bytes as 32 hex
 * digits and a newline, mode 0600) and a tapaidd.conf naming the invoking
 * user as admin.  The database is created by tapaidd on first start.  A
 * directory that exists and is not empty is refused, so an existing
 * installation's keys can never be overwritten.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tapaid/crypto.h"

#include "ctl_int.h"

static const char init_usage[] =
    "tapaidctl init --dir DIR [--listen ADDR:PORT]\n"
    "  creates DIR (0700): host.key/host.pub, card-master.key, sdm-meta.key,\n"
    "  lookup-salt.key (0600) and tapaidd.conf; refuses a non-empty DIR";

static const char *const made[] = {"host.key",	      "host.pub",
				   "card-master.key", "sdm-meta.key",
				   "lookup-salt.key", "tapaidd.conf"};

static int empty_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int empty = 1;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

/* Writes len bytes to a new file (O_EXCL) with mode, fsynced. */
static int write_new(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	const char *p = buf;

	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0)
		goto fail;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail;
	return close(fd) < 0 ? -errno : 0;
fail : {
	int e = errno;

	close(fd);
	return -e;
}
}

static int new_key_file(const char *path)
{
	uint8_t k[16];
	char hex[34];
	int rc;

	if (tp_random(k, sizeof(k)) != TP_OK)
		return -EIO;
	tp_hex_encode(k, sizeof(k), hex, 0);
	hex[32] = '\n';
	rc = write_new(path, hex, 33, 0600);
	tp_wipe(k, sizeof(k));
	tp_wipe(hex, sizeof(hex));
	return rc;
}

int ctl_init(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"listen", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	const char *dir = ctl_dir, *listen = "127.0.0.1:7420";
	char abs[PATH_MAX], path[PATH_MAX + 32], *conf = NULL;
	struct tp_key *key = NULL;
	struct passwd *pw;
	int o, rc = CTL_FAIL, created = 0, e, n;

	optind = 0;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'd':
			dir = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'h':
			puts(init_usage);
			return CTL_OK;
		default:
			return ctl_usage(init_usage);
		}
	}
	if (optind != argc || dir == NULL)
		return ctl_usage(init_usage);
	if (strchr(listen, ':') == NULL || strpbrk(listen, " \t\n;#") != NULL) {
		ctl_err("--listen is ADDRESS:PORT, e.g. 0.0.0.0:7420");
		return CTL_USAGE;
	}
	if (mkdir(dir, 0700) == 0) {
		created = 1;
	} else if (errno == EEXIST) {
		if (!empty_dir(dir)) {
			ctl_err(
			    "%s exists and is not empty; choose a new "
			    "directory (existing keys are never overwritten)",
			    dir);
			return CTL_FAIL;
		}
		if (chmod(dir, 0700) < 0) {
			ctl_err("cannot set the mode of %s: %m", dir);
			return CTL_FAIL;
		}
	} else {
		ctl_err("cannot create %s: %m", dir);
		return CTL_FAIL;
	}
	if (realpath(dir, abs) == NULL) {
		ctl_err("cannot resolve %s: %m", dir);
		goto out;
	}
	if (strpbrk(abs, "\n;#") != NULL) {
		ctl_err("the directory path may not hold newlines, ';' or '#'");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/host.key", abs);
	if ((e = tp_key_generate(&key)) != TP_OK ||
	    (e = tp_key_save_private(key, path)) != TP_OK) {
		ctl_err("making the host key failed: %s", tp_strerror(e));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/host.pub", abs);
	if ((e = tp_key_save_public(key, path)) != TP_OK) {
		ctl_err("writing host.pub failed: %s", tp_strerror(e));
		goto out;
	}
	for (int i = 2; i <= 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", abs, made[i]);
		if ((e = new_key_file(path)) < 0) {
			ctl_err("writing %s failed: %s", path, strerror(-e));
			goto out;
		}
	}
	pw = getpwuid(getuid());
	n = asprintf(&conf,
		     "[host]\n"
		     "data_dir = %s\n"
		     "listen = %s\n"
		     "host_key = %s/host.key\n"
		     "log_level = info\n"
		     "max_sessions = 4096\n"
		     "max_halfopen = 2048\n"
		     "handshake_timeout_ms = 5000\n"
		     "checkpoint_interval_s = 60\n"
		     "[roles]\n"
		     "admin = %s\n"
		     "staff =\n"
		     "auditor =\n",
		     abs, listen, abs, pw ? pw->pw_name : "root");
	if (n < 0) {
		conf = NULL;
		ctl_err("out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/tapaidd.conf", abs);
	if ((e = write_new(path, conf, (size_t)n, 0644)) < 0) {
		ctl_err("writing %s failed: %s", path, strerror(-e));
		goto out;
	}
	printf("initialised %s\n"
	       "  host key:   %s/host.pub (kiosks pin this)\n"
	       "  card keys:  card-master.key, sdm-meta.key, lookup-salt.key "
	       "(0600; back them up offline)\n"
	       "  start with: tapaidd -c %s/tapaidd.conf\n",
	       abs, abs, abs);
	rc = CTL_OK;
out:
	free(conf);
	tp_key_free(key);
	if (rc != CTL_OK) {
		/* Leave nothing half made behind. */
		for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, made[i]);
			unlink(path);
		}
		if (created)
			rmdir(dir);
	}
	return rc;
}
