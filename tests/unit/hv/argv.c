/* Tests hv/argv.c against golden command lines (one argument per line in
 * tests/unit/hv/golden/<case>.args; CORRAL_UPDATE_GOLDEN=1 rewrites them),
 * plus the refusals. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "hv/argv.h"
#include "tests/unit/test.h"

static struct vmconf *conf_of(const char *const *kv)
{
	struct vmconf *c = vmconf_new();

	for (; kv[0]; kv += 2)
		vmconf_set(c, kv[0], kv[1]);
	return c;
}

static char *joined(char **argv)
{
	struct buf b = BUF_INIT;

	for (char **p = argv; *p; p++)
		buf_printf(&b, "%s\n", *p);
	return buf_steal(&b);
}

static void golden(const char *name, char **argv)
{
	const char *root = getenv("CORRAL_ROOT");
	char path[512], *want = NULL, *got = joined(argv);
	size_t len;

	snprintf(path, sizeof(path), "%s/tests/unit/hv/golden/%s.args", root ? root : ".", name);
	if (getenv("CORRAL_UPDATE_GOLDEN"))
		util_write_file_atomic(path, got, strlen(got), 0644);
	CHECK_INT(util_read_file(path, 1 << 20, &want, &len), 0);
	CHECK_STR(got, want);
	free(want);
	free(got);
}

static int build(const char *const *kv, const struct hv_disk_path *disks, size_t n, int kvm,
		 const char *run_dir, char ***argv, char *err)
{
	struct vmconf *c = conf_of(kv);
	struct hv_argv_opts o = { .vmid = 100, .conf = c, .disks = disks, .ndisks = n,
				  .run_dir = run_dir, .kvm = kvm };
	int r = hv_argv_build(&o, argv, err, 256);

	vmconf_free(c);
	return r;
}

static void test_minimal(void)
{
	static const char *const kv[] = {
		"name", "guest", "memory", "256", "serial0", "socket",
		"virtio0", "local:100/vm-100-disk-0.qcow2,size=64M",
		"net0", "virtio=BC:24:11:00:00:01", NULL,
	};
	static const struct hv_disk_path disks[] = {
		{ "virtio0", "/var/lib/corral/images/100/vm-100-disk-0.qcow2", "qcow2" },
	};
	char **argv = NULL, err[256] = "";

	CHECK_INT(build(kv, disks, 1, 0, "/run/corral", &argv, err), 0);
	if (argv)
		golden("minimal", argv);
	hv_argv_free(argv);
}

static void test_full(void)
{
	static const char *const kv[] = {
		"name", "db.example", "machine", "q35", "ostype", "win11",
		"cpu", "x86-64-v2-AES,flags=-pcid;+aes", "sockets", "2", "cores", "2",
		"vcpus", "3", "memory", "4096", "balloon", "0", "agent", "1",
		"scsihw", "virtio-scsi-single", "vga", "qxl,memory=32",
		"smbios1", "uuid=6f8d5a1e-2b4c-4d7e-9f01-23456789abcd",
		"scsi0", "local:100/vm-100-disk-0.qcow2,iothread=1,ssd=1,cache=none,discard=on",
		"scsi1", "local:100/vm-100-disk-1.raw,serial=DATA_1,ro=1",
		"sata1", "local:100/vm-100-disk-2.qcow2,cache=unsafe",
		"ide2", "none,media=cdrom", "ide0", "local:iso/xy.iso,media=cdrom",
		"virtio3", "local:100/vm-100-disk-3.qcow2,iothread=1",
		"unused0", "local:100/vm-100-disk-9.qcow2",
		"net0", "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,queues=4,mtu=9000",
		"net1", "e1000=BC:24:11:AA:BB:CD",
		"boot", "order=scsi0;ide2;net0", NULL,
	};
	static const struct hv_disk_path disks[] = {
		{ "scsi0", "/srv/im,ages/100/vm-100-disk-0.qcow2", "qcow2" },
		{ "scsi1", "/dev/vg0/vm-100-disk-1", NULL },
		{ "sata1", "/srv/images/100/vm-100-disk-2.qcow2", NULL },
		{ "ide0", "/srv/iso/x,y.iso", "raw" },
		{ "virtio3", "/srv/images/100/vm-100-disk-3.qcow2", NULL },
	};
	char **argv = NULL, err[256] = "";

	CHECK_INT(build(kv, disks, 5, 1, "/run/cor,ral", &argv, err), 0);
	if (argv)
		golden("full", argv);
	hv_argv_free(argv);
}

static void test_ovmf_lsi(void)
{
	static const char *const kv[] = {
		"bios", "ovmf", "efidisk0", "local:100/vm-100-disk-1.qcow2,efitype=4m",
		"scsi0", "local:100/vm-100-disk-0.qcow2", "scsi9", "local:100/vm-100-disk-2.qcow2",
		"cpu", "host", "vga", "none", "machine", "pc-i440fx-7.2+pve0", NULL,
	};
	static const struct hv_disk_path disks[] = {
		{ "efidisk0", "/srv/100/vm-100-disk-1.qcow2", "qcow2" },
		{ "scsi0", "/srv/100/vm-100-disk-0.qcow2", "qcow2" },
		{ "scsi9", "/srv/100/vm-100-disk-2.qcow2", "qcow2" },
	};
	char **argv = NULL, err[256] = "";

	CHECK_INT(build(kv, disks, 3, 0, "/run/corral", &argv, err), 0);
	if (argv)
		golden("ovmf_lsi", argv);
	hv_argv_free(argv);
}

static void test_refusals(void)
{
	static const char *const tmpl[] = { "template", "1", NULL };
	static const char *const newdisk[] = { "scsi0", "local:32", NULL };
	static const char *const nopath[] = { "scsi0", "local:100/vm-100-disk-0.qcow2", NULL };
	static const char *const badname[] = { "name", "x,readonly=on", NULL };
	static const char *const badvol[] = { "scsi0", "/etc/shadow", NULL };
	static const char *const nomac[] = { "net0", "virtio", NULL };
	static const char *const efi[] = { "bios", "ovmf", NULL };
	char **argv = NULL, err[256] = "";

	CHECK_INT(build(tmpl, NULL, 0, 0, "/run", &argv, err), -EINVAL);
	CHECK_STR(err, "you can't start a vm if it's a template");
	CHECK_INT(build(newdisk, NULL, 0, 0, "/run", &argv, err), -EINVAL);
	CHECK_STR(err, "volume for scsi0 is not allocated yet");
	CHECK_INT(build(nopath, NULL, 0, 0, "/run", &argv, err), -EINVAL);
	CHECK_STR(err, "no path resolved for scsi0");
	CHECK_INT(build(badname, NULL, 0, 0, "/run", &argv, err), -EINVAL);
	CHECK_STR(err, "invalid configuration: name: invalid format - value does not look like a valid DNS name");
	CHECK_INT(build(badvol, NULL, 0, 0, "/run", &argv, err), -EINVAL);
	CHECK(strstr(err, "unable to parse volume ID '/etc/shadow'") != NULL);
	CHECK_INT(build(nomac, NULL, 0, 0, "/run", &argv, err), -EINVAL);
	CHECK_STR(err, "net0 has no MAC address");
	CHECK_INT(build(efi, NULL, 0, 0, "/run", &argv, err), -EINVAL);
	CHECK_STR(err, "bios=ovmf needs an allocated efidisk0");
	CHECK(argv == NULL);
}

static void test_escape_and_paths(void)
{
	struct buf b = BUF_INIT;
	char p[32];

	hv_qemu_escape(&b, "/a,b,,c");
	CHECK_STR(b.data, "/a,,b,,,,c");
	buf_free(&b);
	CHECK_INT(hv_run_path(p, sizeof(p), "/run/corral", 100, "qmp"), 0);
	CHECK_STR(p, "/run/corral/100.qmp");
	CHECK_INT(hv_run_path(p, 8, "/run/corral", 100, "qmp"), -ENAMETOOLONG);
	CHECK_INT(hv_kvm_usable() == 0 || hv_kvm_usable() == 1, 1);
}

static const struct test_case tests[] = {
	{ "minimal", test_minimal },
	{ "full", test_full },
	{ "ovmf_lsi", test_ovmf_lsi },
	{ "refusals", test_refusals },
	{ "escape_and_paths", test_escape_and_paths },
};

TEST_MAIN(tests)
