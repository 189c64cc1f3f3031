/*
 * mask.c - masked member names for kiosk answers and logs.
 *
 * A kiosk shows "王*明", never the full name: the first and the last code
 * point stay, every code point between becomes one '*'.  Works on UTF-8
 * without a locale; an invalid byte counts as one code point of its own, so
 * that a bad name still masks to something of the right shape.
 */
#include <string.h>

#include "engine.h"

/* Length in bytes of the UTF-8 code point starting at s (1 if invalid). */
static size_t cp_len(const unsigned char *s, size_t avail)
{
	size_t n, i;

	if (s[0] < 0x80)
		n = 1;
	else if ((s[0] & 0xE0) == 0xC0)
		n = 2;
	else if ((s[0] & 0xF0) == 0xE0)
		n = 3;
	else if ((s[0] & 0xF8) == 0xF0)
		n = 4;
	else
		return 1;
	if (n > avail)
		return 1;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 1;
	return n;
}

/* Appends len bytes to out if they fit whole; returns 0 if they did not. */
static int put(char *out, size_t outsz, size_t *pos, const char *p, size_t len)
{
	if (*pos + len + 1 > outsz)
		return 0;
	memcpy(out + *pos, p, len);
	*pos += len;
	out[*pos] = '\0';
	return 1;
}

size_t mask_name(const char *name, char *out, size_t outsz)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t len, off, first, count = 0, last_off = 0, last_len = 0, pos = 0;

	if (outsz == 0)
		return 0;
	out[0] = '\0';
	if (name == NULL)
		return 0;
	len = strlen(name);
	/* Trim surrounding ASCII spaces: they are not part of the name. */
	while (len > 0 && s[0] == ' ') {
		s++;
		len--;
	}
	while (len > 0 && s[len - 1] == ' ')
		len--;
	if (len == 0)
		return 0;
	for (off = 0; off < len; count++) {
		size_t l = cp_len(s + off, len - off);

		last_off = off;
		last_len = l;
		off += l;
	}
	first = cp_len(s, len);
	if (count == 1)
		return put(out, outsz, &pos, "*", 1) ? pos : 0;
	if (!put(out, outsz, &pos, (const char *)s, first))
		return 0;
	if (count == 2) {
		put(out, outsz, &pos, "*", 1);
		return pos;
	}
	for (size_t i = 0; i < count - 2; i++)
		if (!put(out, outsz, &pos, "*", 1))
			return pos;
	put(out, outsz, &pos, (const char *)s + last_off, last_len);
	return pos;
}
