/* WebSocket (RFC 6455), server side, as pure byte-in functions: the opening
 * handshake's checks and accept key, frame headers, a message reader that
 * reassembles fragments and passes control frames, and the framing of
 * Proxmox's termproxy.  No I/O here: ws_bridge.c drives them. */
#ifndef CORRAL_WS_H
#define CORRAL_WS_H

#include <stddef.h>
#include <stdint.h>

/* Largest message the reader reassembles.  noVNC's client messages are tiny
 * (keys, pointer, update requests; a clipboard paste at most): 1 MiB is
 * ample and bounds a connection's memory. */
#define WS_MAX_MESSAGE (1u << 20)
#define WS_MAX_HEADER 14   /* 2 + 8 (length) + 4 (mask) */
#define WS_ACCEPT_LEN 28   /* base64 of a SHA-1 */

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};

/* Close codes (RFC 6455 section 7.4.1) the reader answers errors with. */
enum ws_close_code {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_BAD_DATA = 1007,
	WS_CLOSE_TOO_BIG = 1009,
};

/* --- opening handshake --- */

/* What the client's upgrade request said (any may be NULL when absent). */
struct ws_handshake {
	const char *method;
	const char *upgrade;    /* Upgrade: must list "websocket" */
	const char *connection; /* Connection: must list "Upgrade" */
	const char *version;    /* Sec-WebSocket-Version: must be "13" */
	const char *key;        /* Sec-WebSocket-Key: base64 of 16 bytes */
	const char *protocols;  /* Sec-WebSocket-Protocol: offered subprotocols */
};

/* 0 when H is a valid RFC 6455 upgrade request, -EINVAL with the reason in ERR. */
int ws_handshake_check(const struct ws_handshake *h, char *err, size_t errlen);
/* Sec-WebSocket-Accept for KEY: base64(SHA-1(KEY + the RFC's GUID)), NUL-terminated. */
int ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1]);
/* "binary" when the client offers it (noVNC and Proxmox's clients do),
 * else NULL: the answer then names no subprotocol. */
const char *ws_pick_protocol(const char *offered);

/* --- frames --- */

struct ws_frame {
	int fin;
	int opcode;
	int masked;
	uint8_t mask[4];
	uint64_t len;      /* payload length */
	size_t header_len; /* bytes before the payload */
};

/* Parses the frame header at BUF[0..N).  Returns 0 and fills F; -EAGAIN
 * when more bytes are needed; -EPROTO for a violation (reserved bits,
 * unknown opcode, a fragmented or long control frame, a non-minimal or
 * 64-bit length with the top bit set). */
int ws_frame_parse(const uint8_t *buf, size_t n, struct ws_frame *f);
/* XORs DATA with MASK, DATA starting OFFSET bytes into the payload. */
void ws_unmask(uint8_t *data, size_t n, const uint8_t mask[4], uint64_t offset);
/* Writes an unmasked (server) frame header for a final frame of OPCODE
 * with LEN payload bytes; returns its length (at most WS_MAX_HEADER). */
size_t ws_frame_header(uint8_t out[WS_MAX_HEADER], int opcode, uint64_t len);
/* A close frame's payload: the code in network order, then REASON
 * (truncated to fit the 125-byte limit).  Returns the payload length. */
size_t ws_close_payload(uint8_t out[125], unsigned code, const char *reason);

/* --- messages --- */

/* One complete message, or a control frame (PING, PONG, CLOSE); DATA is
 * unmasked and valid during the call only.  A non-zero return stops the
 * reader and is returned by ws_reader_feed. */
typedef int (*ws_message_fn)(void *ctx, int opcode, const uint8_t *data, size_t n);

/* Reassembles client frames: requires masking (a server must refuse
 * unmasked frames), keeps fragments up to MAX bytes and lets control
 * frames interleave. */
struct ws_reader {
	uint8_t hdr[WS_MAX_HEADER];
	size_t hdr_have;
	struct ws_frame f;    /* current frame once its header is complete */
	uint64_t got;         /* payload bytes of F seen */
	int in_frame;
	int msg_opcode;       /* TEXT/BINARY while a fragmented message is open, else 0 */
	uint8_t *msg;         /* message being assembled */
	size_t msg_len, msg_cap, max;
	uint8_t ctl[125];     /* a control frame's payload */
};

/* MAX 0 means WS_MAX_MESSAGE. */
void ws_reader_init(struct ws_reader *r, size_t max);
void ws_reader_free(struct ws_reader *r);
/* Feeds N received bytes; calls FN per message.  Returns 0, FN's non-zero
 * return, or a negative close code (-WS_CLOSE_PROTOCOL, -WS_CLOSE_TOO_BIG,
 * or -ENOMEM) after which the connection must be closed. */
int ws_reader_feed(struct ws_reader *r, const uint8_t *in, size_t n, ws_message_fn fn,
		   void *ctx);

/* --- Proxmox termproxy framing (client to server) ---
 *
 * The client first sends "USER:TICKET\n", then a stream of
 *   0:LEN:DATA     LEN bytes of keyboard input
 *   1:COLS:ROWS:   terminal resize
 *   2              keep-alive ping
 * regardless of how the websocket splits it into messages. */
#define WS_TERM_AUTH_MAX 1536  /* user id (128) + ticket (< 1024) + ':' + '\n' */

struct ws_term_ops {
	int (*auth)(void *ctx, const char *line);  /* "USER:TICKET" without '\n' */
	int (*data)(void *ctx, const uint8_t *data, size_t n);
	int (*resize)(void *ctx, unsigned cols, unsigned rows);
	int (*ping)(void *ctx);
};

struct ws_term {
	int state;
	char line[WS_TERM_AUTH_MAX];
	size_t line_len;
	uint64_t num[2];      /* numbers of the current message */
	int digits;
	uint64_t left;        /* data bytes still to pass on */
};

void ws_term_init(struct ws_term *t);
/* Parses N bytes; calls OPS per element.  Returns 0, an op's non-zero
 * return, or -EPROTO on malformed input. */
int ws_term_feed(struct ws_term *t, const uint8_t *in, size_t n, const struct ws_term_ops *ops,
		 void *ctx);

#endif
