/* Tests for server/netif.c (interface classification, the sysfs scan over a
 * fake class/net tree, "auto" stanzas, the type filter) and for
 * GET /nodes/{node}/network through the router. */
#include "tests/unit/server/api_fixture.h"

#include <sys/stat.h>

#include "common/util.h"
#include "server/netif.h"

static void put(const char *root, const char *rel, const char *text)
{
	char path[512], dir[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	CHECK_INT(util_mkdir_p(dir, 0755), 0);
	if (text)
		CHECK_INT(util_write_file_atomic(path, text, strlen(text), 0644), 0);
	else
		CHECK_INT(util_mkdir_p(path, 0755), 0);
}

/* A fake /sys/class/net: lo, a physical NIC, a bridge with two ports, a bond,
 * a VLAN, a tap and a veth. */
static void make_tree(const char *root)
{
	put(root, "lo/type", "772\n");
	put(root, "lo/flags", "0x9\n");
	put(root, "enp1s0/type", "1\n");
	put(root, "enp1s0/flags", "0x1003\n");
	put(root, "enp1s0/device", NULL);
	put(root, "vmbr0/type", "1\n");
	put(root, "vmbr0/flags", "0x1003\n");
	put(root, "vmbr0/bridge", NULL);
	put(root, "vmbr0/brif/enp1s0", NULL);
	put(root, "vmbr0/brif/tap100i0", NULL);
	put(root, "bond0/type", "1\n");
	put(root, "bond0/flags", "0x1002\n");
	put(root, "bond0/bonding/slaves", "eth1 eth2\n");
	put(root, "vmbr0.20/type", "1\n");
	put(root, "vmbr0.20/flags", "0x1003\n");
	put(root, "vmbr0.20/uevent", "DEVTYPE=vlan\nINTERFACE=vmbr0.20\n");
	put(root, "tap100i0/type", "1\n");
	put(root, "tap100i0/flags", "0x1103\n");
	put(root, "veth1/type", "1\n");
	put(root, "veth1/flags", "0x1003\n");
}

static void test_classify(void)
{
	struct netif_facts f = { .name = "eth0", .arphrd = 1 };

	CHECK_INT(netif_classify(&f), NETIF_ETH);
	f.name = "ens18";
	CHECK_INT(netif_classify(&f), NETIF_ETH);
	f.name = "ens18.5";
	CHECK_INT(netif_classify(&f), -1);
	f.name = "tap100i0";
	CHECK_INT(netif_classify(&f), -1);
	f.has_device = 1;
	CHECK_INT(netif_classify(&f), NETIF_ETH);
	f.arphrd = 772;
	f.name = "lo";
	f.has_device = 0;
	CHECK_INT(netif_classify(&f), -1);
	f.has_bridge = 1;
	CHECK_INT(netif_classify(&f), NETIF_BRIDGE);
}

static void test_scan(void)
{
	char root[512], err[256];
	struct netif_list *l = NULL;
	struct netif *e;

	snprintf(root, sizeof(root), "%s/net", test_tmpdir());
	make_tree(root);
	CHECK_INT(netif_scan(root, &l, err, sizeof(err)), 0);
	CHECK_INT((int)netif_count(l), 4);
	CHECK_STR(netif_at(l, 0)->name, "bond0");
	CHECK_STR(netif_at(l, 1)->name, "enp1s0");
	CHECK_STR(netif_at(l, 2)->name, "vmbr0");
	CHECK_STR(netif_at(l, 3)->name, "vmbr0.20");
	e = netif_find(l, "vmbr0");
	CHECK_INT(e->type, NETIF_BRIDGE);
	CHECK_STR(e->ports, "enp1s0 tap100i0");
	CHECK_INT(e->active, 1);
	e = netif_find(l, "bond0");
	CHECK_INT(e->type, NETIF_BOND);
	CHECK_STR(e->ports, "eth1 eth2");
	CHECK_INT(e->active, 0);
	CHECK_INT(netif_find(l, "vmbr0.20")->type, NETIF_VLAN);
	CHECK(netif_find(l, "lo") == NULL && netif_find(l, "veth1") == NULL);
	netif_apply_autostart(l, "# comment\nauto lo vmbr0\niface vmbr0 inet static\n"
				 "\taddress 10.0.0.1/24\nauto   enp1s0\nallow-hotplug bond0\n");
	CHECK_INT(netif_find(l, "vmbr0")->autostart, 1);
	CHECK_INT(netif_find(l, "enp1s0")->autostart, 1);
	CHECK_INT(netif_find(l, "bond0")->autostart, 0);
	netif_list_free(l);
	CHECK(netif_scan("/nonexistent/class/net", &l, err, sizeof(err)) < 0);
	CHECK(strstr(err, "/nonexistent") != NULL);
}

static void test_filter(void)
{
	char err[256];

	CHECK_INT(netif_type_matches(NETIF_BRIDGE, NULL), 1);
	CHECK_INT(netif_type_matches(NETIF_BRIDGE, "any_bridge"), 1);
	CHECK_INT(netif_type_matches(NETIF_ETH, "any_bridge"), 0);
	CHECK_INT(netif_type_matches(NETIF_BOND, "bond"), 1);
	CHECK_INT(netif_type_matches(NETIF_BOND, "eth"), 0);
	CHECK_INT(netif_type_matches(NETIF_VLAN, "OVSBridge"), 0);
	CHECK_INT(netif_check_type_filter("any_local_bridge", err, sizeof(err)), 0);
	CHECK(netif_check_type_filter("wifi", err, sizeof(err)) < 0);
	CHECK(strstr(err, "value 'wifi' does not have a value in the enumeration") != NULL);
}

static void test_route(void)
{
	struct api_fixture f;
	struct api_answer a;
	cJSON *row;

	api_fixture_open(&f, "network");
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/network", NULL, "admin@pve");
	CHECK_INT(a.status, 200);
	CHECK(cJSON_IsArray(api_data(&a)));
	cJSON_ArrayForEach(row, api_data(&a)) {
		CHECK(strcmp(api_str(row, "iface"), "lo") != 0);
		CHECK(api_str(row, "type") != NULL);
	}
	api_answer_free(&a);
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/network", "type=any_bridge", "admin@pve");
	CHECK_INT(a.status, 200);
	cJSON_ArrayForEach(row, api_data(&a))
		CHECK_STR(api_str(row, "type"), "bridge");
	api_answer_free(&a);
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/network", "type=wifi", "admin@pve");
	CHECK_INT(a.status, 400);
	CHECK(api_param_error(&a, "type") != NULL);
	api_answer_free(&a);
	a = api_call(&f, "GET", "/nodes/" FIX_NODE "/network", NULL, "bob@pve");
	CHECK_INT(a.status, 403);
	api_answer_free(&a);
	api_fixture_close(&f);
}

static const struct test_case tests[] = {
    {"classify", test_classify},
    {"scan of a class/net tree", test_scan},
    {"type filter", test_filter},
    {"route", test_route},
};

TEST_MAIN(tests)
