/*
 * tapaid/err.h - the error vocabulary of the protocol layer.
 *
 * Every function in protocol/ returns 0 on success or one of these negative
 * codes.  Callers fail closed: anything but TP_OK means "do not trust the
 * result".  tp_strerror() gives a short English sentence for logs and tools.
 */
#ifndef TAPAID_ERR_H
#define TAPAID_ERR_H

enum tp_err {
	TP_OK = 0,
	TP_ERR_CRYPTO = -1,	   /* the crypto library reported a failure */
	TP_ERR_RANDOM = -2,	   /* no randomness could be had */
	TP_ERR_ARG = -3,	   /* a bad argument (wrong size, NULL) */
	TP_ERR_NEED_MORE = -4,	   /* the stream holds no complete frame yet */
	TP_ERR_FRAME = -5,	   /* framing is malformed */
	TP_ERR_TOO_BIG = -6,	   /* a length over the protocol's limit */
	TP_ERR_VERSION = -7,	   /* protocol version not supported */
	TP_ERR_TYPE = -8,	   /* unknown message type */
	TP_ERR_LENGTH = -9,	   /* wrong length for the message type */
	TP_ERR_SIGNATURE = -10,	   /* a signature does not verify */
	TP_ERR_MAC = -11,	   /* an AEAD tag or CMAC does not verify */
	TP_ERR_REPLAY = -12,	   /* a sequence number replayed or reordered */
	TP_ERR_STATE = -13,	   /* a message not allowed in this state */
	TP_ERR_UNKNOWN_PEER = -14, /* a key not in the allowed set */
	TP_ERR_KEYFILE = -15,	   /* a key file is missing or malformed */
	TP_ERR_KEYPERM = -16,	   /* a private key file others can read */
	TP_ERR_HEX = -17,	   /* input that is not hexadecimal */
	TP_ERR_PARSE = -18, /* a URL, NDEF message or field is malformed */
	TP_ERR_CARD_STATUS = -19, /* the card answered with an error status */
	TP_ERR_CARD_MAC = -20,	  /* the card's response MAC is wrong */
	TP_ERR_AUTH = -21,	  /* card authentication failed */
	TP_ERR_IO = -22,	  /* a read or write failed */
	TP_ERR_NOMEM = -23,	  /* out of memory */
	TP_ERR_COUNTER = -24,	  /* a counter is exhausted */
	TP_ERR_VALUE = -25,	  /* a field holds a value out of range */
	TP_ERR_REFUSED = -26,	  /* the peer refused the session */
	TP_ERR__MIN = -27
};

/* A constant string naming err; never NULL. */
const char *tp_strerror(int err);

#endif
