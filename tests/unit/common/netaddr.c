/* Tests common/netaddr.c: strict CIDR parsing, matching, and the host's
 * loopback address found inside 127.0.0.0/8. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "common/netaddr.h"
#include "tests/unit/test.h"

static int contains(const char *cidr, const char *addr)
{
	struct netaddr_cidr c;
	unsigned char a[16];
	int af = strchr(addr, ':') ? AF_INET6 : AF_INET;

	if (netaddr_cidr_parse(cidr, &c) < 0 || inet_pton(af, addr, a) != 1)
		return -1;
	return netaddr_cidr_contains(&c, af, a);
}

static void test_parse(void)
{
	struct netaddr_cidr c;
	static const char *const bad[] = { "10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "/8",
					   "10.0.0/8", "fd00::/129", "10.0.0.0/-1", "10.0.0.0/8x",
					   "x/8", "10.0.0.0/+8" };

	CHECK_INT(netaddr_cidr_parse("10.1.0.0/16", &c), 0);
	CHECK_INT(c.af, AF_INET);
	CHECK_INT((int)c.prefix, 16);
	CHECK_INT(netaddr_cidr_parse("fd00:1::/64", &c), 0);
	CHECK_INT(c.af, AF_INET6);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(netaddr_cidr_parse(bad[i], &c), -EINVAL);
}

static void test_contains(void)
{
	CHECK_INT(contains("10.1.0.0/16", "10.1.200.3"), 1);
	CHECK_INT(contains("10.1.0.0/16", "10.2.0.1"), 0);
	CHECK_INT(contains("192.168.1.128/25", "192.168.1.200"), 1);
	CHECK_INT(contains("192.168.1.128/25", "192.168.1.100"), 0);
	CHECK_INT(contains("0.0.0.0/0", "8.8.8.8"), 1);
	CHECK_INT(contains("10.0.0.5/32", "10.0.0.5"), 1);
	CHECK_INT(contains("10.0.0.5/32", "10.0.0.6"), 0);
	CHECK_INT(contains("fd00:1::/64", "fd00:1::42"), 1);
	CHECK_INT(contains("fd00:1::/64", "fd00:2::42"), 0);
	CHECK_INT(contains("10.0.0.0/8", "::1"), 0);
}

static void test_local(void)
{
	char out[NETADDR_TEXT_MAX], err[256];

	CHECK_INT(netaddr_local_in("127.0.0.0/8", out, err, sizeof(err)), 0);
	CHECK_STR(out, "127.0.0.1");
	CHECK_INT(netaddr_local_in("198.51.100.0/24", out, err, sizeof(err)), -ENOENT);
	CHECK_STR(err, "no IP address configured on local node for network '198.51.100.0/24'");
	CHECK_INT(netaddr_local_in("nonsense", out, err, sizeof(err)), -EINVAL);
}

static const struct test_case tests[] = {
	{ "parse", test_parse },
	{ "contains", test_contains },
	{ "local", test_local },
};

TEST_MAIN(tests)
