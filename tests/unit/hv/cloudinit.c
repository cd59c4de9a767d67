/* Tests hv/cloudinit.c: YAML quoting of hostile strings, user-data as
 * Proxmox writes it, SSH key lines, the drive, format and key helpers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/cloudinit.h"
#include "tests/unit/test.h"

static const char *quoted(const char *s)
{
	static char out[512];
	struct buf b = BUF_INIT;

	CHECK_INT(cloudinit_yaml_quote(&b, s), 0);
	snprintf(out, sizeof(out), "%s", b.data ? b.data : "");
	buf_free(&b);
	return out;
}

static void test_yaml_quote(void)
{
	CHECK_STR(quoted("plain"), "\"plain\"");
	CHECK_STR(quoted("a: b # c"), "\"a: b # c\"");
	CHECK_STR(quoted("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
	CHECK_STR(quoted("line1\nroot: true\r\t"), "\"line1\\nroot: true\\r\\t\"");
	CHECK_STR(quoted("bell\a del\x7f"), "\"bell\\x07 del\\x7f\"");
	CHECK_STR(quoted("- [x] {y} & *z ! |"), "\"- [x] {y} & *z ! |\"");
	CHECK_STR(quoted("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x90\x84"),
		  "\"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x90\x84\"");
	/* YAML line breaks and the BOM are escaped; invalid UTF-8 is replaced */
	CHECK_STR(quoted("a\xe2\x80\xa8" "b\xc2\x85" "c\xef\xbb\xbf"), "\"a\\u2028b\\u0085c\\uFEFF\"");
	CHECK_STR(quoted("bad\xff\xc3("), "\"bad\\uFFFD\\uFFFD(\"");
	CHECK_STR(quoted("\xed\xa0\x80"), "\"\\uFFFD\\uFFFD\\uFFFD\""); /* a surrogate */
	CHECK_STR(quoted("\xc0\xaf"), "\"\\uFFFD\\uFFFD\"");	       /* overlong '/' */
	CHECK_STR(quoted(""), "\"\"");
}

static struct vmconf *conf_of(const char *const *kv)
{
	struct vmconf *c = vmconf_new();

	for (size_t i = 0; kv[i]; i += 2)
		CHECK_INT(vmconf_set(c, kv[i], kv[i + 1]), 0);
	return c;
}

static void test_user_data(void)
{
	static const char *const kv[] = {
		"name", "web1", "searchdomain", "example.com corp.example", "ciuser", "ad\"min: x",
		"cipassword", "$5$salt$hash", "ciupgrade", "0",
		"sshkeys", "ssh-ed25519%20AAAA%20a%40b%0A%0Assh-rsa%20BBBB%20%23c%0A", NULL,
	};
	struct vmconf *c = conf_of(kv);
	char *u = NULL;

	CHECK_INT(cloudinit_user_data(c, 100, &u), 0);
	CHECK_STR(u, "#cloud-config\nhostname: web1\nmanage_etc_hosts: true\n"
		     "fqdn: \"web1.example.com\"\nuser: \"ad\\\"min: x\"\n"
		     "password: \"$5$salt$hash\"\nssh_authorized_keys:\n"
		     "  - \"ssh-ed25519 AAAA a@b\"\n  - \"ssh-rsa BBBB #c\"\n"
		     "chpasswd:\n  expire: False\nusers:\n  - default\n");
	free(u);
	vmconf_free(c);
}

static void test_user_data_root_default(void)
{
	static const char *const kv[] = { "name", "db.example.org", "ciuser", "root", NULL };
	static const char *const none[] = { NULL };
	struct vmconf *c = conf_of(kv), *e = conf_of(none);
	char *u = NULL;

	CHECK_INT(cloudinit_user_data(c, 100, &u), 0);
	CHECK_STR(u, "#cloud-config\nhostname: db\nmanage_etc_hosts: true\n"
		     "fqdn: \"db.example.org\"\nuser: \"root\"\ndisable_root: False\n"
		     "chpasswd:\n  expire: False\npackage_upgrade: true\n");
	free(u);
	CHECK_INT(cloudinit_user_data(e, 123, &u), 0);
	CHECK(strstr(u, "hostname: VM123\n") && strstr(u, "fqdn: \"VM123\"\n"));
	free(u);
	vmconf_free(c);
	vmconf_free(e);
}

static void test_ssh_keys(void)
{
	/* blobs that name their type: "ssh-ed25519" + 4 key bytes */
	static const char ed[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAABBEiM0Q= me";

	CHECK_INT(cloudinit_check_ssh_keys(ed), 0);
	CHECK_INT(cloudinit_check_ssh_keys("\n  \n# comment\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAABBEiM0Q=\r\n"), 0);
	CHECK_INT(cloudinit_check_ssh_keys("from=\"10.0.0.1,x y\",no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAABBEiM0Q= c"), 0);
	CHECK_INT(cloudinit_check_ssh_keys("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAABBEiM0Q= wrong type"), -EINVAL);
	CHECK_INT(cloudinit_check_ssh_keys("ssh-ed25519 notbase64!"), -EINVAL);
	CHECK_INT(cloudinit_check_ssh_keys("ssh-foo AAAAB3NzaC1yc2EAAAADAQAB"), -EINVAL);
	CHECK_INT(cloudinit_check_ssh_keys("ssh-ed25519"), -EINVAL);
	CHECK_INT(cloudinit_check_ssh_keys("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"), -EINVAL); /* no key */
}

static void test_urldecode(void)
{
	char *s = cloudinit_urldecode("a%20b%0Ac%2x%41%");

	CHECK_STR(s, "a b\nc%2xA%");
	free(s);
}

static void test_keys_and_drive(void)
{
	static const char *const kv[] = { "ide0", "local:iso/x.iso,media=cdrom",
					  "scsi1", "local:105/vm-105-cloudinit.qcow2,media=cdrom",
					  "ostype", "win11", NULL };
	struct vmconf *c = conf_of(kv);
	char key[16], err[256];

	CHECK(cloudinit_is_listed_key("ipconfig31") && !cloudinit_is_listed_key("ipconfig32"));
	CHECK(!cloudinit_is_listed_key("ipconfig01") && cloudinit_is_listed_key("sshkeys"));
	CHECK(cloudinit_is_source_key("name") && cloudinit_is_source_key("net7"));
	CHECK(!cloudinit_is_source_key("memory") && !cloudinit_is_listed_key("name"));
	CHECK_INT(cloudinit_drive(c, 100, key, sizeof(key)), -ENOENT);
	CHECK_INT(cloudinit_drive(c, 105, key, sizeof(key)), 0);
	CHECK_STR(key, "scsi1");
	CHECK_STR(cloudinit_format(c), "configdrive2");
	CHECK_INT(cloudinit_format_check(c, err, sizeof(err)), -ENOTSUP);
	CHECK(strstr(err, "the default for Windows guests") != NULL);
	CHECK_INT(vmconf_set(c, "citype", "nocloud"), 0);
	CHECK_INT(cloudinit_format_check(c, err, sizeof(err)), 0);
	vmconf_free(c);
}

static const struct test_case cases[] = {
	{ "YAML quoting of hostile strings", test_yaml_quote },
	{ "user-data", test_user_data },
	{ "user-data for root and defaults", test_user_data_root_default },
	{ "SSH public key lines", test_ssh_keys },
	{ "URL decoding", test_urldecode },
	{ "key sets, drive lookup, format", test_keys_and_drive },
};

TEST_MAIN(cases)
