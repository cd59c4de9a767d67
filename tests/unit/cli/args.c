/* Tests for cli/args.c: argv -> options and API parameters, form encoding. */
#include "cli/args.h"
#include "common/buf.h"
#include "tests/unit/test.h"

#include <errno.h>

static const struct opt_spec opts[] = {
	{ "host", 1 }, { "output-format", 1 }, { "password-stdin", 0 }, { NULL, 0 },
};

static void test_split(void)
{
	char *argv[] = { "get", "/nodes/pve/qemu", "--vmid", "100", "--host", "h1",
			 "--name=web 1", "--password-stdin", "--output-format", "json" };
	struct args a;
	char err[128];

	CHECK_INT(args_parse(10, argv, opts, &a, err, sizeof(err)), 0);
	CHECK_INT(a.npos, 2);
	CHECK_STR(a.pos[1], "/nodes/pve/qemu");
	CHECK_INT(a.nparams, 2);
	CHECK_INT(a.params[0].keylen, 4);
	CHECK(strncmp(a.params[0].key, "vmid", 4) == 0);
	CHECK_STR(a.params[0].value, "100");
	CHECK_INT(a.params[1].keylen, 4);
	CHECK_STR(a.params[1].value, "web 1");
	CHECK_STR(args_opt(&a, "host"), "h1");
	CHECK_STR(args_opt(&a, "password-stdin"), "1");
	CHECK_STR(args_opt(&a, "output-format"), "json");
	CHECK(args_opt(&a, "user") == NULL);
}

static void test_errors(void)
{
	char *missing[] = { "get", "/x", "--vmid" };
	char *flagval[] = { "--password-stdin=1" };
	char *empty[] = { "--=1" };
	struct args a;
	char err[128];

	CHECK_INT(args_parse(3, missing, opts, &a, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "--vmid needs a value") != NULL);
	CHECK_INT(args_parse(1, flagval, opts, &a, err, sizeof(err)), -EINVAL);
	CHECK_INT(args_parse(1, empty, opts, &a, err, sizeof(err)), -EINVAL);
}

static void test_double_dash(void)
{
	char *argv[] = { "set", "--", "--weird" };
	struct args a;
	char err[128];

	CHECK_INT(args_parse(3, argv, opts, &a, err, sizeof(err)), 0);
	CHECK_INT(a.npos, 2);
	CHECK_STR(a.pos[1], "--weird");
	CHECK_INT(a.nparams, 0);
}

static void test_last_option_wins(void)
{
	char *argv[] = { "--host", "a", "--host", "b" };
	struct args a;
	char err[128];

	CHECK_INT(args_parse(4, argv, opts, &a, err, sizeof(err)), 0);
	CHECK_STR(args_opt(&a, "host"), "b");
}

static void test_encode(void)
{
	char *argv[] = { "--net0", "virtio,bridge=vmbr0", "--description", "a b&c=d/é",
			 "--tags", "x", "--tags", "y" };
	struct args a;
	struct buf out = BUF_INIT;
	char err[128];

	CHECK_INT(args_parse(8, argv, NULL, &a, err, sizeof(err)), 0);
	CHECK_INT(args_encode(a.params, a.nparams, &out), 0);
	CHECK_STR(out.data, "net0=virtio%2Cbridge%3Dvmbr0&description=a%20b%26c%3Dd%2F%C3%A9"
			    "&tags=x&tags=y");
	buf_free(&out);
	CHECK_INT(args_encode(NULL, 0, &out), 0);
	CHECK_STR(out.data, "");
	buf_free(&out);
}

static void test_encode_path(void)
{
	struct buf out = BUF_INIT;

	CHECK_INT(args_encode_path("/nodes/pve/tasks/UPID:pve:00000001:0000000A:5F5E1000:"
				   "qmstart:100:root@pam!tok:/log", &out), 0);
	CHECK_STR(out.data, "/nodes/pve/tasks/UPID:pve:00000001:0000000A:5F5E1000:"
			    "qmstart:100:root@pam!tok:/log");
	buf_reset(&out);
	CHECK_INT(args_encode_path("/a b/%?#", &out), 0);
	CHECK_STR(out.data, "/a%20b/%25%3F%23");
	buf_free(&out);
}

static const struct test_case tests[] = {
	{ "split positionals, options and API parameters", test_split },
	{ "usage errors", test_errors },
	{ "-- ends options", test_double_dash },
	{ "last option wins", test_last_option_wins },
	{ "form encoding", test_encode },
	{ "path encoding", test_encode_path },
};

TEST_MAIN(tests)
