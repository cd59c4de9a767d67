/* Pure pieces of cluster membership: the record each node gossips about
 * itself, the persisted cluster state, hybrid logical clocks, and the
 * validation of join parameters.  No I/O. */
#ifndef CORRAL_CLUSTER_REC_H
#define CORRAL_CLUSTER_REC_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_FP_LEN 96      /* "AA:BB:..." SHA-256 plus NUL */
#define CLUSTER_NAME_MAX 16    /* Proxmox: 15 characters */
#define CLUSTER_HOSTPORT_MAX 80
#define CLUSTER_NODE_MAX 64
#define CLUSTER_KEY_HEX 65     /* 32-byte gossip key as hex plus NUL */
#define CLUSTER_API_PORT 8006
#define CLUSTER_GOSSIP_PORT 7946

/*
 * The node record (swim state, <= SWIM_STATE_MAX bytes), JSON text:
 *   {"c":cluster,"a":"host:port" (API),"f":fingerprint,"v":version,
 *    "l":load1,"m":mem,"M":maxmem,"n":cpus,"u":uptime,
 *    "ie":inventory epoch,"iv":inventory version,"ic":VM count,
 *    "h":access HLC,"j":joined (ms),"t":record time (s)}
 * The VM inventory itself travels as versioned deltas through the peer API
 * (GET /cluster/peer/inventory?epoch=&since=): the record only says which
 * version is current, so a changed inventory costs one fetch per peer.
 */
struct cluster_rec {
	char cluster[CLUSTER_NAME_MAX];
	char api[CLUSTER_HOSTPORT_MAX];
	char fp[CLUSTER_FP_LEN];
	char version[32];
	double load;
	uint64_t mem, maxmem;
	uint32_t cpus;
	uint64_t uptime;
	uint64_t inv_epoch, inv_ver;
	uint32_t vm_count;
	uint64_t acc_hlc;
	uint64_t joined;   /* when the node created or joined the cluster (ms) */
	uint64_t time;
};

/* Encodes REC as the record text into OUT.  Returns the length or -ENOSPC. */
int cluster_rec_encode(const struct cluster_rec *rec, char *out, size_t n);
/* Decodes a record; missing fields stay zero.  0 or -EBADMSG. */
int cluster_rec_decode(const void *data, size_t len, struct cluster_rec *out);

/* --- hybrid logical clock: 48 bits of wall milliseconds, 16 of counter --- */

#define CLUSTER_HLC(ms, c) (((uint64_t)(ms) << 16) | ((c) & 0xffff))
#define CLUSTER_HLC_MS(h) ((h) >> 16)

/* The next local timestamp after *STATE at wall clock NOW_MS (stored back). */
uint64_t cluster_hlc_tick(uint64_t *state, uint64_t now_ms);
/* Merges a received timestamp REMOTE into *STATE (never goes backwards). */
uint64_t cluster_hlc_recv(uint64_t *state, uint64_t remote, uint64_t now_ms);

/* --- join parameters --- */

/* "host", "host:port", "[v6]" or "[v6]:port" (an existing member's API).
 * HOST gets the bare host (no brackets), *PORT the port (DEFAULT_PORT when
 * absent).  0 or -EINVAL. */
int cluster_parse_hostport(const char *s, uint16_t default_port, char *host, size_t hostlen,
			   uint16_t *port);
/* Proxmox's cluster name: 1..15 of [A-Za-z0-9-], not starting with '-'. */
int cluster_name_valid(const char *s);
/* SHA-256 fingerprint in "AA:BB:..." form (any case, ':' optional) to the
 * canonical upper-case colon form.  0 or -EINVAL. */
int cluster_fp_normalize(const char *in, char out[CLUSTER_FP_LEN]);

/* --- the persisted cluster state (DATA/cluster/cluster.json) ---
 *   {"name":"prod","key":"<64 hex>","nodes":{"n1":{"api":"10.0.0.1:8006",
 *    "gossip":"10.0.0.1:7946","fp":"AA:..."},...},"keys":["<64 hex>"],
 *    "removed":[{"node":"n9","at":1700000000000}],"joined":1700000000000}
 * Members added later by gossip are written back, so a restarted node knows
 * whom to contact. */
struct cluster_state_node {
	char name[CLUSTER_NODE_MAX];
	char api[CLUSTER_HOSTPORT_MAX];
	char gossip[CLUSTER_HOSTPORT_MAX];
	char fp[CLUSTER_FP_LEN];
};

#define CLUSTER_STATE_NODES_MAX 256
/* Gossip keys installed beside the primary one (rotation). */
#define CLUSTER_KEYS_MAX 7
/* Removals remembered (the oldest is forgotten beyond). */
#define CLUSTER_REMOVED_MAX 64

struct cluster_state {
	char name[CLUSTER_NAME_MAX];
	char key_hex[CLUSTER_KEY_HEX];   /* the primary key: seals what is sent */
	/* Other installed keys ("keys":[hex]): packets sealed with them are
	 * still accepted, so a key can be rotated without downtime. */
	size_t n_keys;
	char keys[CLUSTER_KEYS_MAX][CLUSTER_KEY_HEX];
	size_t n_nodes;
	struct cluster_state_node nodes[CLUSTER_STATE_NODES_MAX];
	/* Members removed here ("removed":[{"node","at"}], at in ms): gossip may
	 * still carry them (a removed node that keeps running), so their
	 * records are refused, across restarts, unless they say the node
	 * joined anew after its removal. */
	size_t n_removed;
	char removed[CLUSTER_REMOVED_MAX][CLUSTER_NODE_MAX];
	uint64_t removed_at[CLUSTER_REMOVED_MAX];
	/* When this node created or joined the cluster ("joined", ms). */
	uint64_t joined;
};

/* Parses the state file text.  0 or -EBADMSG with ERR. */
int cluster_state_parse(const char *text, struct cluster_state *out, char *err, size_t errlen);
/* New cJSON tree of the state; NULL on no memory.  Caller deletes. */
cJSON *cluster_state_to_json(const struct cluster_state *st);
/* Inserts or updates a node by name.  0, or -ENOSPC. */
int cluster_state_put_node(struct cluster_state *st, const struct cluster_state_node *n);
/* Removes a node by name.  0 or -ENOENT. */
int cluster_state_del_node(struct cluster_state *st, const char *name);
/* The node named NAME or NULL. */
const struct cluster_state_node *cluster_state_find(const struct cluster_state *st,
						    const char *name);
/* When NAME was removed (ms, at least 1), 0 when it is not in the list. */
uint64_t cluster_state_removed_at(const struct cluster_state *st, const char *name);
/* Records NAME as removed at AT_MS (>= 1), or takes it out of the list (0). */
void cluster_state_set_removed(struct cluster_state *st, const char *name, uint64_t at_ms);
/* Key rotation on the state (the keyring follows separately).  HEX is 64
 * hex digits.  Install: adds a secondary key (no-op when present; -ENOSPC).
 * Use: makes an installed key primary, the old one secondary (-ENOENT).
 * Remove: drops a secondary key (-EBUSY for the primary, -ENOENT). */
int cluster_state_key_install(struct cluster_state *st, const char *hex);
int cluster_state_key_use(struct cluster_state *st, const char *hex);
int cluster_state_key_remove(struct cluster_state *st, const char *hex);
/* 32 bytes from 64 hex digits.  0 or -EINVAL. */
int cluster_key_from_hex(const char *hex, uint8_t key[32]);
void cluster_key_to_hex(const uint8_t key[32], char hex[CLUSTER_KEY_HEX]);

#endif
