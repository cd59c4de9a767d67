/* Handlers and parameter schemas of the REST API, one section per api_*.c
 * file.  The route table in routes.c refers to these. */
#ifndef CORRAL_API_H
#define CORRAL_API_H

#include "server/router.h"

/* --- api_access.c: /access --- */

/* --- api_tasks.c: /nodes/{node}/tasks --- */

extern const struct param_spec api_tasks_list_params[];
extern const struct param_spec api_task_params[];
extern const struct param_spec api_task_log_params[];
int api_tasks_list(struct req *req, struct resp *resp);
int api_task_index(struct req *req, struct resp *resp);
int api_task_status(struct req *req, struct resp *resp);
int api_task_log(struct req *req, struct resp *resp);
int api_task_stop(struct req *req, struct resp *resp);

/* --- api_nodes.c: /version, /nodes, /nodes/{node}/status --- */

extern const struct param_spec api_no_params[];
extern const struct param_spec api_node_params[]; /* just {node} */
int api_version(struct req *req, struct resp *resp);
int api_nodes_list(struct req *req, struct resp *resp);
int api_node_index(struct req *req, struct resp *resp);
int api_node_status(struct req *req, struct resp *resp);

/* 1 when NODE is this corrald's node.  The one place that decides whether a
 * {node} request is served here (the cluster will forward the others). */
int api_node_is_local(const struct app *app, const char *node);
/* 0 when the {node} parameter is this node; else 500 "no such node" in RESP. */
int api_node_check(const struct req *req, struct resp *resp);
/* 1 when the caller holds any of PRIVS ("A|B") on PATH: for handlers that
 * filter what they show (PERM_USER routes). */
int api_can(const struct req *req, const char *path, const char *privs);
int api_can_audit_node(const struct req *req, const char *node);
/* [{name}] of the route table's path segments right under PREFIX
 * ("/nodes/{node}/"), sorted: the index answers of Proxmox. */
cJSON *api_subdirs(const char *prefix);
/* This node's row for /nodes (FOR_RESOURCES 0: with ssl_fingerprint) or
 * /cluster/resources (1: with cgroup-mode); figures only with Sys.Audit on
 * /nodes/<node>.  *OUT is owned by the caller. */
int api_node_row(const struct req *req, int for_resources, cJSON **out);

/* --- api_cluster.c: /cluster --- */

extern const struct param_spec api_nextid_params[];
extern const struct param_spec api_resources_params[];
int api_cluster_index(struct req *req, struct resp *resp);
int api_cluster_status(struct req *req, struct resp *resp);
int api_cluster_nextid(struct req *req, struct resp *resp);
int api_cluster_resources(struct req *req, struct resp *resp);

#endif
