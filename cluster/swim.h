/* SWIM membership with Lifeguard: failure detection by round-robin probes,
 * indirect probes and a stream fallback, suspicion with incarnation numbers,
 * infection-style dissemination, push/pull anti-entropy, reconnection to dead
 * peers, and one versioned record per node that only its owner writes.
 * Driven entirely through struct swim_transport: no threads, no sockets, no
 * clock of its own, so tests and the simulator are deterministic.
 * Not thread-safe: one thread drives a struct swim (see swim_loop.h). */
#ifndef CORRAL_SWIM_H
#define CORRAL_SWIM_H

#include "cluster/swim_proto.h"
#include "cluster/swim_transport.h"
#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

struct swim;
struct keyring;

enum swim_event_type {
	SWIM_EV_JOIN,    /* a member appeared */
	SWIM_EV_SUSPECT, /* alive -> suspect */
	SWIM_EV_ALIVE,   /* suspect or dead -> alive (refuted, came back) */
	SWIM_EV_DEAD,    /* declared dead */
	SWIM_EV_LEFT,    /* left on purpose */
	SWIM_EV_STATE,   /* its record changed (newer version) */
	SWIM_EV_REAPED,  /* forgotten after dead_reap_ms; the info is its last view */
};

/* A member as the embedder sees it.  Pointers stay valid until the next call
 * into the struct swim. */
struct swim_member_info {
	const char *name;
	struct swim_addr addr;
	uint32_t incarnation;
	enum swim_status status;
	uint64_t status_since_ms;
	uint64_t state_version;
	const uint8_t *state;
	size_t state_len;
	int is_self;
};

struct swim_event {
	enum swim_event_type type;
	const struct swim_member_info *member;
};

struct swim_config {
	const char *name;         /* unique in the cluster, 1..64 bytes */
	struct swim_addr addr;    /* address others reach this node at */
	uint32_t incarnation;     /* starting incarnation (refutation bumps it) */
	uint32_t probe_interval_ms;
	uint32_t probe_timeout_ms;
	uint32_t suspicion_mult;
	uint32_t suspicion_max_mult;
	uint32_t indirect_checks;
	uint32_t gossip_interval_ms;
	uint32_t gossip_nodes;
	uint32_t gossip_to_dead_ms;
	uint32_t retransmit_mult;
	uint32_t push_pull_interval_ms; /* 0: never */
	uint32_t awareness_max;         /* Lifeguard S: the multiplier runs 0..S-1 */
	uint32_t reconnect_interval_ms; /* retry one dead peer this often; 0: never */
	uint64_t dead_reap_ms;          /* forget dead/left members after this */
	uint32_t packet_max;            /* datagram budget after encryption */
	int tcp_fallback;               /* stream ping beside indirect probes */
	int lifeguard;                  /* LHM, nacks, LHA suspicion, buddy */
	struct keyring *keyring;        /* borrowed; NULL or empty: plaintext */
	void (*on_event)(void *arg, const struct swim_event *ev);
	void *event_arg;
};

struct swim_stats {
	uint64_t udp_sent, udp_sent_bytes, udp_recv, udp_recv_bytes;
	uint64_t stream_sent_bytes, stream_recv_bytes;
	uint64_t probes, probes_failed, indirect_rounds, stream_pings_ok;
	uint64_t suspects_raised, refutations, deaths_declared;
	uint64_t pushpulls, reconnects;
	uint64_t drop_malformed, drop_decrypt;
	uint32_t awareness;
	uint32_t members, alive;
};

/* memberlist's LAN profile: probe 1 s / 500 ms, suspicion 4 / 6, indirect 3,
 * gossip 200 ms to 3 nodes, retransmit 4, push/pull 30 s, awareness 8,
 * Serf's 30 s reconnect and 24 h reap, Lifeguard and stream fallback on. */
void swim_config_default(struct swim_config *cfg);

/* Returns NULL with ERR filled on a bad config or no memory.  The transport
 * struct is copied; its ctx must outlive the swim. */
struct swim *swim_new(const struct swim_config *cfg, const struct swim_transport *t,
		      char *err, size_t errlen);
void swim_free(struct swim *s);

/* Push/pull with a node at ADDR (any member); members appear as the reply
 * is merged.  0 or a negative errno from the transport. */
int swim_join(struct swim *s, const struct swim_addr *addr);
/* Adds a member known out of band (a saved peer list) as alive; the probe
 * loop checks it.  0, -EEXIST or -EINVAL. */
int swim_add_member(struct swim *s, const char *name, const struct swim_addr *addr);
/* Tells the cluster this node leaves: broadcasts and stops probing.  Keep
 * ticking for a few gossip intervals before swim_free() so it spreads. */
int swim_leave(struct swim *s);
/* Replaces this node's record (<= SWIM_STATE_MAX bytes) under a new version
 * and starts spreading it.  0, -EMSGSIZE or -ENOMEM. */
int swim_set_local_state(struct swim *s, const void *data, size_t len);

/* Runs every timer that is due.  Call at swim_next_deadline() or sooner. */
void swim_tick(struct swim *s);
/* Earliest time (transport clock, ms) swim_tick() has work to do. */
uint64_t swim_next_deadline(const struct swim *s);

/* Input from the transport. */
void swim_on_packet(struct swim *s, const struct swim_addr *from, const uint8_t *buf, size_t len);
/* Answers one stream request; REPLY gets the frame to send back (may stay
 * empty).  0 or -EBADMSG (the transport just closes). */
int swim_on_stream_request(struct swim *s, const struct swim_addr *from, const uint8_t *buf,
			   size_t len, struct buf *reply);
/* The reply to stream_request(TOKEN); BUF NULL when the exchange failed. */
void swim_on_stream_reply(struct swim *s, uint64_t token, const uint8_t *buf, size_t len);

/* Members, this node included, in no particular order. */
size_t swim_member_count(const struct swim *s);
int swim_member_at(const struct swim *s, size_t i, struct swim_member_info *out);
/* 0 or -ENOENT. */
int swim_member_get(const struct swim *s, const char *name, struct swim_member_info *out);
void swim_get_stats(const struct swim *s, struct swim_stats *out);
const char *swim_self_name(const struct swim *s);

#endif
