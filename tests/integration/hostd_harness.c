/*
 * hostd_harness.c - see hostd_harness.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tapaid/crypto.h"
#include "tapaid/ntag.h"

#include "hostd_harness.h"

uint64_t h_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int h_free_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	size_t n = strlen(text);

	if (fd < 0)
		return -1;
	if (write(fd, text, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	fchmod(fd, mode);
	close(fd);
	return 0;
}

static int write_secret(struct hd *h, const char *name, uint8_t k[16])
{
	char path[PATH_MAX + 64], hex[34];

	tp_random(k, 16);
	tp_hex_encode(k, 16, hex, 0);
	hex[32] = '\n';
	hex[33] = '\0';
	snprintf(path, sizeof(path), "%s/%s", h->dir, name);
	return write_file(path, hex, 0600);
}

int h_setup(struct hd *h, const char *extra, const char *roles_extra)
{
	char path[PATH_MAX + 64], conf[8192];
	const char *b = getenv("TAPAID_BUILD");

	memset(h, 0, sizeof(*h));
	h->pid = -1;
	snprintf(h->dir, sizeof(h->dir), "/tmp/tapaid-hostd-XXXXXX");
	if (!mkdtemp(h->dir))
		return -1;
	snprintf(h->bin, sizeof(h->bin), "%s/bin/tapaidd", b ? b : "build");
	h->port = h_free_port();
	if (tp_key_generate(&h->host_key) != TP_OK)
		return -1;
	snprintf(path, sizeof(path), "%s/host.key", h->dir);
	if (tp_key_save_private(h->host_key, path) != TP_OK)
		return -1;
	snprintf(path, sizeof(path), "%s/host.pub", h->dir);
	if (tp_key_save_public(h->host_key, path) != TP_OK)
		return -1;
	if (write_secret(h, "card-master.key", h->master) ||
	    write_secret(h, "sdm-meta.key", h->meta) ||
	    write_secret(h, "lookup-salt.key", h->salt))
		return -1;
	snprintf(conf, sizeof(conf),
		 "; written by the hostd integration tests\n"
		 "[host]\n"
		 "data_dir = %s\n"
		 "listen = 127.0.0.1:%d\n"
		 "host_key = %s/host.key\n"
		 "log_level = info\n"
		 "max_sessions = 4096\n"
		 "max_halfopen = 2048\n"
		 "handshake_timeout_ms = 5000\n"
		 "checkpoint_interval_s = 60\n"
		 "%s"
		 "[roles]\n"
		 "admin = root\n"
		 "staff =\n"
		 "auditor =\n"
		 "%s",
		 h->dir, h->port, h->dir, extra ? extra : "",
		 roles_extra ? roles_extra : "");
	snprintf(h->conf, sizeof(h->conf), "%s/tapaidd.conf", h->dir);
	snprintf(h->log, sizeof(h->log), "%s/tapaidd.log", h->dir);
	return write_file(h->conf, conf, 0644);
}

static int admin_connect(struct hd *h)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/admin.sock", h->dir);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int h_start(struct hd *h)
{
	uint64_t until = h_ms() + 10000;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		execl(h->bin, "tapaidd", h->syslog ? "-F" : "-d", "-c", h->conf,
		      (char *)NULL);
		_exit(127);
	}
	h->pid = pid;
	while (h_ms() < until) {
		int fd, st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			h->pid = -1;
			return -1;
		}
		fd = admin_connect(h);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		usleep(20000);
	}
	return -1;
}

int h_stop(struct hd *h, int sig)
{
	int st = 0;

	if (h->pid <= 0)
		return -1;
	kill(h->pid, sig);
	if (waitpid(h->pid, &st, 0) < 0)
		return -1;
	h->pid = -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

static int rm_cb(const char *p, const struct stat *sb, int flag,
		 struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void h_cleanup(struct hd *h)
{
	if (h->pid > 0)
		h_stop(h, SIGKILL);
	if (!getenv("TAPAID_KEEP"))
		nftw(h->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	tp_key_free(h->host_key);
	h->host_key = NULL;
}

int h_admin_lines(struct hd *h, const char *req, int lines, char *resp,
		  size_t cap)
{
	int fd = admin_connect(h), seen = 0;
	size_t n = 0;

	if (fd < 0)
		return -1;
	if (write(fd, req, strlen(req)) < 0) {
		close(fd);
		return -1;
	}
	while (n + 1 < cap && seen < lines) {
		ssize_t r = read(fd, resp + n, cap - n - 1);

		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			seen += resp[n + (size_t)i] == '\n';
		n += (size_t)r;
	}
	resp[n] = '\0';
	close(fd);
	return seen;
}

int h_admin(struct hd *h, const char *req, char *resp, size_t cap)
{
	int fd = admin_connect(h);
	size_t n = 0;

	if (fd < 0)
		return -1;
	if (write(fd, req, strlen(req)) < 0 || write(fd, "\n", 1) != 1) {
		close(fd);
		return -1;
	}
	while (n + 1 < cap) {
		ssize_t r = read(fd, resp + n, cap - n - 1);

		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(resp, '\n', n))
			break;
	}
	resp[n] = '\0';
	close(fd);
	if (n == 0)
		return -1;
	return strstr(resp, "\"ok\":true") != NULL;
}

int h_adminf(struct hd *h, const char *fmt, ...)
{
	char req[16384], resp[65536];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	rc = h_admin(h, req, resp, sizeof(resp));
	if (rc != 1)
		fprintf(stderr, "# admin %s -> %s\n", req, resp);
	return rc;
}

/* PEM text as a JSON string body (newlines escaped). */
static void json_escape(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	for (; *in && n + 3 < cap; in++) {
		if (*in == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else {
			out[n++] = *in;
		}
	}
	out[n] = '\0';
}

int h_kiosk(struct hd *h, const char *id, const char *point,
	    struct tp_key **key)
{
	char path[PATH_MAX + 64], pem[1024], esc[2048];
	FILE *f;
	size_t n;

	if (tp_key_generate(key) != TP_OK)
		return -1;
	snprintf(path, sizeof(path), "%s/%s.pub", h->dir, id);
	if (tp_key_save_public(*key, path) != TP_OK)
		return -1;
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(pem, 1, sizeof(pem) - 1, f);
	fclose(f);
	pem[n] = '\0';
	json_escape(pem, esc, sizeof(esc));
	return h_adminf(
		   h,
		   "{\"v\":1,\"cmd\":\"kiosk.add\",\"args\":{\"id\":\"%s\","
		   "\"point\":\"%s\",\"pubkey\":\"%s\",\"tz\":\"UTC\"}}",
		   id, point, esc) == 1
		   ? 0
		   : -1;
}

void h_uid(int n, uint8_t uid[7])
{
	uid[0] = 0x04;
	uid[1] = 0x7a;
	uid[2] = (uint8_t)(n >> 24);
	uid[3] = (uint8_t)(n >> 16);
	uid[4] = (uint8_t)(n >> 8);
	uid[5] = (uint8_t)n;
	uid[6] = 0x80;
}

int h_card(struct hd *h, int n, const char *member)
{
	uint8_t uid[7];
	char hex[15];

	h_uid(n, uid);
	tp_hex_encode(uid, 7, hex, 0);
	hex[14] = '\0';
	return h_adminf(h,
			"{\"v\":1,\"cmd\":\"card.register\",\"args\":{"
			"\"member\":\"%s\",\"uid\":\"%s\",\"key_version\":1,"
			"\"ctr\":0}}",
			member, hex) == 1
		   ? 0
		   : -1;
}

void h_sun(struct hd *h, int n, uint32_t ctr, char *out, size_t cap)
{
	uint8_t uid[7], pt[16], ct[16], fk[16], mac[8];
	char hp[33], hm[17];

	h_uid(n, uid);
	memset(pt, 0, sizeof(pt));
	pt[0] = 0xC7;
	memcpy(pt + 1, uid, 7);
	pt[8] = (uint8_t)ctr;
	pt[9] = (uint8_t)(ctr >> 8);
	pt[10] = (uint8_t)(ctr >> 16);
	tp_random(pt + 11, 5);
	tp_aes_ecb(h->meta, 1, pt, ct);
	tp_card_key(h->master, uid, TP_KEY_SDM_FILE, 1, fk);
	tp_sun_mac(fk, uid, ctr, "", 0, mac);
	tp_hex_encode(ct, 16, hp, 1);
	tp_hex_encode(mac, 8, hm, 1);
	hp[32] = hm[16] = '\0';
	snprintf(out, cap, "https://tap.example/t?p=%s&c=%s", hp, hm);
	tp_wipe(fk, sizeof(fk));
}

long long h_sql(struct hd *h, const char *sql, const uint8_t *blob)
{
	char path[PATH_MAX + 64];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;

	snprintf(path, sizeof(path), "%s/tapaid.db", h->dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(db, 2000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "# sql: %s\n", sqlite3_errmsg(db));
		goto out;
	}
	if (blob)
		sqlite3_bind_blob(st, 1, blob, 16, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}
