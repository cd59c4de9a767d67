/* /version, /nodes, /nodes/{node} and /nodes/{node}/status: the node's
 * identity and live figures from /proc, in Proxmox's field names
 * (pve-manager PVE/API2/Nodes.pm, PVE/API2Tools.pm extract_node_stats). */
#include "server/api.h"

#include "common/err.h"
#include "common/util.h"
#include "common/version.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/nodeinfo.h"
#include "server/params.h"
#include "server/rrdstat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What clients that check the Proxmox version see (bpg needs >= 8.0.0). */
#define PVE_COMPAT_VERSION "8.4.1"
#define PVE_COMPAT_RELEASE "8.4"
/* Corral always runs on the unified cgroup v2 hierarchy. */
#define CGROUP_MODE 2

/* --- helpers shared with api_tasks.c and api_cluster.c --- */

int api_node_is_local(const struct app *app, const char *node)
{
	return node && strcmp(node, app->cfg.node) == 0;
}

int api_node_check(const struct req *req, struct resp *resp)
{
	const char *node = req_str(req, "node");

	if (api_node_is_local(req->app, node))
		return 0;
	return resp_error(resp, CR_EINTERNAL, "no such node '%s'", node ? node : "");
}

int api_can(const struct req *req, const char *path, const char *privs)
{
	return req->who && auth_check(req->app->auth, req->who, path, privs) == 0;
}

int api_can_audit_node(const struct req *req, const char *node)
{
	char path[128];

	snprintf(path, sizeof(path), "/nodes/%s", node);
	return api_can(req, path, "Sys.Audit");
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Adds the path segment after PREFIX of route R's path (once). */
static size_t add_segment(const char **names, size_t n, const char *path, size_t plen)
{
	const char *seg = path + plen;
	size_t len = strcspn(seg, "/");

	if (len == 0 || seg[0] == '{')
		return n;
	for (size_t i = 0; i < n; i++)
		if (strncmp(names[i], seg, len) == 0 && names[i][len] == '\0')
			return n;
	names[n] = strndup(seg, len);
	return names[n] ? n + 1 : n;
}

cJSON *api_subdirs(const char *prefix)
{
	const char **names = calloc(routes_count + 1, sizeof(*names));
	size_t n = 0, plen = strlen(prefix);
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; names && i < routes_count; i++)
		if (strncmp(routes[i].path, prefix, plen) == 0)
			n = add_segment(names, n, routes[i].path, plen);
	if (names)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", names[i]);
		cJSON_AddItemToArray(arr, o);
		free((char *)names[i]);
	}
	free(names);
	return arr;
}

/* --- the node row of /nodes and /cluster/resources --- */

struct node_figures {
	double cpu, wait;
	struct nodeinfo_cpuinfo cpuinfo;
	struct nodeinfo_mem mem;
	struct nodeinfo_disk disk;
	uint64_t uptime;
};

/* CPU from the app's sampler; without one, the average since boot. */
static int read_cpu(struct app *app, double *cpu, double *wait)
{
	static const struct nodeinfo_stat boot = {0, 0, 0, 1};
	struct nodeinfo_stat now;
	int r;

	if (app->nodeinfo)
		return nodeinfo_cpu(app->nodeinfo, cpu, wait);
	r = nodeinfo_read_stat(&now);
	if (r == 0)
		*cpu = nodeinfo_cpu_fraction(&boot, &now, wait);
	return r;
}

static int read_figures(struct app *app, struct node_figures *f)
{
	int r = read_cpu(app, &f->cpu, &f->wait);

	if (r == 0)
		r = nodeinfo_read_cpuinfo(&f->cpuinfo);
	if (r == 0)
		r = nodeinfo_read_meminfo(&f->mem);
	if (r == 0)
		r = nodeinfo_read_disk(app->cfg.data_dir, &f->disk);
	if (r == 0)
		r = nodeinfo_read_uptime(&f->uptime);
	return r;
}

/* The list row's figures: the statistics sampler's while they are at most
 * two of its rounds old, else read now (no sampler, or it is stuck). */
static int row_figures(struct app *app, struct nodeinfo_figures *out)
{
	struct node_figures f;
	int r;

	if (app->nodeinfo && nodeinfo_published(app->nodeinfo, util_now_ms(),
						 2000 * RRDSTAT_INTERVAL_S, out) == 0)
		return 0;
	if ((r = read_figures(app, &f)) < 0)
		return r;
	*out = (struct nodeinfo_figures){.cpu = f.cpu, .wait = f.wait, .cpus = f.cpuinfo.cpus,
					 .mem = f.mem, .disk = f.disk, .uptime = f.uptime};
	return 0;
}

static void add_stats(cJSON *o, const struct nodeinfo_figures *f)
{
	cJSON_AddNumberToObject(o, "cpu", f->cpu);
	cJSON_AddNumberToObject(o, "maxcpu", f->cpus);
	cJSON_AddNumberToObject(o, "mem", (double)f->mem.used);
	cJSON_AddNumberToObject(o, "maxmem", (double)f->mem.total);
	cJSON_AddNumberToObject(o, "disk", (double)f->disk.used);
	cJSON_AddNumberToObject(o, "maxdisk", (double)f->disk.total);
	cJSON_AddNumberToObject(o, "uptime", (double)f->uptime);
}

int api_node_row(const struct req *req, int for_resources, cJSON **out)
{
	struct app *app = req->app;
	struct nodeinfo_figures f;
	cJSON *o = cJSON_CreateObject();
	char id[APP_NODE_MAX + 8];
	int audit = api_can_audit_node(req, app->cfg.node), r = 0;

	if (!o)
		return -ENOMEM;
	snprintf(id, sizeof(id), "node/%s", app->cfg.node);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "type", "node");
	cJSON_AddStringToObject(o, "node", app->cfg.node);
	cJSON_AddStringToObject(o, "status", "online");
	cJSON_AddStringToObject(o, "level", "");
	/* Without Sys.Audit on the node Proxmox shows it but not its figures. */
	if (audit && (r = row_figures(app, &f)) == 0)
		add_stats(o, &f);
	if (for_resources)
		cJSON_AddNumberToObject(o, "cgroup-mode", CGROUP_MODE);
	else
		cJSON_AddStringToObject(o, "ssl_fingerprint", app->cert_fingerprint);
	if (r < 0) {
		cJSON_Delete(o);
		return r;
	}
	*out = o;
	return 0;
}

/* --- handlers --- */

const struct param_spec api_no_params[] = {
    {.name = NULL},
};

const struct param_spec api_node_params[] = {
    {.name = "node", .type = PT_STRING, .check = param_check_pve_node},
    {.name = NULL},
};

int api_version(struct req *req, struct resp *resp)
{
	(void)req;
	resp->data = cJSON_CreateObject();
	cJSON_AddStringToObject(resp->data, "version", PVE_COMPAT_VERSION);
	cJSON_AddStringToObject(resp->data, "release", PVE_COMPAT_RELEASE);
	cJSON_AddStringToObject(resp->data, "repoid", "corral");
	cJSON_AddStringToObject(resp->data, "corral", CORRAL_VERSION);
	return 0;
}

int api_nodes_list(struct req *req, struct resp *resp)
{
	cJSON *row;
	int r = api_node_row(req, 0, &row);

	if (r < 0)
		return resp_error(resp, r, "cannot read node status: %s", err_str(r));
	resp->data = cJSON_CreateArray();
	cJSON_AddItemToArray(resp->data, row);
	return api_cluster_member_rows(req, 0, resp->data); /* the other cluster members */
}

int api_node_index(struct req *req, struct resp *resp)
{
	int r = api_node_check(req, resp);

	if (r == 0)
		resp->data = api_subdirs("/nodes/{node}/");
	return r;
}

static cJSON *cpuinfo_json(const struct nodeinfo_cpuinfo *c)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "cpus", c->cpus);
	cJSON_AddNumberToObject(o, "cores", c->cores);
	cJSON_AddNumberToObject(o, "sockets", c->sockets);
	cJSON_AddStringToObject(o, "model", c->model);
	cJSON_AddStringToObject(o, "mhz", c->mhz);
	cJSON_AddNumberToObject(o, "hvm", c->hvm);
	cJSON_AddNumberToObject(o, "user_hz", 100);
	return o;
}

static cJSON *memory_json(const struct nodeinfo_mem *m, int swap)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "total", (double)(swap ? m->swap_total : m->total));
	cJSON_AddNumberToObject(o, "used", (double)(swap ? m->swap_used : m->used));
	cJSON_AddNumberToObject(o, "free", (double)(swap ? m->swap_free : m->free));
	if (!swap)
		cJSON_AddNumberToObject(o, "available", (double)m->available);
	return o;
}

static cJSON *rootfs_json(const struct nodeinfo_disk *d)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "total", (double)d->total);
	cJSON_AddNumberToObject(o, "used", (double)d->used);
	cJSON_AddNumberToObject(o, "free", (double)d->free);
	cJSON_AddNumberToObject(o, "avail", (double)d->avail);
	return o;
}

static void add_kernel(cJSON *o)
{
	struct nodeinfo_kernel k;
	cJSON *cur;
	char kv[256];

	if (nodeinfo_read_kernel(&k) < 0)
		return;
	snprintf(kv, sizeof(kv), "%s %s %s", k.sysname, k.release, k.version);
	cJSON_AddStringToObject(o, "kversion", kv);
	cur = cJSON_AddObjectToObject(o, "current-kernel");
	cJSON_AddStringToObject(cur, "sysname", k.sysname);
	cJSON_AddStringToObject(cur, "release", k.release);
	cJSON_AddStringToObject(cur, "version", k.version);
	cJSON_AddStringToObject(cur, "machine", k.machine);
}

static void add_loadavg(cJSON *o)
{
	char avg[3][16] = {"0", "0", "0"};
	const char *strs[3] = {avg[0], avg[1], avg[2]};

	nodeinfo_read_loadavg(avg);
	cJSON_AddItemToObject(o, "loadavg", cJSON_CreateStringArray(strs, 3));
}

static cJSON *status_json(const struct node_figures *f)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "cpu", f->cpu);
	cJSON_AddNumberToObject(o, "wait", f->wait);
	cJSON_AddNumberToObject(o, "idle", 0);
	cJSON_AddNumberToObject(o, "uptime", (double)f->uptime);
	add_loadavg(o);
	cJSON_AddItemToObject(o, "cpuinfo", cpuinfo_json(&f->cpuinfo));
	cJSON_AddItemToObject(o, "memory", memory_json(&f->mem, 0));
	cJSON_AddItemToObject(o, "swap", memory_json(&f->mem, 1));
	cJSON_AddItemToObject(o, "rootfs", rootfs_json(&f->disk));
	cJSON_AddNumberToObject(cJSON_AddObjectToObject(o, "ksm"), "shared", 0);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "boot-info"), "mode",
				nodeinfo_efi_booted() ? "efi" : "legacy-bios");
	cJSON_AddStringToObject(o, "pveversion", "corral/" CORRAL_VERSION);
	add_kernel(o);
	return o;
}

int api_node_status(struct req *req, struct resp *resp)
{
	struct node_figures f;
	int r = api_node_check(req, resp);

	if (r < 0)
		return r;
	r = read_figures(req->app, &f);
	if (r < 0)
		return resp_error(resp, r, "cannot read node status: %s", err_str(r));
	resp->data = status_json(&f);
	return 0;
}
