/* PUT /nodes/{node}/qemu/{vmid}/resize (task "resize", as qemu-server 8.0.2+
 * answers it): grows a disk through the storage engine, or with QMP
 * block_resize while the VM runs, and records the new size= in the
 * configuration.  Shrinking is refused, as Proxmox refuses it. */
#include "server/api.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "hv/vm.h"
#include "hv/vm_snapshot.h"
#include "server/api_qemu_snapshot.h"
#include "server/app.h"
#include "server/params.h"
#include "server/qemu_int.h"
#include "storage/pool_snap.h"

/* Proxmox's pattern for size: \+?\d+(\.\d+)?[KMGT]? (checked with the
 * value, since the current size is needed anyway). */
static int check_size(const char *v, char *err, size_t errlen)
{
	uint64_t out;

	if (qsnap_parse_size(v, 0, &out, err, errlen) == 0)
		return 0;
	snprintf(err, errlen, "value does not match the regex pattern");
	return -EINVAL;
}

const struct param_spec api_qemu_resize_params[] = {
    QEMU_NODE_PARAM,
    QEMU_VMID_PARAM,
    {.name = "disk", .type = PT_ENUM,
     .enum_values = QSNAP_DISK_KEYS},
    {.name = "size", .type = PT_STRING, .max = 64, .check = check_size},
    {.name = "digest", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 64},
    QEMU_BOOL_OPT("skiplock"),
    {.name = NULL},
};

struct resize_arg {
	int vmid;
	char key[16];
	char volid[272];
	uint64_t size;
};

/* The drive's value with size= set to A->size. */
static int set_size(struct qvm *vm, void *ctx)
{
	const struct resize_arg *a = ctx;
	struct vmconf_drive d;
	char err[256], *text;
	int r = vmconf_drive_parse(a->key, vmconf_get(vm->conf, a->key), &d, err, sizeof(err));

	if (r < 0)
		return r;
	d.size = a->size;
	qemu_size_text(a->size, d.size_text, sizeof(d.size_text));
	if (!(text = vmconf_drive_format(&d)))
		return -ENOMEM;
	r = vmconf_set(vm->conf, a->key, text);
	free(text);
	return r;
}

static int resize_task(struct task *t, void *opaque)
{
	struct resize_arg *a = opaque;
	struct app *app = task_app(t);
	char err[512] = "";
	int r;

	if (qemu_running(app, a->vmid)) {
		task_log(t, "growing '%s' of the running VM to %llu bytes (block_resize)", a->key,
			 (unsigned long long)a->size);
		r = hv_vm_block_resize(app->hv, a->vmid, a->key, a->size, err, sizeof(err));
	} else {
		struct pool *p;

		task_log(t, "growing %s to %llu bytes", a->volid, (unsigned long long)a->size);
		if ((r = pool_set_of(app->pools, a->volid, &p, err, sizeof(err))) == 0)
			r = pool_vol_grow(p, a->volid, a->size, NULL, err, sizeof(err));
	}
	if (r < 0)
		return task_fail(t, r, "%s", err);
	if ((r = qvm_edit(app, a->vmid, set_size, a)) < 0)
		return task_fail(t, r, "cannot store the configuration: %s", err_str(r));
	return 0;
}

/* The drive KEY of the VM as a resize argument; errors as the answer. */
static int resize_target(struct req *req, struct resp *resp, const struct qvm *vm,
			 struct resize_arg *a)
{
	const char *value = vmconf_get(vm->conf, a->key), *digest = req_str(req, "digest");
	struct vmconf_drive d;
	char err[384], path[PATH_MAX];
	uint64_t cur;
	int r;

	if (digest && strcmp(digest, vm->digest) != 0)
		return resp_error(resp, CR_EINTERNAL, "detected modified configuration - file "
						      "changed by other user? Try again.");
	if (!value || vmconf_drive_parse(a->key, value, &d, err, sizeof(err)) < 0)
		return resp_error(resp, CR_EINTERNAL, "disk '%s' does not exist", a->key);
	if (d.cdrom)
		return resp_error(resp, CR_EINTERNAL, "you can't resize a cdrom");
	if (qemu_drive_volid(a->key, value, a->volid, sizeof(a->volid)) < 0)
		return resp_error(resp, CR_EINTERNAL, "disk '%s' has no volume", a->key);
	if ((r = pool_set_vol_path(req->app->pools, a->volid, path, sizeof(path), err,
				   sizeof(err))) < 0 ||
	    (r = pool_image_size(path, &cur, err, sizeof(err))) < 0)
		return resp_error(resp, r, "%s", err);
	if (qsnap_parse_size(req_str(req, "size"), cur, &a->size, err, sizeof(err)) < 0)
		return resp_error(resp, CR_EINTERNAL, "%s", err);
	return 0;
}

int api_qemu_resize(struct req *req, struct resp *resp)
{
	int vmid = qemu_vmid(req), r;
	struct resize_arg *a;
	struct qvm vm;

	if ((r = qemu_load_checked(req, resp, vmid, &vm)) < 0)
		return r;
	if (!(a = calloc(1, sizeof(*a)))) {
		qvm_clear(&vm);
		return resp_error(resp, -ENOMEM, "out of memory");
	}
	a->vmid = vmid;
	snprintf(a->key, sizeof(a->key), "%s", req_str(req, "disk"));
	r = resize_target(req, resp, &vm, a);
	qvm_clear(&vm);
	if (r < 0) {
		free(a);
		return r;
	}
	return qemu_task(req, resp, "resize", vmid, resize_task, a, free, 0);
}
