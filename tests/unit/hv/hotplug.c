/* Tests hv/hotplug.c's pure part: QEMU option text turned into QMP
 * arguments (typed for blockdev-add/netdev_add, strings for device_add),
 * on the very strings hv_argv_device gives a hot-plugged disk and NIC. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/argv.h"
#include "hv/vm.h"
#include "tests/unit/test.h"

static void check_json(const char *opts, const char *implied, int typed, const char *want)
{
	cJSON *o = NULL;
	char *got;

	CHECK_INT(hv_keyval_json(opts, implied, typed, &o), 0);
	if (!o)
		return;
	got = cJSON_PrintUnformatted(o);
	CHECK_STR(got, want);
	free(got);
	cJSON_Delete(o);
}

static void test_keyval(void)
{
	cJSON *o;

	check_json("driver=file,node-name=file-virtio1,filename=/srv/a,,b.qcow2,"
		   "cache.direct=off,cache.no-flush=on",
		   NULL, 1,
		   "{\"driver\":\"file\",\"node-name\":\"file-virtio1\",\"filename\":"
		   "\"/srv/a,b.qcow2\",\"cache\":{\"direct\":false,\"no-flush\":true}}");
	check_json("tap,id=net1,ifname=tap100i1,script=no,downscript=no,queues=4", "type", 1,
		   "{\"type\":\"tap\",\"id\":\"net1\",\"ifname\":\"tap100i1\",\"script\":\"no\","
		   "\"downscript\":\"no\",\"queues\":4}");
	check_json("virtio-blk-pci,id=virtio1,drive=drive-virtio1,write-cache=on,bootindex=101",
		   "driver", 0,
		   "{\"driver\":\"virtio-blk-pci\",\"id\":\"virtio1\",\"drive\":\"drive-virtio1\","
		   "\"write-cache\":\"on\",\"bootindex\":\"101\"}");
	CHECK_INT(hv_keyval_json("virtio-blk-pci,id=x", NULL, 0, &o), -EINVAL);
	CHECK_INT(hv_keyval_json("a=1,,,b=2", NULL, 0, &o), 0); /* "a" = "1,", then b */
	cJSON_Delete(o);
	CHECK_INT(hv_keyval_json("a=1,a=2", NULL, 0, &o), -EINVAL);
	CHECK_INT(hv_keyval_json("a=1,,b", NULL, 0, &o), 0);
	CHECK_STR(cJSON_GetObjectItem(o, "a")->valuestring, "1,b");
	cJSON_Delete(o);
	CHECK_INT(hv_keyval_json("a=1,", NULL, 0, &o), 0); /* a trailing comma ends it */
	cJSON_Delete(o);
	CHECK_INT(hv_keyval_json("a=1,,,=2", NULL, 0, &o), -EINVAL);
	CHECK_INT(hv_keyval_json("a=1,b=2,c", NULL, 0, &o), -EINVAL);
	CHECK_INT(hv_keyval_json("a.b=1,a=2", NULL, 0, &o), -EINVAL);
	CHECK_INT(hv_keyval_json("a..b=1", NULL, 0, &o), -EINVAL);
	CHECK_INT(hv_keyval_json(".a=1", NULL, 0, &o), -EINVAL);
	CHECK_INT(hv_keyval_json("a.b.c.d.e.f.g.h.i.j=1", NULL, 0, &o), -EINVAL);
}

static struct vmconf *conf_of(const char *const *kv)
{
	struct vmconf *c = vmconf_new();

	for (; kv[0]; kv += 2)
		vmconf_set(c, kv[0], kv[1]);
	return c;
}

static char *device_text(const char *const *kv, const char *key, int *rc)
{
	static const struct hv_disk_path disks[] = {
		{ "virtio1", "/srv/images/100/vm-100-disk-1.qcow2", "qcow2" },
		{ "scsi2", "/srv/images/100/vm-100-disk-2.raw", "raw" },
	};
	struct vmconf *c = conf_of(kv);
	struct hv_argv_opts o = { .vmid = 100, .conf = c, .disks = disks, .ndisks = 2,
				  .run_dir = "/run/corral" };
	char **v = NULL, err[256] = "", *out = NULL;
	size_t len = 0;

	*rc = hv_argv_device(&o, key, &v, err, sizeof(err));
	for (size_t i = 0; v && v[i]; i++)
		len += strlen(v[i]) + 1;
	out = calloc(1, len + 1);
	for (size_t i = 0; v && v[i]; i++) {
		strcat(out, v[i]);
		strcat(out, "\n");
	}
	hv_argv_free(v);
	vmconf_free(c);
	return out;
}

static void test_argv_device(void)
{
	static const char *const kv[] = {
		"memory", "256", "boot", "order=virtio0;virtio1",
		"virtio0", "local:100/vm-100-disk-0.qcow2",
		"virtio1", "local:100/vm-100-disk-1.qcow2,cache=writeback,discard=on",
		"scsi2", "local:100/vm-100-disk-2.raw", "scsihw", "virtio-scsi-pci",
		"net1", "virtio=BC:24:11:00:00:02,bridge=vmbr0",
		"net2", "e1000=BC:24:11:00:00:03",
		"ide2", "none,media=cdrom", NULL,
	};
	char *t;
	int rc;

	t = device_text(kv, "virtio1", &rc);
	CHECK_INT(rc, 0);
	CHECK_STR(t, "-blockdev\n"
		     "driver=file,node-name=file-virtio1,filename=/srv/images/100/vm-100-disk-1.qcow2,"
		     "cache.direct=off,cache.no-flush=off,discard=unmap\n"
		     "-blockdev\n"
		     "driver=qcow2,node-name=drive-virtio1,file=file-virtio1,cache.direct=off,"
		     "cache.no-flush=off,discard=unmap\n"
		     "-device\n"
		     "virtio-blk-pci,id=virtio1,drive=drive-virtio1,write-cache=on,bootindex=101\n");
	free(t);
	t = device_text(kv, "scsi2", &rc);
	CHECK_INT(rc, 0);
	CHECK_STR(t, "-device\nvirtio-scsi-pci,id=scsihw0\n"
		     "-blockdev\ndriver=file,node-name=file-scsi2,filename=/srv/images/100/vm-100-disk-2.raw\n"
		     "-blockdev\ndriver=raw,node-name=drive-scsi2,file=file-scsi2\n"
		     "-device\nscsi-hd,id=scsi2,bus=scsihw0.0,channel=0,scsi-id=2,lun=0,"
		     "drive=drive-scsi2\n");
	free(t);
	t = device_text(kv, "net1", &rc);
	CHECK_INT(rc, 0);
	CHECK_STR(t, "-netdev\ntap,id=net1,ifname=tap100i1,script=no,downscript=no\n"
		     "-device\nvirtio-net-pci,netdev=net1,id=net1,mac=BC:24:11:00:00:02\n");
	free(t);
	t = device_text(kv, "net2", &rc);
	CHECK_STR(t, "-netdev\nuser,id=net2\n"
		     "-device\ne1000,netdev=net2,id=net2,mac=BC:24:11:00:00:03\n");
	free(t);
	t = device_text(kv, "net5", &rc);
	CHECK_INT(rc, -EINVAL);
	free(t);
	t = device_text(kv, "memory", &rc);
	CHECK_INT(rc, -EINVAL);
	free(t);
}

static void test_scsi_controller(void)
{
	static const char *const single[] = { "scsihw", "virtio-scsi-single", NULL };
	static const char *const lsi[] = { "memory", "256", NULL };
	struct vmconf *c = conf_of(single);
	char name[32];

	hv_argv_scsi_controller(c, 3, name, sizeof(name));
	CHECK_STR(name, "virtioscsi3");
	vmconf_free(c);
	c = conf_of(lsi); /* lsi: 7 targets a controller */
	hv_argv_scsi_controller(c, 8, name, sizeof(name));
	CHECK_STR(name, "scsihw1");
	vmconf_free(c);
}

static const struct test_case tests[] = {
	{ "keyval", test_keyval },
	{ "argv_device", test_argv_device },
	{ "scsi_controller", test_scsi_controller },
};

TEST_MAIN(tests)
