/* The compiled access snapshot (see acl.h): users, groups, roles, ACL
 * entries, tokens and resource pools read from the store in one transaction
 * into sorted arrays, so every request's checks are a few string compares. */
#include "server/acl.h"

#include "common/err.h"
#include "common/util.h"
#include "server/auth_int.h"
#include "server/store.h"

#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ug_type { UG_TOKEN, UG_USER, UG_GROUP, UG_COUNT };
static const char *const ug_names[UG_COUNT] = { "token", "user", "group" };

struct snap_user {
	char *id;
	int enable;
	int64_t expire;
};

struct snap_group {
	char *id;
	char **members;
	size_t n;
};

struct snap_role {
	char *id;
	acl_privs privs;
};

struct snap_acl {
	char *path;
	enum ug_type type;
	char *ugid;
	acl_privs privs;
	int noaccess;
	int propagate;
};

struct snap_token {
	char *id; /* user@realm!sub */
	char hash[ACL_TOKEN_HASH_MAX];
	int privsep;
	int64_t expire;
};

struct snap_pool {
	char *id;
	char **storage;
	size_t nstorage;
};

/* One pool member VM; the array is sorted by vmid after loading. */
struct snap_pool_vm {
	int vmid;
	size_t pool; /* index into acl_snap.pools */
};

/* A growable array of fixed-size elements. */
struct vec {
	void *v;
	size_t n, cap;
};

struct acl_snap {
	int64_t gen;
	struct vec users, groups, roles, acls, tokens, paths, pools; /* sorted by id/key */
	struct vec pool_vms;
};

#define AT(vec, type) ((type *)(vec).v)

static void *vec_push(struct vec *vec, size_t elsize)
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 8;
		void *v = realloc(vec->v, cap * elsize);

		if (!v)
			return NULL;
		vec->v = v;
		vec->cap = cap;
	}
	memset((char *)vec->v + vec->n * elsize, 0, elsize);
	return (char *)vec->v + vec->n++ * elsize;
}

static int64_t json_int(const cJSON *o, const char *key, int64_t dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsNumber(v))
		return (int64_t)v->valuedouble;
	if (cJSON_IsString(v) && v->valuestring[0])
		return strtoll(v->valuestring, NULL, 10);
	return dflt;
}

void acl_token_hash(const char *secret, char out[ACL_TOKEN_HASH_MAX])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)secret, strlen(secret), md);
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* --- generation --- */

int64_t acl_read_gen(struct store_txn *t)
{
	char text[32];
	const char *data;
	size_t len;
	int64_t gen = 0;

	/* Read on every request: the raw number text, no JSON tree. */
	if (store_get_raw(t, DB_META, ACL_GEN_KEY, &data, &len) == 0 && len < sizeof(text)) {
		memcpy(text, data, len);
		text[len] = '\0';
		if (util_parse_i64(text, &gen) < 0)
			gen = 0;
	}
	return gen;
}

int acl_touch(struct store_txn *t)
{
	cJSON *v = cJSON_CreateNumber((double)(acl_read_gen(t) + 1));
	int r = v ? store_put(t, DB_META, ACL_GEN_KEY, v) : -ENOMEM;

	cJSON_Delete(v);
	return r;
}

/* --- loading --- */

static int load_user(const char *key, const cJSON *val, void *ctx)
{
	struct snap_user *u = vec_push(&((struct acl_snap *)ctx)->users, sizeof(*u));

	if (!u || !(u->id = strdup(key)))
		return -ENOMEM;
	u->enable = (int)json_int(val, "enable", 1);
	u->expire = json_int(val, "expire", 0);
	return 0;
}

static int load_group(const char *key, const cJSON *val, void *ctx)
{
	struct snap_group *g = vec_push(&((struct acl_snap *)ctx)->groups, sizeof(*g));
	const cJSON *m, *members = cJSON_GetObjectItemCaseSensitive(val, "members");

	if (!g || !(g->id = strdup(key)))
		return -ENOMEM;
	g->members = calloc((size_t)cJSON_GetArraySize(members) + 1, sizeof(char *));
	if (!g->members)
		return -ENOMEM;
	cJSON_ArrayForEach(m, members) {
		if (cJSON_IsString(m) && !(g->members[g->n++] = strdup(m->valuestring)))
			return -ENOMEM;
	}
	return 0;
}

static int load_role(const char *key, const cJSON *val, void *ctx)
{
	struct snap_role *r = vec_push(&((struct acl_snap *)ctx)->roles, sizeof(*r));
	const cJSON *p;

	if (!r || !(r->id = strdup(key)))
		return -ENOMEM;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(val, "privs")) {
		int i = cJSON_IsString(p) ? acl_priv_find(p->valuestring) : -1;

		if (i >= 0)
			r->privs |= (acl_privs)1 << i;
	}
	return 0;
}

static int load_token(const char *key, const cJSON *val, void *ctx)
{
	struct snap_token *t = vec_push(&((struct acl_snap *)ctx)->tokens, sizeof(*t));
	const cJSON *hash = cJSON_GetObjectItemCaseSensitive(val, "hash");

	if (!t || !(t->id = strdup(key)))
		return -ENOMEM;
	if (cJSON_IsString(hash))
		util_strlcpy(t->hash, hash->valuestring, sizeof(t->hash));
	t->privsep = (int)json_int(val, "privsep", 1);
	t->expire = json_int(val, "expire", 0);
	return 0;
}

static int load_pool_vms(struct acl_snap *s, const cJSON *vms)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, vms) {
		struct snap_pool_vm *m;

		if (!cJSON_IsNumber(it))
			continue;
		if (!(m = vec_push(&s->pool_vms, sizeof(*m))))
			return -ENOMEM;
		m->vmid = it->valueint;
		m->pool = s->pools.n - 1;
	}
	return 0;
}

/* poolid -> {"comment":..., "vms":[100,...], "storage":["local",...]} */
static int load_pool(const char *key, const cJSON *val, void *ctx)
{
	struct acl_snap *s = ctx;
	struct snap_pool *p = vec_push(&s->pools, sizeof(*p));
	const cJSON *it, *st = cJSON_GetObjectItemCaseSensitive(val, "storage");

	if (!p || !(p->id = strdup(key)))
		return -ENOMEM;
	p->storage = calloc((size_t)cJSON_GetArraySize(st) + 1, sizeof(char *));
	if (!p->storage)
		return -ENOMEM;
	cJSON_ArrayForEach(it, st) {
		if (cJSON_IsString(it) && !(p->storage[p->nstorage++] = strdup(it->valuestring)))
			return -ENOMEM;
	}
	return load_pool_vms(s, cJSON_GetObjectItemCaseSensitive(val, "vms"));
}

static int cmp_pool_vm(const void *a, const void *b)
{
	const struct snap_pool_vm *x = a, *y = b;

	return (x->vmid > y->vmid) - (x->vmid < y->vmid);
}

static int ug_type_parse(const char *s, size_t len, enum ug_type *out)
{
	for (int i = 0; i < UG_COUNT; i++) {
		if (strlen(ug_names[i]) == len && memcmp(ug_names[i], s, len) == 0) {
			*out = (enum ug_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int add_path(struct acl_snap *s, const char *path)
{
	char **last = s->paths.n ? &AT(s->paths, char *)[s->paths.n - 1] : NULL;
	char **p;

	if (last && strcmp(*last, path) == 0)
		return 0;
	p = vec_push(&s->paths, sizeof(*p));
	return p && (*p = strdup(path)) ? 0 : -ENOMEM;
}

/* "path\ttype\tugid\troleid" -> {"propagate":0|1}.  Entries naming an
 * unknown role are ignored, as Proxmox ignores them when parsing. */
static int load_acl(const char *key, const cJSON *val, void *ctx)
{
	struct acl_snap *s = ctx;
	char path[ACL_PATH_MAX], type[16], ugid[ACL_ID_MAX], role[ACL_ID_MAX];
	struct snap_acl *e;
	enum ug_type ug;
	acl_privs privs;

	if (sscanf(key, "%255[^\t]\t%15[^\t]\t%127[^\t]\t%127[^\t]", path, type, ugid, role) != 4 ||
	    ug_type_parse(type, strlen(type), &ug) < 0 || acl_role_privs(s, role, &privs) < 0)
		return 0;
	e = vec_push(&s->acls, sizeof(*e));
	if (!e || !(e->path = strdup(path)) || !(e->ugid = strdup(ugid)))
		return -ENOMEM;
	e->type = ug;
	e->privs = privs;
	e->noaccess = strcmp(role, "NoAccess") == 0;
	e->propagate = (int)json_int(val, "propagate", 1) != 0;
	return add_path(s, path);
}

int acl_snap_load(struct store_txn *t, struct acl_snap **out)
{
	struct acl_snap *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->gen = acl_read_gen(t);
	r = store_foreach(t, DB_ROLES, "", load_role, s);
	if (r == 0)
		r = store_foreach(t, DB_USERS, "", load_user, s);
	if (r == 0)
		r = store_foreach(t, DB_GROUPS, "", load_group, s);
	if (r == 0)
		r = store_foreach(t, DB_TOKENS, "", load_token, s);
	if (r == 0)
		r = store_foreach(t, DB_ACL, "", load_acl, s);
	if (r == 0)
		r = store_foreach(t, DB_POOLS, "", load_pool, s);
	if (r == 0 && s->pool_vms.n)
		qsort(s->pool_vms.v, s->pool_vms.n, sizeof(struct snap_pool_vm), cmp_pool_vm);
	if (r < 0) {
		acl_snap_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void acl_snap_free(struct acl_snap *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->users.n; i++)
		free(AT(s->users, struct snap_user)[i].id);
	for (size_t i = 0; i < s->groups.n; i++) {
		struct snap_group *g = &AT(s->groups, struct snap_group)[i];

		for (size_t j = 0; j < g->n; j++)
			free(g->members[j]);
		free(g->members);
		free(g->id);
	}
	for (size_t i = 0; i < s->roles.n; i++)
		free(AT(s->roles, struct snap_role)[i].id);
	for (size_t i = 0; i < s->acls.n; i++) {
		free(AT(s->acls, struct snap_acl)[i].path);
		free(AT(s->acls, struct snap_acl)[i].ugid);
	}
	for (size_t i = 0; i < s->tokens.n; i++)
		free(AT(s->tokens, struct snap_token)[i].id);
	for (size_t i = 0; i < s->paths.n; i++)
		free(AT(s->paths, char *)[i]);
	for (size_t i = 0; i < s->pools.n; i++) {
		struct snap_pool *p = &AT(s->pools, struct snap_pool)[i];

		for (size_t j = 0; j < p->nstorage; j++)
			free(p->storage[j]);
		free(p->storage);
		free(p->id);
	}
	free(s->pools.v);
	free(s->pool_vms.v);
	free(s->users.v);
	free(s->groups.v);
	free(s->roles.v);
	free(s->acls.v);
	free(s->tokens.v);
	free(s->paths.v);
	free(s);
}

int64_t acl_snap_gen(const struct acl_snap *s)
{
	return s->gen;
}

/* --- lookups (arrays are in store key order, which is strcmp order) --- */

static int cmp_id(const void *key, const void *el)
{
	return strcmp(key, *(char *const *)el);
}

/* Every element type starts with its char *id. */
static void *find(const struct vec *vec, size_t elsize, const char *id)
{
	return vec->n ? bsearch(id, vec->v, vec->n, elsize, cmp_id) : NULL;
}

int acl_user_exists(const struct acl_snap *s, const char *userid)
{
	return strcmp(userid, "root@pam") == 0 ||
	       find(&s->users, sizeof(struct snap_user), userid) != NULL;
}

int acl_user_active(const struct acl_snap *s, const char *userid, time_t now)
{
	const struct snap_user *u = find(&s->users, sizeof(*u), userid);

	if (!u)
		return strcmp(userid, "root@pam") == 0 ? 0 : CR_EAUTH;
	if (!u->enable || (u->expire && u->expire < now))
		return CR_EAUTH;
	return 0;
}

int acl_token_exists(const struct acl_snap *s, const char *fullid)
{
	return find(&s->tokens, sizeof(struct snap_token), fullid) != NULL;
}

int acl_token_check(const struct acl_snap *s, const char *user, const char *sub,
		    const char *secret, time_t now, int *privsep)
{
	char full[2 * ACL_ID_MAX + 2], hash[ACL_TOKEN_HASH_MAX];
	const struct snap_token *t;

	snprintf(full, sizeof(full), "%s!%s", user, sub);
	t = find(&s->tokens, sizeof(*t), full);
	if (!t || acl_user_active(s, user, now) < 0 || (t->expire && t->expire < now))
		return CR_EAUTH;
	acl_token_hash(secret, hash);
	/* Constant time: the stored hash must not leak through timing. */
	if (!auth_str_equal(hash, t->hash))
		return CR_EAUTH;
	*privsep = t->privsep;
	return 0;
}

int acl_group_exists(const struct acl_snap *s, const char *group)
{
	return find(&s->groups, sizeof(struct snap_group), group) != NULL;
}

static int group_has(const struct snap_group *g, const char *userid)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->members[i], userid) == 0)
			return 1;
	return 0;
}

int acl_group_member(const struct acl_snap *s, const char *group, const char *userid)
{
	const struct snap_group *g = find(&s->groups, sizeof(*g), group);

	return g && group_has(g, userid);
}

size_t acl_group_count(const struct acl_snap *s)
{
	return s->groups.n;
}

const char *acl_group_name(const struct acl_snap *s, size_t i)
{
	return i < s->groups.n ? AT(s->groups, struct snap_group)[i].id : NULL;
}

size_t acl_path_count(const struct acl_snap *s)
{
	return s->paths.n;
}

const char *acl_path_at(const struct acl_snap *s, size_t i)
{
	return i < s->paths.n ? AT(s->paths, char *)[i] : NULL;
}

static const struct snap_pool_vm *find_pool_vm(const struct acl_snap *s, int vmid)
{
	struct snap_pool_vm key = { vmid, 0 };

	return s->pool_vms.n ? bsearch(&key, s->pool_vms.v, s->pool_vms.n, sizeof(key),
				       cmp_pool_vm)
			     : NULL;
}

const char *acl_vm_pool(const struct acl_snap *s, int vmid)
{
	const struct snap_pool_vm *m = find_pool_vm(s, vmid);

	return m ? AT(s->pools, struct snap_pool)[m->pool].id : NULL;
}

size_t acl_pool_count(const struct acl_snap *s)
{
	return s->pools.n;
}

const char *acl_pool_name(const struct acl_snap *s, size_t i)
{
	return i < s->pools.n ? AT(s->pools, struct snap_pool)[i].id : NULL;
}

static int pool_member_paths(const struct snap_pool *p, acl_item_fn fn, void *ctx)
{
	char path[ACL_PATH_MAX];
	int r = 0;

	snprintf(path, sizeof(path), "/pool/%s", p->id);
	r = fn(path, ctx);
	for (size_t j = 0; r == 0 && j < p->nstorage; j++) {
		snprintf(path, sizeof(path), "/storage/%s", p->storage[j]);
		r = fn(path, ctx);
	}
	return r;
}

int acl_pool_paths(const struct acl_snap *s, acl_item_fn fn, void *ctx)
{
	char path[32];
	int r = 0;

	for (size_t i = 0; r == 0 && i < s->pools.n; i++)
		r = pool_member_paths(&AT(s->pools, struct snap_pool)[i], fn, ctx);
	for (size_t i = 0; r == 0 && i < s->pool_vms.n; i++) {
		snprintf(path, sizeof(path), "/vms/%d", AT(s->pool_vms, struct snap_pool_vm)[i].vmid);
		r = fn(path, ctx);
	}
	return r;
}

int acl_role_privs(const struct acl_snap *s, const char *id, acl_privs *out)
{
	const struct snap_role *r;

	if (acl_builtin_role(id, out) == 0)
		return 0;
	r = find(&s->roles, sizeof(*r), id);
	if (!r)
		return CR_ENOTFOUND;
	*out = r->privs;
	return 0;
}

/* --- evaluation (pve-access-control's roles() and permissions()) --- */

struct level {
	acl_privs have, prop;
	int noaccess, found;
};

static int path_applies(const char *acl_path, const char *path, int *final)
{
	size_t len = strlen(acl_path);

	*final = strcmp(acl_path, path) == 0;
	if (*final || strcmp(acl_path, "/") == 0)
		return 1;
	return strncmp(acl_path, path, len) == 0 && path[len] == '/';
}

static int entry_matches(const struct acl_snap *s, const struct snap_acl *e,
			 const char *subject, int is_token)
{
	const struct snap_group *g;

	switch (e->type) {
	case UG_TOKEN:
		return is_token && strcmp(e->ugid, subject) == 0;
	case UG_USER:
		return !is_token && strcmp(e->ugid, subject) == 0;
	case UG_GROUP:
		g = is_token ? NULL : find(&s->groups, sizeof(*g), e->ugid);
		return g && group_has(g, subject);
	case UG_COUNT:
		break;
	}
	return 0;
}

/* Entries [lo, hi) share one path.  The first of token, user, group
 * entries that grant anything here replaces what the levels above gave. */
static void apply_level(const struct acl_snap *s, size_t lo, size_t hi, const char *subject,
			int is_token, int final, struct level *cur)
{
	const struct snap_acl *e = AT(s->acls, struct snap_acl);

	for (int type = 0; type < UG_COUNT; type++) {
		struct level acc = { 0, 0, 0, 0 };

		for (size_t i = lo; i < hi; i++) {
			if ((int)e[i].type != type || !(final || e[i].propagate) ||
			    !entry_matches(s, &e[i], subject, is_token))
				continue;
			acc.found = 1;
			acc.have |= e[i].privs;
			acc.prop |= e[i].propagate ? e[i].privs : 0;
			acc.noaccess |= e[i].noaccess;
		}
		if (acc.found) {
			*cur = acc;
			return;
		}
	}
}

static struct level evaluate_level(const struct acl_snap *s, const char *subject, int is_token,
				   const char *path)
{
	const struct snap_acl *e = AT(s->acls, struct snap_acl);
	struct level cur = { 0, 0, 0, 0 };
	size_t i = 0, j;
	int final;

	while (i < s->acls.n) {
		for (j = i + 1; j < s->acls.n && strcmp(e[j].path, e[i].path) == 0; j++)
			;
		if (path_applies(e[i].path, path, &final))
			apply_level(s, i, j, subject, is_token, final, &cur);
		i = j;
	}
	return cur;
}

/* Adds the roles held on /pool/<pool I> to CUR, not propagated; NoAccess
 * there trumps the object's own roles (but not the object's NoAccess). */
static int merge_pool(const struct acl_snap *s, const char *subject, int is_token, size_t i,
		      struct level *cur)
{
	char path[ACL_PATH_MAX];
	struct level pl;

	snprintf(path, sizeof(path), "/pool/%s", AT(s->pools, struct snap_pool)[i].id);
	pl = evaluate_level(s, subject, is_token, path);
	if (pl.noaccess) {
		*cur = (struct level){ 0, 0, 1, 1 };
		return 1;
	}
	cur->have |= pl.have;
	return 0;
}

static int pool_has_storage(const struct snap_pool *p, const char *storage)
{
	for (size_t i = 0; i < p->nstorage; i++)
		if (strcmp(p->storage[i], storage) == 0)
			return 1;
	return 0;
}

/* /vms/<vmid> of a pool member VM, /storage/<id> of member storages. */
static void add_pool_roles(const struct acl_snap *s, const char *subject, int is_token,
			   const char *path, struct level *cur)
{
	const struct snap_pool_vm *m;
	const char *storage;
	int64_t vmid;

	if (cur->noaccess || !s->pools.n)
		return;
	if (strncmp(path, "/vms/", 5) == 0) {
		if (util_parse_i64(path + 5, &vmid) == 0 && vmid > 0 && vmid <= INT32_MAX &&
		    (m = find_pool_vm(s, (int)vmid)))
			merge_pool(s, subject, is_token, m->pool, cur);
		return;
	}
	if (strncmp(path, "/storage/", 9) != 0 || strchr(path + 9, '/'))
		return;
	storage = path + 9;
	for (size_t i = 0; i < s->pools.n; i++)
		if (pool_has_storage(&AT(s->pools, struct snap_pool)[i], storage) &&
		    merge_pool(s, subject, is_token, i, cur))
			return;
}

static acl_privs evaluate(const struct acl_snap *s, const char *subject, int is_token,
			  const char *path, acl_privs *prop)
{
	struct level cur = evaluate_level(s, subject, is_token, path);

	add_pool_roles(s, subject, is_token, path, &cur);
	if (cur.noaccess)
		cur.have = cur.prop = 0;
	*prop = cur.prop;
	return cur.have;
}

acl_privs acl_permissions(const struct acl_snap *s, const char *authid, const char *path,
			  acl_privs *prop)
{
	char user[ACL_ID_MAX], sub[ACL_ID_MAX];
	const struct snap_token *t;
	acl_privs dummy, uprop, uhave, tprop, thave;

	if (!prop)
		prop = &dummy;
	if (strcmp(authid, "root@pam") == 0) {
		*prop = acl_privs_all();
		return acl_privs_all();
	}
	if (!strchr(authid, '!'))
		return evaluate(s, authid, 0, path, prop);
	t = find(&s->tokens, sizeof(*t), authid);
	*prop = 0;
	if (!t || acl_split_tokenid(authid, user, sub) < 0)
		return 0;
	uhave = acl_permissions(s, user, path, &uprop);
	if (!t->privsep) {
		*prop = uprop;
		return uhave;
	}
	thave = evaluate(s, authid, 1, path, &tprop);
	*prop = tprop & uprop;
	return thave & uhave;
}
