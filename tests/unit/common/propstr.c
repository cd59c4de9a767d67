/* Tests for common/propstr.c. */
#include "common/propstr.h"
#include "tests/unit/test.h"

#include <errno.h>

static void test_basic(void)
{
	struct propstr p;
	char err[128];

	CHECK_INT(propstr_parse("virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,tag=10", "model", &p, err, sizeof(err)), 0);
	CHECK_INT(p.n, 3);
	CHECK_STR(propstr_get(&p, "virtio"), "BC:24:11:AA:BB:CC");
	CHECK_STR(propstr_get(&p, "bridge"), "vmbr0");
	CHECK_STR(propstr_get(&p, "tag"), "10");
	CHECK(propstr_get(&p, "firewall") == NULL);
	propstr_free(&p);
}

static void test_default_key_and_empty_segments(void)
{
	struct propstr p;
	char err[128];

	CHECK_INT(propstr_parse("file=local:32,,format=qcow2,", "file", &p, err, sizeof(err)), 0);
	CHECK_STR(propstr_get(&p, "file"), "local:32");
	CHECK_STR(propstr_get(&p, "format"), "qcow2");
	propstr_free(&p);
	CHECK_INT(propstr_parse("local:32,size=32G", "file", &p, err, sizeof(err)), 0);
	CHECK_STR(propstr_get(&p, "file"), "local:32");
	propstr_free(&p);
}

static void test_errors(void)
{
	struct propstr p;
	char err[128];

	CHECK_INT(propstr_parse("a=1,a=2", NULL, &p, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "duplicate") != NULL);
	CHECK_INT(propstr_parse("x,y", "file", &p, err, sizeof(err)), -EINVAL);
	CHECK_INT(propstr_parse("novalue", NULL, &p, err, sizeof(err)), -EINVAL);
	CHECK_INT(propstr_parse("a=1\n,b=2", NULL, &p, err, sizeof(err)), -EINVAL);
	CHECK_INT(propstr_parse("1a=1", NULL, &p, err, sizeof(err)), -EINVAL);
}

static void test_bool(void)
{
	CHECK_INT(propstr_bool("on"), 1);
	CHECK_INT(propstr_bool("TRUE"), 1);
	CHECK_INT(propstr_bool("0"), 0);
	CHECK_INT(propstr_bool("no"), 0);
	CHECK_INT(propstr_bool("2"), -EINVAL);
}

static const struct test_case tests[] = {
	{ "basic", test_basic },
	{ "default key and empty segments", test_default_key_and_empty_segments },
	{ "errors", test_errors },
	{ "bool", test_bool },
};

TEST_MAIN(tests)
