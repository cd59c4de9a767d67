/* Tests for server/auth_vnc.c: VNC tickets bound to a user, a path and a
 * 40-second window, with the node's real key pair in a temp dir. */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/auth_vnc.h"
#include "tests/unit/test.h"

#define T0 1700000000

static struct auth *make_auth(struct app *app, const char *name)
{
	char dir[512], err[256] = "";
	struct auth *a = NULL;

	snprintf(dir, sizeof(dir), "%s/%s", test_tmpdir(), name);
	memset(app, 0, sizeof(*app));
	CHECK_INT(auth_new(app, dir, &a, err, sizeof(err)), 0);
	return a;
}

static void test_roundtrip(void)
{
	char t[AUTH_VNC_TICKET_MAX];
	struct app app;
	struct auth *a = make_auth(&app, "roundtrip");

	CHECK_INT(auth_vncticket_make(a, "root@pam", "/vms/100", T0, t, sizeof(t)), 0);
	CHECK(strncmp(t, "PVEVNC:6553F100::", 17) == 0);
	CHECK_INT(auth_vncticket_verify(a, t, "root@pam", "/vms/100", T0), 0);
	CHECK_INT(auth_vncticket_verify(a, t, "root@pam", "/vms/100", T0 + 40), 0);
	CHECK_INT(auth_vncticket_verify(a, t, "root@pam", "/vms/100", T0 - 20), 0);
	auth_free(a);
}

static void test_bindings(void)
{
	char t[AUTH_VNC_TICKET_MAX];
	struct app app;
	struct auth *a = make_auth(&app, "bindings");

	CHECK_INT(auth_vncticket_make(a, "alice@pve", "/vms/100", T0, t, sizeof(t)), 0);
	CHECK_INT(auth_vncticket_verify(a, t, "bob@pve", "/vms/100", T0), CR_EAUTH);
	CHECK_INT(auth_vncticket_verify(a, t, "alice@pve", "/vms/101", T0), CR_EAUTH);
	CHECK_INT(auth_vncticket_verify(a, t, "alice@pve", "/vms/100", T0 + 41), CR_EAUTH);
	CHECK_INT(auth_vncticket_verify(a, t, "alice@pve", "/vms/100", T0 - 21), CR_EAUTH);
	auth_free(a);
}

static void test_tampered(void)
{
	char t[AUTH_VNC_TICKET_MAX], u[AUTH_VNC_TICKET_MAX];
	struct app app, app2;
	struct auth *a = make_auth(&app, "tamper"), *b = make_auth(&app2, "other-node");

	CHECK_INT(auth_vncticket_make(a, "root@pam", "/vms/100", T0, t, sizeof(t)), 0);
	/* Another node's key does not verify it. */
	CHECK_INT(auth_vncticket_verify(b, t, "root@pam", "/vms/100", T0), CR_EAUTH);
	/* A shifted time stamp breaks the signature. */
	memcpy(u, t, sizeof(u));
	u[14] = u[14] == '1' ? '2' : '1';
	CHECK_INT(auth_vncticket_verify(a, u, "root@pam", "/vms/100", T0), CR_EAUTH);
	/* A flipped signature character. */
	memcpy(u, t, sizeof(u));
	u[30] = u[30] == 'A' ? 'B' : 'A';
	CHECK_INT(auth_vncticket_verify(a, u, "root@pam", "/vms/100", T0), CR_EAUTH);
	/* A login ticket is no VNC ticket, and shapes are checked. */
	CHECK_INT(auth_ticket_make(a, "root@pam", T0, u, sizeof(u)), 0);
	CHECK_INT(auth_vncticket_verify(a, u, "root@pam", "/vms/100", T0), CR_EAUTH);
	CHECK_INT(auth_vncticket_verify(a, "PVEVNC:6553f100::AAAA", "root@pam", "/vms/100", T0),
		  CR_EAUTH);
	CHECK_INT(auth_vncticket_verify(a, "PVEVNC:", "root@pam", "/vms/100", T0), CR_EAUTH);
	CHECK_INT(auth_vncticket_verify(a, NULL, "root@pam", "/vms/100", T0), CR_EAUTH);
	auth_free(a);
	auth_free(b);
}

static const struct test_case tests[] = {
	{ "vnc ticket: made and verified within its window", test_roundtrip },
	{ "vnc ticket: bound to user, path and time", test_bindings },
	{ "vnc ticket: tampered, foreign or malformed", test_tampered },
};

TEST_MAIN(tests)
