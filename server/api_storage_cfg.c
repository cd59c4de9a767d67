/* Storage definitions (pve-storage API2/Storage/Config.pm): /storage in the
 * store (DB_STORAGE, id -> {type, path, content, shared, nodes, disable}),
 * and the node's pool set kept in step with them.  "local" exists from the
 * first start. */
#include "server/api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/util.h"
#include "server/app.h"
#include "server/params.h"
#include "server/store.h"
#include "storage/pool.h"

#define STORAGE_DEFAULT_CONTENT "images,import,iso"

/* --- parameter formats --- */

int api_storage_check_content(const char *v, char *err, size_t errlen)
{
	unsigned mask;

	return pool_content_mask_parse(v, &mask, err, errlen);
}

/* pve-node-list: node names separated by commas (or ';' and spaces). */
int api_storage_check_nodes(const char *v, char *err, size_t errlen)
{
	char item[APP_NODE_MAX];
	size_t len;

	for (const char *p = v; *p; p += len + (p[len] != '\0')) {
		len = strcspn(p, ",; ");
		if (len == 0)
			continue;
		if (len >= sizeof(item) || (memcpy(item, p, len), item[len] = '\0',
					    param_check_pve_node(item, err, errlen) < 0)) {
			snprintf(err, errlen, "value '%.*s' does not look like a valid node name",
				 (int)(len > 64 ? 64 : len), p);
			return -EINVAL;
		}
	}
	return 0;
}

/* pve-storage-path: absolute, no "." or ".." component, no control bytes. */
int api_storage_check_path(const char *v, char *err, size_t errlen)
{
	size_t len;

	if (v[0] != '/' || param_check_safe_string(v, err, errlen) < 0)
		goto bad;
	for (const char *p = v + 1; *p; p += len + (p[len] == '/')) {
		len = strcspn(p, "/");
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen, "invalid storage path '%.100s'", v);
	return -EINVAL;
}

static int check_delete(const char *v, char *err, size_t errlen)
{
	static const char *const ok[] = {"content", "nodes", "shared", "disable"};
	char item[32];
	size_t len;

	for (const char *p = v; *p; p += len + (p[len] != '\0')) {
		int found = 0;

		len = strcspn(p, ",; ");
		if (len == 0)
			continue;
		if (len < sizeof(item)) {
			memcpy(item, p, len);
			item[len] = '\0';
			for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
				found |= strcmp(item, ok[i]) == 0;
		}
		if (!found) {
			snprintf(err, errlen, "cannot delete '%.*s'", (int)(len > 64 ? 64 : len),
				 p);
			return -EINVAL;
		}
	}
	return 0;
}

#define P_STORAGE                                                                                  \
	{                                                                                          \
		.name = "storage", .type = PT_STRING, .check = param_check_pve_storage_id,         \
		.max = 63                                                                          \
	}
#define P_CONTENT                                                                                  \
	{                                                                                          \
		.name = "content", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 256,            \
		.check = api_storage_check_content                                                 \
	}
#define P_NODES                                                                                    \
	{                                                                                          \
		.name = "nodes", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 4096,             \
		.check = api_storage_check_nodes                                                   \
	}
#define P_FLAG(n)                                                                                  \
	{                                                                                          \
		.name = n, .type = PT_BOOLEAN, .flags = PF_OPTIONAL                                \
	}

const struct param_spec api_storage_cfg_list_params[] = {
    {.name = "type", .type = PT_ENUM, .flags = PF_OPTIONAL, .enum_values = "dir"},
    {.name = NULL},
};

const struct param_spec api_storage_cfg_create_params[] = {
    P_STORAGE,
    {.name = "type", .type = PT_ENUM, .enum_values = "dir"},
    {.name = "path", .type = PT_STRING, .max = 1024, .check = api_storage_check_path},
    P_CONTENT,
    P_NODES,
    P_FLAG("shared"),
    P_FLAG("disable"),
    {.name = NULL},
};

const struct param_spec api_storage_cfg_params[] = {
    P_STORAGE,
    {.name = NULL},
};

const struct param_spec api_storage_cfg_update_params[] = {
    P_STORAGE,
    P_CONTENT,
    P_NODES,
    P_FLAG("shared"),
    P_FLAG("disable"),
    {.name = "delete", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 256, .check = check_delete},
    {.name = "digest", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 64},
    {.name = NULL},
};

/* --- definitions and pools --- */

static const char *doc_str(const cJSON *doc, const char *key, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);

	return cJSON_IsString(v) ? v->valuestring : dflt;
}

static int doc_flag(const cJSON *doc, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);

	return cJSON_IsNumber(v) ? v->valueint != 0 : 0;
}

int api_storage_on_node(const cJSON *doc, const char *node)
{
	const char *nodes = doc_str(doc, "nodes", NULL);
	size_t len, nl = strlen(node);

	if (!nodes || !nodes[0])
		return 1;
	for (const char *p = nodes; *p; p += len + (p[len] != '\0')) {
		len = strcspn(p, ",; ");
		if (len == nl && strncmp(p, node, nl) == 0)
			return 1;
	}
	return 0;
}

int api_storage_enabled(const cJSON *doc, const char *node)
{
	return !doc_flag(doc, "disable") && api_storage_on_node(doc, node);
}

/* The pool of definition DOC; MKDIR creates its directories. */
static int open_pool(const char *id, const cJSON *doc, int mkdir, struct pool **out, char *err,
		     size_t errlen)
{
	struct pool_dir_opts o = {.id = id, .root = doc_str(doc, "path", ""), .mkdir = mkdir};
	int r = pool_content_mask_parse(doc_str(doc, "content", STORAGE_DEFAULT_CONTENT),
					&o.content, err, errlen);

	o.shared = doc_flag(doc, "shared");
	return r < 0 ? r : pool_dir_open(&o, out, err, errlen);
}

/* Puts (or, when disabled or not for this node, removes) ID's pool. */
static int sync_pool(struct app *app, const char *id, const cJSON *doc, int mkdir, char *err,
		     size_t errlen)
{
	struct pool *p = NULL;
	int r;

	if (!doc || !api_storage_enabled(doc, app->cfg.node)) {
		pool_set_remove(app->pools, id);
		if (strcmp(id, "local") == 0)
			app->pool = NULL;
		return 0;
	}
	if ((r = open_pool(id, doc, mkdir, &p, err, errlen)) < 0)
		return r;
	if ((r = pool_set_put(app->pools, p)) < 0) {
		pool_free(p);
		snprintf(err, errlen, "too many storages");
		return r;
	}
	if (strcmp(id, "local") == 0)
		app->pool = p;
	return 0;
}

struct load_ctx {
	struct app *app;
	char err[512];
};

static int load_one(const char *key, const cJSON *val, void *ctx)
{
	struct load_ctx *l = ctx;
	char err[384];

	/* A storage that cannot be opened is left out; its rows say inactive. */
	if (sync_pool(l->app, key, val, 0, err, sizeof(err)) < 0)
		snprintf(l->err, sizeof(l->err), "storage '%s': %s", key, err);
	return 0;
}

/* Stores the default "local" (DATA/images) unless a definition exists. */
static int add_default(struct app *app, struct store_txn *t)
{
	char path[APP_PATH_MAX + 16];
	cJSON *doc = cJSON_CreateObject();
	int r = -ENOMEM;

	snprintf(path, sizeof(path), "%s/images", app->cfg.data_dir);
	if (doc && cJSON_AddStringToObject(doc, "type", "dir") &&
	    cJSON_AddStringToObject(doc, "path", path) &&
	    cJSON_AddStringToObject(doc, "content", STORAGE_DEFAULT_CONTENT))
		r = store_add(t, DB_STORAGE, "local", doc);
	cJSON_Delete(doc);
	return r == CR_EEXISTS ? 0 : r;
}

int api_storage_start(struct app *app, char *err, size_t errlen)
{
	struct load_ctx l = {.app = app, .err = ""};
	struct store_txn *t;
	cJSON *local = NULL;
	int r = pool_set_new(&app->pools);

	if (r == 0 && (r = store_begin(app->store, 0, &t)) == 0) {
		if ((r = add_default(app, t)) == 0)
			r = store_commit(t);
		else
			store_abort(t);
	}
	/* "local" is made on first use like Proxmox's; the others must exist. */
	if (r == 0 && store_get1(app->store, DB_STORAGE, "local", &local) == 0)
		sync_pool(app, "local", local, 1, l.err, sizeof(l.err));
	cJSON_Delete(local);
	if (r == 0 && (r = store_begin(app->store, 1, &t)) == 0) {
		r = store_foreach(t, DB_STORAGE, "", load_one, &l);
		store_abort(t);
	}
	snprintf(err, errlen, "%s", r < 0 ? err_str(r) : l.err);
	return r;
}

void api_storage_stop(struct app *app)
{
	pool_set_free(app->pools);
	app->pools = NULL;
	app->pool = NULL;
}

struct pool *api_storage_pool(struct app *app, const char *storage)
{
	return pool_set_get(app->pools, storage);
}

/* --- /storage --- */

static int row_add_flag(cJSON *row, const cJSON *doc, const char *key)
{
	return !cJSON_GetObjectItemCaseSensitive(doc, key) ||
	       cJSON_AddNumberToObject(row, key, doc_flag(doc, key));
}

/* The definition as Proxmox shows it: storage, type, path, content, flags. */
static cJSON *cfg_row(const char *id, const cJSON *doc)
{
	static const char *const strs[] = {"type", "path", "content", "nodes"};
	cJSON *row = cJSON_CreateObject();
	int ok = row && cJSON_AddStringToObject(row, "storage", id);

	for (size_t i = 0; ok && i < ARRAY_SIZE(strs); i++)
		ok = !doc_str(doc, strs[i], NULL) ||
		     cJSON_AddStringToObject(row, strs[i], doc_str(doc, strs[i], ""));
	ok = ok && row_add_flag(row, doc, "shared") && row_add_flag(row, doc, "disable");
	if (!ok) {
		cJSON_Delete(row);
		return NULL;
	}
	return row;
}

struct list_ctx {
	const struct req *req;
	const char *type;
	cJSON *rows;
	struct store_txn *t;
};

static int list_one(const char *key, const cJSON *val, void *ctx)
{
	struct list_ctx *l = ctx;
	char path[96], digest[41];
	cJSON *row;

	snprintf(path, sizeof(path), "/storage/%s", key);
	if (!api_can(l->req, path, "Datastore.Audit|Datastore.AllocateSpace|Datastore.Allocate") ||
	    (l->type && strcmp(l->type, doc_str(val, "type", "")) != 0))
		return 0;
	if (!(row = cfg_row(key, val)))
		return -ENOMEM;
	if (store_digest(l->t, DB_STORAGE, key, digest) == 0)
		cJSON_AddStringToObject(row, "digest", digest);
	cJSON_AddItemToArray(l->rows, row);
	return 0;
}

int api_storage_cfg_list(struct req *req, struct resp *resp)
{
	struct list_ctx l = {.req = req, .type = req_str(req, "type")};
	int r = store_begin(req->app->store, 1, &l.t);

	if (r < 0)
		return resp_error(resp, r, "cannot read storage definitions: %s", err_str(r));
	resp->data = l.rows = cJSON_CreateArray();
	r = store_foreach(l.t, DB_STORAGE, "", list_one, &l);
	store_abort(l.t);
	return r < 0 ? resp_error(resp, r, "cannot read storage definitions: %s", err_str(r)) : 0;
}

static int missing(struct resp *resp, int r, const char *id)
{
	if (r == CR_ENOTFOUND)
		return resp_error(resp, CR_EINTERNAL, "storage '%s' does not exist", id);
	return resp_error(resp, r, "cannot read storage '%s': %s", id, err_str(r));
}

int api_storage_cfg_get(struct req *req, struct resp *resp)
{
	const char *id = req_str(req, "storage");
	struct store_txn *t;
	char digest[41];
	cJSON *doc = NULL;
	int r = store_begin(req->app->store, 1, &t);

	if (r == 0 && (r = store_get(t, DB_STORAGE, id, &doc)) == 0 &&
	    store_digest(t, DB_STORAGE, id, digest) == 0 && (resp->data = cfg_row(id, doc)))
		cJSON_AddStringToObject(resp->data, "digest", digest);
	if (r == 0 || r == CR_ENOTFOUND)
		store_abort(t);
	cJSON_Delete(doc);
	return r < 0 ? missing(resp, r, id) : 0;
}

/* Copies the optional settings given in REQ into DOC. */
static int apply_settings(const struct req *req, cJSON *doc)
{
	static const char *const strs[] = {"content", "nodes"};
	static const char *const flags[] = {"shared", "disable"};
	int ok = 1;

	char content[96], err[128];
	unsigned mask;

	for (size_t i = 0; ok && i < ARRAY_SIZE(strs); i++)
		if (req_str(req, strs[i])) {
			cJSON_DeleteItemFromObjectCaseSensitive(doc, strs[i]);
			ok = cJSON_AddStringToObject(doc, strs[i], req_str(req, strs[i])) != NULL;
		}
	/* stored in Proxmox's canonical form: sorted, no empty items */
	if (ok && req_str(req, "content") &&
	    pool_content_mask_parse(req_str(req, "content"), &mask, err, sizeof(err)) == 0) {
		pool_content_mask_format(mask, content, sizeof(content));
		cJSON_ReplaceItemInObjectCaseSensitive(doc, "content", cJSON_CreateString(content));
	}
	for (size_t i = 0; ok && i < ARRAY_SIZE(flags); i++)
		if (req_str(req, flags[i])) {
			cJSON_DeleteItemFromObjectCaseSensitive(doc, flags[i]);
			ok = cJSON_AddNumberToObject(doc, flags[i], req_bool(req, flags[i], 0)) !=
			     NULL;
		}
	return ok ? 0 : -ENOMEM;
}

static cJSON *id_type(const char *id, const char *type)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "storage", id);
	cJSON_AddStringToObject(o, "type", type);
	return o;
}

/* Writes DOC as ID (ADD: must be new) and brings the pool set in step. */
static int save(struct req *req, struct resp *resp, const char *id, const cJSON *doc, int add,
		int mkdir)
{
	struct store_txn *t;
	char err[512];
	int r = store_begin(req->app->store, 0, &t);

	if (r == 0 &&
	    (r = add ? store_add(t, DB_STORAGE, id, doc) : store_put(t, DB_STORAGE, id, doc)) < 0)
		store_abort(t);
	else if (r == 0)
		r = store_commit(t);
	if (r == CR_EEXISTS)
		return resp_error(resp, CR_EINTERNAL,
				  "create storage failed: storage ID '%s' already defined", id);
	if (r < 0)
		return resp_error(resp, r, "cannot write storage '%s': %s", id, err_str(r));
	if ((r = sync_pool(req->app, id, doc, mkdir, err, sizeof(err))) < 0)
		return resp_error(resp, r, "storage '%s' saved, but cannot be used: %s", id, err);
	resp->data = id_type(id, doc_str(doc, "type", "dir"));
	return 0;
}

int api_storage_cfg_create(struct req *req, struct resp *resp)
{
	const char *id = req_str(req, "storage");
	cJSON *doc = cJSON_CreateObject();
	int r = -ENOMEM;

	if (doc && cJSON_AddStringToObject(doc, "type", req_str(req, "type")) &&
	    cJSON_AddStringToObject(doc, "path", req_str(req, "path")) &&
	    (req_str(req, "content") ||
	     cJSON_AddStringToObject(doc, "content", STORAGE_DEFAULT_CONTENT)) &&
	    apply_settings(req, doc) == 0)
		r = save(req, resp, id, doc, 1, !doc_flag(doc, "disable"));
	cJSON_Delete(doc);
	return r == -ENOMEM ? resp_error(resp, r, "out of memory") : r;
}

/* Drops the keys named in the "delete" list from DOC. */
static void apply_delete(const char *list, cJSON *doc)
{
	char item[32];
	size_t len;

	for (const char *p = list ? list : ""; *p; p += len + (p[len] != '\0')) {
		len = strcspn(p, ",; ");
		if (len == 0 || len >= sizeof(item))
			continue;
		memcpy(item, p, len);
		item[len] = '\0';
		cJSON_DeleteItemFromObjectCaseSensitive(doc, item);
		if (strcmp(item, "content") == 0)
			cJSON_AddStringToObject(doc, "content", STORAGE_DEFAULT_CONTENT);
	}
}

int api_storage_cfg_update(struct req *req, struct resp *resp)
{
	const char *id = req_str(req, "storage"), *want = req_str(req, "digest");
	char digest[41] = "";
	cJSON *doc = NULL;
	struct stat st;
	int r = store_get1(req->app->store, DB_STORAGE, id, &doc);
	struct store_txn *t;

	if (r < 0)
		return missing(resp, r, id);
	if (want && store_begin(req->app->store, 1, &t) == 0) {
		store_digest(t, DB_STORAGE, id, digest);
		store_abort(t);
	}
	if (want && strcmp(want, digest) != 0)
		r = resp_error(resp, CR_EINTERNAL,
			       "detected modified configuration - file changed "
			       "by other user? Try again.");
	else {
		apply_delete(req_str(req, "delete"), doc);
		r = apply_settings(req, doc);
		/* New content directories are made only where the root exists. */
		r = r < 0 ? resp_error(resp, r, "out of memory")
			  : save(req, resp, id, doc, 0,
				 stat(doc_str(doc, "path", ""), &st) == 0 && S_ISDIR(st.st_mode));
	}
	cJSON_Delete(doc);
	return r;
}

int api_storage_cfg_delete(struct req *req, struct resp *resp)
{
	const char *id = req_str(req, "storage");
	struct store_txn *t;
	int r = store_begin(req->app->store, 0, &t);

	if (r == 0 && (r = store_del(t, DB_STORAGE, id)) < 0)
		store_abort(t);
	else if (r == 0)
		r = store_commit(t);
	if (r < 0)
		return missing(resp, r, id);
	sync_pool(req->app, id, NULL, 0, NULL, 0);
	return 0;
}

/* The definition of ID (*OUT owned by the caller), or CR_ENOTFOUND. */
int api_storage_definition(struct app *app, const char *id, cJSON **out)
{
	return store_get1(app->store, DB_STORAGE, id, out);
}
