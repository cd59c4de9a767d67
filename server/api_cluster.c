/* /cluster: index, status, nextid and resources (pve-manager
 * PVE/API2/Cluster.pm).  A standalone node answers as Proxmox does without a
 * cluster: one node entry with nodeid 0. */
#include "server/api.h"

#include "common/err.h"
#include "common/util.h"
#include "server/app.h"
#include "server/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
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

static int wildcard(const char *addr)
{
	return !addr[0] || strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0 ||
	       strcmp(addr, "[::]") == 0;
}

/* The address other nodes reach this one at: the listen address when it is
 * a specific one, else the first non-loopback IPv4 address that is up. */
static void node_ip(const struct app *app, char *out, size_t n)
{
	struct ifaddrs *ifs, *i;

	snprintf(out, n, "127.0.0.1");
	if (!wildcard(app->cfg.listen_addr)) {
		snprintf(out, n, "%s", app->cfg.listen_addr);
		return;
	}
	if (getifaddrs(&ifs) != 0)
		return;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
		    (i->ifa_flags & IFF_LOOPBACK))
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, out,
			  (socklen_t)n);
		break;
	}
	freeifaddrs(ifs);
}

int api_cluster_status(struct req *req, struct resp *resp)
{
	struct app *app = req->app;
	cJSON *o = cJSON_CreateObject();
	char id[APP_NODE_MAX + 8], ip[64];

	snprintf(id, sizeof(id), "node/%s", app->cfg.node);
	node_ip(app, ip, sizeof(ip));
	cJSON_AddStringToObject(o, "type", "node");
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "name", app->cfg.node);
	cJSON_AddNumberToObject(o, "nodeid", 0);
	cJSON_AddStringToObject(o, "ip", ip);
	cJSON_AddNumberToObject(o, "local", 1);
	cJSON_AddNumberToObject(o, "online", 1);
	cJSON_AddStringToObject(o, "level", "");
	resp->data = cJSON_CreateArray();
	cJSON_AddItemToArray(resp->data, o);
	return 0;
}

/* --- nextid --- */

static int vmid_used(struct store_txn *txn, int64_t vmid)
{
	char key[16];
	const char *data;
	size_t len;

	snprintf(key, sizeof(key), "%lld", (long long)vmid);
	return store_get_raw(txn, DB_VMS, key, &data, &len) == 0;
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
		r = vmid_used(txn, want) ? CR_EEXISTS : 0;
		id = want;
	} else {
		while (id <= VMID_MAX && vmid_used(txn, id))
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
	return r;
}

static int vm_rows(const struct req *req, cJSON *rows)
{
	return api_qemu_resource_rows((struct req *)req, rows);
}

static int storage_rows(const struct req *req, cJSON *rows)
{
	return api_storage_resource_rows((struct req *)req, rows);
}

static const struct {
	const char *type; /* the ?type= filter value that selects these rows */
	resource_rows_fn fn;
} resource_builders[] = {
    {"node", node_rows},
    {"vm", vm_rows},
    {"storage", storage_rows},
};

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

/* --- tasks --- */

/* Rows the cluster task list shows per node (the web UI's task bar). */
#define CLUSTER_TASKS_PER_NODE 50

int api_cluster_tasks(struct req *req, struct resp *resp)
{
	int r = api_tasks_recent(req, resp, CLUSTER_TASKS_PER_NODE);

	resp->total = -1; /* Proxmox answers the list alone */
	return r;
}
