/* Tests for server/api_qemu_console.c's place in the route table: the three
 * console routes exist under Proxmox's paths, need VM.Console on the VM and
 * reach their handlers. */
#include <string.h>

#include "server/api.h"
#include "server/router.h"
#include "tests/unit/test.h"

static void check_route(enum http_method m, const char *path, api_handler handler,
			const struct param_spec *params)
{
	cJSON *vars = NULL;
	int known = 0;
	const struct route *r = router_match(m, path, &vars, &known);

	CHECK(r != NULL);
	if (r) {
		CHECK(r->handler == handler);
		CHECK(r->params == params);
		CHECK_STR(r->privs, "VM.Console");
		CHECK_STR(r->perm_path, "/vms/{vmid}");
		CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(vars, "vmid")), "100");
	}
	cJSON_Delete(vars);
}

static void test_console_routes(void)
{
	check_route(HTTP_POST, "/nodes/pve/qemu/100/vncproxy", api_qemu_vncproxy,
		    api_qemu_vncproxy_params);
	check_route(HTTP_POST, "/nodes/pve/qemu/100/termproxy", api_qemu_termproxy,
		    api_qemu_termproxy_params);
	check_route(HTTP_GET, "/nodes/pve/qemu/100/vncwebsocket", api_qemu_vncwebsocket,
		    api_qemu_vncwebsocket_params);
}

/* Proxmox's schemas: port 5900..5999 and the ticket are required on the
 * websocket; serial is one of serial0..3. */
static void test_schemas(void)
{
	const struct param_spec *p;
	int port = 0, ticket = 0, serial = 0;

	for (p = api_qemu_vncwebsocket_params; p->name; p++) {
		if (strcmp(p->name, "port") == 0)
			port = p->type == PT_INTEGER && p->min == 5900 && p->max == 5999 &&
			       !(p->flags & PF_OPTIONAL);
		if (strcmp(p->name, "vncticket") == 0)
			ticket = !(p->flags & PF_OPTIONAL);
	}
	for (p = api_qemu_termproxy_params; p->name; p++)
		if (strcmp(p->name, "serial") == 0)
			serial = p->type == PT_ENUM &&
				 strcmp(p->enum_values, "serial0|serial1|serial2|serial3") == 0;
	CHECK(port);
	CHECK(ticket);
	CHECK(serial);
}

static const struct test_case tests[] = {
	{ "console routes: paths, privilege, handlers", test_console_routes },
	{ "console routes: parameter schemas", test_schemas },
};

TEST_MAIN(tests)
