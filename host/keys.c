/*
 * keys.c - loading the host signing key and the card secrets of the data
 * directory.  Every file must be private to its owner (mode 0600 or
 * stricter): a key others can read is refused, not used.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>

#include "tapaid/crypto.h"
#include "tapaid/ntag.h"

#include "daemon.h"

int keys_read_secret(const char *path, uint8_t out[16], char *err,
		     size_t errlen)
{
	struct stat st;
	char buf[80];
	ssize_t n;
	size_t len;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen,
			 "%s can be read by others (mode %03o); chmod 600 it",
			 path, (unsigned)(st.st_mode & 0777));
		goto out;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s is not owned by uid %u", path,
			 (unsigned)geteuid());
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path,
			 strerror(errno));
		goto out;
	}
	len = (size_t)n;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (tp_hex_decode(buf, len, out, 16) != TP_OK) {
		snprintf(err, errlen, "%s must hold exactly 32 hex digits",
			 path);
		goto out;
	}
	rc = 0;
out:
	tp_wipe(buf, sizeof(buf));
	close(fd);
	return rc;
}

int keys_load_secrets(const char *dir, struct host_secrets *s, char *err,
		      size_t errlen)
{
	static const char *const names[3] = {"card-master.key", "sdm-meta.key",
					     "lookup-salt.key"};
	uint8_t *dst[3] = {s->card_master, s->sdm_meta, s->lookup_salt};
	char path[PATH_MAX];

	for (int i = 0; i < 3; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >=
		    (int)sizeof(path)) {
			snprintf(err, errlen, "data_dir path too long");
			return -1;
		}
		if (keys_read_secret(path, dst[i], err, errlen) < 0) {
			keys_wipe(s);
			return -1;
		}
	}
	return 0;
}

int keys_load_host(const char *path, struct tp_key **out, char *err,
		   size_t errlen)
{
	int rc = tp_key_load_private(path, out);

	if (rc == TP_ERR_KEYPERM) {
		snprintf(err, errlen,
			 "host key %s can be read by others; chmod 600 it",
			 path);
		return -1;
	}
	if (rc != TP_OK) {
		snprintf(err, errlen, "cannot load host key %s: %s", path,
			 tp_strerror(rc));
		return -1;
	}
	if (!tp_key_can_sign(*out)) {
		tp_key_free(*out);
		*out = NULL;
		snprintf(err, errlen, "host key %s holds no private key", path);
		return -1;
	}
	return 0;
}

void keys_wipe(struct host_secrets *s)
{
	tp_wipe(s, sizeof(*s));
}

int keys_parse_public_pem(const char *pem, struct tp_key **out)
{
	mbedtls_pk_context pk;
	uint8_t raw[TP_P256_PUB_LEN];
	size_t olen = 0;
	int rc = TP_ERR_KEYFILE;

	mbedtls_pk_init(&pk);
	if (mbedtls_pk_parse_public_key(&pk, (const unsigned char *)pem,
					strlen(pem) + 1) != 0)
		goto out;
	if (mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECKEY ||
	    mbedtls_pk_ec(pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1)
		goto out;
	if (mbedtls_ecp_point_write_binary(
		&mbedtls_pk_ec(pk)->grp, &mbedtls_pk_ec(pk)->Q,
		MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, raw, sizeof(raw)) != 0 ||
	    olen != sizeof(raw))
		goto out;
	rc = tp_key_from_public_raw(raw, out);
out:
	mbedtls_pk_free(&pk);
	return rc;
}

int keys_card_lookup(const uint8_t salt[16], const uint8_t uid[7],
		     uint8_t out[16])
{
	return tp_card_lookup_id(salt, uid, out);
}

int keys_card_key(const uint8_t master[16], const uint8_t uid[7], int keyno,
		  int keyver, uint8_t out[16])
{
	return tp_card_key(master, uid, keyno, (uint8_t)keyver, out);
}
