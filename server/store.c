/* LMDB-backed configuration store (see store.h).  Values are compact JSON
 * text; the environment is opened with MDB_NOTLS so a transaction may move
 * between the threads of the HTTP and task pools. */
#include "server/store.h"

#include "common/err.h"
#include "common/util.h"

#include <errno.h>
#include <lmdb.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 GiB of address space; the file only grows as data is written. */
#define STORE_MAP_SIZE (1ULL << 30)

static const char *const db_names[DB_COUNT] = {
	[DB_META] = "meta",     [DB_USERS] = "users", [DB_GROUPS] = "groups",
	[DB_ROLES] = "roles",   [DB_ACL] = "acl",     [DB_TOKENS] = "tokens",
	[DB_TASKS] = "tasks",   [DB_VMS] = "vms",     [DB_STORAGE] = "storage",
	/* Added after the first release: open_dbs creates it in older stores. */
	[DB_POOLS] = "pools",
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
};

struct store_txn {
	struct store *s;
	MDB_txn *txn;
};

static int mdb_code(int rc)
{
	if (rc == 0)
		return 0;
	if (rc == MDB_NOTFOUND)
		return CR_ENOTFOUND;
	if (rc == MDB_KEYEXIST)
		return CR_EEXISTS;
	if (rc > 0 && rc < 4096)
		return -rc;
	return CR_ESTORE;
}

static int open_dbs(struct store *s, char *err, size_t errlen)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);

	for (int i = 0; rc == 0 && i < DB_COUNT; i++)
		rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &s->dbi[i]);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (rc)
		snprintf(err, errlen, "cannot open databases: %s", mdb_strerror(rc));
	return mdb_code(rc);
}

static int check_schema(struct store *s, char *err, size_t errlen)
{
	cJSON *v = NULL;
	int r = store_get1(s, DB_META, "schema", &v);

	if (r == CR_ENOTFOUND) {
		cJSON *ver = cJSON_CreateNumber(STORE_SCHEMA_VERSION);
		r = ver ? store_put1(s, DB_META, "schema", ver) : -ENOMEM;
		cJSON_Delete(ver);
		return r;
	}
	if (r == 0 && (!cJSON_IsNumber(v) || v->valueint > STORE_SCHEMA_VERSION)) {
		snprintf(err, errlen, "store schema %d is newer than this corrald (%d)",
			 cJSON_IsNumber(v) ? v->valueint : -1, STORE_SCHEMA_VERSION);
		r = CR_ESTORE;
	}
	cJSON_Delete(v);
	return r;
}

int store_open(const char *dir, struct store **out, char *err, size_t errlen)
{
	return store_open_flags(dir, 0, out, err, errlen);
}

int store_sync(struct store *s)
{
	return mdb_code(mdb_env_sync(s->env, 1));
}

int store_open_flags(const char *dir, unsigned flags, struct store **out, char *err,
		     size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	int rc, r;

	if (!s)
		return -ENOMEM;
	r = util_mkdir_p(dir, 0700);
	if (r < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir, err_str(r));
		goto out_free;
	}
	rc = mdb_env_create(&s->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(s->env, DB_COUNT);
	if (rc == 0)
		rc = mdb_env_set_mapsize(s->env, STORE_MAP_SIZE);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(s->env, 256);
	if (rc == 0)
		rc = mdb_env_open(s->env, dir,
				  MDB_NOTLS | (flags & STORE_NOSYNC ? MDB_NOSYNC : 0), 0600);
	if (rc) {
		snprintf(err, errlen, "cannot open store %s: %s", dir, mdb_strerror(rc));
		r = mdb_code(rc);
		goto out_env;
	}
	r = open_dbs(s, err, errlen);
	if (r == 0)
		r = check_schema(s, err, errlen);
	if (r < 0)
		goto out_env;
	*out = s;
	return 0;
out_env:
	if (s->env)
		mdb_env_close(s->env);
out_free:
	free(s);
	return r;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	mdb_env_close(s->env);
	free(s);
}

int store_begin(struct store *s, int read_only, struct store_txn **out)
{
	struct store_txn *t = malloc(sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	rc = mdb_txn_begin(s->env, NULL, read_only ? MDB_RDONLY : 0, &t->txn);
	if (rc) {
		free(t);
		return mdb_code(rc);
	}
	t->s = s;
	*out = t;
	return 0;
}

int store_commit(struct store_txn *t)
{
	int rc = mdb_txn_commit(t->txn);

	free(t);
	return mdb_code(rc);
}

void store_abort(struct store_txn *t)
{
	mdb_txn_abort(t->txn);
	free(t);
}

int store_get_raw(struct store_txn *t, enum store_db db, const char *key, const char **data,
		  size_t *len)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc;

	if (k.mv_size == 0 || k.mv_size > 511)
		return CR_ENOTFOUND;
	rc = mdb_get(t->txn, t->s->dbi[db], &k, &v);
	if (rc)
		return mdb_code(rc);
	*data = v.mv_data;
	*len = v.mv_size;
	return 0;
}

int store_get(struct store_txn *t, enum store_db db, const char *key, cJSON **out)
{
	const char *data;
	size_t len;
	int r = store_get_raw(t, db, key, &data, &len);

	if (r < 0)
		return r;
	*out = cJSON_ParseWithLength(data, len);
	return *out ? 0 : CR_ESTORE;
}

static int put_flags(struct store_txn *t, enum store_db db, const char *key, const cJSON *val,
		     unsigned flags)
{
	char *text = cJSON_PrintUnformatted(val);
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc;

	if (!text)
		return -ENOMEM;
	if (k.mv_size == 0 || k.mv_size > 511) {
		free(text);
		return -EINVAL;
	}
	v.mv_size = strlen(text);
	v.mv_data = text;
	rc = mdb_put(t->txn, t->s->dbi[db], &k, &v, flags);
	free(text);
	return mdb_code(rc);
}

int store_put(struct store_txn *t, enum store_db db, const char *key, const cJSON *val)
{
	return put_flags(t, db, key, val, 0);
}

int store_add(struct store_txn *t, enum store_db db, const char *key, const cJSON *val)
{
	return put_flags(t, db, key, val, MDB_NOOVERWRITE);
}

int store_del(struct store_txn *t, enum store_db db, const char *key)
{
	MDB_val k = { strlen(key), (void *)key };

	if (k.mv_size == 0 || k.mv_size > 511)
		return CR_ENOTFOUND;
	return mdb_code(mdb_del(t->txn, t->s->dbi[db], &k, NULL));
}

static int visit(const MDB_val *k, const MDB_val *v, store_each_raw_fn fn, void *ctx)
{
	char key[512];

	if (k->mv_size >= sizeof(key))
		return 0;
	memcpy(key, k->mv_data, k->mv_size);
	key[k->mv_size] = '\0';
	return fn(key, v->mv_data, v->mv_size, ctx);
}

int store_foreach_raw(struct store_txn *t, enum store_db db, const char *prefix,
		      store_each_raw_fn fn, void *ctx)
{
	size_t plen = strlen(prefix);
	MDB_val k = { plen, (void *)prefix }, v;
	MDB_cursor *c;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c), r = 0;

	if (rc)
		return mdb_code(rc);
	rc = mdb_cursor_get(c, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0 && r == 0) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		r = visit(&k, &v, fn, ctx);
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (r)
		return r;
	return rc == MDB_NOTFOUND ? 0 : mdb_code(rc);
}

struct parsed_walk {
	store_each_fn fn;
	void *ctx;
};

static int visit_parsed(const char *key, const char *data, size_t len, void *ctx)
{
	struct parsed_walk *w = ctx;
	cJSON *val = cJSON_ParseWithLength(data, len);
	int r;

	if (!val)
		return CR_ESTORE;
	r = w->fn(key, val, w->ctx);
	cJSON_Delete(val);
	return r;
}

int store_foreach(struct store_txn *t, enum store_db db, const char *prefix, store_each_fn fn,
		  void *ctx)
{
	struct parsed_walk w = { fn, ctx };

	return store_foreach_raw(t, db, prefix, visit_parsed, &w);
}

int store_digest(struct store_txn *t, enum store_db db, const char *key, char out[41])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	const char *data;
	size_t len;
	int r = store_get_raw(t, db, key, &data, &len);

	if (r < 0)
		return r;
	SHA1((const unsigned char *)data, len, md);
	for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int store_get1(struct store *s, enum store_db db, const char *key, cJSON **out)
{
	struct store_txn *t;
	int r = store_begin(s, 1, &t);

	if (r < 0)
		return r;
	r = store_get(t, db, key, out);
	store_abort(t);
	return r;
}

int store_put1(struct store *s, enum store_db db, const char *key, const cJSON *val)
{
	struct store_txn *t;
	int r = store_begin(s, 0, &t);

	if (r < 0)
		return r;
	r = store_put(t, db, key, val);
	if (r < 0) {
		store_abort(t);
		return r;
	}
	return store_commit(t);
}
