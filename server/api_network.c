/* GET /nodes/{node}/network: the node's interfaces (bridges, bonds, VLANs,
 * physical NICs) in Proxmox's field names, filtered by the type parameter. */
#include "server/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "server/app.h"
#include "server/netif.h"
#include "server/params.h"

#define SYSNET "/sys/class/net"
#define IFACES_FILE "/etc/network/interfaces"
#define IFACES_MAX (1024 * 1024)

const struct param_spec api_network_params[] = {
	{ .name = "node", .type = PT_STRING, .check = param_check_pve_node },
	{ .name = "type", .type = PT_STRING, .flags = PF_OPTIONAL,
	  .check = netif_check_type_filter },
	{ .name = NULL },
};

static void add_families(cJSON *o, const struct netif *e)
{
	cJSON *fam = cJSON_AddArrayToObject(o, "families");

	if (e->address[0])
		cJSON_AddItemToArray(fam, cJSON_CreateString("inet"));
	if (e->address6[0])
		cJSON_AddItemToArray(fam, cJSON_CreateString("inet6"));
}

/* ADDR/PREFIX as "address", "cidr" and "netmask" (SUFFIX "" or "6"). */
static void add_address(cJSON *o, const char *addr, int prefix, const char *suffix)
{
	char key[16], buf[96];

	if (!addr[0])
		return;
	snprintf(key, sizeof(key), "address%s", suffix);
	cJSON_AddStringToObject(o, key, addr);
	snprintf(key, sizeof(key), "cidr%s", suffix);
	snprintf(buf, sizeof(buf), "%s/%d", addr, prefix);
	cJSON_AddStringToObject(o, key, buf);
	snprintf(key, sizeof(key), "netmask%s", suffix);
	snprintf(buf, sizeof(buf), "%d", prefix);
	cJSON_AddStringToObject(o, key, buf);
}

static cJSON *iface_json(const struct netif *e, int priority)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "iface", e->name);
	cJSON_AddStringToObject(o, "type", netif_type_name(e->type));
	cJSON_AddNumberToObject(o, "priority", priority);
	cJSON_AddNumberToObject(o, "exists", 1);
	if (e->active)
		cJSON_AddNumberToObject(o, "active", 1);
	if (e->autostart)
		cJSON_AddNumberToObject(o, "autostart", 1);
	if (e->type == NETIF_BRIDGE)
		cJSON_AddStringToObject(o, "bridge_ports", e->ports);
	else if (e->type == NETIF_BOND)
		cJSON_AddStringToObject(o, "slaves", e->ports);
	add_address(o, e->address, e->prefix, "");
	add_address(o, e->address6, e->prefix6, "6");
	add_families(o, e);
	return o;
}

static void apply_autostart(struct netif_list *l)
{
	char *text = NULL;
	size_t len;

	if (util_read_file(IFACES_FILE, IFACES_MAX, &text, &len) == 0)
		netif_apply_autostart(l, text);
	free(text);
}

int api_network_index(struct req *req, struct resp *resp)
{
	const char *filter = req_str(req, "type");
	struct netif_list *l;
	char err[256];
	int r = api_node_check(req, resp);

	if (r < 0)
		return r;
	if ((r = netif_scan(SYSNET, &l, err, sizeof(err))) < 0)
		return resp_error(resp, r, "%s", err);
	apply_autostart(l);
	netif_apply_addresses(l);
	resp->data = cJSON_CreateArray();
	for (size_t i = 0; i < netif_count(l); i++) {
		const struct netif *e = netif_at(l, i);

		if (netif_type_matches(e->type, filter))
			cJSON_AddItemToArray(resp->data, iface_json(e, (int)i + 1));
	}
	netif_list_free(l);
	return 0;
}
