/* The REST route table: method, Proxmox path (under /api2/json), parameter
 * schema, the privilege the router checks on the object path, handler.
 * tests/unit/server/routes.c walks it. */
#include "server/api.h"
#include "server/router.h"

const struct route routes[] = {
	/* --- /access --- */

	/* --- /nodes/{node}/tasks --- */

	/* --- /version, /nodes --- */

	/* --- /cluster --- */
};

const size_t routes_count = sizeof(routes) / sizeof(routes[0]);
