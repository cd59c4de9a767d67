/* Suspend to disk (POST status/suspend todisk=1, task qmsuspend) as Proxmox
 * does it: the RAM and device state go into a volume
 * vm-<vmid>-state-suspend-<date>.raw, the configuration gets vmstate=<volid>
 * and the lock "suspended", QEMU stops; the next start resumes from that
 * state, then frees the volume and drops vmstate and the lock. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/util.h"
#include "hv/vm.h"
#include "server/api.h"
#include "server/app.h"
#include "server/qemu_int.h"
#include "storage/pool.h"

/* QEMU's device state beside the RAM, with room to spare. */
#define STATE_EXTRA (64ull << 20)
#define SAVE_TIMEOUT_MS (600 * 1000)
#define SUSPENDED_LOCK "suspended"

struct todisk_arg {
	int vmid;
	char storage[64];
};

static void mark_suspended(struct qvm *vm, const void *volid)
{
	vmconf_set(vm->conf, "vmstate", volid);
	util_strlcpy(vm->lock, SUSPENDED_LOCK, sizeof(vm->lock));
}

static void mark_resumed(struct qvm *vm, const void *volid)
{
	(void)volid;
	vmconf_delete(vm->conf, "vmstate");
	if (strcmp(vm->lock, SUSPENDED_LOCK) == 0)
		vm->lock[0] = '\0';
}

/* A new state volume for VMID on P, big enough for MEM_BYTES of RAM. */
static int state_volume(struct pool *p, int vmid, uint64_t mem_bytes, char *volid, size_t n,
			char *path, size_t pn, char *err, size_t errlen)
{
	char name[96], date[32];
	time_t now = time(NULL);
	struct tm tm;
	int r;

	strftime(date, sizeof(date), "%Y-%m-%d-%H-%M-%S", gmtime_r(&now, &tm));
	snprintf(name, sizeof(name), "vm-%d-state-suspend-%s.raw", vmid, date);
	r = pool_alloc_named(p, vmid, name, mem_bytes + STATE_EXTRA, volid, n, err, errlen);
	if (r == 0 && (r = pool_vol_path(p, volid, path, pn, err, errlen)) < 0)
		pool_vol_free(p, volid, err + strlen(err), errlen - strlen(err));
	return r;
}

static int todisk_task(struct task *t, void *opaque)
{
	const struct todisk_arg *a = opaque;
	struct app *app = task_app(t);
	struct pool *p = pool_set_get(app->pools, a->storage);
	char volid[POOL_VOLID_MAX], path[PATH_MAX], err[1024] = "";
	struct qvm vm;
	int r;

	if (!p)
		return task_fail(t, CR_ENOTFOUND, "storage '%s' does not exist", a->storage);
	if (!hv_vm_running(app->hv, a->vmid))
		return task_fail(t, CR_ENOTRUNNING, "VM %d not running", a->vmid);
	if ((r = qvm_read(app, a->vmid, &vm)) < 0)
		return task_fail(t, r, "cannot read the configuration: %s", err_str(r));
	r = state_volume(p, a->vmid, vmconf_memory_mib(vm.conf) << 20, volid, sizeof(volid), path,
			 sizeof(path), err, sizeof(err));
	qvm_clear(&vm);
	if (r < 0)
		return task_fail(t, r, "cannot allocate the state volume: %s", err);
	task_log(t, "saving VM state and RAM to %s", volid);
	if ((r = hv_vm_save_state(app->hv, a->vmid, path, SAVE_TIMEOUT_MS, err, sizeof(err))) < 0 ||
	    (r = qvm_update(app, a->vmid, mark_suspended, volid)) < 0) {
		pool_vol_free(p, volid, err + strlen(err), sizeof(err) - strlen(err));
		return task_fail(t, r, "suspend to disk failed: %s", err[0] ? err : err_str(r));
	}
	task_log(t, "VM %d suspended to disk", a->vmid);
	return 0;
}

int qemu_suspend_todisk(struct req *req, struct resp *resp, int vmid)
{
	const char *storage = req_str(req, "statestorage");
	struct todisk_arg *a;

	storage = storage ? storage : "local";
	if (!pool_set_get(req->app->pools, storage))
		return resp_param_error(resp, "statestorage", "storage '%s' does not exist",
					storage);
	if (!(a = calloc(1, sizeof(*a))))
		return resp_error(resp, -ENOMEM, "out of memory");
	a->vmid = vmid;
	util_strlcpy(a->storage, storage, sizeof(a->storage));
	return qemu_task(req, resp, "qmsuspend", vmid, todisk_task, a, free, 0);
}

int qemu_start_from_state(struct task *t, int vmid, const struct vmconf *conf,
			  const struct qemu_disks *disks, int timeout_s)
{
	struct app *app = task_app(t);
	const char *volid = vmconf_get(conf, "vmstate");
	char path[PATH_MAX], err[1024] = "";
	int r = pool_set_vol_path(app->pools, volid, path, sizeof(path), err, sizeof(err));

	if (r < 0)
		return task_fail(t, r, "VM state %s: %s", volid, err);
	task_log(t, "resuming from the saved state %s", volid);
	r = hv_vm_start_from_state(app->hv, vmid, conf, disks->d, disks->n, path, timeout_s * 1000,
				   err, sizeof(err));
	if (r < 0)
		return task_fail(t, r, "resume from %s failed: %s", volid, err);
	if ((r = qvm_update(app, vmid, mark_resumed, volid)) < 0)
		return task_fail(t, r, "cannot update the configuration: %s", err_str(r));
	if (pool_set_vol_free(app->pools, volid, err, sizeof(err)) < 0)
		task_warn(t, "cannot free %s: %s", volid, err);
	task_log(t, "VM %d resumed", vmid);
	return 0;
}
