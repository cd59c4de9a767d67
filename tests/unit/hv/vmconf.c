/* Tests hv/vmconf*.c: Proxmox key validation and messages, canonical forms,
 * text round trip, digest, atomic updates, typed drive/NIC views. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/vmconf.h"
#include "tests/unit/hv/vmconf_check.h"
#include "tests/unit/test.h"

static void test_scalars(void)
{
	CHECK_STR(canon("name", "web-01.example"), "web-01.example");
	CHECK_STR(canon("cores", "+04"), "4");
	CHECK_STR(canon("onboot", "true"), "1");
	CHECK_STR(canon("memory", "2048"), "2048");
	CHECK_STR(canon("memory", "current=1024"), "1024");
	CHECK_STR(canon("ostype", "l26"), "l26");
	CHECK_STR(canon("tags", "web prod,web;db"), "db;prod;web");
	CHECK_STR(canon("serial0", "socket"), "socket");
	CHECK_STR(canon("hotplug", "network,disk,usb"), "network,disk,usb");
	CHECK_STR(canon("hotplug", "0"), "0");
	CHECK_STR(canon("vmstate", "local:100/vm-100-state-suspend-2026-01-01.raw"),
		  "local:100/vm-100-state-suspend-2026-01-01.raw");
	CHECK(strcmp(fails("vmstate", "/etc/shadow"), "VALID") != 0);
	CHECK_STR(canon("hotplug", "1"), "1");
	CHECK_STR(fails("hotplug", "network,floppy"),
		  "invalid format - value does not look like a valid hotplug feature list "
		  "'network,floppy'");
	CHECK_STR(fails("hotplug", "disk,"),
		  "invalid format - value does not look like a valid hotplug feature list 'disk,'");
	CHECK_STR(canon("description", "line one\nline two"), "line one\nline two");
}

static void test_scalar_errors(void)
{
	CHECK_STR(fails("cores", "0"), "value must have a minimum value of 1");
	CHECK_STR(fails("cores", "abc"), "type check ('integer') failed - got 'abc'");
	CHECK_STR(fails("memory", "8"),
		  "invalid format - format error\nmemory.current: value must have a minimum value of 16");
	CHECK_STR(fails("memory", "99999999"),
		  "invalid format - format error\nmemory.current: value must have a maximum value of 4194304");
	CHECK_STR(fails("onboot", "maybe"), "type check ('boolean') failed - got 'maybe'");
	CHECK_STR(fails("ostype", "dos"),
		  "value 'dos' does not have a value in the enumeration 'other, wxp, w2k, w2k3, w2k8, wvista, win7, win8, win10, win11, l24, l26, solaris'");
	CHECK_STR(fails("bogus", "1"),
		  "property is not defined in schema and the schema does not allow additional properties");
	CHECK_STR(fails("scsi31", "local:1"),
		  "property is not defined in schema and the schema does not allow additional properties");
	CHECK_STR(fails("net01", "virtio"),
		  "property is not defined in schema and the schema does not allow additional properties");
	CHECK_STR(fails("serial0", "/dev/ttyS0"),
		  "invalid format - host serial devices are not supported '/dev/ttyS0'");
}

static void test_vmid(void)
{
	int id = 0;

	CHECK_INT(vmconf_parse_vmid("100", &id, err, sizeof(err)), 0);
	CHECK_INT(id, 100);
	CHECK_INT(vmconf_parse_vmid("999999999", &id, err, sizeof(err)), 0);
	CHECK_INT(id, 999999999);
	CHECK_INT(vmconf_parse_vmid("abc", &id, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "type check ('integer') failed - got 'abc'");
	static const char *const bad[] = { "99", "0100", "1000000000", "-100", "+100" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(vmconf_parse_vmid(bad[i], &id, err, sizeof(err)), -EINVAL);
		CHECK_STR(err, "invalid format - value does not look like a valid VM ID");
	}
}

static void test_hostile_names(void)
{
	static const char *const bad[] = { "a,b", "a\"b", "x\ny", "$(reboot)", "a;b", "a b",
					   "-lead", "trail-", "a..b", "", "a'b", "`id`" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_STR(fails("name", bad[i]),
			  "invalid format - value does not look like a valid DNS name");
	CHECK_STR(fails("description", "x"), "VALID");
}

static void test_drives(void)
{
	CHECK_STR(canon("scsi0", "local:32,format=qcow2,discard=on,ssd=1,iothread=1"),
		  "local:32,discard=on,format=qcow2,iothread=1,ssd=1");
	CHECK_STR(canon("scsi0", "file=local:100/vm-100-disk-0.qcow2,size=32G,"),
		  "local:100/vm-100-disk-0.qcow2,size=32G");
	CHECK_STR(canon("virtio1", "volume=local:vm-100-disk-1,cache=writeback"),
		  "local:vm-100-disk-1,cache=writeback");
	CHECK_STR(canon("ide2", "none,media=cdrom"), "none,media=cdrom");
	CHECK_STR(canon("ide2", "local:iso/debian.iso,media=cdrom"), "local:iso/debian.iso,media=cdrom");
	CHECK_STR(canon("scsi1", "local:0,import-from=local:import/guest.qcow2"),
		  "local:0,import-from=local:import/guest.qcow2");
	CHECK_STR(canon("efidisk0", "local:1,efitype=4m"), "local:1,efitype=4m");
	CHECK_STR(canon("unused3", "local:100/vm-100-disk-3.qcow2"), "local:100/vm-100-disk-3.qcow2");
}

static void test_drive_errors(void)
{
	CHECK_STR(fails("scsi0", "/etc/shadow"),
		  "invalid format - format error\nscsi0.file: invalid format - unable to parse volume ID '/etc/shadow'");
	CHECK_STR(fails("scsi0", "local:../../x"),
		  "invalid format - format error\nscsi0.file: invalid format - unable to parse volume ID 'local:../../x'");
	CHECK_STR(fails("virtio0", "local:/etc/passwd"),
		  "invalid format - format error\nvirtio0.file: invalid format - unable to parse volume ID 'local:/etc/passwd'");
	CHECK_STR(fails("scsi0", "local:vm-1-disk-0,cache=fast"),
		  "invalid format - format error\nscsi0.cache: value 'fast' does not have a value in the enumeration 'none, writethrough, writeback, unsafe, directsync'");
	CHECK_STR(fails("virtio0", "local:1,ssd=1"),
		  "invalid format - invalid key in comma-separated list property: ssd");
	CHECK_STR(fails("scsi0", "none"),
		  "invalid format - 'none' is only allowed for CD-ROM drives (media=cdrom)");
	CHECK_STR(fails("scsi0", "local:1,file=local:2"),
		  "invalid format - duplicate key in comma-separated list property: file");
	CHECK_STR(fails("scsi0", "local:1,size=lots"),
		  "invalid format - format error\nscsi0.size: invalid format - value 'lots' does not look like a valid disk size");
	CHECK_STR(fails("scsi0", "local:5,import-from=local:import/x.qcow2"),
		  "invalid format - 'import-from' requires special volume ID - use <storage ID>:0,import-from=<source>");
	CHECK_STR(fails("ide0", "local:1,serial=a b"),
		  "invalid format - format error\nide0.serial: invalid format - invalid drive serial 'a b'");
}

static void test_drive_struct(void)
{
	struct vmconf_drive d;
	char volid[256], *text;

	CHECK_INT(vmconf_drive_parse("scsi3", "local:100/vm-100-disk-0.qcow2,iothread=1,size=32G,cache=none",
				     &d, err, sizeof(err)), 0);
	CHECK_STR(d.bus, "scsi");
	CHECK_INT(d.index, 3);
	CHECK_INT(d.kind, VMCONF_VOL_VOLUME);
	CHECK_STR(d.storage, "local");
	CHECK_STR(d.volname, "100/vm-100-disk-0.qcow2");
	CHECK_INT(d.iothread, 1);
	CHECK_INT(d.ssd, -1);
	CHECK_INT(d.size, 32ull << 30);
	CHECK_STR(d.cache, "none");
	CHECK_INT(vmconf_drive_volid(&d, volid, sizeof(volid)), 0);
	CHECK_STR(volid, "local:100/vm-100-disk-0.qcow2");
	text = vmconf_drive_format(&d);
	CHECK_STR(text, "local:100/vm-100-disk-0.qcow2,cache=none,iothread=1,size=32G");
	free(text);
	CHECK_INT(vmconf_drive_parse("ide2", "none,media=cdrom", &d, err, sizeof(err)), 0);
	CHECK_INT(d.kind, VMCONF_VOL_NONE);
	CHECK_INT(d.cdrom, 1);
	CHECK_INT(vmconf_drive_parse("sata1", "store1:0.5", &d, err, sizeof(err)), 0);
	CHECK_INT(d.kind, VMCONF_VOL_NEW);
	CHECK_STR(d.new_size, "0.5");
	CHECK_INT(vmconf_drive_parse("net0", "virtio", &d, err, sizeof(err)), -EINVAL);
}

static void test_nets(void)
{
	struct vmconf_net n;
	static const uint8_t rnd[3] = { 0x01, 0xAB, 0xFE };
	char *text;

	CHECK_STR(canon("net0", "bridge=vmbr0,virtio=BC:24:11:AA:BB:CC,tag=10,firewall=1"),
		  "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1,tag=10");
	CHECK_STR(canon("net1", "model=e1000,macaddr=02:00:00:00:00:01"), "e1000=02:00:00:00:00:01");
	CHECK_STR(fails("net0", "virtio=01:00:00:00:00:01"),
		  "invalid format - format error\nnet0.macaddr: invalid format - value does not look like a valid unicast MAC address");
	CHECK_STR(fails("net0", "virtio,tag=5000"),
		  "invalid format - format error\nnet0.tag: value must have a maximum value of 4094");
	CHECK_STR(fails("net0", "virtio,bridge=vmbr0;rm"),
		  "invalid format - format error\nnet0.bridge: invalid format - invalid bridge ID 'vmbr0;rm'");
	CHECK_STR(fails("net0", "bridge=vmbr0"),
		  "invalid format - format error\nmodel: property is missing and it is not optional");
	CHECK_INT(vmconf_net_parse("net2", "virtio,bridge=vmbr1,link_down=1,queues=4", &n, err,
				   sizeof(err)), 0);
	CHECK_INT(n.index, 2);
	CHECK_STR(n.model, "virtio");
	CHECK_INT(n.has_mac, 0);
	CHECK_INT(n.link_down, 1);
	CHECK_INT(n.queues, 4);
	vmconf_net_set_mac(&n, rnd);
	text = vmconf_net_format(&n);
	CHECK_STR(text, "virtio=BC:24:11:01:AB:FE,bridge=vmbr1,link_down=1,queues=4");
	free(text);
	CHECK_INT(vmconf_net_parse("net0", "e1000=BC:24:11:00:00:01", &n, err, sizeof(err)), 0);
	CHECK_STR(n.model, "e1000");
	CHECK_INT(n.has_mac, 1);
	CHECK_INT(n.mac[5], 1);
}

static void test_cpu_machine_misc(void)
{
	CHECK_STR(canon("cpu", "x86-64-v2-AES"), "x86-64-v2-AES");
	CHECK_STR(canon("cpu", "flags=+aes;-pcid,cputype=host"), "host,flags=+aes;-pcid");
	CHECK_STR(fails("cpu", "pentium9"),
		  "invalid format - format error\ncpu.cputype: Built-in cputype 'pentium9' is not defined (missing 'custom-' prefix?)");
	CHECK_STR(fails("cpu", "host,flags=+evil"),
		  "invalid format - format error\ncpu.flags: value does not match the regex pattern");
	CHECK_STR(canon("machine", "q35"), "q35");
	CHECK_STR(canon("machine", "pc-i440fx-7.2"), "pc-i440fx-7.2");
	CHECK_STR(canon("machine", "type=pc-q35-8.1+pve0,viommu=intel"), "pc-q35-8.1+pve0,viommu=intel");
	CHECK_STR(fails("machine", "microvm"),
		  "invalid format - format error\nmachine.type: value does not match the regex pattern");
	CHECK_STR(canon("boot", "order=scsi0;ide2;net0"), "order=scsi0;ide2;net0");
	CHECK_STR(canon("boot", "cdn"), "cdn");
	CHECK_STR(fails("boot", "order=scsi0;floppy"),
		  "invalid format - format error\nboot.order: invalid format - invalid boot device 'floppy'");
	CHECK_STR(canon("vga", "std,memory=32"), "std,memory=32");
	CHECK_STR(canon("agent", "1,type=virtio"), "1,type=virtio");
	CHECK_STR(canon("smbios1", "uuid=6f8d5a1e-2b4c-4d7e-9f01-23456789abcd"),
		  "uuid=6f8d5a1e-2b4c-4d7e-9f01-23456789abcd");
	CHECK_STR(fails("smbios1", "uuid=nope"),
		  "invalid format - format error\nsmbios1.uuid: value does not match the regex pattern");
	CHECK_STR(canon("scsihw", "virtio-scsi-single"), "virtio-scsi-single");
	CHECK_STR(canon("lock", "backup"), "backup");
}

static struct vmconf *sample(void)
{
	struct vmconf *c = vmconf_new();

	vmconf_set(c, "name", "web");
	vmconf_set(c, "memory", "1024");
	vmconf_set(c, "scsi0", "local:100/vm-100-disk-0.qcow2,size=1G");
	vmconf_set(c, "description", "first line\nsecond 100% done");
	return c;
}

static void test_text_and_digest(void)
{
	struct vmconf *c = sample(), *back = NULL;
	char *text = vmconf_to_text(c), d1[41], d2[41];

	CHECK_STR(text, "#first line\n#second 100%25 done\nmemory: 1024\nname: web\n"
			"scsi0: local:100/vm-100-disk-0.qcow2,size=1G\n");
	CHECK_INT(vmconf_from_text(text, &back, err, sizeof(err)), 0);
	CHECK_STR(vmconf_get(back, "description"), "first line\nsecond 100% done");
	CHECK_STR(vmconf_get(back, "scsi0"), "local:100/vm-100-disk-0.qcow2,size=1G");
	CHECK_INT(vmconf_count(back), 4);
	CHECK_INT(vmconf_digest(c, d1), 0);
	CHECK_INT(vmconf_digest(back, d2), 0);
	CHECK_STR(d1, d2);
	CHECK_INT(strlen(d1), 40);
	vmconf_set(back, "cores", "2");
	vmconf_digest(back, d2);
	CHECK(strcmp(d1, d2) != 0);
	CHECK_INT(vmconf_from_text("name web\n", &back, err, sizeof(err)) == -EINVAL, 1);
	free(text);
	vmconf_free(c);
	vmconf_free(back);
}

static void test_text_edges(void)
{
	struct vmconf *c = vmconf_new(), *back = NULL;
	char *text = vmconf_to_text(c);

	CHECK_STR(text, "");
	free(text);
	vmconf_set(c, "description", "x\n\nlast\n");
	text = vmconf_to_text(c);
	CHECK_STR(text, "#x\n#\n#last\n#\n");
	CHECK_INT(vmconf_from_text(text, &back, err, sizeof(err)), 0);
	CHECK_STR(vmconf_get(back, "description"), "x\n\nlast\n");
	free(text);
	vmconf_free(back);
	CHECK_INT(vmconf_from_text("name: a\n#late: b\n", &back, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "line 2: invalid key");
	CHECK_INT(vmconf_from_text("name: a\nname: b\n", &back, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "line 2: duplicate key 'name'");
	vmconf_free(c);
}

static void test_update_atomic(void)
{
	struct vmconf *c = sample();
	struct vmconf_errors errs = { .n = 0 };
	const char *keys[] = { "cores", "name", "net0", "bogus" };
	const char *vals[] = { "4", "bad,name", "virtio", "1" };
	char before[41], after[41];

	vmconf_digest(c, before);
	CHECK_INT(vmconf_update(c, keys, vals, 4, NULL, &errs), -EINVAL);
	CHECK_INT(errs.n, 2);
	CHECK_STR(vmconf_errors_get(&errs, "name"), "invalid format - value does not look like a valid DNS name");
	CHECK(vmconf_errors_get(&errs, "bogus") != NULL);
	vmconf_digest(c, after);
	CHECK_STR(before, after);
	CHECK(vmconf_get(c, "cores") == NULL);

	errs.n = 0;
	vals[1] = "good";
	CHECK_INT(vmconf_update(c, keys, vals, 3, "description", &errs), 0);
	CHECK_INT(errs.n, 0);
	CHECK_STR(vmconf_get(c, "cores"), "4");
	CHECK(vmconf_get(c, "description") == NULL);
	CHECK(strncmp(vmconf_get(c, "net0"), "virtio=BC:24:11:", 16) == 0);
	CHECK(strchr(vmconf_get(c, "net0"), ',') == NULL);
	vmconf_free(c);
}

static void test_smbios_uuid(void)
{
	struct vmconf *c = vmconf_new();
	char *canon = NULL, first[64];

	CHECK_INT(vmconf_assign_smbios_uuid(c), 0);
	CHECK_INT(vmconf_check("smbios1", vmconf_get(c, "smbios1"), &canon, err, sizeof(err)), 0);
	CHECK_INT(strlen(vmconf_get(c, "smbios1")), 41);
	CHECK_INT(vmconf_get(c, "smbios1")[19], '4');
	snprintf(first, sizeof(first), "%s", vmconf_get(c, "smbios1"));
	CHECK_INT(vmconf_assign_smbios_uuid(c), 0); /* kept once set */
	CHECK_STR(vmconf_get(c, "smbios1"), first);
	free(canon);
	vmconf_free(c);
}

static void test_cross_rules(void)
{
	struct vmconf *c = sample();
	struct vmconf_errors errs = { .n = 0 };
	const char *keys[] = { "balloon", "vcpus", "boot" };
	const char *vals[] = { "2048", "3", "order=scsi0;net0" };
	char order[8][16];

	CHECK_INT(vmconf_update(c, keys, vals, 3, NULL, &errs), -EINVAL);
	CHECK_STR(vmconf_errors_get(&errs, "balloon"),
		  "balloon value too large (must be smaller than assigned memory)");
	CHECK_STR(vmconf_errors_get(&errs, "vcpus"),
		  "the number of vcpus must not exceed sockets * cores (1)");
	CHECK_STR(vmconf_errors_get(&errs, "boot"), "boot device 'net0' does not exist");
	vmconf_set(c, "ide2", "none,media=cdrom");
	vmconf_set(c, "net0", "virtio=BC:24:11:00:00:01");
	CHECK_INT(vmconf_boot_order(c, order, 8), 3);
	CHECK_STR(order[0], "scsi0");
	CHECK_STR(order[1], "ide2");
	CHECK_STR(order[2], "net0");
	vmconf_set(c, "boot", "order=net0;scsi0");
	CHECK_INT(vmconf_boot_order(c, order, 8), 2);
	CHECK_STR(order[0], "net0");
	CHECK_INT(vmconf_memory_mib(c), 1024);
	vmconf_free(c);
}

static const struct test_case tests[] = {
	{ "scalars", test_scalars },
	{ "scalar_errors", test_scalar_errors },
	{ "vmid", test_vmid },
	{ "hostile_names", test_hostile_names },
	{ "drives", test_drives },
	{ "drive_errors", test_drive_errors },
	{ "drive_struct", test_drive_struct },
	{ "nets", test_nets },
	{ "cpu_machine_misc", test_cpu_machine_misc },
	{ "text_and_digest", test_text_and_digest },
	{ "text_edges", test_text_edges },
	{ "update_atomic", test_update_atomic },
	{ "smbios_uuid", test_smbios_uuid },
	{ "cross_rules", test_cross_rules },
};

TEST_MAIN(tests)
