/* The REST route table: method, Proxmox path (under /api2/json), parameter
 * schema, the privilege the router checks on the object path, handler.
 * tests/unit/server/routes.c walks it. */
#include "server/api.h"
#include "server/router.h"

const struct route routes[] = {
	/* --- /access --- */

	/* --- /nodes/{node}/tasks --- */
	{ HTTP_GET, "/nodes/{node}/tasks", api_tasks_list_params,
	  NULL, PERM_USER, 0, api_tasks_list },
	{ HTTP_GET, "/nodes/{node}/tasks/{upid}", api_task_params,
	  NULL, PERM_USER, 0, api_task_index },
	{ HTTP_DELETE, "/nodes/{node}/tasks/{upid}", api_task_params,
	  NULL, PERM_USER, 0, api_task_stop },
	{ HTTP_GET, "/nodes/{node}/tasks/{upid}/log", api_task_log_params,
	  NULL, PERM_USER, 0, api_task_log },
	{ HTTP_GET, "/nodes/{node}/tasks/{upid}/status", api_task_params,
	  NULL, PERM_USER, 0, api_task_status },

	/* --- /version, /nodes --- */
	{ HTTP_GET, "/version", api_no_params, NULL, PERM_USER, 0, api_version },
	{ HTTP_GET, "/nodes", api_no_params, NULL, PERM_USER, 0, api_nodes_list },
	{ HTTP_GET, "/nodes/{node}", api_node_params, NULL, PERM_USER, 0, api_node_index },
	{ HTTP_GET, "/nodes/{node}/status", api_node_params,
	  "/nodes/{node}", "Sys.Audit", 0, api_node_status },

	/* --- /cluster --- */
	{ HTTP_GET, "/cluster", api_no_params, NULL, PERM_USER, 0, api_cluster_index },
	{ HTTP_GET, "/cluster/nextid", api_nextid_params, NULL, PERM_USER, 0, api_cluster_nextid },
	{ HTTP_GET, "/cluster/resources", api_resources_params,
	  NULL, PERM_USER, 0, api_cluster_resources },
	{ HTTP_GET, "/cluster/status", api_no_params, "/", "Sys.Audit", 0, api_cluster_status },
};

const size_t routes_count = sizeof(routes) / sizeof(routes[0]);
