/* Private to server/cluster*.c: the struct cluster and the pieces its files
 * share. */
#ifndef CORRAL_CLUSTER_INT_H
#define CORRAL_CLUSTER_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "server/cluster.h"

struct keyring;
struct swim_loop;
struct inv;
struct app;

/* Members whose inventories are cached (a cluster may be larger; the rest
 * are not shown in /cluster/resources). */
#define CLUSTER_INV_NODES 256

struct inv_node {
	char name[CLUSTER_NODE_MAX];
	uint64_t epoch, version;
	struct inv *inv;
};

struct cluster {
	struct app *app;
	pthread_mutex_t lock;         /* everything below but loop internals */
	struct cluster_state *state;  /* NULL: standalone */
	char self_gossip[CLUSTER_HOSTPORT_MAX];
	struct keyring *kr;
	struct swim_loop *loop;
	pthread_t sync;
	int sync_running;
	int stopping;
	pthread_cond_t wake;
	uint64_t started_ms;
	uint64_t hlc;                  /* access configuration clock */
	uint64_t acc_hlc;              /* stamp of the local access config */
	uint64_t acc_gen;              /* store "access-gen" last seen */
	int acc_ready;                 /* acc_gen and acc_hlc loaded */
	struct inv *local;             /* this node's inventory */
	uint64_t inv_epoch;
	struct inv_node remote[CLUSTER_INV_NODES];
	size_t n_remote;
	uint64_t rec_published_ms;
	char rec_last[1024];
};

/* cluster.c */
int cluster_state_save(struct cluster *c);
/* The API address members reach this node at ("host:port"). */
void cluster_local_api(const struct app *app, char *out, size_t n);
/* This node's state entry with LINK (may be NULL) as gossip address. */
int cluster_self_node(struct cluster *c, const char *link, struct cluster_state_node *n);
/* Installs ST (owned from now on) and starts gossip; lock held. */
int cluster_adopt_state(struct cluster *c, struct cluster_state *st, char *err, size_t errlen);
/* Push/pull with known members gossip has no entry for; lock held. */
void cluster_gossip_rejoin(struct cluster *c);
/* 1 when NAME was removed from the cluster on this node (the state file's
 * "removed" list) and its record REC (may be NULL) does not show it joined
 * again since (when it does, the removal is forgotten); lock held. */
int cluster_was_removed(struct cluster *c, const char *name, const struct cluster_rec *rec);
/* Starts gossip for c->state (lock held).  0 or a code with ERR. */
int cluster_gossip_start(struct cluster *c, char *err, size_t errlen);
void cluster_gossip_stop(struct cluster *c);
uint64_t cluster_now_ms(void);

/* cluster_sync.c */
int cluster_sync_start(struct cluster *c);
void cluster_sync_stop(struct cluster *c);
void cluster_sync_kick(struct cluster *c);

/* cluster_inv.c: an inventory of /cluster/resources rows ("qemu" and
 * "storage") keyed by their id, each row versioned. */
struct inv *inv_new(void);
void inv_free(struct inv *v);
/* Replaces the content by ROWS ("qemu" and "storage" rows of
 * /cluster/resources), bumping the version of each changed, added or removed
 * row.  Returns the inventory version after the update. */
uint64_t inv_update_local(struct inv *v, const cJSON *rows);
uint64_t inv_version(const struct inv *v);
/* VM rows only. */
size_t inv_count(const struct inv *v);
/* Delta since SINCE (all rows when FULL). */
cJSON *inv_delta(const struct inv *v, uint64_t since, int full);
/* Applies a delta received from a peer.  0 or -EBADMSG. */
int inv_apply(struct inv *v, const cJSON *delta);
/* Calls FN for each row (VMID 0 for a storage row). */
void inv_each(const struct inv *v, void (*fn)(void *, int vmid, const cJSON *row), void *arg);
int inv_has(const struct inv *v, int vmid);

/* Pulls member NODE's inventory (peer API) when its record says it changed. */
void cluster_inv_pull(struct cluster *c, const char *node, const struct cluster_rec *rec);
/* Rebuilds this node's inventory from the local VMs and storages. */
void cluster_inv_refresh_local(struct cluster *c);

/* cluster_access.c */
void cluster_access_poll(struct cluster *c);
void cluster_access_pull(struct cluster *c, const char *node, const struct cluster_rec *rec);
/* Stamps the local access configuration now (a new cluster adopts it). */
void cluster_access_stamp(struct cluster *c);

#endif
