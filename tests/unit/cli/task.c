/* Tests for cli/task.c: the node named in a UPID. */
#include "cli/cli.h"
#include "tests/unit/test.h"

#include <errno.h>

static void test_upid_node(void)
{
	char node[64];

	CHECK_INT(cli_upid_node("UPID:pve:0002A1B3:00F3C2D1:66A1B2C3:qmstart:100:root@pam:", node,
				sizeof(node)), 0);
	CHECK_STR(node, "pve");
	CHECK_INT(cli_upid_node("UPID:n-2:0002A1B3:100F3C2D1:66A1B2C3:qmstart:100:a@pve!tok:", node,
				sizeof(node)), 0);
	CHECK_STR(node, "n-2");
}

static void test_upid_bad(void)
{
	char node[4];

	CHECK_INT(cli_upid_node("UPID:pve:1:2:3:qmstart:100:root@pam", node, sizeof(node)),
		  -EINVAL);
	CHECK_INT(cli_upid_node("UPIX:pve:1:2:3:qmstart:100:root@pam:", node, sizeof(node)),
		  -EINVAL);
	CHECK_INT(cli_upid_node("UPID::1:2:3:qmstart:100:root@pam:", node, sizeof(node)),
		  -EINVAL);
	CHECK_INT(cli_upid_node("UPID:long:1:2:3:qmstart:100:root@pam:", node, sizeof(node)),
		  -EINVAL);
	CHECK_INT(cli_upid_node("UPID:", node, sizeof(node)), -EINVAL);
}

static const struct test_case tests[] = {
	{ "node from a UPID", test_upid_node },
	{ "malformed UPIDs", test_upid_bad },
};

TEST_MAIN(tests)
