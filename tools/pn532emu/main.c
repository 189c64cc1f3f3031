/*
 * main.c - tapaid-pn532emu: an emulated PN532 on a pseudo-terminal, so that
 * libnfc's unmodified pn532_uart driver (connstring pn532_uart:/dev/pts/N)
 * talks to virtual NTAG 424 DNA cards.
 *
 * The first line on stdout is the pty slave path.  Then every line read on
 * stdin is a command, answered with exactly one line on stdout, "ok ..." or
 * "error <why>", so that a test can wait for each step without sleeping.
 * The commands are listed in usage() and in tapaid-pn532emu(1).
 *
 * One process, one poll() loop over the pty master and stdin.  The emulator
 * keeps a slave descriptor open for as long as the pty exists, so that the
 * master never reads EIO when libnfc closes and reopens the port.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "pn532_chip.h"
#include "vcard.h"

/* libnfc marks a port it has open with this c_iflag bit (uart.c). */
#define LIBNFC_CCLAIMED 0x80000000u

struct emu {
	int master, slave; /* -1 when unplugged */
	char path[128];
	const char *link; /* --link: a stable symlink to the slave */
	bool muted;
	struct pn532_chip chip;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
	fputs(
	    "usage: tapaid-pn532emu [--card FILE]... [--link PATH] [--keep] "
	    "[-v]\n"
	    "\n"
	    "Emulates a PN532 on a pty for libnfc's pn532_uart driver.\n"
	    "Prints the pty path on its first line, then reads commands\n"
	    "on stdin, one per line, each answered by one line\n"
	    "(\"ok ...\" or \"error <why>\"):\n"
	    "  tap FILE          put the card stored in FILE in the field\n"
	    "  remove            take every card out of the field\n"
	    "  blank FILE        create a factory-fresh NTAG 424 DNA card\n"
	    "  remove-after N    cards answer N more APDUs, then leave\n"
	    "  tear-after N      cards leave while answering the N-th APDU\n"
	    "                    (it is executed, its answer is lost)\n"
	    "  mute | unmute     the reader stops / resumes answering\n"
	    "  unplug | plug     the reader disappears (pty closed) / comes\n"
	    "                    back powered-on on a new pty\n"
	    "  unclaim           clear libnfc's claim on the port after a\n"
	    "                    client died without closing it\n"
	    "  status            cards, frames and errors so far\n"
	    "  quit              exit\n"
	    "  --card FILE       tap that card at start (repeatable, 2 max)\n"
	    "  --link PATH       keep a symlink PATH -> current pty\n"
	    "  --keep            keep serving after end of input (until\n"
	    "                    SIGTERM); by default end of input ends it\n"
	    "  -v                log frames to stderr (-v -v: every command)\n",
	    f);
}

static void __attribute__((format(printf, 1, 2))) reply(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int set_link(struct emu *e)
{
	char tmp[4096];

	if (!e->link)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", e->link, (long)getpid());
	unlink(tmp);
	if (symlink(e->path, tmp) < 0 || rename(tmp, e->link) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int pty_open(struct emu *e, char *why, size_t whylen)
{
	struct termios t;
	const char *name;
	int m, s;

	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 ||
	    !(name = ptsname(m))) {
		snprintf(why, whylen, "cannot open a pty: %s", strerror(errno));
		if (m >= 0)
			close(m);
		return -1;
	}
	snprintf(e->path, sizeof(e->path), "%s", name);
	s = open(e->path, O_RDWR | O_NOCTTY);
	if (s < 0) {
		snprintf(why, whylen, "cannot open %s: %s", e->path,
			 strerror(errno));
		close(m);
		return -1;
	}
	/* Raw both ways: no echo of our answers back to us, no line
	 * discipline mangling 0x0D or 0x11 in frames. */
	if (tcgetattr(s, &t) == 0) {
		cfmakeraw(&t);
		cfsetispeed(&t, B115200);
		cfsetospeed(&t, B115200);
		tcsetattr(s, TCSANOW, &t);
	}
	fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
	fcntl(m, F_SETFD, FD_CLOEXEC);
	fcntl(s, F_SETFD, FD_CLOEXEC);
	e->master = m;
	e->slave = s;
	if (set_link(e) < 0) {
		snprintf(why, whylen, "cannot link %s: %s", e->link,
			 strerror(errno));
		return -1;
	}
	return 0;
}

static void pty_close(struct emu *e)
{
	if (e->master >= 0)
		close(e->master);
	if (e->slave >= 0)
		close(e->slave);
	e->master = e->slave = -1;
}

/* Writes the chip's output; a host that stops reading loses bytes, as it
 * would on a UART. */
static void flush_tx(struct emu *e)
{
	struct pn532_chip *c = &e->chip;
	size_t off = 0;
	int spins = 0;

	if (e->master < 0 || e->muted) {
		c->txlen = 0;
		return;
	}
	while (off < c->txlen) {
		ssize_t w = write(e->master, c->tx + off, c->txlen - off);

		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN && spins++ < 10) {
			struct pollfd p = {.fd = e->master, .events = POLLOUT};

			poll(&p, 1, 20);
			continue;
		}
		if (c->verbose)
			fprintf(stderr, "pn532emu: dropped %zu bytes\n",
				c->txlen - off);
		break;
	}
	c->txlen = 0;
}

static const char *arg_of(char *line, const char *cmd)
{
	size_t n = strlen(cmd);
	char *a;

	if (strncmp(line, cmd, n) != 0 || (line[n] != ' ' && line[n] != '\t'))
		return NULL;
	a = line + n;
	while (*a == ' ' || *a == '\t')
		a++;
	return *a ? a : NULL;
}

static void uid_hex(const uint8_t *uid, char out[15])
{
	for (int i = 0; i < VCARD_UID_LEN; i++)
		snprintf(out + 2 * i, 3, "%02X", uid[i]);
}

/* Loads FILE and puts it in the field; its UID goes to uid[15]. */
static int tap_file(struct emu *e, const char *file, char uid[15], char *why,
		    size_t wl)
{
	struct vcard *card = vcard_load(file, why, wl);

	if (!card)
		return -1;
	uid_hex(vcard_uid(card), uid);
	if (pn532_chip_tap(&e->chip, card, now_ms()) < 0) {
		vcard_free(card);
		snprintf(why, wl, "the field is full or holds this card");
		return -1;
	}
	flush_tx(e);
	return 0;
}

static bool parse_count(const char *a, long *n)
{
	char *end;

	if (!a)
		return false;
	errno = 0;
	*n = strtol(a, &end, 10);
	return errno == 0 && *end == '\0' && *n >= 0 && *n <= 1000000;
}

/* Runs one stdin command; returns 1 to quit. */
static int command(struct emu *e, char *line)
{
	char why[512];
	const char *a;
	long n;

	while (*line == ' ' || *line == '\t')
		line++;
	if ((a = arg_of(line, "tap"))) {
		char u[15];

		if (tap_file(e, a, u, why, sizeof(why)) < 0)
			reply("error %s", why);
		else
			reply("ok tapped %s", u);
	} else if (strcmp(line, "remove") == 0) {
		reply("ok removed %d", pn532_chip_remove_all(&e->chip));
	} else if ((a = arg_of(line, "blank"))) {
		char u[15];

		if (vcard_blank(a, u, why, sizeof(why)) < 0)
			reply("error %s", why);
		else
			reply("ok blank %s", u);
	} else if ((a = arg_of(line, "remove-after")) ||
		   (a = arg_of(line, "tear-after"))) {
		bool tear = line[0] == 't';

		if (!parse_count(a, &n) || (tear && n == 0))
			reply("error %s needs a count%s",
			      tear ? "tear-after" : "remove-after",
			      tear ? " of at least 1" : "");
		else if (pn532_chip_remove_after(&e->chip, n, tear) == 0)
			reply("error no card in the field");
		else
			reply("ok armed %ld", n);
	} else if (strcmp(line, "mute") == 0) {
		e->muted = true;
		e->chip.pending = false;
		reply("ok muted");
	} else if (strcmp(line, "unmute") == 0) {
		e->muted = false;
		pn532_rx_init(&e->chip.rx, PN532_TFI_HOST);
		reply("ok unmuted");
	} else if (strcmp(line, "unplug") == 0) {
		if (e->master < 0) {
			reply("error already unplugged");
			return 0;
		}
		pty_close(e);
		reply("ok unplugged");
	} else if (strcmp(line, "plug") == 0) {
		int verbose = e->chip.verbose;
		struct pn532_slot keep[PN532_FIELD_MAX];

		if (e->master >= 0) {
			reply("error already plugged");
			return 0;
		}
		if (pty_open(e, why, sizeof(why)) < 0) {
			reply("error %s", why);
			return 0;
		}
		/* A reader plugged in again starts from power-on; the
		 * cards lying on it stay there, unpowered. */
		memcpy(keep, e->chip.field, sizeof(keep));
		memset(e->chip.field, 0, sizeof(e->chip.field));
		pn532_chip_init(&e->chip);
		e->chip.verbose = verbose;
		for (int i = 0; i < PN532_FIELD_MAX; i++)
			if (keep[i].card) {
				free(keep[i].rx);
				free(keep[i].txq);
				pn532_chip_tap(&e->chip, keep[i].card,
					       now_ms());
			}
		reply("ok %s", e->path);
	} else if (strcmp(line, "unclaim") == 0) {
		struct termios t;

		if (e->slave < 0 || tcgetattr(e->slave, &t) < 0) {
			reply("error no pty");
			return 0;
		}
		t.c_iflag &= ~(tcflag_t)LIBNFC_CCLAIMED;
		tcsetattr(e->slave, TCSANOW, &t);
		reply("ok unclaimed");
	} else if (strcmp(line, "status") == 0) {
		reply("ok cards=%d frames=%lu errors=%lu path=%s%s",
		      pn532_chip_cards(&e->chip), e->chip.frames,
		      e->chip.errors, e->master >= 0 ? e->path : "-",
		      e->muted ? " muted" : "");
	} else if (strcmp(line, "quit") == 0) {
		reply("ok bye");
		return 1;
	} else if (line[0] == '\0') {
		reply("error empty command");
	} else {
		reply("error unknown command (try tap, remove, blank, "
		      "remove-after, tear-after, mute, unmute, unplug, plug, "
		      "unclaim, status, quit)");
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct emu e;
	const char *cards[PN532_FIELD_MAX];
	int ncards = 0, verbose = 0;
	bool keep = false, stdin_open = true;
	char why[512], line[4096];
	size_t linelen = 0;
	bool discard_line = false;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	e.master = e.slave = -1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--card") == 0 && i + 1 < argc) {
			if (ncards == PN532_FIELD_MAX) {
				fprintf(stderr,
					"tapaid-pn532emu: at most %d "
					"cards fit in the field\n",
					PN532_FIELD_MAX);
				return 2;
			}
			cards[ncards++] = argv[++i];
		} else if (strcmp(argv[i], "--link") == 0 && i + 1 < argc) {
			e.link = argv[++i];
		} else if (strcmp(argv[i], "--keep") == 0) {
			keep = true;
		} else if (strcmp(argv[i], "-v") == 0) {
			verbose++;
		} else if (strcmp(argv[i], "--help") == 0 ||
			   strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "tapaid-pn532emu: bad argument '%s'\n",
				argv[i]);
			usage(stderr);
			return 2;
		}
	}
	e.chip.verbose = verbose;
	pn532_chip_init(&e.chip);
	if (pty_open(&e, why, sizeof(why)) < 0) {
		fprintf(stderr, "tapaid-pn532emu: %s\n", why);
		return 1;
	}
	for (int i = 0; i < ncards; i++) {
		char u[15];

		if (tap_file(&e, cards[i], u, why, sizeof(why)) < 0) {
			fprintf(stderr, "tapaid-pn532emu: %s: %s\n", cards[i],
				why);
			pty_close(&e);
			return 1;
		}
	}
	reply("%s", e.path);

	while (!stop) {
		struct pollfd p[2];
		int np = 0, to, r;
		uint64_t t = now_ms();

		/* p[0] is stdin; fd -1 once it is closed (poll skips it) */
		p[np++] = (struct pollfd){.fd = stdin_open ? 0 : -1,
					  .events = POLLIN};
		if (e.master >= 0)
			p[np++] =
			    (struct pollfd){.fd = e.master, .events = POLLIN};
		to = pn532_chip_timeout(&e.chip, t);
		r = poll(p, (nfds_t)np, to);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("tapaid-pn532emu: poll");
			break;
		}
		pn532_chip_tick(&e.chip, now_ms());
		flush_tx(&e);
		if (np > 1 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			uint8_t buf[4096];
			ssize_t k = read(e.master, buf, sizeof(buf));

			if (k > 0 && !e.muted) {
				pn532_chip_input(&e.chip, buf, (size_t)k,
						 now_ms());
				flush_tx(&e);
			} else if (k < 0 && errno != EAGAIN && errno != EINTR &&
				   errno != EIO) {
				perror("tapaid-pn532emu: read pty");
				break;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[4096];
			ssize_t k = read(0, buf, sizeof(buf));
			int quit = 0;

			if (k == 0) {
				/* stdin closed: the test is done, unless
				 * told to keep serving */
				if (!keep)
					break;
				stdin_open = false;
				continue;
			}
			if (k < 0) {
				if (errno == EINTR || errno == EAGAIN)
					continue;
				break;
			}
			for (ssize_t i = 0; i < k && !quit; i++) {
				if (buf[i] != '\n') {
					if (linelen + 1 < sizeof(line))
						line[linelen++] = buf[i];
					else
						discard_line = true;
					continue;
				}
				line[linelen] = '\0';
				if (linelen && line[linelen - 1] == '\r')
					line[linelen - 1] = '\0';
				if (discard_line)
					reply("error line too long");
				else
					quit = command(&e, line);
				linelen = 0;
				discard_line = false;
			}
			if (quit)
				break;
		}
	}
	pn532_chip_free(&e.chip);
	pty_close(&e);
	if (e.link)
		unlink(e.link);
	return 0;
}
