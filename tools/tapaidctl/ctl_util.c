/*
 * ctl_util.c - small helpers shared by tapaidctl's subcommands: messages,
 * dispatch over a {name, fn, help} table, files and key files, dates,
 * UTF-8 checks and widths.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tapaid/crypto.h"

#include "ctl_int.h"

void ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("tapaidctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int ctl_usage(const char *usage)
{
	fprintf(stderr, "usage: %s\n", usage);
	return CTL_USAGE;
}

int ctl_want_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

static void print_table(FILE *f, const struct ctl_cmd *t, size_t n,
			const char *parent)
{
	fprintf(
	    f, "usage: %s <command> [options]  (each command takes --help)\n\n",
	    parent);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-12s %s\n", t[i].name, t[i].help);
}

int ctl_dispatch(const struct ctl_cmd *table, size_t n, const char *parent,
		 int argc, char **argv)
{
	if (argc < 2) {
		print_table(stderr, table, n, parent);
		return CTL_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		print_table(stdout, table, n, parent);
		return CTL_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(argv[1], table[i].name) == 0)
			return table[i].fn(argc - 1, argv + 1);
	ctl_err("'%s' is not a %s command; see '%s --help'", argv[1], parent,
		parent);
	return CTL_USAGE;
}

int ctl_read_file(const char *path, size_t max, char **buf, size_t *len)
{
	struct stat st;
	char *b = NULL;
	size_t cap, n = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
	if (cap > max + 1)
		cap = max + 1;
	b = malloc(cap + 1);
	if (b == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap > max) {
				rc = -EFBIG;
				goto out;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			nb = realloc(b, cap + 1);
			if (nb == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			b = nb;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		rc = -EFBIG;
		goto out;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	b = NULL;
out:
	free(b);
	close(fd);
	return rc;
}

int ctl_read_key16(const char *path, uint8_t key[static 16])
{
	char *txt = NULL;
	size_t len = 0, n;
	int rc;

	rc = ctl_read_file(path, 256, &txt, &len);
	if (rc < 0) {
		ctl_err("cannot read key file %s: %s", path, strerror(-rc));
		return CTL_FAIL;
	}
	n = len;
	while (n > 0 && (txt[n - 1] == '\n' || txt[n - 1] == '\r'))
		n--;
	rc = tp_hex_decode(txt, n, key, 16);
	tp_wipe(txt, len);
	free(txt);
	if (rc != TP_OK) {
		ctl_err("key file %s must hold 32 hex digits and a newline",
			path);
		tp_wipe(key, 16);
		return CTL_FAIL;
	}
	return CTL_OK;
}

static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (s[i] - '0');
	}
	return 1;
}

int ctl_valid_date(const char *s)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int y, m, d, hh, mm, ss;
	size_t n = strlen(s);

	if (n < 10 || !digits(s, 4, &y) || s[4] != '-' ||
	    !digits(s + 5, 2, &m) || s[7] != '-' || !digits(s + 8, 2, &d))
		return 0;
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	if (m == 2 && d == 29 &&
	    !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 0;
	if (n == 10)
		return 1;
	if ((s[10] != 'T' && s[10] != ' ') || n < 16 ||
	    !digits(s + 11, 2, &hh) || s[13] != ':' ||
	    !digits(s + 14, 2, &mm) || hh > 23 || mm > 59)
		return 0;
	if (n == 16)
		return 1;
	return n == 19 && s[16] == ':' && digits(s + 17, 2, &ss) && ss <= 59;
}

/* Decodes one UTF-8 sequence; returns its length, 0 when malformed. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0];
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*cp = c;
	return len;
}

int ctl_utf8_text(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	while (n > 0) {
		uint32_t cp;
		size_t l = utf8_next(p, n, &cp);

		if (l == 0 || cp < 0x20 || cp == 0x7f ||
		    (cp >= 0x80 && cp < 0xa0))
			return 0;
		p += l;
		n -= l;
	}
	return 1;
}

/* East Asian Wide and Fullwidth ranges (the common blocks). */
static int wide(uint32_t c)
{
	return (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0x303e) ||
	       (c >= 0x3041 && c <= 0x33ff) || (c >= 0x3400 && c <= 0x4dbf) ||
	       (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xa000 && c <= 0xa4cf) ||
	       (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
	       (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
	       (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
	       (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd);
}

size_t ctl_utf8_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), w = 0;

	while (n > 0) {
		uint32_t cp;
		size_t l = utf8_next(p, n, &cp);

		if (l == 0) { /* a stray byte shows as one replacement cell */
			l = 1;
			cp = '?';
		}
		if (cp >= 0x300 && cp <= 0x36f)
			; /* combining marks take no cell */
		else
			w += wide(cp) ? 2 : 1;
		p += l;
		n -= l;
	}
	return w;
}

int ctl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return 0;
	*out = v;
	return 1;
}

const char *ctl_json_text(const cJSON *v, char *buf, size_t cap)
{
	if (v == NULL || cJSON_IsNull(v)) {
		buf[0] = '\0';
	} else if (cJSON_IsString(v)) {
		return v->valuestring;
	} else if (cJSON_IsBool(v)) {
		snprintf(buf, cap, "%s", cJSON_IsTrue(v) ? "yes" : "no");
	} else if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;

		if (d == (double)(long long)d)
			snprintf(buf, cap, "%lld", (long long)d);
		else
			snprintf(buf, cap, "%g", d);
	} else {
		char *p = cJSON_PrintUnformatted(v);

		snprintf(buf, cap, "%s", p ? p : "");
		free(p);
	}
	return buf;
}

static int time_key(const char *k)
{
	static const char *const keys[] = {"ts",   "issued",  "last_seen",
					   "time", "created", NULL};

	for (int i = 0; k && keys[i]; i++)
		if (strcmp(k, keys[i]) == 0)
			return 1;
	return 0;
}

static const char *time_text(const cJSON *v, char *buf, size_t cap)
{
	time_t t = (time_t)v->valuedouble;
	struct tm tm;

	if (v->valuedouble > 0 && localtime_r(&t, &tm) != NULL &&
	    strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm) > 0)
		return buf;
	return ctl_json_text(v, buf, cap);
}

const char *ctl_field_text(const cJSON *obj, const char *key, char *buf,
			   size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (cJSON_IsNumber(v) && time_key(key))
		return time_text(v, buf, cap);
	return ctl_json_text(v, buf, cap);
}
