/* Tests hv/cloudinit_keys.c through vmconf_check: Proxmox's validation of
 * the cloud-init keys, their messages and stored forms (the password
 * hashed), and hv/cloudinit_iso.c: a real genisoimage image written into a
 * raw drive and read back. */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "hv/cloudinit.h"
#include "hv/vmconf.h"
#include "storage/image.h"
#include "tests/unit/hv/vmconf_check.h"
#include "tests/unit/test.h"

static void test_ipconfig(void)
{
	CHECK_STR(canon("ipconfig0", "ip=192.0.2.5/24,gw=192.0.2.1"), "gw=192.0.2.1,ip=192.0.2.5/24");
	CHECK_STR(canon("ipconfig31", "ip6=auto,ip=dhcp"), "ip=dhcp,ip6=auto");
	CHECK_STR(canon("ipconfig1", "ip6=2001:db8::2/64,gw6=2001:db8::1"),
		  "gw6=2001:db8::1,ip6=2001:db8::2/64");
	CHECK_STR(fails("ipconfig32", "ip=dhcp"),
		  "property is not defined in schema and the schema does not allow additional properties");
	CHECK_STR(fails("ipconfig0", "ip=192.0.2.300/24"),
		  "invalid format - format error\nipconfig0.ip: invalid format - value does not look like a valid ipv4 network configuration");
	CHECK(strstr(fails("ipconfig0", "ip=192.0.2.3"), "ipv4 network configuration") != NULL);
	CHECK(strstr(fails("ipconfig0", "ip=192.0.2.3/33"), "ipv4 network configuration") != NULL);
	CHECK(strstr(fails("ipconfig0", "ip=192.0.2.3/+1"), "ipv4 network configuration") != NULL);
	CHECK(strstr(fails("ipconfig0", "ip6=2001:db8::1/129"), "ipv6 network configuration") != NULL);
	CHECK(strstr(fails("ipconfig0", "ip=10.0.0.2/8,gw=10.0.0.300"), "IPv4 address") != NULL);
	CHECK(strstr(fails("ipconfig0", "ip=10.0.0.2/8,gw6=::1"), "without specifying an IP") != NULL);
	CHECK_STR(fails("ipconfig0", "ip=dhcp,gw=10.0.0.1"), "gateway specified together with DHCP");
	CHECK(strstr(fails("ipconfig0", "ip=dhcp,mtu=9000"), "invalid key") != NULL);
}

static void test_strings(void)
{
	CHECK_STR(canon("ciuser", "us\xc3\xa9r: #1 \"x\""), "us\xc3\xa9r: #1 \"x\"");
	CHECK_STR(fails("ciuser", "a\nb"), "property contains a line feed");
	CHECK_STR(fails("searchdomain", "a\rb"), "property contains a line feed");
	CHECK_STR(canon("nameserver", "192.0.2.1 2001:db8::1;10.0.0.1"), "192.0.2.1 2001:db8::1;10.0.0.1");
	CHECK(strstr(fails("nameserver", "192.0.2.1 dns.example"), "address list") != NULL);
	CHECK(strstr(fails("nameserver", " , "), "address list") != NULL);
	CHECK_STR(canon("citype", "nocloud"), "nocloud");
	CHECK_STR(canon("citype", "configdrive2"), "configdrive2");
	CHECK(strstr(fails("citype", "opennebula"), "not supported") != NULL);
	CHECK(strstr(fails("citype", "cloud"), "enumeration") != NULL);
	CHECK_STR(canon("ciupgrade", "false"), "0");
}

static void test_cicustom(void)
{
	CHECK_STR(canon("cicustom", "user=local:snippets/u.yaml,network=local:snippets/n.yaml"),
		  "network=local:snippets/n.yaml,user=local:snippets/u.yaml");
	CHECK(strstr(fails("cicustom", "user=local:iso/x.iso"), "is not in the snippets directory") != NULL);
	CHECK(strstr(fails("cicustom", "user=local:snippets/../x"), "unable to parse volume ID") != NULL);
	CHECK(strstr(fails("cicustom", "user=/etc/passwd"), "unable to parse volume ID") != NULL);
	CHECK(strstr(fails("cicustom", "meta=local:snippets/a/b.yaml"), "snippets directory") != NULL);
	CHECK(strstr(fails("cicustom", "other=local:snippets/x"), "invalid key") != NULL);
}

static void test_sshkeys(void)
{
	static const char key[] = "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAABBEiM0Q%3D%20me%0A";

	CHECK_STR(canon("sshkeys", key), key);
	CHECK(strstr(fails("sshkeys", "ssh-ed25519 AAAA"), "invalid urlencoded string") != NULL);
	CHECK_STR(fails("sshkeys", "ssh-rsa%20AAAAC3NzaC1lZDI1NTE5AAAABBEiM0Q%3D"),
		  "SSH public key validation error");
	CHECK_STR(fails("sshkeys", "not%20a%20key"), "SSH public key validation error");
}

static void test_password_hashed(void)
{
	char *c = NULL;
	struct crypt_data *cd = calloc(1, sizeof(*cd));

	CHECK_INT(vmconf_check("cipassword", "pa ss: #\xc3\xa9", &c, err, sizeof(err)), 0);
	CHECK(c && strncmp(c, "$5$", 3) == 0);
	CHECK_STR(crypt_r("pa ss: #\xc3\xa9", c, cd), c);
	free(cd);
	/* an existing hash is kept as given */
	CHECK_STR(canon("cipassword", c), c);
	CHECK_STR(canon("cipassword", "$6$abc$def"), "$6$abc$def");
	CHECK(strncmp(canon("cipassword", "$6$abc"), "$5$", 3) == 0); /* not a hash: hashed */
	CHECK_STR(fails("cipassword", "a\nb"), "property contains a line feed");
	free(c);
}

/* A real image of real files: written into a raw drive, the ISO's primary
 * volume descriptor (sector 16) names the volume "cidata". */
static void test_iso_roundtrip(void)
{
	struct cloudinit_files f = { strdup("#cloud-config\n"), strdup("version: 1\n"),
				     strdup("instance-id: x\n"), strdup(""), 0 };
	struct img_create_opts o = { .format = IMG_FMT_RAW, .size = CLOUDINIT_DISK_SIZE };
	char path[512], *iso = NULL, *back = NULL;
	size_t len = 0, blen = 0;

	snprintf(path, sizeof(path), "%s/ci.raw", test_tmpdir());
	CHECK_INT(img_create(path, &o, err, sizeof(err)), 0);
	CHECK_INT(cloudinit_iso_build(&f, test_tmpdir(), &iso, &len, err, sizeof(err)), 0);
	CHECK(len > 32768 && len < CLOUDINIT_DISK_SIZE);
	CHECK(iso && memcmp(iso + 16 * 2048 + 1, "CD001", 5) == 0);
	CHECK(iso && memcmp(iso + 16 * 2048 + 40, "cidata ", 7) == 0);
	CHECK_INT(cloudinit_iso_commit(path, iso, len, err, sizeof(err)), 0);
	CHECK_INT(util_read_file(path, CLOUDINIT_DISK_SIZE, &back, &blen), 0);
	CHECK_INT(blen, CLOUDINIT_DISK_SIZE);
	CHECK(back && iso && memcmp(back, iso, len) == 0);
	free(back);
	free(iso);
	/* more than 3 MiB of data is refused before genisoimage runs */
	free(f.vendor);
	f.vendor = calloc(1, CLOUDINIT_MAX_DATA + 2);
	memset(f.vendor, 'x', CLOUDINIT_MAX_DATA + 1);
	CHECK_INT(cloudinit_iso_build(&f, test_tmpdir(), &iso, &len, err, sizeof(err)), -EFBIG);
	CHECK_STR(err, "Cloud-Init sum of snippets too big (> 3 MiB)");
	/* configdrive2: its own label (and directories) */
	f.vendor[0] = '\0';
	f.configdrive2 = 1;
	CHECK_INT(cloudinit_iso_build(&f, test_tmpdir(), &iso, &len, err, sizeof(err)), 0);
	CHECK(iso && memcmp(iso + 16 * 2048 + 40, "config-2 ", 9) == 0);
	free(iso);
	cloudinit_files_clear(&f);
}

static const struct test_case cases[] = {
	{ "ipconfigN", test_ipconfig },
	{ "ciuser, searchdomain, nameserver, citype, ciupgrade", test_strings },
	{ "cicustom snippets", test_cicustom },
	{ "sshkeys", test_sshkeys },
	{ "cipassword stored hashed", test_password_hashed },
	{ "ISO built and written into a drive", test_iso_roundtrip },
};

TEST_MAIN(cases)
