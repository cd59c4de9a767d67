/* /pools: resource pools (pve-manager API2/Pool.pm, PVE 8.1 with poolid as
 * a parameter and the older /pools/{poolid}), and the pool side of VM
 * create, clone and destroy (AccessControl's add_vm_to_pool and
 * remove_vm_access).  Pools are access data: DB_POOLS, changed under
 * acl_touch() and synchronized across the cluster with users and ACLs. */
#include "common/err.h"
#include "common/util.h"
#include "server/acl.h"
#include "server/api.h"
#include "server/app.h"
#include "server/auth_int.h"
#include "server/cluster.h"
#include "server/params.h"
#include "server/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P_END { NULL, PT_STRING, 0, 0, 0, NULL, NULL, 0 }
#define P_POOLID { "poolid", PT_STRING, 0, 0, 0, NULL, param_check_pve_poolid, 0 }
#define P_TYPE { "type", PT_ENUM, PF_OPTIONAL, 0, 0, "qemu|lxc|storage", NULL, 0 }
#define P_COMMENT { "comment", PT_STRING, PF_OPTIONAL, 0, 4096, NULL, param_check_safe_string, 0 }

const struct param_spec api_pools_list_params[] = {
	{ "poolid", PT_STRING, PF_OPTIONAL, 0, 0, NULL, param_check_pve_poolid, 0 },
	P_TYPE,
	P_END,
};

const struct param_spec api_pools_get_params[] = {
	P_POOLID,
	P_TYPE,
	P_END,
};

const struct param_spec api_pools_create_params[] = {
	P_POOLID,
	P_COMMENT,
	P_END,
};

const struct param_spec api_pools_update_params[] = {
	P_POOLID,
	P_COMMENT,
	{ "vms", PT_STRING, PF_OPTIONAL, 0, 0, NULL, param_check_pve_vmid_list, 0 },
	{ "storage", PT_STRING, PF_OPTIONAL, 0, 0, NULL, param_check_pve_storage_id_list, 0 },
	{ "delete", PT_BOOLEAN, PF_OPTIONAL, 0, 0, NULL, NULL, 0 },
	{ "allow-move", PT_BOOLEAN, PF_OPTIONAL, 0, 0, NULL, NULL, 0 },
	{ "transfer", PT_BOOLEAN, PF_OPTIONAL, 0, 0, NULL, NULL, 0 }, /* before PVE 8.1 */
	P_END,
};

const struct param_spec api_pools_delete_params[] = {
	P_POOLID,
	P_END,
};

/* --- permissions --- */

/* The poolid parameter: the router cannot check /pool/{poolid} before the
 * parameter is validated, so the handlers do (as for VM create). */
static int pool_require(const struct req *req, struct resp *resp, const char *privs)
{
	char path[ACL_PATH_MAX];

	snprintf(path, sizeof(path), "/pool/%s", req_str(req, "poolid"));
	return access_require(req, resp, path, privs);
}

/* RPCEnvironment::check_perm_modify: Permissions.Modify or the object's
 * allocation privilege. */
static int check_perm_modify(const struct req *req, struct resp *resp, const char *path)
{
	const char *privs = strncmp(path, "/vms/", 5) == 0	   ? "Permissions.Modify|VM.Allocate"
			    : strncmp(path, "/storage/", 9) == 0 ? "Permissions.Modify|Datastore.Allocate"
								   : "Permissions.Modify|Pool.Allocate";

	return access_require(req, resp, path, privs);
}

/* --- the stored document --- */

static int pool_get(struct store_txn *t, const char *id, cJSON **doc)
{
	int r = store_get(t, DB_POOLS, id, doc);

	if (r == 0 && (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(*doc, "vms")) ||
		       !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(*doc, "storage")))) {
		cJSON_Delete(*doc);
		r = CR_ESTORE;
	}
	return r;
}

static int missing(struct resp *resp, int r, const char *what, const char *id)
{
	if (r == CR_ENOTFOUND)
		return resp_error(resp, CR_EINTERNAL, "%s%spool '%s' does not exist", what,
				  what[0] ? ": " : "", id);
	return access_store_error(resp, r, "reading the pool");
}

static int find_vm(const cJSON *vms, int vmid)
{
	const cJSON *it;
	int i = 0;

	cJSON_ArrayForEach(it, vms) {
		if (cJSON_IsNumber(it) && it->valueint == vmid)
			return i;
		i++;
	}
	return -1;
}

static int find_storage(const cJSON *list, const char *id)
{
	const cJSON *it;
	int i = 0;

	cJSON_ArrayForEach(it, list) {
		if (cJSON_IsString(it) && strcmp(it->valuestring, id) == 0)
			return i;
		i++;
	}
	return -1;
}

struct vm_owner {
	int vmid;
	char pool[ACL_ID_MAX];
};

static int owner_match(const char *key, const cJSON *val, void *ctx)
{
	struct vm_owner *o = ctx;

	if (find_vm(cJSON_GetObjectItemCaseSensitive(val, "vms"), o->vmid) < 0)
		return 0;
	util_strlcpy(o->pool, key, sizeof(o->pool));
	return 1;
}

/* The pool VMID belongs to into OWNER ("" for none). */
static int vm_owner(struct store_txn *t, int vmid, char owner[ACL_ID_MAX])
{
	struct vm_owner o = { vmid, "" };
	int r = store_foreach(t, DB_POOLS, "", owner_match, &o);

	util_strlcpy(owner, o.pool, ACL_ID_MAX);
	return r < 0 ? r : 0;
}

/* Removes VMID from pool ID (no-op when it is not there). */
static int pool_drop_vm(struct store_txn *t, const char *id, int vmid)
{
	cJSON *doc;
	int r = pool_get(t, id, &doc), i;

	if (r < 0)
		return r == CR_ENOTFOUND ? 0 : r;
	i = find_vm(cJSON_GetObjectItemCaseSensitive(doc, "vms"), vmid);
	if (i >= 0) {
		cJSON_DeleteItemFromArray(cJSON_GetObjectItemCaseSensitive(doc, "vms"), i);
		r = store_put(t, DB_POOLS, id, doc);
	}
	cJSON_Delete(doc);
	return r;
}

/* --- GET /pools, GET /pools/{poolid} --- */

static int row_vmid(const cJSON *row)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, "vmid");

	return cJSON_IsNumber(v) ? v->valueint : 0;
}

static const char *row_str(const cJSON *row, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, key));
}

/* The member row of STORAGE already kept, or NULL. */
static cJSON *storage_member(const cJSON *members, const char *storage)
{
	cJSON *it;

	cJSON_ArrayForEach(it, members) {
		if (row_str(it, "storage") && strcmp(row_str(it, "storage"), storage) == 0)
			return it;
	}
	return NULL;
}

/* Keeps ROW (owned) in MEMBERS when it is one of the pool's objects; one
 * row per storage, this node's when it has one, else the first met. */
static void keep_member(cJSON *members, cJSON *row, const cJSON *doc, const char *node)
{
	const char *storage = row_str(row, "storage"), *rnode = row_str(row, "node");
	cJSON *had = storage ? storage_member(members, storage) : NULL;
	int local = rnode && strcmp(rnode, node) == 0;

	int member = storage ? find_storage(cJSON_GetObjectItemCaseSensitive(doc, "storage"),
					    storage) >= 0
			     : row_vmid(row) && find_vm(cJSON_GetObjectItemCaseSensitive(doc, "vms"),
							row_vmid(row)) >= 0;

	if (member && had) {
		if (!local || !cJSON_ReplaceItemViaPointer(members, had, row))
			cJSON_Delete(row);
	} else if (member) {
		cJSON_AddItemToArray(members, row);
	} else {
		cJSON_Delete(row);
	}
}

static int add_members(const struct req *req, cJSON *members, const cJSON *doc,
		       const char *type)
{
	cJSON *rows = cJSON_CreateArray(), *it;
	int r = rows ? 0 : -ENOMEM;

	if (r == 0 && (!type || strcmp(type, "qemu") == 0))
		r = api_cluster_rows(req, "vm", rows);
	if (r == 0 && (!type || strcmp(type, "storage") == 0))
		r = api_cluster_rows(req, "storage", rows);
	while (r == 0 && (it = cJSON_DetachItemFromArray(rows, 0))) {
		cJSON *row = cJSON_IsRaw(it) ? cJSON_Parse(it->valuestring) : cJSON_Duplicate(it, 1);

		cJSON_Delete(it);
		if (row)
			keep_member(members, row, doc, req->app->cfg.node);
	}
	cJSON_Delete(rows);
	return r;
}

/* {poolid?, comment?, members?} of pool ID. */
static cJSON *pool_json(const struct req *req, const char *id, const cJSON *doc, int with_id,
			int with_members)
{
	const cJSON *comment = cJSON_GetObjectItemCaseSensitive(doc, "comment");
	cJSON *o = cJSON_CreateObject(), *members;

	if (!o || (with_id && !cJSON_AddStringToObject(o, "poolid", id)) ||
	    (cJSON_IsString(comment) && !cJSON_AddStringToObject(o, "comment", comment->valuestring)))
		goto fail;
	if (!with_members)
		return o;
	members = cJSON_AddArrayToObject(o, "members");
	if (members && add_members(req, members, doc, req_str(req, "type")) == 0)
		return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

struct pool_list {
	const struct req *req;
	cJSON *list;
};

static int list_row(const char *key, const cJSON *val, void *ctx)
{
	struct pool_list *pl = ctx;
	char path[ACL_PATH_MAX];
	cJSON *row;

	snprintf(path, sizeof(path), "/pool/%s", key);
	if (!api_can(pl->req, path, "Pool.Audit"))
		return 0;
	row = pool_json(pl->req, key, val, 1, 0);
	return row && cJSON_AddItemToArray(pl->list, row) ? 0 : -ENOMEM;
}

/* ?poolid=X: that pool with its members, when the caller may audit it. */
static int list_one(struct req *req, struct resp *resp, const char *id)
{
	cJSON *doc, *row;
	int r = store_get1(req->app->store, DB_POOLS, id, &doc);
	char path[ACL_PATH_MAX];

	if (r < 0)
		return missing(resp, r, "", id);
	snprintf(path, sizeof(path), "/pool/%s", id);
	resp->data = cJSON_CreateArray();
	row = api_can(req, path, "Pool.Audit") ? pool_json(req, id, doc, 1, 1) : NULL;
	if (row)
		cJSON_AddItemToArray(resp->data, row);
	cJSON_Delete(doc);
	return 0;
}

int api_pools_list(struct req *req, struct resp *resp)
{
	struct pool_list pl = { req, cJSON_CreateArray() };
	struct store_txn *t;
	int r;

	if (req_str(req, "poolid")) {
		cJSON_Delete(pl.list);
		return list_one(req, resp, req_str(req, "poolid"));
	}
	r = pl.list ? store_begin(req->app->store, 1, &t) : -ENOMEM;
	if (r == 0) {
		r = store_foreach(t, DB_POOLS, "", list_row, &pl);
		store_abort(t);
	}
	if (r < 0) {
		cJSON_Delete(pl.list);
		return access_store_error(resp, r, "reading pools");
	}
	resp->data = pl.list;
	return 0;
}

int api_pools_get(struct req *req, struct resp *resp)
{
	const char *id = req_str(req, "poolid");
	cJSON *doc;
	int r = pool_require(req, resp, "Pool.Audit");

	if (r < 0)
		return r;
	if ((r = store_get1(req->app->store, DB_POOLS, id, &doc)) < 0)
		return missing(resp, r, "", id);
	resp->data = pool_json(req, id, doc, 0, 1);
	cJSON_Delete(doc);
	return resp->data ? 0 : resp_error(resp, -ENOMEM, "out of memory");
}

/* --- POST /pools --- */

static int pool_create(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	const char *id = req_str(req, "poolid");
	cJSON *doc = cJSON_Parse("{\"vms\":[],\"storage\":[]}");
	int r = doc ? 0 : -ENOMEM;

	(void)ctx;
	if (r == 0)
		r = access_set_comment(doc, req_str(req, "comment"));
	if (r == 0)
		r = store_add(t, DB_POOLS, id, doc);
	cJSON_Delete(doc);
	if (r == CR_EEXISTS)
		return resp_error(resp, r, "create pool failed: pool '%s' already exists", id);
	return r < 0 ? access_store_error(resp, r, "create pool") : 0;
}

int api_pools_create(struct req *req, struct resp *resp)
{
	int r = pool_require(req, resp, "Pool.Allocate");

	return r < 0 ? r : access_change(req, resp, pool_create, NULL);
}

/* --- PUT /pools --- */

struct update {
	struct req *req;
	struct resp *resp;
	struct store_txn *t;
	cJSON *doc;
	const char *id;
	int del, move;
};

/* Takes VMID out of the pool OWNER before it joins this one (allow-move). */
static int move_from(struct update *u, int vmid, const char *owner)
{
	char path[ACL_PATH_MAX];
	int r;

	if (!u->move)
		return resp_error(u->resp, CR_EINTERNAL,
				  "update pools failed: VM %d belongs already to pool '%s' and "
				  "allow-move is not set", vmid, owner);
	snprintf(path, sizeof(path), "/pool/%s", owner);
	if ((r = check_perm_modify(u->req, u->resp, path)) < 0)
		return r;
	r = pool_drop_vm(u->t, owner, vmid);
	return r < 0 ? access_store_error(u->resp, r, "update pools") : 0;
}

static int update_vm(const char *item, void *ctx)
{
	struct update *u = ctx;
	cJSON *vms = cJSON_GetObjectItemCaseSensitive(u->doc, "vms");
	char path[ACL_PATH_MAX], owner[ACL_ID_MAX];
	int vmid = atoi(item), i = find_vm(vms, vmid), r;

	snprintf(path, sizeof(path), "/vms/%d", vmid);
	if ((r = check_perm_modify(u->req, u->resp, path)) < 0)
		return r;
	if (u->del) {
		if (i < 0)
			return resp_error(u->resp, CR_EINTERNAL,
					  "update pools failed: VM %d is not a pool member", vmid);
		cJSON_DeleteItemFromArray(vms, i);
		return 0;
	}
	if (i >= 0)
		return resp_error(u->resp, CR_EINTERNAL,
				  "update pools failed: VM %d is already a pool member", vmid);
	if ((r = vm_owner(u->t, vmid, owner)) < 0)
		return access_store_error(u->resp, r, "update pools");
	if (owner[0] && (r = move_from(u, vmid, owner)) < 0)
		return r;
	return cJSON_AddItemToArray(vms, cJSON_CreateNumber(vmid)) ? 0 : -ENOMEM;
}

static int update_storage(const char *item, void *ctx)
{
	struct update *u = ctx;
	cJSON *list = cJSON_GetObjectItemCaseSensitive(u->doc, "storage");
	char path[ACL_PATH_MAX];
	int i = find_storage(list, item), r;

	snprintf(path, sizeof(path), "/storage/%s", item);
	if ((r = check_perm_modify(u->req, u->resp, path)) < 0)
		return r;
	if (u->del != (i >= 0))
		return resp_error(u->resp, CR_EINTERNAL,
				  "update pools failed: Storage '%s' is %s a pool member", item,
				  u->del ? "not" : "already");
	if (u->del)
		cJSON_DeleteItemFromArray(list, i);
	else if (!cJSON_AddItemToArray(list, cJSON_CreateString(item)))
		return -ENOMEM;
	return 0;
}

static int pool_update(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	struct update u = { req, resp, t, NULL, req_str(req, "poolid"), req_bool(req, "delete", 0),
			    req_bool(req, "allow-move", 0) || req_bool(req, "transfer", 0) };
	int r = pool_get(t, u.id, &u.doc);

	(void)ctx;
	if (r < 0)
		return missing(resp, r, "update pools failed", u.id);
	r = access_set_comment(u.doc, req_str(req, "comment"));
	if (r == 0 && req_str(req, "vms"))
		r = acl_split_list(req_str(req, "vms"), update_vm, &u);
	if (r == 0 && req_str(req, "storage"))
		r = acl_split_list(req_str(req, "storage"), update_storage, &u);
	if (r == 0 && (r = store_put(t, DB_POOLS, u.id, u.doc)) < 0)
		access_store_error(resp, r, "update pools");
	cJSON_Delete(u.doc);
	return r == -ENOMEM ? resp_error(resp, r, "out of memory") : r;
}

int api_pools_update(struct req *req, struct resp *resp)
{
	int r = pool_require(req, resp, "Pool.Allocate");

	return r < 0 ? r : access_change(req, resp, pool_update, NULL);
}

/* --- DELETE /pools --- */

/* A destroyed guest does not keep its pool from being deleted. */
static int vm_exists(const struct req *req, struct store_txn *t, int vmid)
{
	char key[16], where[64];
	const char *data;
	size_t len;

	snprintf(key, sizeof(key), "%d", vmid);
	if (store_get_raw(t, DB_VMS, key, &data, &len) == 0)
		return 1;
	return req->app->cluster &&
	       cluster_vmid_elsewhere(req->app->cluster, vmid, where, sizeof(where));
}

static int check_empty(struct req *req, struct resp *resp, struct store_txn *t, const cJSON *doc)
{
	const char *id = req_str(req, "poolid"), *data;
	const cJSON *it;
	size_t len;

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "vms")) {
		if (cJSON_IsNumber(it) && vm_exists(req, t, it->valueint))
			return resp_error(resp, CR_EINTERNAL,
					  "delete pool failed: pool '%s' is not empty (contains VM %d)",
					  id, it->valueint);
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "storage")) {
		if (cJSON_IsString(it) && store_get_raw(t, DB_STORAGE, it->valuestring, &data, &len) == 0)
			return resp_error(resp, CR_EINTERNAL,
					  "delete pool failed: pool '%s' is not empty (contains storage "
					  "'%s')", id, it->valuestring);
	}
	return 0;
}

struct key_list {
	char **keys;
	size_t n;
};

static int collect_key(const char *key, const cJSON *val, void *ctx)
{
	struct key_list *kl = ctx;
	char **keys = realloc(kl->keys, (kl->n + 1) * sizeof(char *));

	(void)val;
	if (!keys)
		return -ENOMEM;
	kl->keys = keys;
	return (kl->keys[kl->n] = strdup(key)) && ++kl->n ? 0 : -ENOMEM;
}

/* Deletes every ACL entry set on exactly PATH (delete_pool_acl,
 * remove_vm_access). */
static int purge_path_acl(struct store_txn *t, const char *path)
{
	char prefix[ACL_PATH_MAX + 2];
	struct key_list kl = { NULL, 0 };
	int r;

	snprintf(prefix, sizeof(prefix), "%s\t", path);
	r = store_foreach(t, DB_ACL, prefix, collect_key, &kl);
	for (size_t i = 0; i < kl.n; i++) {
		if (r == 0)
			r = store_del(t, DB_ACL, kl.keys[i]);
		free(kl.keys[i]);
	}
	free(kl.keys);
	return r;
}

static int pool_delete(struct req *req, struct resp *resp, struct store_txn *t, void *ctx)
{
	const char *id = req_str(req, "poolid");
	char path[ACL_PATH_MAX];
	cJSON *doc;
	int r = pool_get(t, id, &doc);

	(void)ctx;
	if (r < 0)
		return missing(resp, r, "delete pool failed", id);
	r = check_empty(req, resp, t, doc);
	cJSON_Delete(doc);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/pool/%s", id);
	if ((r = store_del(t, DB_POOLS, id)) == 0)
		r = purge_path_acl(t, path);
	return r < 0 ? access_store_error(resp, r, "delete pool") : 0;
}

int api_pools_delete(struct req *req, struct resp *resp)
{
	int r = pool_require(req, resp, "Pool.Allocate");

	return r < 0 ? r : access_change(req, resp, pool_delete, NULL);
}

/* --- /cluster/resources --- */

/* {id:"/pool/x", type:"pool", pool:"x"} for every pool the caller may audit. */
int api_pools_resource_rows(const struct req *req, cJSON *rows)
{
	struct acl_snap *s = auth_snap_get(req->app->auth);
	char path[ACL_PATH_MAX];
	int r = 0;

	for (size_t i = 0; s && r == 0 && i < acl_pool_count(s); i++) {
		cJSON *row;

		snprintf(path, sizeof(path), "/pool/%s", acl_pool_name(s, i));
		if (!api_can(req, path, "Pool.Audit"))
			continue;
		row = cJSON_CreateObject();
		if (!row || !cJSON_AddStringToObject(row, "id", path) ||
		    !cJSON_AddStringToObject(row, "type", "pool") ||
		    !cJSON_AddStringToObject(row, "pool", acl_pool_name(s, i)) ||
		    !cJSON_AddItemToArray(rows, row)) {
			cJSON_Delete(row);
			r = -ENOMEM;
		}
	}
	auth_snap_put(req->app->auth, s);
	return r;
}

/* "vmid":N of a row kept as JSON text (names and tags hold no quotes). */
static int raw_vmid(const char *text)
{
	const char *p = strstr(text, "\"vmid\":");

	return p ? atoi(p + 7) : 0;
}

/* The raw row IT with ,"pool":"POOL" before its closing brace (pool ids
 * need no escaping). */
static cJSON *tag_raw(const cJSON *it, const char *pool)
{
	size_t len = strlen(it->valuestring), n = len + strlen(pool) + 16;
	char *text = len > 2 && it->valuestring[len - 1] == '}' ? malloc(n) : NULL;
	cJSON *row;

	if (!text)
		return NULL;
	snprintf(text, n, "%.*s,\"pool\":\"%s\"}", (int)(len - 1), it->valuestring, pool);
	row = cJSON_CreateRaw(text);
	free(text);
	return row;
}

static int tag_row(cJSON *rows, cJSON *it, const struct acl_snap *s)
{
	int vmid = cJSON_IsRaw(it) ? raw_vmid(it->valuestring) : row_vmid(it);
	const char *pool = vmid > 0 ? acl_vm_pool(s, vmid) : NULL;
	cJSON *tagged;

	if (!pool)
		return 0;
	if (!cJSON_IsRaw(it))
		return cJSON_AddStringToObject(it, "pool", pool) ? 0 : -ENOMEM;
	if (!(tagged = tag_raw(it, pool)))
		return -ENOMEM;
	return cJSON_ReplaceItemViaPointer(rows, it, tagged) ? 0 : -ENOMEM;
}

int api_pools_tag_vm_rows(const struct req *req, cJSON *rows, int from)
{
	struct acl_snap *s = auth_snap_get(req->app->auth);
	cJSON *it = cJSON_GetArrayItem(rows, from), *next;
	int r = 0;

	/* Without pools (the common case) nothing is looked at. */
	for (; s && acl_pool_count(s) && it && r == 0; it = next) {
		next = it->next;
		r = tag_row(rows, it, s);
	}
	auth_snap_put(req->app->auth, s);
	return r;
}

/* --- VM create, clone and destroy --- */

int api_pools_vm_allocate(const struct req *req, struct resp *resp, int vmid, const char *pool)
{
	char path[ACL_PATH_MAX];
	cJSON *doc;
	int r;

	if (pool) {
		if ((r = store_get1(req->app->store, DB_POOLS, pool, &doc)) < 0)
			return r == CR_ENOTFOUND
				       ? resp_error(resp, CR_EPERM_CHECK,
						    "Permission check failed (pool '%s' does not exist)",
						    pool)
				       : access_store_error(resp, r, "reading the pool");
		cJSON_Delete(doc);
		snprintf(path, sizeof(path), "/pool/%s", pool);
		if (api_can(req, path, "VM.Allocate"))
			return 0;
	}
	snprintf(path, sizeof(path), "/vms/%d", vmid);
	return access_require(req, resp, path, "VM.Allocate");
}

/* One write transaction bumping the access generation. */
static int access_txn(struct app *app, int (*fn)(struct store_txn *t, const void *arg),
		      const void *arg)
{
	struct store_txn *t;
	int r = store_begin(app->store, 0, &t);

	if (r < 0)
		return r;
	r = fn(t, arg);
	if (r == 0)
		r = acl_touch(t);
	if (r < 0) {
		store_abort(t);
		return r;
	}
	return store_commit(t);
}

struct vm_pool_arg {
	int vmid;
	const char *pool;
};

static int add_vm(struct store_txn *t, const void *arg)
{
	const struct vm_pool_arg *a = arg;
	char owner[ACL_ID_MAX];
	cJSON *doc;
	int r = pool_get(t, a->pool, &doc);

	if (r < 0)
		return r == CR_ENOTFOUND ? 0 : r;
	if ((r = vm_owner(t, a->vmid, owner)) == 0 && owner[0] && strcmp(owner, a->pool) != 0)
		r = pool_drop_vm(t, owner, a->vmid);
	if (r == 0 && find_vm(cJSON_GetObjectItemCaseSensitive(doc, "vms"), a->vmid) < 0) {
		cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(doc, "vms"),
				     cJSON_CreateNumber(a->vmid));
		r = store_put(t, DB_POOLS, a->pool, doc);
	}
	cJSON_Delete(doc);
	return r;
}

int api_pools_add_vm(struct app *app, const char *pool, int vmid)
{
	struct vm_pool_arg a = { vmid, pool };

	return access_txn(app, add_vm, &a);
}

static int remove_vm(struct store_txn *t, const void *arg)
{
	const struct vm_pool_arg *a = arg;
	char owner[ACL_ID_MAX], path[32];
	int r = vm_owner(t, a->vmid, owner);

	if (r == 0 && owner[0])
		r = pool_drop_vm(t, owner, a->vmid);
	snprintf(path, sizeof(path), "/vms/%d", a->vmid);
	return r == 0 ? purge_path_acl(t, path) : r;
}

int api_pools_remove_vm(struct app *app, int vmid)
{
	struct vm_pool_arg a = { vmid, NULL };

	return access_txn(app, remove_vm, &a);
}
