/* The configuration store: one LMDB environment with a named database per
 * kind of object, JSON documents as values, every change one transaction. */
#ifndef CORRAL_STORE_H
#define CORRAL_STORE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define STORE_SCHEMA_VERSION 1

enum store_db {
	DB_META,    /* schema version, node keys, counters, "access-gen" (acl.h) */
	DB_USERS,   /* "user@realm" -> {enable, expire, firstname, ..., hash} */
	DB_GROUPS,  /* groupid -> {comment, members[]} */
	DB_ROLES,   /* roleid -> {privs[]}; built-in roles are not stored */
	DB_ACL,     /* "path\ttype\tugid\troleid" -> {propagate} (see acl.h) */
	DB_TOKENS,  /* "user@realm!tokenid" -> {hash, privsep, expire, comment} */
	DB_TASKS,   /* UPID -> {status, exitstatus, endtime} */
	DB_VMS,     /* vmid -> VM configuration */
	DB_STORAGE, /* storage id -> definition */
	DB_POOLS,   /* poolid -> {comment, vms[], storage[]} (resource pools, acl.h) */
	DB_COUNT
};

struct store;
struct store_txn;

/* Opens (creating when missing) the environment in DIR.  Returns 0 or a
 * negative code with detail in ERR.  Close with store_close(). */
int store_open(const char *dir, struct store **out, char *err, size_t errlen);
/* The same with STORE_* flags.  STORE_NOSYNC commits without waiting for the
 * disk (LMDB's MDB_NOSYNC): a daemon crash loses nothing, an OS crash may
 * lose or damage the latest commits, so only data that can be rebuilt or
 * lost (the task index) lives in such an environment; store_sync() flushes. */
#define STORE_NOSYNC 1u
int store_open_flags(const char *dir, unsigned flags, struct store **out, char *err,
		     size_t errlen);
int store_sync(struct store *s);
void store_close(struct store *s);

/* A transaction belongs to one thread at a time; read-only ones never block
 * writers.  Commit or abort exactly once; both free the handle. */
int store_begin(struct store *s, int read_only, struct store_txn **out);
int store_commit(struct store_txn *t);
void store_abort(struct store_txn *t);

/* *OUT is a new cJSON tree owned by the caller.  CR_ENOTFOUND when absent. */
int store_get(struct store_txn *t, enum store_db db, const char *key, cJSON **out);
/* Raw bytes of the stored JSON text, valid until the transaction ends. */
int store_get_raw(struct store_txn *t, enum store_db db, const char *key, const char **data,
		  size_t *len);
int store_put(struct store_txn *t, enum store_db db, const char *key, const cJSON *val);
/* Fails with CR_EEXISTS when KEY is present. */
int store_add(struct store_txn *t, enum store_db db, const char *key, const cJSON *val);
/* CR_ENOTFOUND when absent. */
int store_del(struct store_txn *t, enum store_db db, const char *key);

/* Calls FN for every key starting with PREFIX ("" = all) in key order.  VAL
 * is valid only during the call.  A non-zero return from FN stops the walk
 * and is returned. */
typedef int (*store_each_fn)(const char *key, const cJSON *val, void *ctx);
int store_foreach(struct store_txn *t, enum store_db db, const char *prefix, store_each_fn fn,
		  void *ctx);

/* The same walk over the stored bytes, unparsed: DATA (LEN bytes, not
 * NUL-terminated) is valid only during the call. */
typedef int (*store_each_raw_fn)(const char *key, const char *data, size_t len, void *ctx);
int store_foreach_raw(struct store_txn *t, enum store_db db, const char *prefix,
		      store_each_raw_fn fn, void *ctx);

/* SHA-1 hex of the stored bytes of KEY (Proxmox's config digest); 41 bytes. */
int store_digest(struct store_txn *t, enum store_db db, const char *key, char out[41]);

/* One-shot helpers: each runs in its own transaction. */
int store_get1(struct store *s, enum store_db db, const char *key, cJSON **out);
int store_put1(struct store *s, enum store_db db, const char *key, const cJSON *val);

#endif
