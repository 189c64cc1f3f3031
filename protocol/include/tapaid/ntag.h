/*
 * tapaid/ntag.h - NTAG 424 DNA card cryptography (pure functions, no I/O).
 *
 * Everything here works on byte buffers: it builds command APDUs and parses
 * response APDUs, so the same code runs over libnfc (kiosk, staff desk), in
 * the PN532 emulator (card side) and in tests.  No allocation, no clock, no
 * global state; randomness only where the card or the PCD must draw it
 * (tp_random, replaceable in tests).  Every function returns 0 (TP_OK) or a
 * negative enum tp_err.  Key numbers, the diversification scheme and the
 * lookup id are documented in protocol/CARD.md.
 *
 * References: NXP NT4H2421Gx data sheet Rev 3.0, AN12196 Rev 1.8, AN10922.
 * The traps (MACt = odd-index bytes, SDMReadCtr LSB first except in the
 * ASCII plain mirror, JAMCRC in ChangeKey, padding always added, CmdCtr
 * counting every command) are handled here and pinned by the vector tests.
 */
#ifndef TAPAID_NTAG_H
#define TAPAID_NTAG_H

#include <stddef.h>
#include <stdint.h>

#include "tapaid/crypto.h"
#include "tapaid/err.h"

#define TP_NTAG_UID_LEN	 7
#define TP_NTAG_KEY_LEN	 16
#define TP_NTAG_MACT_LEN 8	   /* truncated CMAC (MACt) */
#define TP_NTAG_CTR_MAX	 0xFFFFFFu /* SDMReadCtr is 24-bit */
#define TP_NTAG_APDU_MAX 261	   /* short APDU: 5 + 255 + 1 */
#define TP_NTAG_DATA_MAX 240	   /* plain data one wrapped command carries */

/* Key numbers in the NTAG 424 DNA application (see CARD.md). */
enum tp_ntag_keyno {
	TP_KEY_APP_MASTER = 0, /* AppMasterKey: ChangeKey, ChangeFileSettings */
	TP_KEY_SDM_META = 1,   /* SDMMetaRead: encrypts PICCData (shared) */
	TP_KEY_SDM_FILE = 2,   /* SDMFileRead: SUN CMAC (per card) */
	TP_KEY_3 = 3,	       /* reserved, diversified, never used */
	TP_KEY_4 = 4,	       /* reserved, diversified, never used */
};

/* Standard files of the NDEF application. */
enum tp_ntag_file {
	TP_NTAG_FILE_CC = 1,   /* ISO FID E103 */
	TP_NTAG_FILE_NDEF = 2, /* ISO FID E104 */
	TP_NTAG_FILE_PROP = 3, /* ISO FID E105 */
};
#define TP_NTAG_FID_CC	 0xE103
#define TP_NTAG_FID_NDEF 0xE104
#define TP_NTAG_FID_PROP 0xE105

/* Communication modes (FileOption bits 1..0). */
enum tp_commmode {
	TP_COMM_PLAIN = 0,
	TP_COMM_MAC = 1,
	TP_COMM_FULL = 3,
};

/* Status words. */
#define TP_SW_OK	0x9100 /* native command OK */
#define TP_SW_MORE	0x91AF /* additional frame */
#define TP_SW_ISO_OK	0x9000 /* ISO command OK */
#define TP_SW_AUTH_ERR	0x91AE
#define TP_SW_INTEGRITY 0x911E
#define TP_SW_PERM	0x919D

/* ======================================================================
 * Primitives shared by every part (ntag_prim.c)
 * ====================================================================== */

/* MACt: the 8 bytes at 0-based indices 1, 3, ..., 15 of a 16-byte CMAC. */
void tp_ntag_mact(const uint8_t cmac[16], uint8_t mact[8]);

/* CRC32NK of ChangeKey: IEEE CRC-32 register without the final complement
 * ("JAMCRC"); the card wants it stored LSB first. */
uint32_t tp_jamcrc32(const uint8_t *p, size_t n);

/* SW of a response APDU (its last two bytes), or -1 if rlen < 2. */
int tp_ntag_sw(const uint8_t *rapdu, size_t rlen);

/* ======================================================================
 * SUN / SDM verification (ntag_sun.c)
 * ====================================================================== */

#define TP_SUN_ENC_MAX	  64  /* bytes of enc= file data we accept */
#define TP_SUN_MAC_IN_MAX 200 /* ASCII characters of MAC input we keep */

enum tp_sun_kind {
	TP_SUN_ENC = 1,	  /* p=/e=/picc_data= encrypted PICCData */
	TP_SUN_PLAIN = 2, /* uid= and ctr= plain mirror */
};

/*
 * A parsed SUN message.  Self-contained (the URL may be freed after
 * parsing).  mac_in is the exact ASCII MAC input as it appears in the URL:
 * empty unless enc= is present, in which case it runs from the first digit
 * of the enc= value up to (not including) the first digit of c=, i.e.
 * "<enc hex>&c=" (AN12196 Table 6).
 */
struct tp_sun_msg {
	int kind;		     /* enum tp_sun_kind */
	uint8_t picc_enc[16];	     /* TP_SUN_ENC: encrypted PICCData */
	uint8_t uid[7];		     /* TP_SUN_PLAIN: mirrored UID */
	uint32_t ctr;		     /* TP_SUN_PLAIN: mirrored counter */
	uint8_t mac[8];		     /* c=/cmac= SDMMAC */
	uint8_t enc[TP_SUN_ENC_MAX]; /* enc= SDMENCFileData (encrypted) */
	size_t enc_len;		     /* 0 when absent; a multiple of 16 */
	char mac_in[TP_SUN_MAC_IN_MAX];
	size_t mac_in_len;
};

/* The result of a successful verification. */
struct tp_sun_result {
	uint8_t uid[7];
	uint32_t ctr; /* 0 .. 0xFFFFFF */
	uint8_t mac[8];
};

/*
 * Parses a full URL ("https://host/path?p=..&c=..") or just its query
 * ("p=..&c=.." or "?p=..").  Keys: p, e, picc_data (32 hex), c, cmac
 * (16 hex), enc (even number of hex digits, a multiple of 32), uid (14 hex)
 * and ctr (6 hex, MSB first).  Unknown keys are ignored; a repeated known
 * key is an error.  Errors: TP_ERR_HEX (non-hex digit), TP_ERR_LENGTH
 * (a value of the wrong length), TP_ERR_PARSE (no c=, neither p= nor
 * uid=&ctr=, both forms, duplicates, NUL inside the text).
 */
int tp_sun_parse(const char *url, size_t len, struct tp_sun_msg *out);

/*
 * Decrypts PICCData with the shared SDM meta-read key and checks the tag
 * byte (0xC7: UID and counter mirrored, UID length 7).  TP_ERR_MAC if the
 * tag is wrong (wrong meta key or forged data).
 */
int tp_sun_decrypt_picc(const uint8_t meta_key[16], const uint8_t enc[16],
			uint8_t uid[7], uint32_t *ctr);

/* SDM session keys (data sheet 9.3.9.1, UID and counter both mirrored);
 * either output may be NULL. */
int tp_sun_session_keys(const uint8_t file_key[16], const uint8_t uid[7],
			uint32_t ctr, uint8_t ses_enc[16], uint8_t ses_mac[16]);

/* Computes the SDMMAC (MACt) over the ASCII MAC input. */
int tp_sun_mac(const uint8_t file_key[16], const uint8_t uid[7], uint32_t ctr,
	       const char *mac_in, size_t len, uint8_t mac[8]);

/* Checks the SDMMAC in constant time: TP_OK or TP_ERR_MAC. */
int tp_sun_check_mac(const uint8_t file_key[16], const uint8_t uid[7],
		     uint32_t ctr, const char *mac_in, size_t len,
		     const uint8_t mac[8]);

/* Decrypts SDMENCFileData (len a multiple of 16, in != out allowed). */
int tp_sun_decrypt_file(const uint8_t file_key[16], const uint8_t uid[7],
			uint32_t ctr, const uint8_t *in, size_t len,
			uint8_t *out);

/*
 * One-call verification with a known file key: decrypts (TP_SUN_ENC; for
 * TP_SUN_PLAIN meta_key may be NULL), then checks the MAC.  On any error
 * *res is zeroed.  The host, whose file key depends on the UID, runs the
 * stages itself: tp_sun_decrypt_picc, tp_card_key, tp_sun_check_mac.
 */
int tp_sun_verify(const uint8_t meta_key[16], const uint8_t file_key[16],
		  const struct tp_sun_msg *msg, struct tp_sun_result *res);

/*
 * Extracts the URI from an NDEF file as the card holds it (2-byte NLEN
 * then one NDEF message whose first record is a well-known "U" record),
 * expanding the URI identifier code.  url gets a NUL-terminated string.
 * Errors: TP_ERR_PARSE, TP_ERR_TOO_BIG (cap too small).
 */
int tp_ndef_uri(const uint8_t *file, size_t len, char *url, size_t cap,
		size_t *url_len);

/* ======================================================================
 * Key diversification and card lookup id (ntag_kdf.c)
 * ====================================================================== */

/* NXP AN10922 AES-128 diversification; 1 <= mlen <= 31. */
int tp_kdf_an10922(const uint8_t master[16], const uint8_t *m, size_t mlen,
		   uint8_t out[16]);

/*
 * The project's per-card key (CARD.md): AN10922 with
 * M = UID(7) || "TAP" || keyno || keyver || "tapaid".
 * keyno is 0, 2, 3 or 4; key 1 (SDM meta-read) is the shared system key and
 * is never diversified, so keyno 1 gives TP_ERR_ARG.
 */
#define TP_KDF_APP_ID "TAP"
#define TP_KDF_SYS_ID "tapaid"
int tp_card_key(const uint8_t master[16], const uint8_t uid[7], int keyno,
		uint8_t keyver, uint8_t out[16]);

/*
 * The same with the master key's CMAC context set once (tp_cmac_setkey):
 * for the host, which derives a file key on every tap.  Since |M| = 18,
 * AN10922 equals AES-CMAC(MK, 01 || M) here.
 */
int tp_card_key_ck(const struct tp_cmac_key *master, const uint8_t uid[7],
		   int keyno, uint8_t keyver, uint8_t out[16]);

/* Card lookup id: HMAC-SHA256(salt, "tapaid-card-id" || UID)[0..15]. */
int tp_card_lookup_id(const uint8_t salt[16], const uint8_t uid[7],
		      uint8_t id[16]);

/* ======================================================================
 * EV2 secure messaging, PCD side (ntag_ev2.c)
 * ====================================================================== */

/*
 * Session state.  Holds secrets: tp_ev2_clear() it when done.  While
 * authenticating, key/rnda/rndb hold the pending values; after
 * tp_ev2_auth_finish() they are wiped and authed is 1.
 */
struct tp_ev2 {
	uint8_t kenc[16]; /* KSesAuthENC */
	uint8_t kmac[16]; /* KSesAuthMAC */
	uint8_t ti[4];	  /* transaction identifier */
	uint16_t cmdctr;  /* CmdCtr, LSB first on the wire */
	uint8_t keyno;	  /* key the session was opened with */
	uint8_t authed;	  /* 1 once a session is open */
	uint8_t pending;  /* 0 none, 1 EV2First, 2 EV2NonFirst */
	uint8_t key[16];  /* pending: the authentication key */
	uint8_t rnda[16]; /* pending */
	uint8_t rndb[16]; /* pending */
};

void tp_ev2_clear(struct tp_ev2 *ev2);

/* Session keys of an EV2 authentication (data sheet 9.1.7). */
int tp_ev2_session_keys(const uint8_t key[16], const uint8_t rnda[16],
			const uint8_t rndb[16], uint8_t kenc[16],
			uint8_t kmac[16]);

/*
 * AuthenticateEV2First (first = 1, 90 71 .. KeyNo 00) or NonFirst
 * (first = 0, 90 77 .. KeyNo), step 1: the command APDU.
 */
int tp_ev2_auth_begin(struct tp_ev2 *ev2, int first, uint8_t keyno,
		      uint8_t *apdu, size_t cap, size_t *len);

/*
 * Step 2: given the card's answer (E(K, RndB) || 91AF) and RndA (16 fresh
 * random bytes from tp_random; a parameter so vectors can be replayed),
 * builds 90 AF .. E(K, RndA || RndB').
 */
int tp_ev2_auth_step2(struct tp_ev2 *ev2, const uint8_t key[16],
		      const uint8_t rnda[16], const uint8_t *rapdu, size_t rlen,
		      uint8_t *apdu, size_t cap, size_t *len);

/*
 * Step 3: checks the card's final answer (RndA' must match: TP_ERR_AUTH
 * otherwise; an error SW gives TP_ERR_CARD_STATUS) and opens the session.
 * EV2First takes TI from the card and sets CmdCtr 0; NonFirst keeps both.
 */
int tp_ev2_auth_finish(struct tp_ev2 *ev2, const uint8_t *rapdu, size_t rlen);

/*
 * Wraps a native command (CLA 90) in the given mode:
 *   PLAIN: 90 ins 00 00 Lc hdr data 00
 *   MAC:   ... hdr data MACt(Cmd||CmdCtr||TI||hdr||data)
 *   FULL:  ... hdr E(KSesAuthENC, IVc, data||80 00..) MACt(...)
 * (FULL with dlen 0 sends no ciphertext, as the data sheet does.)
 * MAC and FULL need an open session; PLAIN works with or without one.
 * Does not advance CmdCtr: tp_ev2_unwrap does when the answer is good.
 */
int tp_ev2_wrap(const struct tp_ev2 *ev2, uint8_t ins, const uint8_t *hdr,
		size_t hlen, const uint8_t *data, size_t dlen, int mode,
		uint8_t *apdu, size_t cap, size_t *len);

/*
 * Unwraps a response (data || [MACt] || 91 xx).  An SW other than 9100
 * gives TP_ERR_CARD_STATUS (read it with tp_ntag_sw).  In an open session
 * it checks the MAC (MAC and FULL: TP_ERR_CARD_MAC on mismatch), decrypts
 * FULL data and strips its padding, then advances CmdCtr (also in PLAIN).
 * ev2 may be NULL for PLAIN outside a session.
 */
int tp_ev2_unwrap(struct tp_ev2 *ev2, int mode, const uint8_t *rapdu,
		  size_t rlen, uint8_t *data, size_t cap, size_t *len);

/* ---- command builders (each is tp_ev2_wrap with the right layout) ---- */

/* GetVersion: 90 60 00 00 00, then 90 AF 00 00 00 twice (PLAIN). */
int tp_ntag_get_version_cmd(int part, uint8_t *apdu, size_t cap, size_t *len);
struct tp_ntag_version {
	uint8_t hw[7]; /* vendor, type, subtype, major, minor, size, proto */
	uint8_t sw[7];
	uint8_t uid[7];
	uint8_t batch[5];
	uint8_t fab_key_year[2]; /* the last two bytes as sent */
};
/* Parses the 28 data bytes of the three frames (concatenated, no SW). */
int tp_ntag_parse_version(const uint8_t *data, size_t len,
			  struct tp_ntag_version *v);

/* Read_Sig (3C), address 00: 90 3C 00 00 01 00 00.  The answer is the
 * 56-byte NXP originality signature (ECDSA secp224r1 over the raw UID);
 * checking it needs secp224r1, which crypto.h does not offer. */
int tp_ntag_read_sig_cmd(uint8_t *apdu, size_t cap, size_t *len);

/* ISOSelectFile of the NDEF application by DF name D2760000850101:
 * 00 A4 04 0C 07 D2 76 00 00 85 01 01 00. */
int tp_iso_select_ndef_app(uint8_t *apdu, size_t cap, size_t *len);
/* ISOSelectFile of an EF by FID (00 A4 00 0C 02 FID 00). */
int tp_iso_select_file(uint16_t fid, uint8_t *apdu, size_t cap, size_t *len);
/* ISOReadBinary (00 B0 off_hi off_lo Le); le 0 means 256. */
int tp_iso_read_binary(uint16_t offset, uint8_t le, uint8_t *apdu, size_t cap,
		       size_t *len);
/* ISOUpdateBinary (00 D6 off_hi off_lo Lc data). */
int tp_iso_update_binary(uint16_t offset, const uint8_t *data, size_t dlen,
			 uint8_t *apdu, size_t cap, size_t *len);
/* Checks an ISO response (data || 90 00): gives the data length. */
int tp_iso_check(const uint8_t *rapdu, size_t rlen, size_t *dlen);

/* ReadData (AD) / WriteData (8D): header fileno || offset(3) || length(3). */
int tp_ntag_read_data_cmd(const struct tp_ev2 *ev2, uint8_t fileno,
			  uint32_t offset, uint32_t length, int mode,
			  uint8_t *apdu, size_t cap, size_t *len);
int tp_ntag_write_data_cmd(const struct tp_ev2 *ev2, uint8_t fileno,
			   uint32_t offset, const uint8_t *data, size_t dlen,
			   int mode, uint8_t *apdu, size_t cap, size_t *len);

/* GetFileSettings (F5), normally in MAC mode. */
int tp_ntag_get_file_settings_cmd(const struct tp_ev2 *ev2, uint8_t fileno,
				  int mode, uint8_t *apdu, size_t cap,
				  size_t *len);

/* GetCardUID (51): FULL response, 7 bytes of UID. */
int tp_ntag_get_card_uid_cmd(const struct tp_ev2 *ev2, uint8_t *apdu,
			     size_t cap, size_t *len);

/*
 * ChangeKey (C4) in FULL mode.  Case 2 (keyno == ev2->keyno): body
 * NewKey || KeyVer; old_key is ignored (may be NULL).  Case 1: body
 * (NewKey ^ OldKey) || KeyVer || JAMCRC32(NewKey) LSB first.
 */
int tp_ntag_change_key_body(int same_as_auth, const uint8_t new_key[16],
			    const uint8_t old_key[16], uint8_t keyver,
			    uint8_t *body, size_t *blen);
int tp_ntag_change_key_cmd(const struct tp_ev2 *ev2, uint8_t keyno,
			   const uint8_t new_key[16], const uint8_t old_key[16],
			   uint8_t keyver, uint8_t *apdu, size_t cap,
			   size_t *len);
/*
 * Checks the ChangeKey answer: case 1 carries a MACt (MAC mode); case 2
 * carries none and ends the session (ev2 is cleared; authenticate again
 * with the new key).
 */
int tp_ntag_change_key_resp(struct tp_ev2 *ev2, uint8_t keyno,
			    const uint8_t *rapdu, size_t rlen);

/* ======================================================================
 * File settings and SDM (ntag_sdm.c)
 * ====================================================================== */

/* SDMOptions bits. */
#define TP_SDM_OPT_UID	     0x80 /* UID mirror */
#define TP_SDM_OPT_CTR	     0x40 /* SDMReadCtr mirror */
#define TP_SDM_OPT_CTR_LIMIT 0x20
#define TP_SDM_OPT_ENC_FILE  0x10 /* SDMENCFileData */
#define TP_SDM_OPT_ASCII     0x01
#define TP_FILE_OPT_SDM	     0x40
#define TP_AR_FREE	     0xE
#define TP_AR_NEVER	     0xF

/*
 * A file's settings: the ChangeFileSettings body, plus file_type and
 * file_size that only GetFileSettings reports.  Access rights are nibbles
 * (key number 0..4, E free, F never).  Offsets are into the file,
 * including its 2-byte NLEN.  Fields the options leave out are 0.
 */
struct tp_sdm_settings {
	uint8_t file_type;   /* GetFileSettings only */
	uint8_t file_option; /* bit 6 SDM, bits 1..0 enum tp_commmode */
	uint8_t ar_read, ar_write, ar_rw, ar_change;
	uint32_t file_size; /* GetFileSettings only */
	uint8_t sdm_options;
	uint8_t sdm_ctr_ret, sdm_meta_read, sdm_file_read;
	uint32_t uid_off;    /* sdm_meta_read == E, UID mirrored */
	uint32_t ctr_off;    /* sdm_meta_read == E, counter mirrored */
	uint32_t picc_off;   /* sdm_meta_read 0..4 */
	uint32_t mac_in_off; /* sdm_file_read != F */
	uint32_t enc_off;    /* TP_SDM_OPT_ENC_FILE */
	uint32_t enc_len;    /* TP_SDM_OPT_ENC_FILE */
	uint32_t mac_off;    /* sdm_file_read != F */
	uint32_t ctr_limit;  /* TP_SDM_OPT_CTR_LIMIT */
};

/* Encodes the ChangeFileSettings body (data sheet Table 69). */
int tp_sdm_settings_encode(const struct tp_sdm_settings *s, uint8_t *out,
			   size_t cap, size_t *len);
/* Encodes a GetFileSettings answer body: FileType || FileOption || AR ||
 * FileSize || SDM part (card side). */
int tp_sdm_settings_encode_get(const struct tp_sdm_settings *s, uint8_t *out,
			       size_t cap, size_t *len);
/* Decodes a GetFileSettings answer body (FileType first). */
int tp_sdm_settings_decode(const uint8_t *in, size_t len,
			   struct tp_sdm_settings *s);
/* Decodes a ChangeFileSettings body (FileOption first; card side). */
int tp_sdm_settings_decode_change(const uint8_t *in, size_t len,
				  struct tp_sdm_settings *s);

/* ChangeFileSettings (5F) in FULL mode. */
int tp_ntag_change_file_settings_cmd(const struct tp_ev2 *ev2, uint8_t fileno,
				     const struct tp_sdm_settings *s,
				     uint8_t *apdu, size_t cap, size_t *len);

/*
 * Builds the NDEF file for SUN: NLEN || one short URI record holding
 * base_url + "?p=" + 32 x '0' + "&c=" + 16 x '0' ('&' instead of '?' if
 * base_url has a query already), and fills sdm with the settings that
 * make the card mirror it: SDM on, CommMode PLAIN, read free, write and
 * change key 0, UID + counter + ASCII, CtrRet key 0 (AN12196 uses 1; we
 * keep counter retrieval with the master key), MetaRead key 1,
 * FileRead key 2, picc_off at p=, mac_in_off == mac_off at c= (empty MAC
 * input).  base_url must start with "https://" or "http://".
 */
int tp_ndef_sun_template(const char *base_url, uint8_t *file, size_t cap,
			 size_t *len, struct tp_sdm_settings *sdm);

/* ======================================================================
 * Card (PICC) side, for the emulator and round-trip tests (ntag_card.c)
 * ====================================================================== */

/* A parsed command APDU. */
struct tp_apdu {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data; /* points into the APDU */
	size_t lc;
	int has_le;
	size_t le; /* 256 when Le byte is 00 */
};
/* Parses a short APDU (cases 1-4). */
int tp_apdu_parse(const uint8_t *apdu, size_t len, struct tp_apdu *out);

/*
 * Card side of AuthenticateEV2First/NonFirst.  Step 1 gets the key the
 * card holds for keyno; it draws RndB with tp_random and writes
 * E(K, RndB) (16 bytes; the caller appends 91 AF).  Step 2 gets the
 * 32-byte data of the PCD's 90 AF command, checks RndB' (TP_ERR_AUTH: the
 * caller answers 91 AE and drops the session) and writes the answer
 * (EV2First: E(K, TI || RndA' || 0^12), 32 bytes, TI from tp_random and
 * CmdCtr 0; NonFirst: E(K, RndA'), 16 bytes, TI and CmdCtr kept).  The
 * session is then open in *s, exactly as the PCD sees it.
 */
int tp_ev2_card_auth1(struct tp_ev2 *s, int first, uint8_t keyno,
		      const uint8_t key[16], uint8_t *out, size_t cap,
		      size_t *len);
int tp_ev2_card_auth2(struct tp_ev2 *s, const uint8_t *data, size_t dlen,
		      uint8_t *out, size_t cap, size_t *len);

/*
 * Checks and opens a wrapped command: cmd is the APDU's data field
 * (hdr || [E]data || [MACt]), hlen the command's header length.  Writes
 * hdr || plain data to out.  MAC/FULL: TP_ERR_MAC if the MAC is wrong
 * (answer 91 1E), TP_ERR_PARSE on bad padding or length.  Does not
 * advance CmdCtr.
 */
int tp_ev2_card_unwrap_cmd(const struct tp_ev2 *s, uint8_t ins, size_t hlen,
			   int mode, const uint8_t *cmd, size_t clen,
			   uint8_t *out, size_t cap, size_t *len);
/*
 * Builds a good answer: [E]data || [MACt] || 91 00, after advancing CmdCtr
 * (in an open session, in every mode).  s may be NULL outside a session.
 * PLAIN answers may be as long as cap allows; MAC/FULL ones up to 235
 * bytes of data.
 */
int tp_ev2_card_wrap_resp(struct tp_ev2 *s, int mode, const uint8_t *data,
			  size_t dlen, uint8_t *out, size_t cap, size_t *len);

/*
 * Card side of ChangeKey: recovers the new key and version from the
 * decrypted body (case 2: NewKey || KeyVer; case 1: (NewKey ^ OldKey) ||
 * KeyVer || CRC32NK, the CRC checked: TP_ERR_MAC if wrong).
 */
int tp_ntag_change_key_apply(int same_as_auth, const uint8_t *body, size_t blen,
			     const uint8_t old_key[16], uint8_t new_key[16],
			     uint8_t *keyver);

/*
 * SUN mirroring: copies the NDEF file and writes, per sdm, the ASCII
 * (upper-case hex) encrypted PICCData (padding from tp_random) or the
 * plain UID/counter, the encrypted file data if enabled, and the SDMMAC
 * over file[mac_in_off .. mac_off).  ctr is the counter value for this
 * read (the caller increments it first).  meta_key may be NULL for a
 * plain mirror.  TP_ERR_VALUE if an offset does not fit in the file.
 */
int tp_sun_card_mirror(const uint8_t meta_key[16], const uint8_t file_key[16],
		       const uint8_t uid[7], uint32_t ctr,
		       const struct tp_sdm_settings *sdm, const uint8_t *file,
		       size_t flen, uint8_t *out, size_t cap);

#endif
