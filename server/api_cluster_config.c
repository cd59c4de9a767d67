/* /cluster/config (create, join, join information, member list, removal)
 * as pve-cluster's API2/ClusterConfig.pm serves them, Corral's gossip key
 * rotation (/cluster/config/keys), and the peer-only
 * /cluster/peer calls members use to pull each other's VM inventory and
 * access configuration. */
#include "server/api.h"

#include "common/err.h"
#include "server/app.h"
#include "server/cluster.h"
#include "server/params.h"
#include "server/peer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "[address=]ADDR[,priority=N]" (Proxmox's link property string): ADDR. */
static int link_address(const char *v, char *out, size_t n)
{
	const char *s = strncmp(v, "address=", 8) == 0 ? v + 8 : v;
	size_t len = strcspn(s, ",");
	char host[CLUSTER_HOSTPORT_MAX];
	uint16_t port;

	if (len == 0 || len >= n)
		return -EINVAL;
	memcpy(out, s, len);
	out[len] = '\0';
	return cluster_parse_hostport(out, CLUSTER_GOSSIP_PORT, host, sizeof(host), &port);
}

static int check_link(const char *v, char *err, size_t errlen)
{
	char addr[CLUSTER_HOSTPORT_MAX];

	if (link_address(v, addr, sizeof(addr)) == 0)
		return 0;
	snprintf(err, errlen, "value does not match the regex pattern");
	return -EINVAL;
}

static int check_clustername(const char *v, char *err, size_t errlen)
{
	if (cluster_name_valid(v))
		return 0;
	snprintf(err, errlen, "value does not match the regex pattern");
	return -EINVAL;
}

static int check_fingerprint(const char *v, char *err, size_t errlen)
{
	char fp[CLUSTER_FP_LEN];

	if (cluster_fp_normalize(v, fp) == 0)
		return 0;
	snprintf(err, errlen, "value does not match the regex pattern");
	return -EINVAL;
}

static int check_hostport(const char *v, char *err, size_t errlen)
{
	char host[CLUSTER_HOSTPORT_MAX];
	uint16_t port;

	if (cluster_parse_hostport(v, CLUSTER_API_PORT, host, sizeof(host), &port) == 0)
		return 0;
	snprintf(err, errlen, "value does not look like a valid address or host name");
	return -EINVAL;
}

#define LINK_PARAM(n) \
	{ .name = n, .type = PT_STRING, .flags = PF_OPTIONAL, .max = 256, .check = check_link }

const struct param_spec api_cluster_create_params[] = {
	{ .name = "clustername", .type = PT_STRING, .max = 15, .check = check_clustername },
	LINK_PARAM("link0"),
	{ .name = "nodeid", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 1, .max = 4096 },
	{ .name = "votes", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 1, .max = 1 },
	{ .name = NULL },
};

const struct param_spec api_cluster_join_params[] = {
	{ .name = "hostname", .type = PT_STRING, .max = 255, .check = check_hostport },
	{ .name = "fingerprint", .type = PT_STRING, .max = 128, .check = check_fingerprint },
	{ .name = "password", .type = PT_STRING, .flags = PF_SECRET, .max = 128 },
	{ .name = "username", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 128 },
	LINK_PARAM("link0"),
	{ .name = "nodeid", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 1, .max = 4096 },
	{ .name = "votes", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 1, .max = 1 },
	{ .name = "force", .type = PT_BOOLEAN, .flags = PF_OPTIONAL },
	{ .name = NULL },
};

const struct param_spec api_cluster_join_info_params[] = {
	{ .name = "node", .type = PT_STRING, .flags = PF_OPTIONAL, .check = param_check_pve_node },
	{ .name = NULL },
};

const struct param_spec api_cluster_node_params[] = {
	{ .name = "node", .type = PT_STRING, .check = param_check_pve_node },
	{ .name = NULL },
};

const struct param_spec api_cluster_addnode_params[] = {
	{ .name = "node", .type = PT_STRING, .check = param_check_pve_node },
	{ .name = "api", .type = PT_STRING, .max = 255, .check = check_hostport },
	LINK_PARAM("link0"),
	{ .name = "fingerprint", .type = PT_STRING, .max = 128, .check = check_fingerprint },
	{ .name = "new_node_ip", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 255 },
	{ .name = "force", .type = PT_BOOLEAN, .flags = PF_OPTIONAL },
	{ .name = NULL },
};

static int check_key(const char *v, char *err, size_t errlen)
{
	uint8_t key[32];

	if (cluster_key_from_hex(v, key) == 0)
		return 0;
	snprintf(err, errlen, "value does not match the regex pattern");
	return -EINVAL;
}

const struct param_spec api_cluster_key_params[] = {
	{ .name = "key", .type = PT_STRING, .flags = PF_SECRET, .max = 64, .check = check_key },
	/* Set by the node that propagates the change: apply here only. */
	{ .name = "local", .type = PT_BOOLEAN, .flags = PF_OPTIONAL },
	{ .name = NULL },
};

const struct param_spec api_cluster_peer_inv_params[] = {
	{ .name = "epoch", .type = PT_INTEGER, .min = 0, .max = INT64_MAX / 2 },
	{ .name = "since", .type = PT_INTEGER, .min = 0, .max = INT64_MAX / 2 },
	{ .name = NULL },
};

int api_cluster_config_index(struct req *req, struct resp *resp)
{
	(void)req;
	resp->data = api_subdirs("/cluster/config/");
	return 0;
}

int api_cluster_config_create(struct req *req, struct resp *resp)
{
	char link[CLUSTER_HOSTPORT_MAX] = "", err[256] = "";
	const char *l = req_str(req, "link0");
	int r;

	if (l)
		link_address(l, link, sizeof(link));
	r = cluster_create(req->app->cluster, req_str(req, "clustername"), link[0] ? link : NULL,
			   err, sizeof(err));
	return r < 0 ? resp_error(resp, r, "%s", err) : 0;
}

int api_cluster_config_join(struct req *req, struct resp *resp)
{
	char link[CLUSTER_HOSTPORT_MAX] = "", err[512] = "";
	const char *l = req_str(req, "link0");
	struct cluster_join_req j = {
		.hostname = req_str(req, "hostname"),
		.fingerprint = req_str(req, "fingerprint"),
		.password = req_str(req, "password"),
		.username = req_str(req, "username"),
	};
	int r;

	if (l) {
		link_address(l, link, sizeof(link));
		j.link = link;
	}
	r = cluster_join(req->app->cluster, &j, err, sizeof(err));
	return r < 0 ? resp_error(resp, r, "%s", err) : 0;
}

/* One corosync-style nodelist entry, as Proxmox lists them. */
static cJSON *node_entry(const struct cluster_member *m, int id, int for_join)
{
	cJSON *o = cJSON_CreateObject();
	char host[CLUSTER_HOSTPORT_MAX] = "", nodeid[12];
	uint16_t port;

	snprintf(nodeid, sizeof(nodeid), "%d", id);
	cluster_parse_hostport(m->api, CLUSTER_API_PORT, host, sizeof(host), &port);
	cJSON_AddStringToObject(o, for_join ? "name" : "node", m->name);
	if (!for_join)
		cJSON_AddStringToObject(o, "name", m->name);
	cJSON_AddStringToObject(o, "nodeid", nodeid);
	cJSON_AddStringToObject(o, "quorum_votes", "1");
	cJSON_AddStringToObject(o, "ring0_addr", m->gossip);
	if (for_join) {
		cJSON_AddStringToObject(o, "pve_addr", host);
		cJSON_AddStringToObject(o, "pve_fp", m->fp);
	}
	return o;
}

#define MEMBERS_MAX 256

static struct cluster_member *members(struct req *req, size_t *n)
{
	struct cluster_member *m = calloc(MEMBERS_MAX, sizeof(*m));

	*n = m ? cluster_members(req->app->cluster, m, MEMBERS_MAX) : 0;
	return m;
}

int api_cluster_config_nodes(struct req *req, struct resp *resp)
{
	size_t n;
	struct cluster_member *m = members(req, &n);

	if (!m)
		return resp_error(resp, -ENOMEM, "out of memory");
	if (!n) {
		free(m);
		return resp_error(resp, CR_EINTERNAL, "Corosync config '/etc/pve/corosync.conf' does not exist - is this node part of a cluster?");
	}
	resp->data = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(resp->data, node_entry(&m[i], (int)i + 1, 0));
	free(m);
	return 0;
}

int api_cluster_config_join_info(struct req *req, struct resp *resp)
{
	const char *want = req_str(req, "node");
	char name[CLUSTER_NAME_MAX] = "";
	size_t n;
	struct cluster_member *m = members(req, &n);
	cJSON *list, *totem;

	if (!m)
		return resp_error(resp, -ENOMEM, "out of memory");
	if (!n || !cluster_is_member(req->app->cluster, name, sizeof(name))) {
		free(m);
		return resp_error(resp, CR_EINTERNAL, "unable to get joininfo: node is not in a cluster");
	}
	resp->data = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(resp->data, "nodelist");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(list, node_entry(&m[i], (int)i + 1, 1));
	cJSON_AddStringToObject(resp->data, "preferred_node", want ? want : req->app->cfg.node);
	totem = cJSON_AddObjectToObject(resp->data, "totem");
	cJSON_AddStringToObject(totem, "cluster_name", name);
	cJSON_AddStringToObject(totem, "version", "2");
	cJSON_AddStringToObject(resp->data, "config_digest", name);
	free(m);
	return 0;
}

int api_cluster_config_addnode(struct req *req, struct resp *resp)
{
	char link[CLUSTER_HOSTPORT_MAX], fp[CLUSTER_FP_LEN], err[256] = "";
	cJSON *out = NULL;
	int r;

	link_address(req_str(req, "link0") ? req_str(req, "link0") : "", link, sizeof(link));
	cluster_fp_normalize(req_str(req, "fingerprint"), fp);
	r = cluster_add_node(req->app->cluster, req_str(req, "node"), req_str(req, "api"), link, fp,
			     &out, err, sizeof(err));
	if (r < 0)
		return resp_error(resp, r, "%s", err);
	resp->data = out;
	return 0;
}

int api_cluster_config_delnode(struct req *req, struct resp *resp)
{
	char err[256] = "";
	int r = cluster_remove_node(req->app->cluster, req_str(req, "node"), err, sizeof(err));

	return r < 0 ? resp_error(resp, r, "%s", err) : 0;
}

/* --- gossip key rotation --- */

static const char *method_name(enum http_method m)
{
	return m == HTTP_POST ? "POST" : m == HTTP_PUT ? "PUT" : "DELETE";
}

/* The same change on member M; the outcome as text ("ok" or why not). */
static cJSON *key_on_member(struct req *req, const struct cluster_member *m)
{
	cJSON *q = cJSON_CreateObject(), *out;
	struct peer_reply rp;
	char err[256];

	cJSON_AddStringToObject(q, "key", req_str(req, "key"));
	cJSON_AddNumberToObject(q, "local", 1);
	if (peer_request(req->app, m->name, method_name(req->method), "/cluster/config/keys", q,
			 req->who->userid, &rp, err, sizeof(err)) < 0) {
		out = cJSON_CreateString(err);
	} else {
		snprintf(err, sizeof(err), "%d %.200s", rp.status, rp.reason);
		out = cJSON_CreateString(rp.status == 200 ? "ok" : err);
		peer_reply_free(&rp);
	}
	cJSON_Delete(q);
	return out;
}

/* Applied here, then on every other member (offline ones say so in the
 * answer: {"node": "ok" | reason}; run the same call again once they are
 * back, it is idempotent). */
int api_cluster_config_key(struct req *req, struct resp *resp)
{
	enum cluster_key_op op = req->method == HTTP_POST  ? CLUSTER_KEY_INSTALL
				 : req->method == HTTP_PUT ? CLUSTER_KEY_USE
							   : CLUSTER_KEY_REMOVE;
	char err[256] = "";
	size_t n;
	struct cluster_member *m;
	int r = cluster_key_change(req->app->cluster, op, req_str(req, "key"), err, sizeof(err));

	if (r < 0)
		return resp_error(resp, r, "%s", err);
	resp->data = cJSON_CreateObject();
	cJSON_AddStringToObject(resp->data, req->app->cfg.node, "ok");
	if (req_bool(req, "local", 0) || !(m = members(req, &n)))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!m[i].local)
			cJSON_AddItemToObject(resp->data, m[i].name,
					      m[i].online ? key_on_member(req, &m[i])
							  : cJSON_CreateString("node is offline"));
	free(m);
	return 0;
}

/* --- peer-only calls: members authenticate as root@pam with the shared key --- */

static int peer_only(const struct req *req, struct resp *resp)
{
	if (req->who && strcmp(req->who->userid, "root@pam") == 0 && !req->who->tokenid[0])
		return 0;
	return resp_error(resp, CR_EPERM_CHECK, "Permission check failed (cluster members only)");
}

int api_cluster_peer_inventory(struct req *req, struct resp *resp)
{
	int r = peer_only(req, resp);

	if (r < 0)
		return r;
	resp->data = cluster_inventory_delta(req->app->cluster, (uint64_t)req_int(req, "epoch", 0),
					     (uint64_t)req_int(req, "since", 0));
	return resp->data ? 0 : resp_error(resp, -ENOMEM, "out of memory");
}

int api_cluster_peer_access(struct req *req, struct resp *resp)
{
	int r = peer_only(req, resp);

	if (r < 0)
		return r;
	resp->data = cluster_access_export(req->app->cluster);
	return resp->data ? 0 : resp_error(resp, CR_ESTORE, "cannot read the access configuration");
}
