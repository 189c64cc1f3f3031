/*
 * ctl_sun.c - "tapaidctl sun verify": decrypts a card's SUN message with
 * the given keys and checks its CMAC.  A diagnostic for staff: it needs
 * no daemon and no database, only the two key files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tapaid/crypto.h"
#include "tapaid/ntag.h"
#include "ctl_sun.h"

#define PROG "tapaidctl sun verify"

void ctl_sun_usage(void *f)
{
	fprintf((FILE *)f,
		"usage: tapaidctl sun verify --meta-key FILE --file-key FILE "
		"URL_OR_QUERY\n"
		"  decrypts p= with the SDM meta-read key, checks c= with the "
		"card's file key;\n"
		"  each key FILE holds 32 hex digits and a newline; prints "
		"\"uid=<14 hex> ctr=<n>\"\n"
		"  exit 0 if the CMAC is right, 1 if not, 2 on bad usage\n");
}

/* Reads a key file: exactly 32 hex digits, then an optional line end. */
static int read_key(const char *path, uint8_t key[16])
{
	char buf[72];
	ssize_t n;
	size_t len;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, PROG ": key file %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0) {
		fprintf(stderr, PROG ": key file %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	len = (size_t)n;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	rc = tp_hex_decode(buf, len, key, 16);
	tp_wipe(buf, sizeof(buf));
	if (rc == TP_ERR_HEX) {
		fprintf(stderr,
			PROG ": key file %s: not hexadecimal (it must hold "
			     "32 hex digits and a newline)\n",
			path);
		return 1;
	}
	if (rc != TP_OK) {
		fprintf(stderr,
			PROG ": key file %s: wrong length (it must hold "
			     "exactly 32 hex digits and a newline)\n",
			path);
		return 1;
	}
	return 0;
}

static const char *parse_hint(int rc)
{
	switch (rc) {
	case TP_ERR_HEX:
		return "a p=, c=, uid=, ctr= or enc= value is not hexadecimal";
	case TP_ERR_LENGTH:
		return "a value has the wrong length (p= 32 hex digits, c= 16, "
		       "uid= 14, ctr= 6)";
	case TP_ERR_PARSE:
		return "expected p=<32 hex>&c=<16 hex> (or uid=&ctr=&c=), "
		       "each once";
	default:
		return tp_strerror(rc);
	}
}

int ctl_sun_verify(int argc, char **argv)
{
	const char *meta_path = NULL, *file_path = NULL, *url = NULL;
	uint8_t meta[16], fkey[16];
	struct tp_sun_msg msg;
	struct tp_sun_result res;
	char hex[15];
	int i, rc, ret;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			ctl_sun_usage(stdout);
			return 0;
		} else if (strcmp(a, "--meta-key") == 0 && i + 1 < argc) {
			meta_path = argv[++i];
		} else if (strncmp(a, "--meta-key=", 11) == 0) {
			meta_path = a + 11;
		} else if (strcmp(a, "--file-key") == 0 && i + 1 < argc) {
			file_path = argv[++i];
		} else if (strncmp(a, "--file-key=", 11) == 0) {
			file_path = a + 11;
		} else if (strcmp(a, "--") == 0 && i + 2 == argc &&
			   url == NULL) {
			url = argv[++i];
		} else if (a[0] == '-' && a[1] == '-') {
			fprintf(stderr,
				PROG ": unknown or incomplete option "
				     "%s\n",
				a);
			ctl_sun_usage(stderr);
			return 2;
		} else if (url == NULL) {
			url = a;
		} else {
			fprintf(stderr, PROG ": one URL or query only\n");
			ctl_sun_usage(stderr);
			return 2;
		}
	}
	if (meta_path == NULL || file_path == NULL || url == NULL) {
		fprintf(stderr, PROG ": needs --meta-key FILE, --file-key FILE "
				     "and a URL or query\n");
		ctl_sun_usage(stderr);
		return 2;
	}
	rc = tp_sun_parse(url, strlen(url), &msg);
	if (rc != TP_OK) {
		fprintf(stderr, PROG ": bad URL or query: %s: %s\n",
			tp_strerror(rc), parse_hint(rc));
		return 2;
	}
	if (read_key(meta_path, meta) != 0)
		return 1;
	if (read_key(file_path, fkey) != 0) {
		tp_wipe(meta, sizeof(meta));
		return 1;
	}
	memset(&res, 0, sizeof(res));
	ret = 1;
	if (msg.kind == TP_SUN_ENC) {
		rc = tp_sun_decrypt_picc(meta, msg.picc_enc, res.uid, &res.ctr);
		if (rc == TP_ERR_MAC) {
			fprintf(stderr, PROG ": p= does not decrypt to card "
					     "data with this meta-read key\n");
			goto out;
		}
	} else {
		memcpy(res.uid, msg.uid, 7);
		res.ctr = msg.ctr;
		rc = TP_OK;
	}
	if (rc == TP_OK)
		rc = tp_sun_check_mac(fkey, res.uid, res.ctr, msg.mac_in,
				      msg.mac_in_len, msg.mac);
	tp_hex_encode(res.uid, 7, hex, 1);
	hex[14] = '\0';
	if (rc == TP_OK) {
		printf("uid=%s ctr=%lu\n", hex, (unsigned long)res.ctr);
		ret = 0;
	} else if (rc == TP_ERR_MAC) {
		fprintf(stderr,
			PROG ": CMAC does not match for uid=%s ctr=%lu (wrong "
			     "file key, or an altered URL)\n",
			hex, (unsigned long)res.ctr);
	} else {
		fprintf(stderr, PROG ": %s\n", tp_strerror(rc));
	}
out:
	tp_wipe(meta, sizeof(meta));
	tp_wipe(fkey, sizeof(fkey));
	return ret;
}
