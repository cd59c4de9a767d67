/* /nodes/{node}/storage: the node's pools with their file system figures,
 * and the volumes of one (pve-storage API2/Storage/{Status,Content}.pm). */
#include "server/api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "server/app.h"
#include "server/params.h"
#include "storage/pool.h"

const struct param_spec api_storage_list_params[] = {
    {.name = "node", .type = PT_STRING, .check = param_check_pve_node},
    {.name = "content", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 128},
    {.name = "storage",
     .type = PT_STRING,
     .flags = PF_OPTIONAL,
     .check = param_check_pve_storage_id},
    {.name = "enabled", .type = PT_BOOLEAN, .flags = PF_OPTIONAL},
    {.name = "format", .type = PT_BOOLEAN, .flags = PF_OPTIONAL},
    {.name = "target", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 64},
    {.name = NULL},
};

const struct param_spec api_storage_content_params[] = {
    {.name = "node", .type = PT_STRING, .check = param_check_pve_node},
    {.name = "storage", .type = PT_STRING, .check = param_check_pve_storage_id},
    {.name = "content",
     .type = PT_ENUM,
     .flags = PF_OPTIONAL,
     .enum_values = "images|iso|import|vztmpl|backup|rootdir|snippets"},
    {.name = "vmid", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 100, .max = 999999999},
    {.name = NULL},
};

#define PRIV_STORAGE "Datastore.Audit|Datastore.AllocateSpace"

static int can_see(const struct req *req, const struct pool *p)
{
	char path[96];

	snprintf(path, sizeof(path), "/storage/%s", pool_id(p));
	return api_can(req, path, PRIV_STORAGE);
}

static cJSON *storage_row(struct pool *p)
{
	struct pool_status st = {0, 0, 0};
	cJSON *o = cJSON_CreateObject();
	char err[256];
	int active = pool_status(p, &st, err, sizeof(err)) == 0;

	cJSON_AddStringToObject(o, "storage", pool_id(p));
	cJSON_AddStringToObject(o, "type", pool_type(p));
	cJSON_AddStringToObject(o, "content", pool_content_list(p));
	cJSON_AddNumberToObject(o, "active", active);
	cJSON_AddNumberToObject(o, "enabled", 1);
	cJSON_AddNumberToObject(o, "shared", 0);
	cJSON_AddNumberToObject(o, "total", (double)st.total);
	cJSON_AddNumberToObject(o, "used", (double)st.used);
	cJSON_AddNumberToObject(o, "avail", (double)st.avail);
	cJSON_AddNumberToObject(o, "used_fraction", st.total ? (double)st.used / st.total : 0);
	return o;
}

int api_storage_list(struct req *req, struct resp *resp)
{
	struct pool *p = req->app->pool;
	const char *only = req_str(req, "storage");
	int r = api_node_check(req, resp);

	if (r < 0)
		return r;
	resp->data = cJSON_CreateArray();
	if (p && can_see(req, p) && (!only || strcmp(only, pool_id(p)) == 0))
		cJSON_AddItemToArray(resp->data, storage_row(p));
	return 0;
}

static int content_row(const struct pool_volume *v, void *ctx)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "volid", v->volid);
	cJSON_AddStringToObject(o, "content", pool_content_name(v->content));
	cJSON_AddStringToObject(o, "format", v->format);
	cJSON_AddNumberToObject(o, "size", (double)v->size);
	cJSON_AddNumberToObject(o, "used", (double)v->used);
	cJSON_AddNumberToObject(o, "ctime", (double)v->ctime);
	if (v->vmid)
		cJSON_AddNumberToObject(o, "vmid", v->vmid);
	cJSON_AddItemToArray(ctx, o);
	return 0;
}

int api_storage_content(struct req *req, struct resp *resp)
{
	struct pool *p = req->app->pool;
	const char *content = req_str(req, "content");
	int c = -1, r = api_node_check(req, resp);

	if (r < 0)
		return r;
	if (!p || strcmp(req_str(req, "storage"), pool_id(p)) != 0)
		return resp_error(resp, CR_EINTERNAL, "storage '%s' does not exist",
				  req_str(req, "storage"));
	resp->data = cJSON_CreateArray();
	if (content && (c = pool_content_parse(content)) < 0)
		return 0; /* a content this pool never holds: nothing to list */
	r = pool_list(p, c, (int)req_int(req, "vmid", 0), content_row, resp->data);
	return r < 0 ? resp_error(resp, r, "cannot list storage: %s", err_str(r)) : 0;
}

int api_storage_resource_rows(struct req *req, cJSON *rows)
{
	struct pool *p = req->app->pool;
	struct pool_status st = {0, 0, 0};
	char id[160], err[256];
	cJSON *o;

	if (!p || !can_see(req, p))
		return 0;
	pool_status(p, &st, err, sizeof(err));
	o = cJSON_CreateObject();
	snprintf(id, sizeof(id), "storage/%s/%s", req->app->cfg.node, pool_id(p));
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "type", "storage");
	cJSON_AddStringToObject(o, "storage", pool_id(p));
	cJSON_AddStringToObject(o, "node", req->app->cfg.node);
	cJSON_AddStringToObject(o, "plugintype", pool_type(p));
	cJSON_AddStringToObject(o, "content", pool_content_list(p));
	cJSON_AddNumberToObject(o, "shared", 0);
	cJSON_AddStringToObject(o, "status", "available");
	cJSON_AddNumberToObject(o, "disk", (double)st.used);
	cJSON_AddNumberToObject(o, "maxdisk", (double)st.total);
	cJSON_AddItemToArray(rows, o);
	return 0;
}
