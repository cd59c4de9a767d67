/* /cluster: index, status, nextid and resources (pve-manager
 * PVE/API2/Cluster.pm).  A standalone node answers as Proxmox does without a
 * cluster: one node entry with nodeid 0; a member lists every member as
 * gossip sees it and the other members' VMs from their pulled inventories. */
#include "server/api.h"

#include "common/err.h"
#include "common/util.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/cluster.h"
#include "server/store.h"
#include "cluster/swim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VMID_MIN 100
#define VMID_MAX 999999999

const struct param_spec api_nextid_params[] = {
    {.name = "vmid", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = VMID_MIN, .max = VMID_MAX},
    {.name = NULL},
};

const struct param_spec api_resources_params[] = {
    {.name = "type", .type = PT_ENUM, .flags = PF_OPTIONAL, .enum_values = "vm|storage|node|sdn"},
    {.name = NULL},
};

int api_cluster_index(struct req *req, struct resp *resp)
{
	(void)req;
	resp->data = api_subdirs("/cluster/");
	return 0;
}

/* --- status --- */

static cJSON *status_node(const char *name, const char *ip, int nodeid, int local, int online)
{
	cJSON *o = cJSON_CreateObject();
	char id[APP_NODE_MAX + 8];

	snprintf(id, sizeof(id), "node/%s", name);
	cJSON_AddStringToObject(o, "type", "node");
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddNumberToObject(o, "nodeid", nodeid);
	cJSON_AddStringToObject(o, "ip", ip);
	cJSON_AddNumberToObject(o, "local", local);
	cJSON_AddNumberToObject(o, "online", online);
	cJSON_AddStringToObject(o, "level", "");
	return o;
}

/* The "cluster" entry, with Corral's gossip counters and VMID conflicts
 * (the same VMID on two members, e.g. created on both sides of a partition:
 * reported, never merged; rename one with a clone + destroy). */
static cJSON *status_cluster(struct cluster *c, const char *name, size_t nodes, size_t online)
{
	cJSON *o = cJSON_CreateObject(), *g;
	struct swim_stats st;

	cluster_stats(c, &st);
	cJSON_AddStringToObject(o, "type", "cluster");
	cJSON_AddStringToObject(o, "id", "cluster");
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddNumberToObject(o, "nodes", (double)nodes);
	cJSON_AddNumberToObject(o, "online", (double)online);
	cJSON_AddNumberToObject(o, "version", 1);
	/* Gossip has no quorum: every partition keeps working. */
	cJSON_AddNumberToObject(o, "quorate", 1);
	g = cJSON_AddObjectToObject(o, "gossip");
	cJSON_AddNumberToObject(g, "drop_decrypt", (double)st.drop_decrypt);
	cJSON_AddNumberToObject(g, "drop_malformed", (double)st.drop_malformed);
	cJSON_AddNumberToObject(g, "suspects", (double)st.suspects_raised);
	cJSON_AddNumberToObject(g, "deaths", (double)st.deaths_declared);
	cJSON_AddNumberToObject(g, "refutations", (double)st.refutations);
	cJSON_AddNumberToObject(g, "probes", (double)st.probes);
	cJSON_AddNumberToObject(g, "probes_failed", (double)st.probes_failed);
	cJSON_AddNumberToObject(g, "udp_sent", (double)st.udp_sent);
	cJSON_AddNumberToObject(g, "udp_recv", (double)st.udp_recv);
	cJSON_AddNumberToObject(g, "pushpulls", (double)st.pushpulls);
	cJSON_AddItemToObject(o, "conflicts", cluster_vmid_conflicts(c));
	return o;
}

#define STATUS_MEMBERS_MAX 256

static int status_members(struct app *app, const char *name, cJSON *out)
{
	struct cluster_member *m = calloc(STATUS_MEMBERS_MAX, sizeof(*m));
	size_t n = m ? cluster_members(app->cluster, m, STATUS_MEMBERS_MAX) : 0, online = 0;
	char host[CLUSTER_HOSTPORT_MAX];
	uint16_t port;

	if (!m)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		online += m[i].online != 0;
	cJSON_AddItemToArray(out, status_cluster(app->cluster, name, n, online));
	for (size_t i = 0; i < n; i++) {
		if (cluster_parse_hostport(m[i].api, CLUSTER_API_PORT, host, sizeof(host), &port) < 0)
			host[0] = '\0';
		cJSON_AddItemToArray(out, status_node(m[i].name, host, (int)i + 1, m[i].local,
						      m[i].online));
	}
	free(m);
	return 0;
}

int api_cluster_status(struct req *req, struct resp *resp)
{
	struct app *app = req->app;
	char ip[64], name[CLUSTER_NAME_MAX];

	resp->data = cJSON_CreateArray();
	if (app->cluster && cluster_is_member(app->cluster, name, sizeof(name)))
		return status_members(app, name, resp->data);
	cluster_node_ip(app, ip, sizeof(ip));
	cJSON_AddItemToArray(resp->data, status_node(app->cfg.node, ip, 0, 1, 1));
	return 0;
}

/* --- nextid --- */

/* Used here or, as the gossiped inventories say, on any other member. */
static int vmid_used(const struct app *app, struct store_txn *txn, int64_t vmid)
{
	char key[16];
	const char *data;
	size_t len;

	snprintf(key, sizeof(key), "%lld", (long long)vmid);
	if (store_get_raw(txn, DB_VMS, key, &data, &len) == 0)
		return 1;
	return app->cluster && cluster_vmid_elsewhere(app->cluster, (int)vmid, NULL, 0);
}

int api_cluster_nextid(struct req *req, struct resp *resp)
{
	struct store_txn *txn;
	int64_t want = req_int(req, "vmid", 0), id = VMID_MIN;
	char text[16];
	int r = store_begin(req->app->store, 1, &txn);

	if (r < 0)
		return resp_error(resp, r, "cannot read the configuration: %s", err_str(r));
	if (want) {
		r = vmid_used(req->app, txn, want) ? CR_EEXISTS : 0;
		id = want;
	} else {
		while (id <= VMID_MAX && vmid_used(req->app, txn, id))
			id++;
	}
	store_abort(txn);
	if (r == CR_EEXISTS)
		return resp_param_error(resp, "vmid", "VM %lld already exists", (long long)want);
	if (id > VMID_MAX)
		return resp_error(resp, CR_EINTERNAL, "unable to get any free VMID");
	/* A JSON string, never a number: Telmate's client asserts the type. */
	snprintf(text, sizeof(text), "%lld", (long long)id);
	resp->data = cJSON_CreateString(text);
	return 0;
}

/* --- resources --- */

/* One builder per row type; the VM ("vm") and storage builders join this
 * table with their subsystems. */
typedef int (*resource_rows_fn)(const struct req *req, cJSON *rows);

static int node_rows(const struct req *req, cJSON *rows)
{
	cJSON *row;
	int r = api_node_row(req, 1, &row);

	if (r == 0)
		cJSON_AddItemToArray(rows, row);
	return r == 0 ? api_cluster_member_rows(req, 1, rows) : r;
}

static int may_audit_vm(void *arg, int vmid)
{
	char path[32];

	snprintf(path, sizeof(path), "/vms/%d", vmid);
	return auth_checker_can(arg, path, "VM.Audit");
}

/* This node's VM rows, then the other members' (from their inventories),
 * those checked over one access snapshot; pool members name their pool. */
static int vm_rows(const struct req *req, cJSON *rows)
{
	int first = cJSON_GetArraySize(rows), r = api_qemu_resource_rows((struct req *)req, rows);
	struct auth_checker *auth;

	if (r == 0 && req->app->cluster) {
		if (!(auth = auth_checker_new(req->app->auth, req->who)))
			return -ENOMEM;
		cluster_remote_vm_rows(req->app->cluster, rows, may_audit_vm, auth);
		auth_checker_free(auth);
	}
	return r < 0 ? r : api_pools_tag_vm_rows(req, rows, first);
}

static int may_audit_storage(void *arg, const char *storage)
{
	char path[96];

	snprintf(path, sizeof(path), "/storage/%s", storage);
	return auth_checker_can(arg, path, "Datastore.Audit|Datastore.AllocateSpace");
}

/* This node's storages, then the other members' (from their inventories). */
static int storage_rows(const struct req *req, cJSON *rows)
{
	int r = api_storage_resource_rows((struct req *)req, rows);
	struct auth_checker *auth;

	if (r < 0 || !req->app->cluster)
		return r;
	if (!(auth = auth_checker_new(req->app->auth, req->who)))
		return -ENOMEM;
	cluster_remote_storage_rows(req->app->cluster, rows, may_audit_storage, auth);
	auth_checker_free(auth);
	return 0;
}

static const struct {
	const char *type; /* the ?type= filter value that selects these rows */
	resource_rows_fn fn;
} resource_builders[] = {
    {"node", node_rows},
    {"vm", vm_rows},
    {"storage", storage_rows},
    /* "pool" is no ?type= value (as in Proxmox): pool rows come unfiltered only. */
    {"pool", api_pools_resource_rows},
};

int api_cluster_rows(const struct req *req, const char *type, cJSON *rows)
{
	for (size_t i = 0; i < ARRAY_SIZE(resource_builders); i++)
		if (strcmp(type, resource_builders[i].type) == 0)
			return resource_builders[i].fn(req, rows);
	return 0;
}

int api_cluster_resources(struct req *req, struct resp *resp)
{
	const char *type = req_str(req, "type");
	int r = 0;

	resp->data = cJSON_CreateArray();
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(resource_builders); i++)
		if (!type || strcmp(type, resource_builders[i].type) == 0)
			r = resource_builders[i].fn(req, resp->data);
	if (r < 0)
		return resp_error(resp, r, "cannot list resources: %s", err_str(r));
	return 0;
}

/* --- other members' node rows, from their gossiped records --- */

static cJSON *member_row(const struct req *req, const struct cluster_member *m, int for_resources)
{
	cJSON *o = cJSON_CreateObject();
	char id[APP_NODE_MAX + 8];
	const struct cluster_rec *rec = &m->rec;

	snprintf(id, sizeof(id), "node/%s", m->name);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "type", "node");
	cJSON_AddStringToObject(o, "node", m->name);
	cJSON_AddStringToObject(o, "status", m->online ? "online" : "offline");
	cJSON_AddStringToObject(o, "level", "");
	if (!for_resources)
		cJSON_AddStringToObject(o, "ssl_fingerprint", m->fp);
	if (!m->online || !m->has_rec || !api_can_audit_node(req, m->name))
		return o;
	cJSON_AddNumberToObject(o, "maxcpu", rec->cpus);
	cJSON_AddNumberToObject(o, "cpu", rec->cpus ? (rec->load > rec->cpus ? 1 : rec->load / rec->cpus) : 0);
	cJSON_AddNumberToObject(o, "mem", (double)rec->mem);
	cJSON_AddNumberToObject(o, "maxmem", (double)rec->maxmem);
	cJSON_AddNumberToObject(o, "uptime", (double)rec->uptime);
	return o;
}

int api_cluster_member_rows(const struct req *req, int for_resources, cJSON *rows)
{
	struct cluster_member *m;
	size_t n;

	if (!req->app->cluster || !cluster_is_member(req->app->cluster, NULL, 0))
		return 0;
	if (!(m = calloc(STATUS_MEMBERS_MAX, sizeof(*m))))
		return -ENOMEM;
	n = cluster_members(req->app->cluster, m, STATUS_MEMBERS_MAX);
	for (size_t i = 0; i < n; i++)
		if (!m[i].local)
			cJSON_AddItemToArray(rows, member_row(req, &m[i], for_resources));
	free(m);
	return 0;
}

/* --- tasks --- */

/* Rows the cluster task list shows per node (the web UI's task bar). */
#define CLUSTER_TASKS_PER_NODE 50

int api_cluster_tasks(struct req *req, struct resp *resp)
{
	int r = api_tasks_recent(req, resp, CLUSTER_TASKS_PER_NODE);

	resp->total = -1; /* Proxmox answers the list alone */
	return r;
}
