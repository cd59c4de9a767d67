/* Private to cluster/swim*.c: the member table, broadcast queue, probe and
 * stream bookkeeping shared by the files of the SWIM module. */
#ifndef CORRAL_SWIM_INT_H
#define CORRAL_SWIM_INT_H

#include "cluster/swim.h"

#include <stdbool.h>

/* Lifeguard keeps the first K+1 distinct accusers; K is small (mult - 2). */
#define SWIM_MAX_CONFIRMERS 8

struct swim_suspicion {
	uint64_t start;
	uint64_t min_ms, max_ms;
	uint32_t k;
	uint32_t confirmations; /* accusers beyond the first */
	uint32_t naccusers;
	struct swim_name accusers[SWIM_MAX_CONFIRMERS];
	uint64_t deadline;
};

struct swim_member {
	struct swim_name name;
	struct swim_addr addr;
	uint32_t incarnation;
	uint8_t status;
	bool is_self;
	uint64_t status_since;
	uint64_t state_version;
	uint8_t *state; /* owned, state_len bytes */
	uint16_t state_len;
	struct swim_suspicion *susp; /* set while suspect */
	size_t index;                /* in swim->members */
	struct swim_member *hnext;   /* hash chain */
	uint64_t pp_gen;             /* last push/pull that carried it */
	uint64_t pp_version;         /* the peer's state version then */
	struct swim_bcast *bcast[2]; /* queued news about it, by kind */
};

enum swim_bcast_kind { SWIM_BC_MEMBER = 0, SWIM_BC_STATE = 1, SWIM_BC_KINDS };

struct swim_bcast {
	uint8_t kind;
	struct swim_member *about; /* whose about[kind] points back here */
	size_t qidx;               /* position in swim->queue */
	uint32_t transmits;
	uint64_t id;
	uint16_t len;
	uint8_t msg[]; /* encoded message */
};

/* A helper's pending relay: ping the target for someone else. */
struct swim_relay {
	uint32_t seq;        /* our ping */
	uint32_t origin_seq; /* the requester's */
	struct swim_addr origin;
	bool want_nack;
	uint64_t nack_at;
};

enum swim_stream_kind { SWIM_ST_PUSHPULL, SWIM_ST_PUSH, SWIM_ST_PING };

struct swim_stream {
	uint64_t token;
	uint8_t kind;
	uint32_t seq;
};

struct swim_probe {
	bool active;
	bool acked;
	bool acked_direct;
	bool indirect_sent;
	uint32_t seq;
	struct swim_name target;
	uint64_t start, timeout_at, deadline;
	uint32_t nacks_expected, nacks_got;
};

#define SWIM_VEC(type) struct { type *v; size_t n, cap; }

struct swim {
	struct swim_config cfg;
	char name_buf[SWIM_NAME_MAX + 1];
	struct swim_transport t;
	struct swim_member *self;
	bool leaving;

	SWIM_VEC(struct swim_member *) members; /* every member, self included */
	struct swim_member **buckets;
	size_t nbuckets;
	SWIM_VEC(struct swim_member *) probe_list; /* shuffled, self excluded */
	size_t probe_pos;
	SWIM_VEC(struct swim_member *) suspects;
	size_t nlive; /* alive + suspect, self included */

	SWIM_VEC(struct swim_bcast *) queue;
	uint64_t bcast_id;

	struct swim_probe probe;
	SWIM_VEC(struct swim_relay) relays;
	SWIM_VEC(struct swim_stream) streams;
	uint32_t seq;
	uint64_t token;
	uint64_t pp_gen;
	uint32_t awareness;

	uint64_t next_probe, next_gossip, next_pushpull, next_reconnect;
	uint8_t *rx; /* decryption scratch */
	struct swim_stats stats;
};

#define swim_vec_push(vec, item)                                                      \
	((vec)->n == (vec)->cap && swim_vec_grow((void **)&(vec)->v, &(vec)->cap,          \
						 sizeof(*(vec)->v)) < 0                      \
		 ? -ENOMEM                                                            \
		 : ((vec)->v[(vec)->n++] = (item), 0))
int swim_vec_grow(void **v, size_t *cap, size_t elem);

uint64_t swim_now(const struct swim *s);
uint64_t swim_rand(struct swim *s, uint64_t bound);

/* swim.c: member table and state changes. */
struct swim_member *swim_m_find(const struct swim *s, const struct swim_name *name);
void swim_m_notify(struct swim *s, struct swim_member *m, enum swim_event_type type);
void swim_m_info(const struct swim_member *m, struct swim_member_info *out);
void swim_handle_alive(struct swim *s, const struct swim_msg *m);
void swim_handle_suspect(struct swim *s, const struct swim_msg *m);
void swim_handle_dead(struct swim *s, const struct swim_msg *m);
void swim_handle_state(struct swim *s, const struct swim_state_rec *r, bool gossip);
/* Raises a suspicion of M from this node (failed probe). */
void swim_suspect_member(struct swim *s, struct swim_member *m);
void swim_check_suspicions(struct swim *s, uint64_t now);
uint64_t swim_suspicion_next(const struct swim *s);
bool swim_gossip_target(const struct swim *s, const struct swim_member *m, uint64_t now);
void swim_reap(struct swim *s, uint64_t now);

/* swim_queue.c: infection-style broadcast queue. */
/* Queues M about member ABOUT, replacing what was queued about it of KIND. */
int swim_q_put(struct swim *s, uint8_t kind, struct swim_member *about,
	       const struct swim_msg *m);
/* Drops every broadcast about M (it is being removed). */
void swim_q_forget(struct swim *s, struct swim_member *m);
/* Moves broadcasts into W, least transmitted first; counts transmissions. */
void swim_q_fill(struct swim *s, struct swim_writer *w);
void swim_q_free(struct swim *s);
uint32_t swim_q_limit(const struct swim *s);
void swim_broadcast_self_alive(struct swim *s);

/* swim_probe.c: failure detector and datagram I/O. */
void swim_send(struct swim *s, const struct swim_addr *to, const struct swim_msg *msgs,
	       size_t n, bool piggyback);
void swim_probe_tick(struct swim *s, uint64_t now);
uint64_t swim_probe_next(const struct swim *s);
void swim_probe_on_ack(struct swim *s, uint32_t seq, bool via_stream);
void swim_probe_on_nack(struct swim *s, uint32_t seq);
void swim_probe_on_ping(struct swim *s, const struct swim_addr *from, const struct swim_msg *m);
void swim_probe_on_ping_req(struct swim *s, const struct swim_addr *from, const struct swim_msg *m);
void swim_gossip_tick(struct swim *s, uint64_t now);
void swim_awareness_add(struct swim *s, int delta);
uint64_t swim_scaled(const struct swim *s, uint32_t ms);
size_t swim_pick_random(struct swim *s, struct swim_member **out, size_t k,
			const struct swim_name *exclude, bool (*ok)(const struct swim *,
			const struct swim_member *, uint64_t), uint64_t now);
void swim_probe_list_insert(struct swim *s, struct swim_member *m);
void swim_probe_list_remove(struct swim *s, struct swim_member *m);

/* swim_sync.c: stream exchanges (push/pull, fallback ping). */
int swim_sync_start(struct swim *s, const struct swim_addr *to, bool join);
int swim_sync_ping(struct swim *s, const struct swim_addr *to, uint32_t seq,
		   const struct swim_name *target);
void swim_sync_tick(struct swim *s, uint64_t now);
int swim_seal(struct swim *s, const uint8_t *in, size_t len, struct buf *out);

#endif
