/* Hot-plug of disks and NICs into a running VM over QMP: the same option
 * strings a cold start uses (hv_argv_device), turned into blockdev-add,
 * netdev_add and device_add; removal by device_del, waiting for the guest
 * to let the device go before its backend is deleted. */
#include "hv/vm_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "hv/blocknode.h"

#define QMP_TIMEOUT_MS 10000
#define UNPLUG_POLL_MS 100
#define NODE_DEL_MS 5000 /* a node the unplugged device still holds for a moment */
#define PLUG_UNDO_MAX 8

/* ---- keyval -> JSON (pure) ---- */

/* The next "key=value" item of S (",," is a comma inside it) into ITEM;
 * returns where the next item starts. */
static const char *next_item(const char *s, struct buf *item)
{
	buf_append(item, "", 0);
	for (; *s; s++) {
		if (*s == ',' && s[1] == ',')
			buf_append(item, s++, 1);
		else if (*s == ',')
			return s + 1;
		else
			buf_append(item, s, 1);
	}
	return s;
}

static cJSON *typed_value(const char *v, int typed)
{
	if (typed && (strcmp(v, "on") == 0 || strcmp(v, "off") == 0))
		return cJSON_CreateBool(strcmp(v, "on") == 0);
	if (typed && *v && strspn(v, "0123456789") == strlen(v) && strlen(v) < 16)
		return cJSON_CreateNumber((double)strtoll(v, NULL, 10));
	return cJSON_CreateString(v);
}

/* QEMU's options nest two or three levels ("file.cache.direct"). */
#define KEYVAL_DEPTH_MAX 8

/* Sets KEY (dotted: nested objects, DEPTH levels in so far) of O to V. */
static int set_path(cJSON *o, const char *key, const char *v, int typed, int depth)
{
	const char *dot = strchr(key, '.');
	char head[64];
	cJSON *sub;

	if (!*key || dot == key || depth > KEYVAL_DEPTH_MAX ||
	    (size_t)(dot ? dot - key : 0) >= sizeof(head))
		return -EINVAL;
	if (!dot) {
		if (cJSON_GetObjectItemCaseSensitive(o, key))
			return -EINVAL;
		return cJSON_AddItemToObject(o, key, typed_value(v, typed)) ? 0 : -ENOMEM;
	}
	snprintf(head, sizeof(head), "%.*s", (int)(dot - key), key);
	sub = cJSON_GetObjectItemCaseSensitive(o, head);
	if (!sub)
		sub = cJSON_AddObjectToObject(o, head);
	if (!cJSON_IsObject(sub))
		return -EINVAL;
	return set_path(sub, dot + 1, v, typed, depth + 1);
}

/* One item: "key=value", or a bare value for IMPLIED when FIRST. */
static int add_item(cJSON *o, char *item, const char *implied, int first, int typed)
{
	char *eq = strchr(item, '=');

	if (!*item)
		return -EINVAL;
	if (!eq)
		return first && implied ? set_path(o, implied, item, 0, 0) : -EINVAL;
	*eq = '\0';
	return set_path(o, item, eq + 1, typed, 0);
}

int hv_keyval_json(const char *opts, const char *implied, int typed, cJSON **out)
{
	cJSON *o = cJSON_CreateObject();
	int r = o ? 0 : -ENOMEM;

	for (int first = 1; r == 0 && *opts; first = 0) {
		struct buf item = BUF_INIT;

		opts = next_item(opts, &item);
		r = item.data ? add_item(o, item.data, implied, first, typed) : -ENOMEM;
		buf_free(&item);
	}
	if (r < 0) {
		cJSON_Delete(o);
		return r;
	}
	*out = o;
	return 0;
}

/* ---- QMP helpers ---- */

static int qmp_args(struct hv *h, int vmid, const char *cmd, cJSON *args, char *err,
		    size_t errlen)
{
	int r = hv_vm_qmp(h, vmid, cmd, args, QMP_TIMEOUT_MS, NULL, err, errlen);

	cJSON_Delete(args);
	return r;
}

static int qmp_with(struct hv *h, int vmid, const char *cmd, const char *key, const char *val,
		    char *err, size_t errlen)
{
	cJSON *a = cJSON_CreateObject();

	cJSON_AddStringToObject(a, key, val);
	return qmp_args(h, vmid, cmd, a, err, errlen);
}

/* 1 if the VM has a device with id ID. */
static int device_exists(struct hv *h, int vmid, const char *id)
{
	char path[128], ignored[256];
	cJSON *a = cJSON_CreateObject();

	snprintf(path, sizeof(path), "/machine/peripheral/%s", id);
	cJSON_AddStringToObject(a, "path", path);
	cJSON_AddStringToObject(a, "property", "type");
	return qmp_args(h, vmid, "qom-get", a, ignored, sizeof(ignored)) == 0;
}

/* ---- plug ---- */

struct plug {
	struct hv *h;
	int vmid;
	/* what was added, undone in reverse on failure: 'b' node, 'n' netdev */
	char kind[PLUG_UNDO_MAX];
	char id[PLUG_UNDO_MAX][64];
	size_t n;
};

static void remember(struct plug *p, char kind, const cJSON *o, const char *field)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, field);

	if (p->n < PLUG_UNDO_MAX && cJSON_IsString(id)) {
		p->kind[p->n] = kind;
		util_strlcpy(p->id[p->n++], id->valuestring, sizeof(p->id[0]));
	}
}

static void undo(struct plug *p)
{
	char ignored[256];

	while (p->n--)
		qmp_with(p->h, p->vmid, p->kind[p->n] == 'b' ? "blockdev-del" : "netdev_del",
			 p->kind[p->n] == 'b' ? "node-name" : "id", p->id[p->n], ignored,
			 sizeof(ignored));
}

/* One option pair of hv_argv_device. */
static int plug_option(struct plug *p, const char *opt, const char *val, char *err,
		       size_t errlen)
{
	int blockdev = strcmp(opt, "-blockdev") == 0, netdev = strcmp(opt, "-netdev") == 0;
	const cJSON *id;
	cJSON *o;
	int r;

	if (!blockdev && !netdev && strcmp(opt, "-device") != 0) {
		snprintf(err, errlen, "%s %s cannot be added to a running VM", opt, val);
		return CR_EUNSUPPORTED;
	}
	r = hv_keyval_json(val, blockdev ? NULL : netdev ? "type" : "driver", blockdev || netdev,
			   &o);
	if (r < 0) {
		snprintf(err, errlen, "cannot convert '%s' for QMP", val);
		return r;
	}
	id = cJSON_GetObjectItemCaseSensitive(o, "id");
	if (!blockdev && !netdev && cJSON_IsString(id) &&
	    device_exists(p->h, p->vmid, id->valuestring)) {
		cJSON_Delete(o); /* a SCSI controller already there */
		return 0;
	}
	if (blockdev)
		remember(p, 'b', o, "node-name");
	else if (netdev)
		remember(p, 'n', o, "id");
	return qmp_args(p->h, p->vmid, blockdev ? "blockdev-add" : netdev ? "netdev_add"
					  : "device_add", o, err, errlen);
}

/* A bridged NIC's tap device, made before QEMU opens it. */
static int plug_tap(int vmid, const struct vmconf *conf, const char *key, char *err,
		    size_t errlen)
{
	struct vmconf_net n;

	if (vmconf_net_parse(key, vmconf_get(conf, key), &n, err, errlen) < 0)
		return -EINVAL;
	return n.bridge[0] ? hv_tap_setup_nic(vmid, &n, err, errlen) : 0;
}

int hv_vm_plug(struct hv *h, int vmid, const struct vmconf *conf, const char *key,
	       const struct hv_disk_path *disks, size_t ndisks, char *err, size_t errlen)
{
	struct hv_argv_opts o = { .vmid = vmid, .conf = conf, .disks = disks, .ndisks = ndisks,
				  .run_dir = h->run_dir, .kvm = h->kvm };
	struct plug p = { .h = h, .vmid = vmid };
	char **v;
	int net = strncmp(key, "net", 3) == 0;
	int r = hv_argv_device(&o, key, &v, err, errlen);

	if (r < 0)
		return r;
	if (!hv_vm_running(h, vmid)) {
		hv_argv_free(v);
		snprintf(err, errlen, "VM %d not running", vmid);
		return CR_ENOTRUNNING;
	}
	if (net && (r = plug_tap(vmid, conf, key, err, errlen)) < 0)
		goto free_argv;
	for (size_t i = 0; r == 0 && v[i] && v[i + 1]; i += 2)
		r = plug_option(&p, v[i], v[i + 1], err, errlen);
	if (r < 0) {
		undo(&p);
		if (net)
			hv_tap_delete(vmid, atoi(key + 3));
	}
free_argv:
	hv_argv_free(v);
	return r;
}

/* ---- unplug ---- */

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* device_del KEY, then waits until the guest has released it. */
static int device_remove(struct hv *h, int vmid, const char *key, int timeout_ms, char *err,
			 size_t errlen)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
	int r = qmp_with(h, vmid, "device_del", "id", key, err, errlen);

	if (r < 0 && !device_exists(h, vmid, key))
		return 0; /* not plugged at all */
	if (r < 0)
		return r;
	while (device_exists(h, vmid, key)) {
		if (util_now_ms() >= deadline) {
			snprintf(err, errlen, "the guest did not release %s within %d s", key,
				 timeout_ms / 1000);
			return CR_ETIMEOUT;
		}
		sleep_ms(UNPLUG_POLL_MS);
	}
	return 0;
}

/* blockdev-del NODE.  The device that used it may still hold it for a
 * moment after it left the bus (QEMU frees it later, after an RCU grace
 * period), so "in use" is tried again for up to NODE_DEL_MS. */
static void node_delete(struct hv *h, int vmid, const char *node)
{
	uint64_t deadline = util_now_ms() + NODE_DEL_MS;
	char err[256];

	while (qmp_with(h, vmid, "blockdev-del", "node-name", node, err, sizeof(err)) < 0 &&
	       !strstr(err, "Failed to find") && util_now_ms() < deadline)
		sleep_ms(UNPLUG_POLL_MS);
}

int hv_vm_unplug(struct hv *h, int vmid, const char *key, int timeout_ms, char *err,
		 size_t errlen)
{
	struct hv_drive_nodes dn;
	char ignored[256];
	int r, disk = strncmp(key, "net", 3) != 0;

	/* the nodes go after the device: ask which they are while it is there */
	if (disk && (r = hv_blocknode_get(h, vmid, key, &dn, err, errlen)) < 0)
		return r;
	if ((r = device_remove(h, vmid, key, timeout_ms, err, errlen)) < 0)
		return r;
	if (!disk) {
		qmp_with(h, vmid, "netdev_del", "id", key, ignored, sizeof(ignored));
		hv_tap_delete(vmid, atoi(key + 3));
		return 0;
	}
	node_delete(h, vmid, dn.format);
	node_delete(h, vmid, dn.file);
	return 0;
}

int hv_vm_nic_update(struct hv *h, int vmid, const char *key, const char *old, const char *new,
		     char *err, size_t errlen)
{
	struct vmconf_net o, n;
	int r = vmconf_net_parse(key, old, &o, err, errlen);

	if (r == 0)
		r = vmconf_net_parse(key, new, &n, err, errlen);
	if (r < 0)
		return r;
	if (!o.bridge[0] || !n.bridge[0]) {
		snprintf(err, errlen, "%s: user-mode networking cannot change live", key);
		return CR_EUNSUPPORTED;
	}
	if (!hv_vm_running(h, vmid)) {
		snprintf(err, errlen, "VM %d not running", vmid);
		return CR_ENOTRUNNING;
	}
	r = hv_tap_retune(vmid, &o, &n, err, errlen);
	if (r == 0 && o.link_down != n.link_down)
		r = hv_vm_set_link(h, vmid, key, !n.link_down, err, errlen);
	return r;
}

int hv_vm_set_link(struct hv *h, int vmid, const char *key, int up, char *err, size_t errlen)
{
	cJSON *a = cJSON_CreateObject();

	cJSON_AddStringToObject(a, "name", key);
	cJSON_AddBoolToObject(a, "up", up);
	return qmp_args(h, vmid, "set_link", a, err, errlen);
}
