/*
 * vcard.h - a virtual NTAG 424 DNA: its state, the file that holds it, and
 * the ISO 14443-4 APDUs it answers (NT4H2421Gx data sheet, chapter 10).
 *
 * The card crypto (EV2 authentication, secure messaging, SUN mirroring,
 * SDM settings) comes from protocol/include/tapaid/ntag.h; this file keeps
 * the card's state machine, files, access rights and status words.
 */
#ifndef PN532EMU_VCARD_H
#define PN532EMU_VCARD_H

#include <stddef.h>
#include <stdint.h>

#define VCARD_UID_LEN 7
#define VCARD_NKEYS   5
#define VCARD_NFILES  3

struct vcard;

/*
 * Loads the card stored in path.  path may be NULL for a card that lives
 * only in memory (fuzzing, unit tests): then it is factory-fresh with the
 * given uid (or a random one when uid is NULL) and is never saved.
 * On failure returns NULL and writes one line saying why into why.
 * The caller frees the card with vcard_free().
 */
struct vcard *vcard_load(const char *path, char *why, size_t whylen);

/*
 * Writes a factory-fresh card to path (which must not exist yet): random
 * UID starting 04, five zero keys version 00, CC file E103, empty NDEF file
 * E104 (256 bytes), proprietary file E105 (128 bytes), SDM off.  Writes the
 * UID as 14 upper-case hex digits into uidhex[15].  Returns 0 or -1 with
 * why filled in.
 */
int vcard_blank(const char *path, char uidhex[15], char *why, size_t whylen);

/* A factory-fresh card in memory only (uid may be NULL: random). */
struct vcard *vcard_new_mem(const uint8_t *uid);

void vcard_free(struct vcard *c);

const uint8_t *vcard_uid(const struct vcard *c);
const char *vcard_path(const struct vcard *c);

/*
 * The card lost power or was deselected (HALT): the authenticated session,
 * the selected application and file, and any half-done command end.
 */
void vcard_reset(struct vcard *c);

/*
 * Processes one command APDU and writes the response (data and SW1 SW2)
 * into resp.  cap must be at least 260.  Saves the card to its file after
 * any change of state (atomically); a failed save answers 6581 (memory
 * failure) as a card whose EEPROM write failed would.  Returns the response
 * length (always >= 2).
 */
size_t vcard_apdu(struct vcard *c, const uint8_t *apdu, size_t len,
		  uint8_t *resp, size_t cap);

#endif
