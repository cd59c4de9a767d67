/* The REST route table: method, Proxmox path (under /api2/json), parameter
 * schema, the privilege the router checks on the object path, handler.
 * tests/unit/server/routes.c walks it. */
#include "server/api.h"
#include "server/router.h"

const struct route routes[] = {
	/* --- /access --- */
	{ HTTP_GET, "/access", api_access_no_params, NULL, PERM_USER, 0, api_access_index },
	{ HTTP_GET, "/access/acl", api_access_no_params, NULL, PERM_USER, 0, api_access_acl_get },
	{ HTTP_PUT, "/access/acl", api_access_acl_put_params, NULL, PERM_USER, 0,
	  api_access_acl_put },
	{ HTTP_GET, "/access/domains", api_access_no_params, NULL, PERM_WORLD, 0,
	  api_access_domains },
	{ HTTP_GET, "/access/groups", api_access_no_params, NULL, PERM_USER, 0, api_access_groups },
	{ HTTP_POST, "/access/groups", api_access_group_set_params, "/access/groups",
	  "Group.Allocate", 0, api_access_group_create },
	{ HTTP_GET, "/access/groups/{groupid}", api_access_group_params, "/access/groups",
	  "Sys.Audit|Group.Allocate", 0, api_access_group_get },
	{ HTTP_PUT, "/access/groups/{groupid}", api_access_group_set_params, "/access/groups",
	  "Group.Allocate", 0, api_access_group_update },
	{ HTTP_DELETE, "/access/groups/{groupid}", api_access_group_params, "/access/groups",
	  "Group.Allocate", 0, api_access_group_delete },
	{ HTTP_PUT, "/access/password", api_access_password_params, NULL, PERM_USER,
	  ROUTE_NO_TOKEN, api_access_password },
	{ HTTP_GET, "/access/permissions", api_access_permissions_params, NULL, PERM_USER, 0,
	  api_access_permissions },
	{ HTTP_GET, "/access/roles", api_access_no_params, NULL, PERM_USER, 0, api_access_roles },
	{ HTTP_POST, "/access/roles", api_access_role_create_params, "/access", "Sys.Modify", 0,
	  api_access_role_create },
	{ HTTP_GET, "/access/roles/{roleid}", api_access_role_params, NULL, PERM_USER, 0,
	  api_access_role_get },
	{ HTTP_PUT, "/access/roles/{roleid}", api_access_role_update_params, "/access",
	  "Sys.Modify", 0, api_access_role_update },
	{ HTTP_DELETE, "/access/roles/{roleid}", api_access_role_params, "/access", "Sys.Modify",
	  0, api_access_role_delete },
	{ HTTP_GET, "/access/ticket", api_access_no_params, NULL, PERM_WORLD, 0,
	  api_access_ticket_get },
	{ HTTP_POST, "/access/ticket", api_access_ticket_params, NULL, PERM_WORLD,
	  ROUTE_NO_TOKEN | ROUTE_NO_CSRF, api_access_ticket },
	{ HTTP_GET, "/access/users", api_access_users_params, NULL, PERM_USER, 0, api_access_users },
	{ HTTP_POST, "/access/users", api_access_user_create_params, NULL, PERM_USER, 0,
	  api_access_user_create },
	{ HTTP_GET, "/access/users/{userid}", api_access_user_params, NULL, PERM_USER, 0,
	  api_access_user_get },
	{ HTTP_PUT, "/access/users/{userid}", api_access_user_update_params, NULL, PERM_USER, 0,
	  api_access_user_update },
	{ HTTP_DELETE, "/access/users/{userid}", api_access_user_params, NULL, PERM_USER, 0,
	  api_access_user_delete },
	{ HTTP_GET, "/access/users/{userid}/token", api_access_user_params, NULL, PERM_USER, 0,
	  api_access_tokens },
	{ HTTP_GET, "/access/users/{userid}/token/{tokenid}", api_access_token_params, NULL,
	  PERM_USER, 0, api_access_token_get },
	{ HTTP_POST, "/access/users/{userid}/token/{tokenid}", api_access_token_set_params, NULL,
	  PERM_USER, 0, api_access_token_create },
	{ HTTP_PUT, "/access/users/{userid}/token/{tokenid}", api_access_token_set_params, NULL,
	  PERM_USER, 0, api_access_token_update },
	{ HTTP_DELETE, "/access/users/{userid}/token/{tokenid}", api_access_token_params, NULL,
	  PERM_USER, 0, api_access_token_delete },

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
	{ HTTP_GET, "/cluster/tasks", api_no_params, NULL, PERM_USER, 0, api_cluster_tasks },
};

const size_t routes_count = sizeof(routes) / sizeof(routes[0]);
