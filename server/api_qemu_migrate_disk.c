/* POST /nodes/{node}/qemu/{vmid}/move_disk (and move-disk): the qmmove task
 * moving one disk to another storage of this node, through the storage
 * engine for a stopped VM and QEMU's mirror job (hv/migrate.h) while it runs. */
#include "server/api.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "hv/migrate.h"
#include "server/api_qemu_snapshot.h"
#include "server/app.h"
#include "server/params.h"
#include "server/qemu_int.h"
#include "storage/pool.h"

/* Proxmox's enumeration of move_disk: the drives plus unused0..unused255. */
static int check_disk(const char *v, char *err, size_t errlen)
{
	static const char keys[] = "|" QSNAP_DISK_KEYS "|";
	char bar[24];
	int64_t n;

	snprintf(bar, sizeof(bar), "|%s|", v);
	if (strlen(v) < 16 && !strchr(v, '|') && strstr(keys, bar))
		return 0;
	if (strncmp(v, "unused", 6) == 0 && v[6] && (v[6] != '0' || !v[7]) &&
	    util_parse_i64(v + 6, &n) == 0 && n >= 0 && n <= 255)
		return 0;
	snprintf(err, errlen, "value '%.60s' does not have a value in the enumeration "
			      "'ide0, ..., virtio15, efidisk0, tpmstate0, unused0, ..., unused255'", v);
	return -EINVAL;
}

const struct param_spec api_qemu_move_disk_params[] = {
	QEMU_NODE_PARAM,
	QEMU_VMID_PARAM,
	{ .name = "disk", .type = PT_STRING, .max = 16, .check = check_disk },
	{ .name = "storage", .type = PT_STRING, .check = param_check_pve_storage_id },
	{ .name = "format", .type = PT_ENUM, .flags = PF_OPTIONAL, .enum_values = "raw|qcow2" },
	QEMU_BOOL_OPT("delete"),
	{ .name = "digest", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 64 },
	{ .name = "bwlimit", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 0,
	  .max = 4294967295LL },
	{ .name = NULL },
};

struct move_arg {
	int vmid, del;
	char key[16];
	char volid[POOL_VOLID_MAX], new_volid[POOL_VOLID_MAX];
	char storage[64], format[8];
	uint64_t size, bwlimit_kib;
	int result; /* of the configuration edit */
};

static int copy_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct task *t = opaque;
	static const uint64_t step = 64ull << 20;

	if (total && (done % step == 0 || done == total))
		task_log(t, "transferred %llu of %llu MiB (%.0f%%)",
			 (unsigned long long)(done >> 20), (unsigned long long)(total >> 20),
			 100.0 * (double)done / (double)total);
	return task_should_stop(t);
}

static int mirror_progress(void *opaque, const struct hv_mig_progress *p)
{
	struct task *t = opaque;

	if (p->phase == HV_MIG_MIRROR)
		task_log(t, "mirror: transferred %llu of %llu MiB, %s",
			 (unsigned long long)(p->disk_done >> 20),
			 (unsigned long long)(p->disk_total >> 20),
			 p->disks_ready ? "in sync" : "copying");
	return task_should_stop(t);
}

/* Stopped VM: a new volume copied by the storage engine. */
static int move_stopped(struct task *t, struct move_arg *a, struct pool *src, struct pool *dst,
			char *err, size_t errlen)
{
	struct pool_copy_opts o = { .vmid = a->vmid, .format = a->format,
				    .progress = copy_progress, .opaque = t };

	return pool_vol_copy(src, a->volid, dst, &o, a->new_volid, sizeof(a->new_volid), err,
			     errlen);
}

/* Running VM: a new empty volume the guest's disk is mirrored onto. */
static int move_running(struct task *t, struct move_arg *a, struct pool *dst, char *err,
			size_t errlen)
{
	struct hv_mig_qemu q = { .h = task_app(t)->hv, .vmid = a->vmid };
	char path[PATH_MAX], ignored[256];
	int r = pool_alloc(dst, a->vmid, a->format, a->size, a->new_volid, sizeof(a->new_volid),
			   err, errlen);

	if (r < 0)
		return r;
	r = pool_vol_path(dst, a->new_volid, path, sizeof(path), err, errlen);
	if (r == 0)
		r = hv_mig_local_move(&q, a->key, path, a->format, a->bwlimit_kib, mirror_progress,
				      t, err, errlen);
	if (r < 0)
		pool_vol_free(dst, a->new_volid, ignored, sizeof(ignored));
	return r;
}

/* The drive now names the new volume; the old one becomes unusedN unless
 * it is deleted. */
static void set_volume(struct qvm *vm, const void *ctx)
{
	struct move_arg *a = *(struct move_arg *const *)ctx;
	struct vmconf_drive d;
	char err[256], *text = NULL;
	int r = vmconf_drive_parse(a->key, vmconf_get(vm->conf, a->key), &d, err, sizeof(err));
	const char *colon = strchr(a->new_volid, ':');

	if (r == 0 && colon) {
		snprintf(d.storage, sizeof(d.storage), "%.*s", (int)(colon - a->new_volid),
			 a->new_volid);
		snprintf(d.volname, sizeof(d.volname), "%s", colon + 1);
		d.format[0] = '\0';
		text = vmconf_drive_format(&d);
		r = text ? 0 : -ENOMEM;
	}
	if (r == 0 && !a->del)
		r = qemu_keep_unused(vm->conf, a->key, text);
	if (r == 0)
		r = vmconf_set(vm->conf, a->key, text);
	free(text);
	a->result = r < 0 ? r : 0;
}

static int move_task(struct task *t, void *opaque)
{
	struct move_arg *a = opaque;
	struct app *app = task_app(t);
	struct pool_volid v;
	struct pool *src, *dst = pool_set_get(app->pools, a->storage);
	char err[512] = "";
	int r = pool_volid_parse(a->volid, &v, err, sizeof(err)), running;

	src = r == 0 ? pool_set_get(app->pools, v.storage) : NULL;
	if (!src || !dst)
		return task_fail(t, CR_ENOTFOUND, "storage '%s' does not exist",
				 src ? a->storage : v.storage);
	running = qemu_running(app, a->vmid);
	task_log(t, "moving disk '%s' (%s) to storage '%s' as %s%s", a->key, a->volid, a->storage,
		 a->format, running ? " (VM running: drive mirror)" : "");
	r = running ? move_running(t, a, dst, err, sizeof(err))
		    : move_stopped(t, a, src, dst, err, sizeof(err));
	if (r < 0)
		return task_fail(t, r, "storage migration failed: %s", err);
	task_log(t, "new volume %s", a->new_volid);
	r = qvm_update(app, a->vmid, set_volume, &a);
	if (r == 0)
		r = a->result;
	if (r < 0) {
		if (!running) /* else the guest writes to it already */
			pool_vol_free(dst, a->new_volid, err, sizeof(err));
		return task_fail(t, r, "cannot store the configuration: %s", err_str(r));
	}
	if (a->del) {
		task_log(t, "removing the old volume %s", a->volid);
		if (pool_vol_free(src, a->volid, err, sizeof(err)) < 0)
			task_log(t, "warning: %s", err);
	}
	return 0;
}

/* The source volume, its format and size into A; errors as Proxmox's. */
static int move_source(struct req *req, struct resp *resp, const struct qvm *vm,
		       struct move_arg *a)
{
	const char *value = vmconf_get(vm->conf, a->key), *tmpl = vmconf_get(vm->conf, "template");
	struct pool_volume info;
	struct vmconf_drive d;
	struct pool *src;
	char err[384];
	int r;

	if (!value || vmconf_drive_parse(a->key, value, &d, err, sizeof(err)) < 0)
		return resp_error(resp, CR_EINTERNAL, "disk '%s' does not exist", a->key);
	if (d.cdrom)
		return resp_error(resp, CR_EINTERNAL, "you can't move a cdrom");
	if (tmpl && strcmp(tmpl, "1") == 0)
		return resp_error(resp, CR_EINTERNAL, "you can't move a disk of a template");
	if (qemu_drive_volid(a->key, value, a->volid, sizeof(a->volid)) < 0)
		return resp_error(resp, CR_EINTERNAL, "disk '%s' has no associated volume", a->key);
	if (!(src = pool_set_get(req->app->pools, d.storage)))
		return resp_error(resp, CR_ENOTFOUND, "storage '%s' does not exist", d.storage);
	if ((r = pool_vol_info(src, a->volid, &info, err, sizeof(err))) < 0)
		return resp_error(resp, r, "%s", err);
	if (!a->format[0])
		snprintf(a->format, sizeof(a->format), "%s", info.format);
	if (strcmp(d.storage, a->storage) == 0 && strcmp(info.format, a->format) == 0)
		return resp_error(resp, CR_EINTERNAL,
				  "you can't move to the same storage with same format");
	a->size = info.size;
	return 0;
}

static int move_checks(struct req *req, struct resp *resp, struct move_arg *a)
{
	const char *digest = req_str(req, "digest");
	struct pool *dst;
	char path[80];
	struct qvm vm;
	int r = api_storage_pool_for(req, resp, a->storage, &dst);

	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/storage/%s", a->storage);
	if (!api_can(req, path, "Datastore.AllocateSpace"))
		return resp_error(resp, CR_EPERM_CHECK, "Permission check failed (%s, %s)", path,
				  "Datastore.AllocateSpace");
	if ((r = qvm_read(req->app, a->vmid, &vm)) < 0)
		return qemu_no_such_vm(req, resp, a->vmid);
	if (digest && strcmp(digest, vm.digest) != 0)
		r = resp_error(resp, CR_EINTERNAL, "detected modified configuration - file changed "
						   "by other user? Try again.");
	if (r == 0)
		r = move_source(req, resp, &vm, a);
	qvm_clear(&vm);
	return r;
}

int api_qemu_move_disk(struct req *req, struct resp *resp)
{
	int vmid = qemu_vmid(req), r = qemu_check_vm(req, resp, vmid);
	const char *format = req_str(req, "format");
	struct move_arg *a;

	if (r < 0)
		return r;
	if (!(a = calloc(1, sizeof(*a))))
		return resp_error(resp, -ENOMEM, "out of memory");
	a->vmid = vmid;
	a->del = req_bool(req, "delete", 0);
	a->bwlimit_kib = (uint64_t)req_int(req, "bwlimit", 0);
	snprintf(a->key, sizeof(a->key), "%s", req_str(req, "disk"));
	snprintf(a->storage, sizeof(a->storage), "%s", req_str(req, "storage"));
	snprintf(a->format, sizeof(a->format), "%s", format ? format : "");
	if ((r = move_checks(req, resp, a)) < 0) {
		free(a);
		return r;
	}
	return qemu_task(req, resp, "qmmove", vmid, move_task, a, free, 0);
}
