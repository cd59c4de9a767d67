/* Tests hv/cloudinit_net.c: network-config v1 (addresses, DHCP, SLAAC, key
 * order, DNS from the VM or the host's resolv.conf), configdrive2's ENI and
 * meta_data.json, the meta-data instance-id. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/cloudinit.h"
#include "tests/unit/test.h"

static struct vmconf *conf_of(const char *const *kv)
{
	struct vmconf *c = vmconf_new();

	for (size_t i = 0; kv[i]; i += 2)
		CHECK_INT(vmconf_set(c, kv[i], kv[i + 1]), 0);
	return c;
}

static void test_network_config(void)
{
	static const char *const kv[] = {
		"net0", "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0", "ipconfig0",
		"gw=10.0.0.1,ip=10.0.0.5/8,ip6=2001:db8::5/64,gw6=2001:db8::1",
		"net2", "e1000=BC:24:11:00:00:02", "ipconfig2", "ip=dhcp,ip6=dhcp",
		"net3", "virtio=BC:24:11:00:00:03", /* no ipconfig3: left out */
		"net10", "virtio=BC:24:11:00:00:10", "ipconfig10", "ip=dhcp", /* before net2 */
		"nameserver", "1.1.1.1,2606:4700::1111", "searchdomain", "a.example \"b\"", NULL,
	};
	struct vmconf *c = conf_of(kv);
	char *n = NULL, err[256];

	CHECK_INT(cloudinit_network_config(c, NULL, &n, err, sizeof(err)), 0);
	CHECK_STR(n, "version: 1\nconfig:\n"
		     "    - type: physical\n      name: eth0\n"
		     "      mac_address: 'bc:24:11:aa:bb:cc'\n      subnets:\n"
		     "      - type: static\n        address: '10.0.0.5'\n"
		     "        netmask: '255.0.0.0'\n        gateway: '10.0.0.1'\n"
		     "      - type: static6\n        address: '2001:db8::5/64'\n"
		     "        gateway: '2001:db8::1'\n"
		     "    - type: physical\n      name: eth10\n"
		     "      mac_address: 'bc:24:11:00:00:10'\n      subnets:\n"
		     "      - type: dhcp4\n"
		     "    - type: physical\n      name: eth2\n"
		     "      mac_address: 'bc:24:11:00:00:02'\n      subnets:\n"
		     "      - type: dhcp4\n      - type: dhcp6\n"
		     "    - type: nameserver\n      address:\n      - '1.1.1.1'\n"
		     "      - '2606:4700::1111'\n      search:\n      - \"a.example\"\n"
		     "      - \"\\\"b\\\"\"\n");
	free(n);
	vmconf_free(c);
}


static void test_network_host_dns_and_errors(void)
{
	static const char *const kv[] = { "net0", "virtio,bridge=vmbr0", "ipconfig0", "ip=dhcp", NULL };
	static const char *const plain[] = { NULL };
	struct vmconf *c = conf_of(kv), *p = conf_of(plain);
	struct cloudinit_dns dns;
	char *n = NULL, err[256];

	cloudinit_parse_resolv("# x\nsearch lan corp\nnameserver 192.0.2.1\nnameserver  ::1 # c\n"
			       "nameserver 'x\nnameserver 192.0.2.3\nnameserver 192.0.2.4\n", &dns);
	CHECK_STR(dns.search, "lan corp");
	CHECK_STR(dns.nameserver[0], "192.0.2.1");
	CHECK_STR(dns.nameserver[1], "::1");
	CHECK_STR(dns.nameserver[2], "192.0.2.3");
	CHECK_INT(cloudinit_network_config(c, &dns, &n, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "network interface 'net0' has no mac address");
	CHECK_INT(cloudinit_network_config(p, &dns, &n, err, sizeof(err)), 0);
	CHECK_STR(n, "version: 1\nconfig:\n    - type: nameserver\n      address:\n"
		     "      - '192.0.2.1'\n      - '::1'\n      - '192.0.2.3'\n"
		     "      search:\n      - \"lan\"\n      - \"corp\"\n");
	free(n);
	vmconf_free(c);
	vmconf_free(p);
}


static void test_configdrive2(void)
{
	static const char *const kv[] = {
		"net0", "virtio=BC:24:11:AA:BB:CC", "ipconfig0",
		"gw=10.0.0.1,ip=10.0.0.5/8,ip6=2001:db8::5/64,gw6=2001:db8::1",
		"net1", "virtio=BC:24:11:AA:BB:CD", "ipconfig1", "ip=dhcp,ip6=auto",
		"nameserver", "1.1.1.1 9.9.9.9", "searchdomain", "a.example b.example",
		"citype", "configdrive2", NULL,
	};
	struct vmconf *c = conf_of(kv);
	char *n = NULL, *m = NULL, err[256];

	CHECK_INT(cloudinit_format_check(c, err, sizeof(err)), 0);
	CHECK_INT(cloudinit_configdrive2_network(c, NULL, &n), 0);
	CHECK_STR(n, "auto lo\niface lo inet loopback\n\n"
		     "        dns_nameservers 1.1.1.1 9.9.9.9\n"
		     "        dns_search a.example b.example\n"
		     "auto eth0\niface eth0 inet static\n        address 10.0.0.5\n"
		     "        netmask 255.0.0.0\n        gateway 10.0.0.1\n"
		     "iface eth0 inet6 static\n        address 2001:db8::5\n"
		     "        netmask 64\n        gateway 2001:db8::1\n"
		     "auto eth1\niface eth1 inet dhcp\niface eth1 inet6 auto\n");
	CHECK_INT(cloudinit_configdrive2_meta("a", "b", &m), 0);
	CHECK_STR(m, "{\n     \"uuid\": \"da23614e02469a0d7c7bd1bdab5c9c474b1904dc\",\n"
		     "     \"network_config\": { \"content_path\": \"/content/0000\" }\n}\n");
	free(n);
	free(m);
	/* Windows guests take cloudbase-init's variant, which is absent */
	CHECK_INT(vmconf_set(c, "ostype", "win10"), 0);
	CHECK_INT(cloudinit_format_check(c, err, sizeof(err)), -ENOTSUP);
	vmconf_free(c);
}


static void test_meta_data(void)
{
	char *m = NULL;

	/* sha1("ab") */
	CHECK_INT(cloudinit_meta_data("a", "b", &m), 0);
	CHECK_STR(m, "instance-id: da23614e02469a0d7c7bd1bdab5c9c474b1904dc\n");
	free(m);
}


static const struct test_case cases[] = {
	{ "network-config v1", test_network_config },
	{ "network-config: host DNS, missing MAC", test_network_host_dns_and_errors },
	{ "configdrive2 network_data and meta_data", test_configdrive2 },
	{ "meta-data instance-id", test_meta_data },
};

TEST_MAIN(cases)
