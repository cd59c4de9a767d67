/* Handlers and parameter schemas of the REST API, one section per api_*.c
 * file.  The route table in routes.c refers to these. */
#ifndef CORRAL_API_H
#define CORRAL_API_H

#include "server/router.h"

/* --- api_access.c: /access --- */

/* --- api_tasks.c: /nodes/{node}/tasks --- */

/* --- api_nodes.c: /version, /nodes, /nodes/{node}/status --- */

/* --- api_cluster.c: /cluster --- */

#endif
