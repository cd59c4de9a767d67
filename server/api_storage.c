/* /nodes/{node}/storage: the node's storages with their file system figures,
 * their volumes, allocation, deletion and copies of one volume
 * (pve-storage API2/Storage/{Status,Content}.pm). */
#include "server/api.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "server/app.h"
#include "server/params.h"
#include "server/store.h"
#include "server/tasks.h"
#include "storage/pool.h"

#define P_NODE                                                                                     \
	{                                                                                          \
		.name = "node", .type = PT_STRING, .check = param_check_pve_node                   \
	}
#define P_STORAGE                                                                                  \
	{                                                                                          \
		.name = "storage", .type = PT_STRING, .check = param_check_pve_storage_id          \
	}
#define P_VOLUME                                                                                   \
	{                                                                                          \
		.name = "volume", .type = PT_STRING, .max = POOL_VOLID_MAX                         \
	}

const struct param_spec api_storage_list_params[] = {
    P_NODE,
    {.name = "content",
     .type = PT_STRING,
     .flags = PF_OPTIONAL,
     .max = 256,
     .check = api_storage_check_content},
    {.name = "storage",
     .type = PT_STRING,
     .flags = PF_OPTIONAL,
     .check = param_check_pve_storage_id},
    {.name = "enabled", .type = PT_BOOLEAN, .flags = PF_OPTIONAL},
    {.name = "format", .type = PT_BOOLEAN, .flags = PF_OPTIONAL},
    {.name = "target",
     .type = PT_STRING,
     .flags = PF_OPTIONAL,
     .max = 64,
     .check = param_check_pve_node},
    {.name = NULL},
};

const struct param_spec api_storage_status_params[] = {
    P_NODE,
    P_STORAGE,
    {.name = NULL},
};

const struct param_spec api_storage_content_params[] = {
    P_NODE,
    P_STORAGE,
    {.name = "content",
     .type = PT_ENUM,
     .flags = PF_OPTIONAL,
     .enum_values = "images|iso|import|vztmpl|backup|rootdir|snippets"},
    {.name = "vmid", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 100, .max = 999999999},
    {.name = NULL},
};

const struct param_spec api_storage_alloc_params[] = {
    P_NODE,
    P_STORAGE,
    {.name = "filename", .type = PT_STRING, .max = POOL_NAME_MAX - 1},
    {.name = "size", .type = PT_STRING, .max = 32},
    {.name = "vmid", .type = PT_INTEGER, .min = 100, .max = 999999999},
    {.name = "format",
     .type = PT_ENUM,
     .flags = PF_OPTIONAL,
     .enum_values = "raw|qcow2|subvol|vmdk"},
    {.name = NULL},
};

const struct param_spec api_storage_volume_params[] = {
    P_NODE,
    P_STORAGE,
    P_VOLUME,
    {.name = NULL},
};

const struct param_spec api_storage_volume_delete_params[] = {
    P_NODE,
    P_STORAGE,
    P_VOLUME,
    {.name = "delay", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 1, .max = 30},
    {.name = NULL},
};

const struct param_spec api_storage_copy_params[] = {
    P_NODE,
    P_STORAGE,
    P_VOLUME,
    {.name = "target", .type = PT_STRING, .max = POOL_VOLID_MAX},
    {.name = "target_node", .type = PT_STRING, .flags = PF_OPTIONAL, .check = param_check_pve_node},
    {.name = NULL},
};

#define PRIV_STORAGE "Datastore.Audit|Datastore.AllocateSpace"

static int can_see_id(const struct req *req, const char *id)
{
	char path[96];

	snprintf(path, sizeof(path), "/storage/%s", id);
	return api_can(req, path, PRIV_STORAGE);
}

/* --- lists --- */

static void add_figures(cJSON *o, struct pool *p)
{
	struct pool_status st = {0, 0, 0};
	char err[256];
	int active = p && pool_status(p, &st, err, sizeof(err)) == 0;

	cJSON_AddNumberToObject(o, "active", active);
	cJSON_AddNumberToObject(o, "total", (double)st.total);
	cJSON_AddNumberToObject(o, "used", (double)st.used);
	cJSON_AddNumberToObject(o, "avail", (double)st.avail);
	cJSON_AddNumberToObject(o, "used_fraction", st.total ? (double)st.used / st.total : 0);
}

static const char *doc_text(const cJSON *doc, const char *key, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);

	return cJSON_IsString(v) ? v->valuestring : dflt;
}

static int doc_num(const cJSON *doc, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);

	return cJSON_IsNumber(v) ? v->valueint : 0;
}

/* A /nodes/{node}/storage row (also the status answer) of definition DOC. */
static cJSON *storage_row(struct app *app, const char *id, const cJSON *doc)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "storage", id);
	cJSON_AddStringToObject(o, "type", doc_text(doc, "type", "dir"));
	cJSON_AddStringToObject(o, "content", doc_text(doc, "content", ""));
	cJSON_AddNumberToObject(o, "enabled", api_storage_enabled(doc, app->cfg.node));
	cJSON_AddNumberToObject(o, "shared", doc_num(doc, "shared"));
	add_figures(o, api_storage_enabled(doc, app->cfg.node) ? api_storage_pool(app, id) : NULL);
	return o;
}

struct list_ctx {
	struct req *req;
	cJSON *rows;
	unsigned content; /* 0: any */
};

/* Whether DOC's content list holds any of MASK. */
static int has_content(const cJSON *doc, unsigned mask)
{
	unsigned have;
	char err[128];

	return !mask || (pool_content_mask_parse(doc_text(doc, "content", ""), &have, err,
						 sizeof(err)) == 0 &&
			 (have & mask));
}

static int list_row(const char *key, const cJSON *val, void *ctx)
{
	struct list_ctx *l = ctx;
	const char *only = req_str(l->req, "storage");

	if (!can_see_id(l->req, key) || (only && strcmp(only, key) != 0) ||
	    !api_storage_on_node(val, l->req->app->cfg.node) || !has_content(val, l->content) ||
	    (req_bool(l->req, "enabled", 0) && !api_storage_enabled(val, l->req->app->cfg.node)))
		return 0;
	cJSON_AddItemToArray(l->rows, storage_row(l->req->app, key, val));
	return 0;
}

int api_storage_list(struct req *req, struct resp *resp)
{
	struct list_ctx l = {.req = req};
	struct store_txn *t;
	char err[128];
	int r = api_node_check(req, resp);

	if (r < 0)
		return r;
	if (req_str(req, "content"))
		pool_content_mask_parse(req_str(req, "content"), &l.content, err, sizeof(err));
	if ((r = store_begin(req->app->store, 1, &t)) < 0)
		return resp_error(resp, r, "cannot read storage definitions: %s", err_str(r));
	resp->data = l.rows = cJSON_CreateArray();
	r = store_foreach(t, DB_STORAGE, "", list_row, &l);
	store_abort(t);
	return r < 0 ? resp_error(resp, r, "cannot read storage definitions: %s", err_str(r)) : 0;
}

/* The definition of {storage} for this node: 500 "does not exist" otherwise. */
static int storage_doc(struct req *req, struct resp *resp, cJSON **doc)
{
	const char *id = req_str(req, "storage");
	int r = api_node_check(req, resp);

	if (r < 0)
		return r;
	if ((r = api_storage_definition(req->app, id, doc)) < 0 ||
	    !api_storage_on_node(*doc, req->app->cfg.node)) {
		cJSON_Delete(*doc);
		*doc = NULL;
		return resp_error(resp, CR_EINTERNAL, "storage '%s' does not exist", id);
	}
	return 0;
}

/* GET /nodes/{node}/storage/{storage}: Proxmox's directory index. */
int api_storage_index(struct req *req, struct resp *resp)
{
	cJSON *doc = NULL, *names, *n;
	int r = storage_doc(req, resp, &doc);

	cJSON_Delete(doc);
	if (r < 0)
		return r;
	names = api_subdirs("/nodes/{node}/storage/{storage}/");
	resp->data = cJSON_CreateArray();
	cJSON_ArrayForEach(n, names)
	{
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "subdir",
					cJSON_GetStringValue(cJSON_GetObjectItem(n, "name")));
		cJSON_AddItemToArray(resp->data, o);
	}
	cJSON_Delete(names);
	return 0;
}

int api_storage_status(struct req *req, struct resp *resp)
{
	cJSON *doc = NULL;
	int r = storage_doc(req, resp, &doc);

	if (r < 0)
		return r;
	resp->data = storage_row(req->app, req_str(req, "storage"), doc);
	cJSON_DeleteItemFromObjectCaseSensitive(resp->data, "storage");
	cJSON_DeleteItemFromObjectCaseSensitive(resp->data, "used_fraction");
	cJSON_Delete(doc);
	return 0;
}

int api_storage_pool_for(struct req *req, struct resp *resp, const char *id, struct pool **out)
{
	cJSON *doc = NULL;
	int r = api_storage_definition(req->app, id, &doc);
	char err[512];

	if (r < 0 || !api_storage_on_node(doc, req->app->cfg.node))
		r = resp_error(resp, CR_EINTERNAL, "storage '%s' does not exist", id);
	else if (!api_storage_enabled(doc, req->app->cfg.node) ||
		 !(*out = api_storage_pool(req->app, id)))
		r = resp_error(resp, CR_EINTERNAL, "storage '%s' is disabled", id);
	else if ((r = pool_active(*out, err, sizeof(err))) < 0)
		r = resp_error(resp, CR_EINTERNAL, "%s", err);
	cJSON_Delete(doc);
	return r;
}

/* api_storage_pool_for on {storage}, after the node check. */
static int req_pool(struct req *req, struct resp *resp, struct pool **out)
{
	int r = api_node_check(req, resp);

	return r < 0 ? r : api_storage_pool_for(req, resp, req_str(req, "storage"), out);
}

static void volume_fields(cJSON *o, const struct pool_volume *v)
{
	cJSON_AddStringToObject(o, "format", v->format);
	cJSON_AddNumberToObject(o, "size", (double)v->size);
	cJSON_AddNumberToObject(o, "used", (double)v->used);
}

static int content_row(const struct pool_volume *v, void *ctx)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "volid", v->volid);
	cJSON_AddStringToObject(o, "content", pool_content_name(v->content));
	volume_fields(o, v);
	cJSON_AddNumberToObject(o, "ctime", (double)v->ctime);
	if (v->vmid)
		cJSON_AddNumberToObject(o, "vmid", v->vmid);
	cJSON_AddItemToArray(ctx, o);
	return 0;
}

int api_storage_content(struct req *req, struct resp *resp)
{
	const char *content = req_str(req, "content");
	struct pool *p = NULL;
	int c = -1, r = req_pool(req, resp, &p);

	if (r < 0)
		return r;
	resp->data = cJSON_CreateArray();
	if (content &&
	    ((c = pool_content_parse(content)) < 0 || !(pool_content_mask(p) & (1u << c))))
		return 0; /* a content this storage never holds: nothing to list */
	r = pool_list(p, c, (int)req_int(req, "vmid", 0), content_row, resp->data);
	return r < 0 ? resp_error(resp, r, "cannot list storage: %s", err_str(r)) : 0;
}

/* --- one volume --- */

/* {volume} as a full volume id of {storage}: "iso/x.iso" gets the storage
 * prepended; another storage or a malformed id is a 400 on "volume". */
static int req_volid(struct req *req, struct resp *resp, char *volid, size_t n)
{
	const char *vol = req_str(req, "volume"), *sid = req_str(req, "storage");
	struct pool_volid v;
	char err[256];

	if (strchr(vol, ':'))
		snprintf(volid, n, "%s", vol);
	else
		snprintf(volid, n, "%s:%s", sid, vol);
	if (pool_volid_parse(volid, &v, err, sizeof(err)) < 0)
		return resp_param_error(resp, "volume", "%s", err);
	if (strcmp(v.storage, sid) != 0)
		return resp_param_error(resp, "volume", "volume '%s' is not on storage '%s'", volid,
					sid);
	return 0;
}

int api_storage_volume_get(struct req *req, struct resp *resp)
{
	char volid[POOL_VOLID_MAX], path[PATH_MAX], err[512];
	struct pool_volume v;
	struct pool *p = NULL;
	int r;

	if ((r = req_pool(req, resp, &p)) < 0 ||
	    (r = req_volid(req, resp, volid, sizeof(volid))) < 0)
		return r;
	if ((r = pool_vol_info(p, volid, &v, err, sizeof(err))) < 0 ||
	    (r = pool_vol_path(p, volid, path, sizeof(path), err, sizeof(err))) < 0)
		return resp_error(resp, r == -EINVAL ? CR_EINVAL_PARAM : CR_EINTERNAL, "%s", err);
	resp->data = cJSON_CreateObject();
	cJSON_AddStringToObject(resp->data, "path", path);
	volume_fields(resp->data, &v);
	return 0;
}

/* Size in KiB with an optional M or G suffix (pvesm alloc's units). */
static int parse_alloc_size(const char *s, uint64_t *bytes)
{
	size_t len = strlen(s);
	uint64_t unit = 1024;
	char num[32];

	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	snprintf(num, sizeof(num), "%s", s);
	if (num[len - 1] == 'M' || num[len - 1] == 'G') {
		unit = num[len - 1] == 'M' ? 1u << 20 : 1u << 30;
		num[len - 1] = '\0';
	}
	if (util_parse_u64(num, bytes) < 0 || *bytes == 0 || *bytes > (UINT64_MAX >> 31))
		return -EINVAL;
	*bytes *= unit;
	return 0;
}

/* The format of an allocation: FORMAT, else the name's extension, else qcow2. */
static int alloc_format(struct resp *resp, const char *name, const char *format, int vmid,
			const char **out)
{
	const char *dot = name[0] ? strrchr(name, '.') : NULL;
	char prefix[32];

	*out = format ? format : dot ? dot + 1 : "qcow2";
	if (dot && strcmp(dot + 1, *out) != 0)
		return resp_param_error(resp, "filename",
					"filename '%s' does not match format '%s'", name, *out);
	if (strcmp(*out, "qcow2") != 0 && strcmp(*out, "raw") != 0)
		return resp_param_error(resp, "format", "unsupported format '%s'", *out);
	snprintf(prefix, sizeof(prefix), "vm-%d-", vmid);
	if (name[0] && strncmp(name, prefix, strlen(prefix)) != 0)
		return resp_param_error(resp, "filename", "illegal name '%s' - should be '%s*'",
					name, prefix);
	return 0;
}

int api_storage_alloc(struct req *req, struct resp *resp)
{
	const char *name = req_str(req, "filename"), *fmt = NULL;
	int vmid = (int)req_int(req, "vmid", 0), r;
	char volid[POOL_VOLID_MAX], err[512];
	struct pool *p = NULL;
	uint64_t bytes;

	if ((r = req_pool(req, resp, &p)) < 0)
		return r;
	if (parse_alloc_size(req_str(req, "size"), &bytes) < 0)
		return resp_param_error(resp, "size", "value does not match the regex pattern");
	if ((r = alloc_format(resp, name, req_str(req, "format"), vmid, &fmt)) < 0)
		return r;
	r = name[0] ? pool_alloc_named(p, vmid, name, bytes, volid, sizeof(volid), err, sizeof(err))
		    : pool_alloc(p, vmid, fmt, bytes, volid, sizeof(volid), err, sizeof(err));
	if (r < 0)
		return resp_error(resp, r == -EINVAL ? CR_EINVAL_PARAM : CR_EINTERNAL, "%s", err);
	resp->data = cJSON_CreateString(volid);
	return 0;
}

/* 1 when VMID's stored configuration names VOLID (a disk in use). */
static int volume_in_use(struct app *app, int vmid, const char *volid)
{
	const char *data;
	struct store_txn *t;
	char key[16], *text;
	size_t len;
	int used = 0;

	snprintf(key, sizeof(key), "%d", vmid);
	if (vmid <= 0 || store_begin(app->store, 1, &t) < 0)
		return 0;
	if (store_get_raw(t, DB_VMS, key, &data, &len) == 0 && (text = strndup(data, len))) {
		used = strstr(text, volid) != NULL;
		free(text);
	}
	store_abort(t);
	return used;
}

struct vol_task {
	struct pool *pool, *target;
	char volid[POOL_VOLID_MAX];
	int vmid;
};

static int delete_task(struct task *t, void *arg)
{
	struct vol_task *a = arg;
	char err[512];
	int r = pool_vol_free(a->pool, a->volid, err, sizeof(err));

	if (r < 0)
		return task_fail(t, r, "%s", err);
	task_log(t, "removed volume '%s'", a->volid);
	return 0;
}

int api_storage_volume_delete(struct req *req, struct resp *resp)
{
	struct vol_task *a = calloc(1, sizeof(*a));
	char upid[UPID_MAX], err[512];
	struct pool_volid v;
	int r = a ? req_pool(req, resp, &a->pool) : -ENOMEM;

	if (r == 0 && (r = req_volid(req, resp, a->volid, sizeof(a->volid))) == 0 &&
	    (r = pool_volid_parse(a->volid, &v, err, sizeof(err))) == 0 &&
	    volume_in_use(req->app, v.vmid, a->volid))
		r = resp_error(resp, CR_EINTERNAL,
			       "unable to delete '%s' - volume is used by VM %d", a->volid, v.vmid);
	if (r == 0 &&
	    (r = pool_vol_info(a->pool, a->volid, &(struct pool_volume){0}, err, sizeof(err))) < 0)
		r = resp_error(resp, r == -EINVAL ? CR_EINVAL_PARAM : CR_EINTERNAL, "%s", err);
	if (r < 0) {
		free(a);
		return r;
	}
	r = tasks_start(req->app->tasks, "imgdel", "", req->who, NULL, delete_task, a, free, upid,
			err, sizeof(err));
	if (r < 0)
		return resp_error(resp, r, "%s", err);
	resp->data = cJSON_CreateString(upid);
	return 0;
}

static int copy_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct task *t = opaque;

	(void)done;
	(void)total;
	return task_should_stop(t);
}

static int copy_task(struct task *t, void *arg)
{
	struct vol_task *a = arg;
	struct pool_copy_opts o = {.vmid = a->vmid, .progress = copy_progress, .opaque = t};
	char volid[POOL_VOLID_MAX], err[512];
	int r;

	task_log(t, "copy volume '%s' to storage '%s'", a->volid, pool_id(a->target));
	r = a->vmid ? pool_vol_copy(a->pool, a->volid, a->target, &o, volid, sizeof(volid), err,
				    sizeof(err))
		    : pool_file_copy(a->pool, a->volid, a->target, &o, volid, sizeof(volid), err,
				     sizeof(err));
	if (r < 0)
		return task_fail(t, r, "%s", err);
	task_log(t, "new volume '%s'", volid);
	return 0;
}

/* POST content/{volume}: copies the volume to the storage TARGET (a storage
 * id, or a volume id whose storage is taken): a disk image becomes a new
 * disk of the same VM there, a file (ISO, import...) keeps its name. */
int api_storage_volume_copy(struct req *req, struct resp *resp)
{
	struct vol_task *a = calloc(1, sizeof(*a));
	char sid[POOL_ID_MAX], upid[UPID_MAX], err[512];
	const char *target = req_str(req, "target"), *tn = req_str(req, "target_node");
	struct pool_volid v = {.vmid = 0};
	int r = a ? req_pool(req, resp, &a->pool) : -ENOMEM;

	snprintf(sid, sizeof(sid), "%.*s", (int)strcspn(target, ":"), target);
	if (r == 0 && tn && !api_node_is_local(req->app, tn))
		r = resp_param_error(resp, "target_node",
				     "copies to another node are not supported");
	if (r == 0 && param_check_pve_storage_id(sid, err, sizeof(err)) < 0)
		r = resp_param_error(resp, "target", "%s", err);
	if (r == 0 && (r = req_volid(req, resp, a->volid, sizeof(a->volid))) == 0)
		pool_volid_parse(a->volid, &v, err, sizeof(err));
	if (r == 0 && (r = api_storage_pool_for(req, resp, sid, &a->target)) == 0) {
		a->vmid = v.vmid;
		snprintf(sid, sizeof(sid), "/storage/%s", pool_id(a->target));
		if (!api_can(req, sid, "Datastore.AllocateSpace"))
			r = resp_error(resp, CR_EPERM_CHECK, "Permission check failed (%s, %s)",
				       sid, "Datastore.AllocateSpace");
	}
	if (r < 0) {
		free(a);
		return r;
	}
	r = tasks_start(req->app->tasks, "imgcopy", "", req->who, NULL, copy_task, a, free, upid,
			err, sizeof(err));
	if (r < 0)
		return resp_error(resp, r, "%s", err);
	resp->data = cJSON_CreateString(upid);
	return 0;
}

/* --- /cluster/resources --- */

struct res_ctx {
	struct req *req;
	cJSON *rows;
};

static int resource_row(const char *key, const cJSON *val, void *ctx)
{
	struct res_ctx *c = ctx;
	struct app *app = c->req->app;
	struct pool *p =
	    api_storage_enabled(val, app->cfg.node) ? api_storage_pool(app, key) : NULL;
	struct pool_status st = {0, 0, 0};
	char id[160], err[256];
	int ok = p && pool_status(p, &st, err, sizeof(err)) == 0;
	cJSON *o;

	if (!can_see_id(c->req, key) || !api_storage_on_node(val, app->cfg.node))
		return 0;
	o = cJSON_CreateObject();
	snprintf(id, sizeof(id), "storage/%s/%s", app->cfg.node, key);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "type", "storage");
	cJSON_AddStringToObject(o, "storage", key);
	cJSON_AddStringToObject(o, "node", app->cfg.node);
	cJSON_AddStringToObject(o, "plugintype", doc_text(val, "type", "dir"));
	cJSON_AddStringToObject(o, "content", doc_text(val, "content", ""));
	cJSON_AddNumberToObject(o, "shared", doc_num(val, "shared"));
	cJSON_AddStringToObject(o, "status", ok ? "available" : "unknown");
	cJSON_AddNumberToObject(o, "disk", (double)st.used);
	cJSON_AddNumberToObject(o, "maxdisk", (double)st.total);
	cJSON_AddItemToArray(c->rows, o);
	return 0;
}

int api_storage_resource_rows(struct req *req, cJSON *rows)
{
	struct res_ctx c = {.req = req, .rows = rows};
	struct store_txn *t;
	int r = store_begin(req->app->store, 1, &t);

	if (r < 0)
		return r;
	r = store_foreach(t, DB_STORAGE, "", resource_row, &c);
	store_abort(t);
	return r;
}

/* --- disk import (api_qemu_disks.c) --- */

int api_storage_check_import(const struct req *req, const char *target, const char *src_volid,
			     char *err, size_t errlen)
{
	struct app *app = req->app;
	struct pool_volid v;
	char path[PATH_MAX], perm[96];
	int r;

	if (!pool_set_get(app->pools, target)) {
		snprintf(err, errlen, "storage '%s' does not exist", target);
		return CR_ENOTFOUND;
	}
	if ((r = pool_volid_parse(src_volid, &v, err, errlen)) < 0 ||
	    (r = pool_set_vol_path(app->pools, src_volid, path, sizeof(path), err, errlen)) < 0)
		return r;
	if (v.content != POOL_CONTENT_IMAGES && v.content != POOL_CONTENT_IMPORT) {
		snprintf(err, errlen,
			 "cannot import from '%s' - content type needs to be 'images' or 'import'",
			 src_volid);
		return -EINVAL;
	}
	snprintf(perm, sizeof(perm), "/storage/%s", v.storage);
	if (!api_can(req, perm, "Datastore.Audit|Datastore.AllocateSpace"))
		goto denied;
	snprintf(perm, sizeof(perm), "/vms/%d", v.vmid);
	if (v.vmid && !api_can(req, perm, "VM.Clone"))
		goto denied;
	snprintf(perm, sizeof(perm), "/storage/%s", target);
	if (!api_can(req, perm, "Datastore.AllocateSpace"))
		goto denied;
	if (access(path, R_OK) < 0) {
		snprintf(err, errlen, "volume '%s' does not exist", src_volid);
		return CR_ENOTFOUND;
	}
	return 0;
denied:
	snprintf(err, errlen, "Permission check failed (%s)", perm);
	return CR_EPERM_CHECK;
}

int api_storage_import(struct app *app, int vmid, const char *target, const char *src_volid,
		       const char *format, char *volid, size_t n, uint64_t *size, char *err,
		       size_t errlen)
{
	struct pool_copy_opts o = {.vmid = vmid, .format = format};
	struct pool *dst = pool_set_get(app->pools, target), *src;
	struct pool_volid v;
	char path[PATH_MAX];
	int r;

	if ((r = pool_volid_parse(src_volid, &v, err, errlen)) < 0)
		return r;
	if (!dst || !(src = pool_set_get(app->pools, v.storage))) {
		snprintf(err, errlen, "storage '%s' does not exist", dst ? v.storage : target);
		return CR_ENOTFOUND;
	}
	if ((r = pool_vol_copy(src, src_volid, dst, &o, volid, n, err, errlen)) < 0 ||
	    (r = pool_vol_path(dst, volid, path, sizeof(path), err, errlen)) < 0)
		return r;
	return pool_image_size(path, size, err, errlen);
}
