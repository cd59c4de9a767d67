/* Tests for server/api_qemu_console_grant.c: one-time console grants, one
 * per port, bound to ticket, user and VM, expiring. */
#include <errno.h>
#include <string.h>

#include "common/err.h"
#include "server/api_qemu_console.h"
#include "tests/unit/test.h"

#define T0 1700000000

static void test_take_once(void)
{
	struct console_grants *g;
	char what[CONSOLE_WHAT_MAX];
	unsigned port = 0;

	CHECK_INT(console_grants_new(&g), 0);
	CHECK_INT(console_grant_add(g, "PVEVNC:A::x", "root@pam", 100, "serial0", T0, 40, &port), 0);
	CHECK(port >= CONSOLE_PORT_MIN && port <= CONSOLE_PORT_MAX);
	CHECK_INT(console_grant_take(g, "PVEVNC:A::x", "root@pam", 100, port, T0 + 1, what,
				     sizeof(what)), 0);
	CHECK_STR(what, "serial0");
	/* Reuse is refused. */
	CHECK_INT(console_grant_take(g, "PVEVNC:A::x", "root@pam", 100, port, T0 + 1, what,
				     sizeof(what)), CR_EAUTH);
	console_grants_free(g);
}

static void test_bindings(void)
{
	struct console_grants *g;
	char what[CONSOLE_WHAT_MAX];
	unsigned port = 0, port2 = 0;

	CHECK_INT(console_grants_new(&g), 0);
	CHECK_INT(console_grant_add(g, "T1", "alice@pve", 100, "vnc", T0, 40, &port), 0);
	CHECK_INT(console_grant_add(g, "T2", "alice@pve", 100, "vnc", T0, 40, &port2), 0);
	CHECK(port != port2);
	CHECK_INT(console_grant_take(g, "T2", "alice@pve", 100, port, T0, what, sizeof(what)), CR_EAUTH);
	CHECK_INT(console_grant_take(g, "T1", "bob@pve", 100, port, T0, what, sizeof(what)), CR_EAUTH);
	CHECK_INT(console_grant_take(g, "T1", "alice@pve", 101, port, T0, what, sizeof(what)), CR_EAUTH);
	CHECK_INT(console_grant_take(g, "T1", "alice@pve", 100, port, T0 + 40, what, sizeof(what)),
		  CR_EAUTH);
	CHECK_INT(console_grant_take(g, "T1", "alice@pve", 100, 5899, T0, what, sizeof(what)), CR_EAUTH);
	CHECK_INT(console_grant_take(g, "T1", "alice@pve", 100, port, T0, what, sizeof(what)), 0);
	CHECK_INT(console_grant_take(g, "T2", "alice@pve", 100, port2, T0, what, sizeof(what)), 0);
	console_grants_free(g);
}

static void test_full_then_expired(void)
{
	struct console_grants *g;
	unsigned port;
	int n = 0;

	CHECK_INT(console_grants_new(&g), 0);
	while (console_grant_add(g, "T", "root@pam", 100, "vnc", T0, 40, &port) == 0 && n < 1000)
		n++;
	CHECK_INT(n, CONSOLE_PORT_MAX - CONSOLE_PORT_MIN + 1);
	CHECK_INT(console_grant_add(g, "T", "root@pam", 100, "vnc", T0 + 39, 40, &port), -EAGAIN);
	/* Expired grants free their ports. */
	CHECK_INT(console_grant_add(g, "T", "root@pam", 100, "vnc", T0 + 40, 40, &port), 0);
	console_grants_free(g);
}

static const struct test_case tests[] = {
	{ "grant: taken once", test_take_once },
	{ "grant: bound to ticket, user, VM, port and time", test_bindings },
	{ "grant: ports run out, expired ones come back", test_full_then_expired },
};

TEST_MAIN(tests)
