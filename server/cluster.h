/* The node's cluster membership: the persisted cluster state
 * (DATA/cluster/cluster.json), the gossip loop (cluster/swim_loop.h) over
 * the cluster keyring, this node's gossiped record, and a sync thread that
 * republishes the record and pulls members' VM inventories and access
 * configuration.  A node that is in no cluster runs no gossip at all. */
#ifndef CORRAL_CLUSTER_H
#define CORRAL_CLUSTER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "server/cluster_rec.h"

struct app;
struct cluster;
struct swim_stats;

/* A member as listed by the API. */
struct cluster_member {
	char name[CLUSTER_NODE_MAX];
	char api[CLUSTER_HOSTPORT_MAX];    /* "" until its record arrived */
	char gossip[CLUSTER_HOSTPORT_MAX];
	char fp[CLUSTER_FP_LEN];
	int online;                        /* alive or suspect in gossip */
	int local;
	int has_rec;
	struct cluster_rec rec;
};

/* Loads DATA/cluster/cluster.json when present and, if so, starts gossip on
 * app->cfg.gossip_listen.  0 or a negative code with ERR. */
int cluster_new(struct app *app, struct cluster **out, char *err, size_t errlen);
/* Leaves nothing running: stops the sync thread and gossip. */
void cluster_free(struct cluster *c);

/* 1 when this node is in a cluster (NAME gets its name, may be NULL). */
int cluster_is_member(struct cluster *c, char *name, size_t n);

/* Creates a one-node cluster NAME; LINK (may be NULL) is the address other
 * members reach this node's gossip at.  0, CR_EEXISTS when already
 * clustered, or a code with ERR. */
int cluster_create(struct cluster *c, const char *name, const char *link, char *err,
		   size_t errlen);

/* The joining side: what POST /cluster/config/join was given. */
struct cluster_join_req {
	const char *hostname;    /* member API "host" or "host:port" */
	const char *fingerprint; /* its certificate, SHA-256 */
	const char *username;    /* "root@pam" by default */
	const char *password;
	const char *link;        /* this node's gossip address; NULL: derived */
};
/* Logs in to the member, asks it to add this node, installs the keyring,
 * the ticket keys and the member list, then starts gossip.  0 or a code
 * with ERR. */
int cluster_join(struct cluster *c, const struct cluster_join_req *j, char *err, size_t errlen);

/* The member side of a join (POST /cluster/config/nodes/{node}): records
 * node NAME (API address, gossip address, fingerprint) and returns in *OUT
 * what it needs: {"cluster","key","authkey","csrf","nodes":{...}}.
 * 0 or a code with ERR. */
int cluster_add_node(struct cluster *c, const char *name, const char *api, const char *gossip,
		     const char *fp, cJSON **out, char *err, size_t errlen);
/* Removes NAME from the cluster; the local node leaves (gossip stops, the
 * state file goes, it is standalone again).  0, CR_ENOTFOUND. */
int cluster_remove_node(struct cluster *c, const char *name, char *err, size_t errlen);

/* Gossip key rotation on this node (keyring and state file): install a new
 * key (accepted on receive), use it (seals what is sent), remove the old
 * one.  HEX is 64 hex digits.  0, CR_ENOTFOUND (not installed), or
 * CR_EBADREQ (not clustered, the key in use, ring full) with ERR. */
enum cluster_key_op { CLUSTER_KEY_INSTALL, CLUSTER_KEY_USE, CLUSTER_KEY_REMOVE };
int cluster_key_change(struct cluster *c, enum cluster_key_op op, const char *hex, char *err,
		       size_t errlen);

/* Members known to the cluster, this node included, sorted by name.
 * Returns the count written (at most MAX); 0 when standalone. */
size_t cluster_members(struct cluster *c, struct cluster_member *out, size_t max);
/* One member by name: 0 or CR_ENOTFOUND. */
int cluster_member_get(struct cluster *c, const char *name, struct cluster_member *out);
/* Gossip counters (zero when standalone). */
void cluster_stats(struct cluster *c, struct swim_stats *out);

/* --- VM and storage inventory (server/cluster_inv.c) --- */

/* Appends to ROWS the /cluster/resources "vm" rows of every other online
 * member, as last pulled (ROW_OK filters by VMID: privileges).  */
void cluster_remote_vm_rows(struct cluster *c, cJSON *rows, int (*row_ok)(void *, int),
			    void *arg);
/* Appends the /cluster/resources "storage" rows of every other member, as
 * last pulled (ROW_OK filters by storage id: privileges). */
void cluster_remote_storage_rows(struct cluster *c, cJSON *rows,
				 int (*row_ok)(void *, const char *storage), void *arg);
/* 1 when some member other than this node has VMID in its inventory
 * (NODE gets its name, may be NULL). */
int cluster_vmid_elsewhere(struct cluster *c, int vmid, char *node, size_t n);
/* VMIDs present on more than one member: [{"vmid":..,"nodes":[...]}].  New
 * array, caller deletes. */
cJSON *cluster_vmid_conflicts(struct cluster *c);
/* This node's inventory since (EPOCH, SINCE) for a peer:
 * {"epoch","version","full":0|1,"vms":[rows],"gone":[vmids]}. */
cJSON *cluster_inventory_delta(struct cluster *c, uint64_t epoch, uint64_t since);

/* --- access configuration (users, groups, roles, ACLs, tokens) --- */

/* The local access configuration as one JSON object, stamped with its HLC. */
cJSON *cluster_access_export(struct cluster *c);

/* The address other nodes reach this one at: the API listen address when it
 * is a specific one, else the first non-loopback IPv4 address that is up. */
void cluster_node_ip(const struct app *app, char *out, size_t n);

#endif
