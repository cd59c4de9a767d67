/* SWIM wire format: pure encoders into caller buffers and strict decoders over
 * received bytes.  No I/O, no allocation except the push/pull builder (struct buf).
 * Every integer is big-endian; every length is checked against what is left. */
#ifndef CORRAL_SWIM_PROTO_H
#define CORRAL_SWIM_PROTO_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

/*
 * A packet (plaintext; the keyring wraps it when encryption is on):
 *
 *   +---------+-----------+-------------------------------------------+
 *   | 0       | version   | SWIM_PROTO_VERSION                        |
 *   | 1       | type      | one message type, or SWIM_MSG_COMPOUND    |
 *   | 2..     | body      | the message body                          |
 *   +---------+-----------+-------------------------------------------+
 *
 * A compound body is: count u8 (1..255), then count times [len u16][message],
 * a message being its type byte plus body.  Compounds do not nest.
 *
 * Body fields (name = len u8 1..64 + bytes without NUL;
 *              addr = family u8 (4|6) + 4|16 bytes + port u16):
 *   PING      seq u32, target name, source name, source addr
 *   PING_REQ  seq u32, want_nack u8, target name, target addr,
 *             source name, source addr
 *   ACK/NACK  seq u32
 *   SUSPECT   incarnation u32, node name, from name
 *   ALIVE     incarnation u32, node name, addr
 *   DEAD      incarnation u32, node name, from name (from == node: left)
 *   STATE     node name, version u64, len u16 (<= SWIM_STATE_MAX), bytes
 *   PUSHPULL  kind u8, join u8, sender name, entries u32, entries...,
 *             records u32, records...   (TCP only)
 *     entry:  node name, addr, incarnation u32, status u8, state version u64
 *     record: the STATE body
 */

#define SWIM_PROTO_VERSION 1
#define SWIM_NAME_MAX 64
/* A node record must fit one UDP packet beside its headers and the 29 B
 * encryption overhead, so dissemination never needs fragmentation. */
#define SWIM_STATE_MAX 1024
/* memberlist's UDPBufferSize: stays under a 1500 B Ethernet MTU with IP/UDP headers. */
#define SWIM_PACKET_MAX 1400
/* memberlist caps push/pull at 1 Mi nodes; the frame at 20 MiB. */
#define SWIM_PP_MAX_ENTRIES (1u << 20)
#define SWIM_PP_MAX_FRAME (20u << 20)
#define SWIM_COMPOUND_MAX 255

enum swim_msg_type {
	SWIM_MSG_PING = 1,
	SWIM_MSG_PING_REQ = 2,
	SWIM_MSG_ACK = 3,
	SWIM_MSG_NACK = 4,
	SWIM_MSG_SUSPECT = 5,
	SWIM_MSG_ALIVE = 6,
	SWIM_MSG_DEAD = 7,
	SWIM_MSG_STATE = 8,
	SWIM_MSG_COMPOUND = 9,
	SWIM_MSG_PUSHPULL = 10,
};

enum swim_status {
	SWIM_ALIVE = 0,
	SWIM_SUSPECT = 1,
	SWIM_DEAD = 2,
	SWIM_LEFT = 3,
};

enum swim_pp_kind {
	SWIM_PP_REQUEST = 1, /* digest of the sender's view */
	SWIM_PP_REPLY = 2,   /* digest + records newer than the request's */
	SWIM_PP_PUSH = 3,    /* records newer than the reply's digest */
};

struct swim_addr {
	uint8_t family; /* 4 or 6 */
	uint8_t ip[16]; /* IPv4 uses the first 4 bytes */
	uint16_t port;
};

struct swim_name {
	uint8_t len;
	char s[SWIM_NAME_MAX + 1]; /* NUL-terminated copy */
};

struct swim_state_rec {
	struct swim_name node;
	uint64_t version;
	uint16_t len;
	const uint8_t *data; /* points into the decoded packet */
};

/* One decoded (or to-be-encoded) message; which fields count depends on type. */
struct swim_msg {
	uint8_t type;
	uint8_t want_nack;
	uint32_t seq;
	uint32_t incarnation;
	struct swim_name node; /* PING/PING_REQ target, SUSPECT/ALIVE/DEAD subject */
	struct swim_name from; /* PING/PING_REQ source, SUSPECT/DEAD accuser */
	struct swim_addr addr; /* PING_REQ target, ALIVE node */
	struct swim_addr src;  /* PING/PING_REQ source */
	struct swim_state_rec state;
};

struct swim_pp_entry {
	struct swim_name node;
	struct swim_addr addr;
	uint32_t incarnation;
	uint8_t status;
	uint64_t state_version;
};

/* Encodes M (type byte + body) into OUT.  Returns the length, or -ENOSPC if
 * CAP is too small, -EINVAL if a field is out of range. */
int swim_msg_encode(const struct swim_msg *m, uint8_t *out, size_t cap);
/* Decodes one message (type byte + body) that spans exactly LEN bytes.
 * Pointers in M (state data) point into BUF.  0 or -EBADMSG. */
int swim_msg_decode(const uint8_t *buf, size_t len, struct swim_msg *m);

/* Builds a compound packet in a caller buffer. */
struct swim_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	unsigned count;
};
void swim_writer_init(struct swim_writer *w, uint8_t *buf, size_t cap);
/* Appends an encoded message; -ENOSPC when it does not fit (the writer is
 * unchanged) or the compound already holds 255 messages. */
int swim_writer_add(struct swim_writer *w, const uint8_t *msg, size_t len);
int swim_writer_add_msg(struct swim_writer *w, const struct swim_msg *m);
/* Bytes left for one more message, counting its length prefix. */
size_t swim_writer_room(const struct swim_writer *w);
/* Finishes the packet; returns its length (0 if it holds no message). */
size_t swim_writer_finish(struct swim_writer *w);

/* Walks the messages of a packet, single or compound. */
struct swim_reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	unsigned left;
	int single;
};
/* Checks version and framing.  0 or -EBADMSG / -EPROTONOSUPPORT. */
int swim_reader_init(struct swim_reader *r, const uint8_t *buf, size_t len);
/* 1 and M filled, 0 at the end, -EBADMSG on malformed input. */
int swim_reader_next(struct swim_reader *r, struct swim_msg *m);

/* Push/pull: a bare PUSHPULL packet built in a growable buffer. */
struct swim_pp_builder {
	struct buf *out;
	size_t count_pos;
	uint32_t count;
	int in_records;
};
int swim_pp_begin(struct swim_pp_builder *b, struct buf *out, uint8_t kind, int join,
		  const char *sender);
int swim_pp_add_entry(struct swim_pp_builder *b, const struct swim_pp_entry *e);
/* Ends the entry list; records follow. */
int swim_pp_begin_records(struct swim_pp_builder *b);
int swim_pp_add_record(struct swim_pp_builder *b, const struct swim_state_rec *r);
int swim_pp_end(struct swim_pp_builder *b);

struct swim_pp_reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	uint8_t kind;
	uint8_t join;
	struct swim_name sender;
	uint32_t entries_left;
	uint32_t records_left;
	int in_records;
};
/* Opens a whole packet (version byte first).  0 or -EBADMSG / -EPROTONOSUPPORT. */
int swim_pp_open(struct swim_pp_reader *r, const uint8_t *buf, size_t len);
/* 1 and E filled, 0 after the last entry, -EBADMSG. */
int swim_pp_next_entry(struct swim_pp_reader *r, struct swim_pp_entry *e);
/* Only after every entry was read.  1, 0 at the end (all bytes used), -EBADMSG. */
int swim_pp_next_record(struct swim_pp_reader *r, struct swim_state_rec *rec);

/* Names: 1..64 bytes, no NUL.  0 or -EINVAL. */
int swim_name_set(struct swim_name *n, const char *s);
int swim_name_eq(const struct swim_name *a, const struct swim_name *b);
/* "1.2.3.4:7946" or "[::1]:7946".  0 or -EINVAL. */
int swim_addr_parse(const char *s, struct swim_addr *out);
/* The same, also accepting port 0 (a listen address: any free port). */
int swim_addr_parse_bind(const char *s, struct swim_addr *out);
/* Writes the same form; needs 48 bytes. */
void swim_addr_format(const struct swim_addr *a, char *out, size_t n);
int swim_addr_eq(const struct swim_addr *a, const struct swim_addr *b);

#endif
