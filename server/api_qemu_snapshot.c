/* /nodes/{node}/qemu/{vmid}/snapshot: list, create (qmsnapshot), rollback
 * (qmrollback), delete (qmdelsnapshot) and the snapshot's config, as
 * qemu-server's API2/Qemu.pm serves them.  A stopped VM's disks get
 * internal qcow2 snapshots through the native engine; a running VM's go
 * through QMP, with vmstate=1 QEMU's snapshot-save keeping the RAM in the
 * VM's first disk, so a rollback resumes the VM where it was. */
#include "server/api.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "hv/vm.h"
#include "hv/vm_snapshot.h"
#include "server/api_qemu_snapshot.h"
#include "server/app.h"
#include "server/params.h"
#include "server/qemu_int.h"
#include "server/store.h"
#include "storage/pool_snap.h"

/* A snapshot with the VM state saves all RAM: allow TCG guests time. */
#define SNAP_JOB_TIMEOUT_MS 300000
#define SNAP_STOP_TIMEOUT_MS 30000

#define SNAPNAME_PARAM(flags_)                                                            \
	{                                                                                  \
		.name = "snapname", .type = PT_STRING, .flags = flags_, .max = QSNAP_NAME_MAX, \
		.check = param_check_pve_configid                                          \
	}
#define DESCRIPTION_PARAM                                                                  \
	{                                                                                  \
		.name = "description", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 8192 \
	}

const struct param_spec api_qemu_snapshot_create_params[] = {
    QEMU_NODE_PARAM,   QEMU_VMID_PARAM,	     SNAPNAME_PARAM(0),
    DESCRIPTION_PARAM, QEMU_BOOL_OPT("vmstate"), {.name = NULL},
};

const struct param_spec api_qemu_snapshot_params[] = {
    QEMU_NODE_PARAM,
    QEMU_VMID_PARAM,
    SNAPNAME_PARAM(0),
    {.name = NULL},
};

const struct param_spec api_qemu_snapshot_rollback_params[] = {
    QEMU_NODE_PARAM, QEMU_VMID_PARAM, SNAPNAME_PARAM(0), QEMU_BOOL_OPT("start"), {.name = NULL},
};

const struct param_spec api_qemu_snapshot_delete_params[] = {
    QEMU_NODE_PARAM, QEMU_VMID_PARAM, SNAPNAME_PARAM(0), QEMU_BOOL_OPT("force"), {.name = NULL},
};

const struct param_spec api_qemu_snapshot_config_params[] = {
    QEMU_NODE_PARAM, QEMU_VMID_PARAM, SNAPNAME_PARAM(0), DESCRIPTION_PARAM, {.name = NULL},
};

#define MAX_DRIVES QEMU_MAX_DISKS

/* The volume drives of a configuration, with key pointers for hv. */
struct drives {
	char key[MAX_DRIVES][16];
	char volid[MAX_DRIVES][272];
	const char *k[MAX_DRIVES];
	size_t n;
};

static void drives_of(const struct vmconf *conf, struct drives *d)
{
	d->n = qsnap_drives(conf, d->key, d->volid, MAX_DRIVES);
	for (size_t i = 0; i < d->n; i++)
		d->k[i] = d->key[i];
}

/* ---- shared checks ------------------------------------------------------- */

struct snap_arg {
	int vmid;
	char name[QSNAP_NAME_MAX + 1];
	char *description;
	int vmstate, start, force;
	const char *lock; /* Proxmox's config lock while the task runs */
	task_fn body;
};

static void snap_arg_free(void *p)
{
	struct snap_arg *a = p;

	free(a->description);
	free(a);
}

static struct snap_arg *snap_arg_new(struct req *req)
{
	struct snap_arg *a = calloc(1, sizeof(*a));
	const char *desc = req_str(req, "description");

	if (!a)
		return NULL;
	a->vmid = qemu_vmid(req);
	snprintf(a->name, sizeof(a->name), "%s", req_str(req, "snapname"));
	a->vmstate = req_bool(req, "vmstate", 0);
	a->start = req_bool(req, "start", 0);
	a->force = req_bool(req, "force", 0);
	if (desc && !(a->description = strdup(desc))) {
		free(a);
		return NULL;
	}
	return a;
}

/* The VM (checked as every change is) into *VM; errors as the answer. */
static int no_snapshot(struct resp *resp, const char *name)
{
	return resp_error(resp, CR_EINTERNAL, "snapshot '%s' does not exist", name);
}

/* 0 when every volume drive of CONF can hold internal snapshots. */
static int can_snapshot(const struct vmconf *conf)
{
	struct drives *d = calloc(1, sizeof(*d));
	int ok = d != NULL;

	if (d)
		drives_of(conf, d);
	for (size_t i = 0; ok && i < d->n; i++)
		ok = pool_vol_can_snapshot(d->volid[i]);
	free(d);
	return ok ? 0 : -1;
}

/* ---- config lock ------------------------------------------------------------ */

struct lock_ctx {
	const char *from, *to;
};

static int swap_lock(struct qvm *vm, void *ctx)
{
	const struct lock_ctx *c = ctx;

	if (strcmp(vm->lock, c->from) != 0)
		return strcmp(vm->lock, c->to) == 0 ? 0 : CR_ELOCKED;
	snprintf(vm->lock, sizeof(vm->lock), "%s", c->to);
	return 0;
}

/* Runs A->body holding the config lock A->lock ("snapshot", "rollback",
 * "snapshot-delete"), as Proxmox does: the VM shows it in its status and
 * config, and configuration changes wait for it. */
static int locked_task(struct task *t, void *opaque)
{
	struct snap_arg *a = opaque;
	struct lock_ctx set = {"", a->lock}, clear = {a->lock, ""};
	struct app *app = task_app(t);
	int r = qvm_edit(app, a->vmid, swap_lock, &set);

	if (r < 0)
		return task_fail(t, r, "VM %d is locked", a->vmid);
	r = a->body(t, a);
	if (qvm_edit(app, a->vmid, swap_lock, &clear) < 0)
		task_warn(t, "cannot remove the lock '%s'", a->lock);
	return r;
}

static int start_locked(struct req *req, struct resp *resp, struct snap_arg *a,
			const char *type, const char *lock, task_fn body)
{
	a->lock = lock;
	a->body = body;
	return qemu_task(req, resp, type, a->vmid, locked_task, a, snap_arg_free, 0);
}

/* ---- list, index, config --------------------------------------------------- */

int api_qemu_snapshot_list(struct req *req, struct resp *resp)
{
	int vmid = qemu_vmid(req), r = api_node_check(req, resp);
	struct qvm vm;

	if (r < 0)
		return r;
	if ((r = qvm_read(req->app, vmid, &vm)) < 0)
		return r == CR_ENOTFOUND ? qemu_no_such_vm(req, resp, vmid)
					 : resp_error(resp, r, "%s", err_str(r));
	resp->data = qsnap_list(vm.snaps, vm.digest, qemu_running(req->app, vmid));
	qvm_clear(&vm);
	return resp->data ? 0 : resp_error(resp, -ENOMEM, "out of memory");
}

/* The VM and its section NAME, for the read-only routes. */
static int read_section(struct req *req, struct resp *resp, struct qvm *vm)
{
	int vmid = qemu_vmid(req), r = api_node_check(req, resp);

	if (r < 0)
		return r;
	if ((r = qvm_read(req->app, vmid, vm)) < 0)
		return r == CR_ENOTFOUND ? qemu_no_such_vm(req, resp, vmid)
					 : resp_error(resp, r, "%s", err_str(r));
	if (!qsnap_get(vm->snaps, req_str(req, "snapname"))) {
		qvm_clear(vm);
		return no_snapshot(resp, req_str(req, "snapname"));
	}
	return 0;
}

int api_qemu_snapshot_index(struct req *req, struct resp *resp)
{
	static const char *const cmds[] = {"rollback", "config"};
	struct qvm vm;
	int r = read_section(req, resp, &vm);

	if (r < 0)
		return r;
	qvm_clear(&vm);
	resp->data = cJSON_CreateArray();
	for (size_t i = 0; i < 2; i++) {
		cJSON *row = cJSON_CreateObject();

		cJSON_AddStringToObject(row, "cmd", cmds[i]);
		cJSON_AddItemToArray(resp->data, row);
	}
	return 0;
}

int api_qemu_snapshot_config_get(struct req *req, struct resp *resp)
{
	const char *meta[] = {"snaptime", "description", "vmstate", "parent"};
	const cJSON *s;
	struct qvm vm;
	int r = read_section(req, resp, &vm);

	if (r < 0)
		return r;
	s = qsnap_get(vm.snaps, req_str(req, "snapname"));
	resp->data = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(s, "config"), 1);
	for (size_t i = 0; resp->data && i < 4; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, meta[i]);

		if (v && !(meta[i][0] == 'd' && !cJSON_GetStringValue(v)[0]))
			cJSON_AddItemToObject(resp->data, meta[i], cJSON_Duplicate(v, 1));
	}
	qvm_clear(&vm);
	return resp->data ? 0 : resp_error(resp, -ENOMEM, "out of memory");
}

static int set_description(struct qvm *vm, void *ctx)
{
	const struct snap_arg *a = ctx;
	cJSON *s = (cJSON *)qsnap_get(vm->snaps, a->name);

	if (!s)
		return CR_ENOTFOUND;
	cJSON_DeleteItemFromObjectCaseSensitive(s, "description");
	cJSON_AddStringToObject(s, "description", a->description ? a->description : "");
	return 0;
}

/* The VM and its named section exist; errors as the answer. */
static int check_section(struct req *req, struct resp *resp)
{
	struct qvm vm;
	int r = qemu_load_checked(req, resp, qemu_vmid(req), &vm);

	if (r < 0)
		return r;
	r = qsnap_get(vm.snaps, req_str(req, "snapname")) ? 0 : -1;
	qvm_clear(&vm);
	return r < 0 ? no_snapshot(resp, req_str(req, "snapname")) : 0;
}

int api_qemu_snapshot_config_put(struct req *req, struct resp *resp)
{
	struct snap_arg *a;
	int r = check_section(req, resp);

	if (r < 0)
		return r;
	if (!req_str(req, "description"))
		return 0;
	if (!(a = snap_arg_new(req)))
		return resp_error(resp, -ENOMEM, "out of memory");
	r = qvm_edit(req->app, a->vmid, set_description, a);
	snap_arg_free(a);
	if (r == CR_ENOTFOUND)
		return no_snapshot(resp, req_str(req, "snapname"));
	return r < 0 ? resp_error(resp, r, "cannot store the configuration: %s", err_str(r)) : 0;
}

/* ---- create ------------------------------------------------------------------ */

/* pool_vol_snapshot / pool_vol_snapshot_has on the storage VOLID names. */
static int vol_snapshot(struct app *app, const char *volid, enum pool_snap_op op,
			const char *name, char *err, size_t errlen)
{
	struct pool *p;
	int r = pool_set_of(app->pools, volid, &p, err, errlen);

	return r < 0 ? r : pool_vol_snapshot(p, volid, op, name, err, errlen);
}

static int vol_snapshot_has(struct app *app, const char *volid, const char *name, char *err,
			    size_t errlen)
{
	struct pool *p;
	int r = pool_set_of(app->pools, volid, &p, err, errlen);

	return r < 0 ? r : pool_vol_snapshot_has(p, volid, name, err, errlen);
}

/* Offline: every drive through the engine; the ones done are undone when
 * one fails. */
static int snap_offline(struct task *t, const struct drives *d, const char *name)
{
	struct app *app = task_app(t);
	char err[512] = "", e2[256];
	size_t i;
	int r = 0;

	for (i = 0; r == 0 && i < d->n; i++) {
		task_log(t, "snapshotting '%s' (%s)", d->key[i], d->volid[i]);
		r = vol_snapshot(app, d->volid[i], POOL_SNAP_CREATE, name, err, sizeof(err));
	}
	if (r == 0)
		return 0;
	for (size_t j = 0; j + 1 < i; j++)
		vol_snapshot(app, d->volid[j], POOL_SNAP_DELETE, name, e2, sizeof(e2));
	return task_fail(t, r, "%s", err);
}

static int snap_online(struct task *t, const struct drives *d, const struct snap_arg *a)
{
	struct app *app = task_app(t);
	char err[1024] = "";
	int r;

	if (a->vmstate) {
		task_log(t, "saving VM state and disks (snapshot-save, state in '%s')", d->key[0]);
		r = hv_vm_snap_save(app->hv, a->vmid, d->k, d->n, d->key[0], a->name,
				    SNAP_JOB_TIMEOUT_MS, err, sizeof(err));
	} else {
		task_log(t, "snapshotting %zu drive(s) of the running VM", d->n);
		r = hv_vm_snap_create(app->hv, a->vmid, d->k, d->n, a->name, err, sizeof(err));
	}
	return r < 0 ? task_fail(t, r, "snapshot failed: %s", err) : 0;
}

struct add_ctx {
	const struct snap_arg *a;
	const char *statedrive;
};

static int add_section(struct qvm *vm, void *ctx)
{
	const struct add_ctx *c = ctx;

	return qsnap_add(&vm->snaps, c->a->name, vm->conf, time(NULL), c->a->description,
			 c->statedrive);
}

static int snapshot_task(struct task *t, void *opaque)
{
	struct snap_arg *a = opaque;
	struct app *app = task_app(t);
	struct drives *d = calloc(1, sizeof(*d));
	struct add_ctx c = {a, NULL};
	struct qvm vm;
	int r, running = qemu_running(app, a->vmid);

	if (!d || (r = qvm_read(app, a->vmid, &vm)) < 0) {
		free(d);
		return task_fail(t, d ? r : -ENOMEM, "cannot read VM %d", a->vmid);
	}
	drives_of(vm.conf, d);
	if (qsnap_get(vm.snaps, a->name))
		r = task_fail(t, CR_EEXISTS, "snapshot name '%s' already used", a->name);
	else if (d->n == 0)
		r = 0;
	else
		r = running ? snap_online(t, d, a) : snap_offline(t, d, a->name);
	qvm_clear(&vm);
	a->vmstate = a->vmstate && running;
	c.statedrive = a->vmstate && d->n ? d->key[0] : NULL;
	if (r == 0 && (r = qvm_edit(app, a->vmid, add_section, &c)) < 0)
		task_fail(t, r, "cannot store the snapshot: %s", err_str(r));
	free(d);
	return r;
}

int api_qemu_snapshot_create(struct req *req, struct resp *resp)
{
	const char *name = req_str(req, "snapname");
	struct snap_arg *a;
	struct qvm vm;
	char err[128];
	int r;

	if (qsnap_name_reserved(name, err, sizeof(err)) < 0)
		return resp_error(resp, CR_EINTERNAL, "%s", err);
	if ((r = qemu_load_checked(req, resp, qemu_vmid(req), &vm)) < 0)
		return r;
	if (qsnap_get(vm.snaps, name))
		r = resp_error(resp, CR_EINTERNAL, "snapshot name '%s' already used", name);
	else if (vmconf_int(vm.conf, "template", 0))
		r = resp_error(resp, CR_EINTERNAL, "you can't take a snapshot if it's a template");
	else if (can_snapshot(vm.conf) < 0)
		r = resp_error(resp, CR_EINTERNAL, "snapshot feature is not available");
	qvm_clear(&vm);
	if (r < 0)
		return r;
	if (!(a = snap_arg_new(req)))
		return resp_error(resp, -ENOMEM, "out of memory");
	return start_locked(req, resp, a, "qmsnapshot", "snapshot", snapshot_task);
}

/* ---- rollback ---------------------------------------------------------------- */

struct rollback_ctx {
	const char *name;
	struct vmconf *conf; /* the snapshot's configuration */
};

/* 1 if a drive of CONF names volume VOLID. */
static int conf_has_volume(const struct vmconf *conf, const char *volid)
{
	char vol[272];

	for (size_t i = 0; i < vmconf_count(conf); i++)
		if (qemu_drive_volid(vmconf_key_at(conf, i), vmconf_value_at(conf, i), vol,
				     sizeof(vol)) == 0 &&
		    strcmp(vol, volid) == 0)
			return 1;
	return 0;
}

/* VOLID as the next free unusedN of CONF. */
static int add_unused(struct vmconf *conf, const char *volid)
{
	char key[16];

	for (int i = 0; i < 256; i++) {
		snprintf(key, sizeof(key), "unused%d", i);
		if (!vmconf_get(conf, key))
			return vmconf_set(conf, key, volid);
	}
	return 0;
}

/* The snapshot's configuration becomes current; volumes of the current one
 * it does not name are kept as unusedN, so no disk is lost. */
static int restore_section(struct qvm *vm, void *ctx)
{
	struct rollback_ctx *c = ctx;
	struct vmconf *conf = vmconf_dup(c->conf), *empty = vmconf_new(), *empty2 = vmconf_new();
	int r = conf && empty && empty2 ? qsnap_set_current(vm->snaps, c->name) : -ENOMEM;
	char vol[272];

	for (size_t i = 0; r == 0 && i < vmconf_count(vm->conf); i++)
		if (qemu_drive_volid(vmconf_key_at(vm->conf, i), vmconf_value_at(vm->conf, i), vol,
				     sizeof(vol)) == 0 &&
		    !conf_has_volume(conf, vol))
			r = add_unused(conf, vol);
	if (r < 0) {
		vmconf_free(conf);
		vmconf_free(empty);
		vmconf_free(empty2);
		return r;
	}
	qvm_replace(vm, conf, empty, empty2);
	return 0;
}

/* Rolls every disk of the snapshot's configuration back offline. */
static int rollback_disks(struct task *t, const struct drives *d, const char *name)
{
	char err[512] = "";

	for (size_t i = 0; i < d->n; i++) {
		int r;

		task_log(t, "rolling back '%s' (%s)", d->key[i], d->volid[i]);
		r = vol_snapshot(task_app(t), d->volid[i], POOL_SNAP_ROLLBACK, name, err,
				 sizeof(err));
		if (r < 0)
			return task_fail(t, r, "%s", err);
	}
	return 0;
}

/* A snapshot with the VM state: start the restored configuration, then
 * load disks and RAM into it (QEMU resumes the guest where it was). */
static int resume_state(struct task *t, const struct drives *d, const char *statedrive,
			const struct snap_arg *a)
{
	char err[1024] = "";
	int r = qemu_task_start(t, a->vmid, QEMU_START_TIMEOUT_MS / 1000);

	if (r < 0)
		return r;
	task_log(t, "loading VM state and disks (snapshot-load)");
	r = hv_vm_snap_load(task_app(t)->hv, a->vmid, d->k, d->n, statedrive, a->name,
			    SNAP_JOB_TIMEOUT_MS, err, sizeof(err));
	return r < 0 ? task_fail(t, r, "loading the VM state failed: %s", err) : 0;
}

static int stop_for_rollback(struct task *t, int vmid)
{
	char err[512] = "";
	int r;

	if (!qemu_running(task_app(t), vmid))
		return 0;
	task_log(t, "stopping VM %d", vmid);
	r = hv_vm_stop(task_app(t)->hv, vmid, SNAP_STOP_TIMEOUT_MS, err, sizeof(err));
	return r < 0 ? task_fail(t, r, "cannot stop VM %d: %s", vmid, err) : 0;
}

static int rollback_task(struct task *t, void *opaque)
{
	struct snap_arg *a = opaque;
	struct app *app = task_app(t);
	struct drives *d = calloc(1, sizeof(*d));
	struct rollback_ctx c = {a->name, NULL};
	char statedrive[16] = "";
	struct qvm vm;
	int r = d ? qvm_read(app, a->vmid, &vm) : -ENOMEM;

	if (r < 0) {
		free(d);
		return task_fail(t, r, "cannot read VM %d", a->vmid);
	}
	snprintf(statedrive, sizeof(statedrive), "%s",
		 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		     qsnap_get(vm.snaps, a->name), "statedrive")) ?: "");
	if (!(c.conf = qsnap_config(vm.snaps, a->name)))
		r = task_fail(t, CR_ENOTFOUND, "snapshot '%s' does not exist", a->name);
	qvm_clear(&vm);
	if (r == 0) {
		drives_of(c.conf, d);
		r = stop_for_rollback(t, a->vmid);
	}
	if (r == 0)
		r = rollback_disks(t, d, a->name);
	if (r == 0 && (r = qvm_edit(app, a->vmid, restore_section, &c)) < 0)
		task_fail(t, r, "cannot store the configuration: %s", err_str(r));
	if (r == 0 && statedrive[0])
		r = resume_state(t, d, statedrive, a);
	else if (r == 0 && a->start)
		r = qemu_task_start(t, a->vmid, QEMU_START_TIMEOUT_MS / 1000);
	vmconf_free(c.conf);
	free(d);
	return r;
}

/* Rollback and delete: the named snapshot must exist; then task TYPE
 * under config lock LOCK. */
static int start_on_section(struct req *req, struct resp *resp, const char *type,
			    const char *lock, task_fn fn)
{
	struct snap_arg *a;
	int r = check_section(req, resp);

	if (r < 0)
		return r;
	if (!(a = snap_arg_new(req)))
		return resp_error(resp, -ENOMEM, "out of memory");
	return start_locked(req, resp, a, type, lock, fn);
}

int api_qemu_snapshot_rollback(struct req *req, struct resp *resp)
{
	return start_on_section(req, resp, "qmrollback", "rollback", rollback_task);
}

/* ---- delete ------------------------------------------------------------------ */

/* The key under which the running VM has VOLID attached, or NULL. */
static const char *attached_as(const struct drives *cur, const char *volid)
{
	for (size_t i = 0; i < cur->n; i++)
		if (strcmp(cur->volid[i], volid) == 0)
			return cur->key[i];
	return NULL;
}

/* Deletes the internal snapshot from one volume: through QMP when the
 * running VM has it attached, else through the engine. */
static int delete_one(struct task *t, const struct snap_arg *a, const struct drives *cur,
		      const char *volid, char *err, size_t errlen)
{
	struct app *app = task_app(t);
	const char *key = cur ? attached_as(cur, volid) : NULL;

	if (key)
		return hv_vm_snap_delete(app->hv, a->vmid, &key, 1, a->name, err, errlen);
	return vol_snapshot(app, volid, POOL_SNAP_DELETE, a->name, err, errlen);
}

/* Without force, every volume the engine handles must hold the snapshot
 * before any loses it, so a refused delete changes nothing. */
static int delete_precheck(struct task *t, const struct snap_arg *a, const struct drives *d,
			   const struct drives *cur)
{
	char err[512] = "";

	for (size_t i = 0; !a->force && i < d->n; i++) {
		int r;

		if (cur && attached_as(cur, d->volid[i]))
			continue;
		r = vol_snapshot_has(task_app(t), d->volid[i], a->name, err, sizeof(err));
		if (r == 0)
			return task_fail(t, CR_ENOTFOUND, "%s: snapshot '%s' does not exist",
					 d->volid[i], a->name);
		if (r < 0)
			return task_fail(t, r, "%s: %s", d->volid[i], err);
	}
	return 0;
}

static int delete_disks(struct task *t, const struct snap_arg *a, const struct drives *d,
			const struct drives *cur)
{
	char err[512];
	int r = delete_precheck(t, a, d, cur);

	for (size_t i = 0; r == 0 && i < d->n; i++) {
		err[0] = '\0';
		task_log(t, "deleting snapshot '%s' of '%s' (%s)", a->name, d->key[i], d->volid[i]);
		if ((r = delete_one(t, a, cur, d->volid[i], err, sizeof(err))) == 0)
			continue;
		if (!a->force)
			return task_fail(t, r, "%s", err);
		task_warn(t, "%s", err);
		r = 0;
	}
	return r;
}

static int remove_section(struct qvm *vm, void *ctx)
{
	return qsnap_remove(vm->snaps, ((const struct snap_arg *)ctx)->name);
}

static int delsnapshot_task(struct task *t, void *opaque)
{
	struct snap_arg *a = opaque;
	struct app *app = task_app(t);
	struct drives *d = calloc(2, sizeof(*d));
	struct vmconf *conf = NULL;
	struct qvm vm;
	int r = d ? qvm_read(app, a->vmid, &vm) : -ENOMEM;

	if (r < 0) {
		free(d);
		return task_fail(t, r, "cannot read VM %d", a->vmid);
	}
	if (!(conf = qsnap_config(vm.snaps, a->name)))
		r = task_fail(t, CR_ENOTFOUND, "snapshot '%s' does not exist", a->name);
	else {
		drives_of(conf, &d[0]);
		drives_of(vm.conf, &d[1]);
		r = delete_disks(t, a, &d[0], qemu_running(app, a->vmid) ? &d[1] : NULL);
	}
	qvm_clear(&vm);
	vmconf_free(conf);
	free(d);
	if (r == 0 && (r = qvm_edit(app, a->vmid, remove_section, a)) < 0)
		task_fail(t, r, "cannot store the configuration: %s", err_str(r));
	return r;
}

int api_qemu_snapshot_delete(struct req *req, struct resp *resp)
{
	return start_on_section(req, resp, "qmdelsnapshot", "snapshot-delete", delsnapshot_task);
}
