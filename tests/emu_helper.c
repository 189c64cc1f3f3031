/*
 * emu_helper.c - drives tapaid-pn532emu from C tests (see emu_helper.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "emu_helper.h"

#define EMU_WAIT_MS 10000

struct emu {
	pid_t pid;
	int in;	 /* the emulator's stdin */
	int out; /* the emulator's stdout */
	char buf[4096];
	size_t blen;
	char pty[256];
	char conn[300];
};

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads one line from the emulator's stdout, waiting at most ms. */
static int read_line(struct emu *e, char *line, size_t cap, int ms)
{
	long long end = ms_now() + ms;

	for (;;) {
		char *nl = memchr(e->buf, '\n', e->blen);
		struct pollfd p = {.fd = e->out, .events = POLLIN};
		long long left;
		ssize_t k;

		if (nl) {
			size_t n = (size_t)(nl - e->buf);

			if (line && cap) {
				size_t c = n < cap - 1 ? n : cap - 1;

				memcpy(line, e->buf, c);
				line[c] = '\0';
			}
			memmove(e->buf, nl + 1, e->blen - n - 1);
			e->blen -= n + 1;
			return 0;
		}
		if (e->blen == sizeof(e->buf))
			e->blen = 0; /* a runaway line: drop it */
		left = end - ms_now();
		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		k = read(e->out, e->buf + e->blen, sizeof(e->buf) - e->blen);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		e->blen += (size_t)k;
	}
}

struct emu *emu_start(const char *emu_path, const char *const *card_files)
{
	char path[1024];
	int pin[2], pout[2];
	struct emu *e;
	size_t nc = 0;
	char **argv;

	if (!emu_path) {
		const char *b = getenv("TAPAID_BUILD");

		snprintf(path, sizeof(path), "%s/bin/tapaid-pn532emu",
			 b && *b ? b : "build");
		emu_path = path;
	}
	while (card_files && card_files[nc])
		nc++;
	e = calloc(1, sizeof(*e));
	argv = calloc(2 * nc + 2, sizeof(*argv));
	if (!e || !argv || pipe(pin) < 0) {
		free(e);
		free(argv);
		return NULL;
	}
	if (pipe(pout) < 0) {
		close(pin[0]);
		close(pin[1]);
		free(e);
		free(argv);
		return NULL;
	}
	argv[0] = (char *)emu_path;
	for (size_t i = 0; i < nc; i++) {
		argv[1 + 2 * i] = (char *)"--card";
		argv[2 + 2 * i] = (char *)card_files[i];
	}
	e->pid = fork();
	if (e->pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		close(pin[0]);
		close(pin[1]);
		close(pout[0]);
		close(pout[1]);
		execv(emu_path, argv);
		fprintf(stderr, "emu_helper: cannot run %s: %s\n", emu_path,
			strerror(errno));
		_exit(127);
	}
	free(argv);
	close(pin[0]);
	close(pout[1]);
	e->in = pin[1];
	e->out = pout[0];
	fcntl(e->in, F_SETFD, FD_CLOEXEC);
	fcntl(e->out, F_SETFD, FD_CLOEXEC);
	if (e->pid < 0 ||
	    read_line(e, e->pty, sizeof(e->pty), EMU_WAIT_MS) < 0 ||
	    strncmp(e->pty, "/dev/", 5) != 0) {
		fprintf(stderr, "emu_helper: %s did not start\n", emu_path);
		emu_stop(e);
		return NULL;
	}
	snprintf(e->conn, sizeof(e->conn), "pn532_uart:%s", e->pty);
	return e;
}

const char *emu_connstring(struct emu *e)
{
	return e->conn;
}

const char *emu_pty(struct emu *e)
{
	return e->pty;
}

pid_t emu_pid(struct emu *e)
{
	return e->pid;
}

int emu_cmd(struct emu *e, char *reply, size_t cap, const char *fmt, ...)
{
	char line[4096], got[4096];
	va_list ap;
	int n;
	size_t off = 0;
	void (*old)(int);

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		return -1;
	line[n++] = '\n';
	old = signal(SIGPIPE, SIG_IGN);
	while (off < (size_t)n) {
		ssize_t w = write(e->in, line + off, (size_t)n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			signal(SIGPIPE, old);
			return -1;
		}
		off += (size_t)w;
	}
	signal(SIGPIPE, old);
	if (read_line(e, got, sizeof(got), EMU_WAIT_MS) < 0)
		return -1;
	if (reply && cap)
		snprintf(reply, cap, "%s", got);
	if (strncmp(got, "ok", 2) == 0) {
		/* "plug" answers "ok /dev/pts/N": follow the new pty. */
		if (strncmp(line, "plug\n", 5) == 0 &&
		    strncmp(got, "ok /dev/", 8) == 0) {
			size_t pl = strnlen(got + 3, sizeof(e->pty) - 1);

			memcpy(e->pty, got + 3, pl);
			e->pty[pl] = '\0';
			snprintf(e->conn, sizeof(e->conn), "pn532_uart:%s",
				 e->pty);
		}
		return 0;
	}
	return 1;
}

void emu_stop(struct emu *e)
{
	long long end;
	int status;

	if (!e)
		return;
	if (e->in >= 0) {
		void (*old)(int) = signal(SIGPIPE, SIG_IGN);

		if (write(e->in, "quit\n", 5) < 0) {
			/* it has gone already */
		}
		signal(SIGPIPE, old);
		close(e->in);
	}
	/* It exits on "quit" or on EOF on its stdin; its stdout then
	 * reaches EOF.  Wait for that, bounded, then reap it. */
	end = ms_now() + 5000;
	while (e->out >= 0 && e->pid > 0) {
		struct pollfd p = {.fd = e->out, .events = POLLIN};
		long long left = end - ms_now();
		char sink[512];
		ssize_t k;

		if (left <= 0) {
			kill(e->pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			break;
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		k = read(e->out, sink, sizeof(sink));
		if (k == 0 || (k < 0 && errno != EINTR))
			break;
	}
	if (e->pid > 0)
		waitpid(e->pid, &status, 0);
	if (e->out >= 0)
		close(e->out);
	free(e);
}
