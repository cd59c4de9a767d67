/* /nodes/{node}/qemu/{vmid}/template (qmtemplate) and .../clone (qmclone),
 * as qemu-server's API2/Qemu.pm serves them: a template's disks become
 * read-only bases; a linked clone is a new qcow2 over the base (nothing
 * copied), a full clone copies every disk through the storage engine, or
 * through QEMU's backup job while the source VM runs. */
#include "server/api.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "hv/vm.h"
#include "hv/vm_snapshot.h"
#include "server/acl.h"
#include "server/api_qemu_snapshot.h"
#include "server/app.h"
#include "server/params.h"
#include "server/qemu_int.h"
#include "server/store.h"
#include "storage/pool_snap.h"

/* A full copy of a running VM's disk under TCG: 10 GiB at ~100 MB/s. */
#define COPY_JOB_TIMEOUT_MS 600000

const struct param_spec api_qemu_template_params[] = {
    QEMU_NODE_PARAM,
    QEMU_VMID_PARAM,
    {.name = "disk", .type = PT_ENUM, .flags = PF_OPTIONAL,
     .enum_values = QSNAP_DISK_KEYS},
    {.name = NULL},
};

const struct param_spec api_qemu_clone_params[] = {
    QEMU_NODE_PARAM,
    QEMU_VMID_PARAM,
    {.name = "newid", .type = PT_INTEGER, .min = QEMU_VMID_MIN, .max = QEMU_VMID_MAX,
     .check = param_check_pve_vmid},
    {.name = "name", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 128,
     .check = param_check_safe_string},
    {.name = "description", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 8192},
    QEMU_BOOL_OPT("full"),
    {.name = "storage", .type = PT_STRING, .flags = PF_OPTIONAL,
     .check = param_check_pve_storage_id},
    {.name = "format", .type = PT_ENUM, .flags = PF_OPTIONAL, .enum_values = "raw|qcow2"},
    {.name = "snapname", .type = PT_STRING, .flags = PF_OPTIONAL, .max = QSNAP_NAME_MAX,
     .check = param_check_pve_configid},
    {.name = "target", .type = PT_STRING, .flags = PF_OPTIONAL, .check = param_check_pve_node},
    {.name = "pool", .type = PT_STRING, .flags = PF_OPTIONAL, .check = param_check_pve_poolid},
    {.name = NULL},
};

#define MAX_DRIVES QEMU_MAX_DISKS

struct drives {
	char key[MAX_DRIVES][16];
	char volid[MAX_DRIVES][272];
	size_t n;
};

/* Stores KEY's drive value with its volume replaced by VOLID. */
static int set_volume(struct vmconf *conf, const char *key, const char *volid)
{
	struct vmconf_drive d;
	char err[256], *text;
	const char *colon = strchr(volid, ':');
	int r = vmconf_drive_parse(key, vmconf_get(conf, key), &d, err, sizeof(err));

	if (r < 0 || !colon)
		return r < 0 ? r : -EINVAL;
	snprintf(d.storage, sizeof(d.storage), "%.*s", (int)(colon - volid), volid);
	snprintf(d.volname, sizeof(d.volname), "%s", colon + 1);
	d.format[0] = '\0';
	if (!(text = vmconf_drive_format(&d)))
		return -ENOMEM;
	r = vmconf_set(conf, key, text);
	free(text);
	return r;
}

/* ---- template ------------------------------------------------------------- */

struct template_arg {
	int vmid;
	char disk[16]; /* "" for every disk */
};

struct template_ctx {
	struct task *t;
	const struct template_arg *a;
	int failed;
};

/* Renames each disk to its base and rewrites the drive; TEMPLATE: 1 once
 * every disk is a base.  Runs inside the record's write transaction, so
 * the configuration always names the files as they are. */
static int make_template(struct qvm *vm, void *ctx)
{
	struct template_ctx *c = ctx;
	struct drives *d = calloc(1, sizeof(*d));
	char nv[272], err[512];
	int r = d ? 0 : -ENOMEM;

	if (d)
		d->n = qsnap_drives(vm->conf, d->key, d->volid, MAX_DRIVES);
	for (size_t i = 0; r == 0 && i < d->n; i++) {
		if (c->a->disk[0] && strcmp(c->a->disk, d->key[i]) != 0)
			continue;
		if (pool_vol_make_base(task_app(c->t)->pool, d->volid[i], nv, sizeof(nv), err,
				       sizeof(err)) < 0) {
			task_fail(c->t, CR_EINTERNAL, "%s: %s", d->key[i], err);
			c->failed = 1;
			break;
		}
		task_log(c->t, "%s: %s is now the base %s", d->key[i], d->volid[i], nv);
		r = set_volume(vm->conf, d->key[i], nv);
	}
	if (r == 0 && !c->failed)
		r = vmconf_set(vm->conf, "template", "1");
	free(d);
	return r;
}

static int template_task(struct task *t, void *opaque)
{
	struct template_ctx c = {t, opaque, 0};
	const struct template_arg *a = opaque;
	int r;

	if (qemu_running(task_app(t), a->vmid))
		return task_fail(t, CR_EINTERNAL, "you can't convert a VM to template if VM is running");
	if ((r = qvm_edit(task_app(t), a->vmid, make_template, &c)) < 0)
		return task_fail(t, r, "cannot store the configuration: %s", err_str(r));
	return c.failed ? CR_EINTERNAL : 0;
}

int api_qemu_template(struct req *req, struct resp *resp)
{
	int vmid = qemu_vmid(req), r;
	struct template_arg *a;
	struct qvm vm;

	if ((r = qemu_load_checked(req, resp, vmid, &vm)) < 0)
		return r;
	if (vmconf_int(vm.conf, "template", 0))
		r = resp_error(resp, CR_EINTERNAL, "you can't convert a template to a template");
	else if (qemu_running(req->app, vmid))
		r = resp_error(resp, CR_EINTERNAL,
			       "you can't convert a VM to template if VM is running");
	else if (cJSON_GetArraySize(cJSON_GetObjectItem(vm.snaps, "list")) > 0)
		r = resp_error(resp, CR_EINTERNAL,
			       "you can't convert a VM to template if VM has snapshots");
	qvm_clear(&vm);
	if (r < 0)
		return r;
	if (!(a = calloc(1, sizeof(*a))))
		return resp_error(resp, -ENOMEM, "out of memory");
	a->vmid = vmid;
	snprintf(a->disk, sizeof(a->disk), "%s", req_str(req, "disk") ? req_str(req, "disk") : "");
	return qemu_task(req, resp, "qmtemplate", vmid, template_task, a, free, 0);
}

/* ---- template delete hook -------------------------------------------------- */

struct in_use {
	char *err;
	size_t errlen;
	const char *base;
};

static int child_found(const struct pool_volume *v, void *ctx)
{
	struct in_use *u = ctx;

	snprintf(u->err, u->errlen, "base volume '%s' is still in use by linked clone VM %d",
		 u->base, v->vmid);
	return 1;
}

int qemu_template_in_use(struct app *app, const struct vmconf *conf, char *err, size_t errlen)
{
	struct drives *d = calloc(1, sizeof(*d));
	int r = d ? 0 : -ENOMEM;

	if (d && vmconf_int(conf, "template", 0))
		d->n = qsnap_drives(conf, d->key, d->volid, MAX_DRIVES);
	for (size_t i = 0; d && r == 0 && i < d->n; i++) {
		struct in_use u = {err, errlen, d->volid[i]};

		struct pool *p;

		r = pool_set_of(app->pools, d->volid[i], &p, NULL, 0) < 0 ? 0
		    : pool_vol_children(p, d->volid[i], child_found, &u) == 1 ? 1
									 : 0;
	}
	free(d);
	return r;
}

/* ---- clone -------------------------------------------------------------------- */

struct clone_arg {
	int vmid, newid, full, running;
	char format[8];		       /* "" keeps each source's format */
	char snapname[QSNAP_NAME_MAX + 1]; /* "" for the current state */
	char pool[ACL_ID_MAX];		       /* resource pool the clone joins; "" for none */
	char storage[POOL_VOLID_MAX];	       /* target storage of a full clone; "" for each source's */
	struct vmconf *conf;	       /* the new VM's config, drives still the source's */
};

static void clone_arg_free(void *p)
{
	struct clone_arg *a = p;

	vmconf_free(a->conf);
	free(a);
}

/* The same smbios1 with a new uuid, other fields kept. */
static int new_uuid(struct vmconf *conf)
{
	const char *cur = vmconf_get(conf, "smbios1");
	char rest[512] = "", *text;
	struct vmconf *tmp = vmconf_new();
	int r = tmp ? vmconf_assign_smbios_uuid(tmp) : -ENOMEM;

	for (const char *p = cur; r == 0 && p && *p;) {
		size_t len = strcspn(p, ",");

		if (strncmp(p, "uuid=", 5) != 0 && len)
			snprintf(rest + strlen(rest), sizeof(rest) - strlen(rest), ",%.*s", (int)len,
				 p);
		p += len + (p[len] == ',');
	}
	if (r == 0 && asprintf(&text, "%s%s", vmconf_get(tmp, "smbios1"), rest) < 0)
		r = -ENOMEM;
	if (r == 0) {
		r = vmconf_set(conf, "smbios1", text);
		free(text);
	}
	vmconf_free(tmp);
	return r;
}

/* New MAC addresses for every NIC (Proxmox: "always change MAC address"). */
static int new_macs(struct vmconf *conf)
{
	for (size_t i = 0; i < vmconf_count(conf); i++) {
		const char *k = vmconf_key_at(conf, i);
		struct vmconf_net n;
		char err[256], *text;
		int r;

		if (strncmp(k, "net", 3) != 0 ||
		    vmconf_net_parse(k, vmconf_value_at(conf, i), &n, err, sizeof(err)) < 0)
			continue;
		n.has_mac = 0;
		if (!(text = vmconf_net_format(&n)))
			return -ENOMEM;
		r = vmconf_set(conf, k, text);
		free(text);
		if (r < 0)
			return r;
	}
	return vmconf_assign_macs(conf);
}

/* The new VM's configuration from the source's (current or snapshot): no
 * template flag, unused disks or lock; name, description; new identity. */
static struct vmconf *clone_conf(const struct qvm *src, struct req *req, int vmid)
{
	const char *name = req_str(req, "name"), *desc = req_str(req, "description");
	const char *snap = req_str(req, "snapname");
	struct vmconf *c = snap ? qsnap_config(src->snaps, snap) : vmconf_dup(src->conf);
	char def[160];
	int r = c ? 0 : -ENOMEM;

	for (size_t i = 0; c && i < vmconf_count(c);) {
		const char *k = vmconf_key_at(c, i);

		if (strncmp(k, "unused", 6) == 0 || !strcmp(k, "template") || !strcmp(k, "lock"))
			vmconf_delete(c, k);
		else
			i++;
	}
	if (!name) {
		snprintf(def, sizeof(def), "Copy-of-VM-%s",
			 c && vmconf_get(c, "name") ? vmconf_get(c, "name") : "");
		if (!c || !vmconf_get(c, "name"))
			snprintf(def, sizeof(def), "Copy-of-VM-%d", vmid);
		name = def;
	}
	if (r == 0)
		r = vmconf_set(c, "name", name);
	if (r == 0 && desc)
		r = vmconf_set(c, "description", desc);
	if (r == 0 && ((r = new_macs(c)) == 0))
		r = new_uuid(c);
	if (r < 0) {
		vmconf_free(c);
		return NULL;
	}
	return c;
}

/* QEMU copies the running drive KEY into a new volume (blockdev-backup,
 * sync=full: the disk as it was when the job started). */
static int clone_running(struct app *app, int vmid, const char *key, const char *volid,
			 struct pool *dst, const struct pool_copy_opts *o, char *nv, size_t n,
			 char *err, size_t errlen)
{
	char path[PATH_MAX], e2[128];
	uint64_t size;
	int r = pool_set_vol_path(app->pools, volid, path, sizeof(path), err, errlen);

	if (r < 0 || (r = pool_image_size(path, &size, err, errlen)) < 0 ||
	    (r = pool_alloc(dst, o->vmid, o->format, (size + 511) & ~(uint64_t)511, nv, n, err,
			    errlen)) < 0)
		return r;
	if ((r = pool_vol_path(dst, nv, path, sizeof(path), err, errlen)) == 0)
		r = hv_vm_drive_backup(app->hv, vmid, key, path, o->format, COPY_JOB_TIMEOUT_MS, err,
				       errlen);
	if (r < 0)
		pool_vol_free(dst, nv, e2, sizeof(e2));
	return r;
}

/* The new disk of one source drive, its volume id into NV. */
static int clone_drive(struct task *t, const struct clone_arg *a, const char *key,
		       const char *volid, char *nv, size_t n, char *err, size_t errlen)
{
	struct app *app = task_app(t);
	struct pool_copy_opts o = {.vmid = a->newid, .format = a->format[0] ? a->format : NULL};
	struct pool_volid v;
	struct pool *src, *dst;
	int r = pool_set_of(app->pools, volid, &src, err, errlen);

	if (r < 0)
		return r;
	dst = a->storage[0] ? pool_set_get(app->pools, a->storage) : src;
	if (!dst) {
		snprintf(err, errlen, "storage '%s' does not exist", a->storage);
		return CR_ENOTFOUND;
	}
	if (!a->full) {
		uint64_t t0 = util_now_ns();

		r = pool_vol_link_clone(src, volid, a->newid, nv, n, err, errlen);

		if (r == 0)
			task_log(t, "%s: linked clone of %s: %s (%.1f ms)", key, volid, nv,
				 (double)(util_now_ns() - t0) / 1e6);
		return r;
	}
	if (!o.format && pool_volid_parse(volid, &v, NULL, 0) == 0)
		o.format = strcmp(v.format, "raw") == 0 ? "raw" : "qcow2";
	if (a->snapname[0]) {
		task_log(t, "%s: full clone of %s at snapshot '%s'", key, volid, a->snapname);
		return pool_vol_copy_snapshot(src, volid, a->snapname, dst, &o, nv, n, err,
					      errlen);
	}
	if (a->running) {
		task_log(t, "%s: full clone of %s from the running VM (QEMU backup job)", key,
			 volid);
		return clone_running(app, a->vmid, key, volid, dst, &o, nv, n, err, errlen);
	}
	task_log(t, "%s: full clone of %s", key, volid);
	return pool_vol_copy(src, volid, dst, &o, nv, n, err, errlen);
}

static int free_new(struct task *t, const struct drives *made)
{
	char err[256];

	for (size_t i = 0; i < made->n; i++)
		if (pool_set_vol_free(task_app(t)->pools, made->volid[i], err, sizeof(err)) < 0)
			task_warn(t, "cannot remove %s: %s", made->volid[i], err);
	return 0;
}

static int clone_task(struct task *t, void *opaque)
{
	struct clone_arg *a = opaque;
	struct drives *src = calloc(2, sizeof(*src)), *made = src ? src + 1 : NULL;
	char err[1024] = "";
	int r = src ? 0 : -ENOMEM;

	if (src)
		src->n = qsnap_drives(a->conf, src->key, src->volid, MAX_DRIVES);
	task_log(t, "create %s clone of VM %d as VM %d", a->full ? "full" : "linked", a->vmid,
		 a->newid);
	for (size_t i = 0; r == 0 && i < src->n; i++) {
		r = clone_drive(t, a, src->key[i], src->volid[i], made->volid[made->n],
				sizeof(made->volid[0]), err, sizeof(err));
		if (r == 0 && (r = set_volume(a->conf, src->key[i], made->volid[made->n++])) < 0)
			snprintf(err, sizeof(err), "%s: %s", src->key[i], err_str(r));
	}
	if (r == 0 && made->n < MAX_DRIVES &&
	    (r = qemu_cloudinit_clone(task_app(t), a->vmid, a->newid, a->conf,
				      made->volid[made->n], sizeof(made->volid[0]), err,
				      sizeof(err))) > 0) {
		task_log(t, "cloud-init drive: %s", made->volid[made->n++]);
		r = 0;
	}
	if (r == 0 && (r = qvm_finish_new(task_app(t), a->newid, a->conf)) < 0)
		snprintf(err, sizeof(err), "cannot store the configuration: %s", err_str(r));
	if (r == 0 && a->pool[0] && api_pools_add_vm(task_app(t), a->pool, a->newid) < 0)
		task_warn(t, "can't add VM %d to pool '%s'", a->newid, a->pool);
	if (r < 0 && made) {
		free_new(t, made);
		qvm_drop(task_app(t), a->newid);
	}
	free(src);
	return r < 0 ? task_fail(t, r, "clone failed: %s", err) : 0;
}

/* Proxmox's refusals before the worker starts; 0 or the answer. */
static int clone_check(struct req *req, struct resp *resp, const struct qvm *src, int full)
{
	const char *storage = req_str(req, "storage"), *snap = req_str(req, "snapname");
	char key[1][16], vol[1][272], err[384], *canon = NULL;
	struct pool *target = NULL;

	if (!full && storage)
		return resp_error(resp, CR_EINTERNAL,
				  "parameter 'storage' not allowed for linked clones");
	if (!full && req_str(req, "format"))
		return resp_error(resp, CR_EINTERNAL,
				  "parameter 'format' not allowed for linked clones");
	if (!full && (!vmconf_int(src->conf, "template", 0) || snap) &&
	    qsnap_drives(src->conf, key, vol, 1))
		return resp_error(resp, CR_EINTERNAL,
				  "Linked clone feature is not supported for drive '%s'", key[0]);
	if (storage && (!(target = pool_set_get(req->app->pools, storage))))
		return resp_error(resp, CR_EINTERNAL, "storage '%s' does not exist", storage);
	if (target && !(pool_content_mask(target) & (1u << POOL_CONTENT_IMAGES)))
		return resp_error(resp, CR_EINTERNAL,
				  "storage '%s' does not support content-type 'images'", storage);
	if (snap && !qsnap_get(src->snaps, snap))
		return resp_error(resp, CR_EINTERNAL, "snapshot '%s' does not exist", snap);
	if (req_str(req, "name") &&
	    vmconf_check("name", req_str(req, "name"), &canon, err, sizeof(err)) < 0)
		return resp_param_error(resp, "name", "%s", err);
	free(canon);
	return 0;
}

/* Takes NEWID: its record, locked "clone"; an existing one is Proxmox's
 * "config file already exists". */
static int clone_reserve(struct req *req, struct resp *resp, int newid)
{
	int r = qvm_reserve(req->app, newid, "clone");

	if (r == CR_EEXISTS)
		return resp_error(resp, CR_EEXISTS,
				  "unable to create VM %d: config file already exists", newid);
	return r < 0 ? resp_error(resp, r, "cannot write the configuration: %s", err_str(r)) : 0;
}

static struct clone_arg *clone_arg_new(struct req *req, const struct qvm *src, int full)
{
	struct clone_arg *a = calloc(1, sizeof(*a));
	const char *fmt = req_str(req, "format"), *snap = req_str(req, "snapname");

	if (!a)
		return NULL;
	a->vmid = qemu_vmid(req);
	a->newid = (int)req_int(req, "newid", 0);
	a->full = full;
	a->running = qemu_running(req->app, a->vmid);
	snprintf(a->format, sizeof(a->format), "%s", fmt ? fmt : "");
	snprintf(a->snapname, sizeof(a->snapname), "%s", snap ? snap : "");
	snprintf(a->pool, sizeof(a->pool), "%s", req_str(req, "pool") ? req_str(req, "pool") : "");
	snprintf(a->storage, sizeof(a->storage), "%s",
		 req_str(req, "storage") ? req_str(req, "storage") : "");
	if (!(a->conf = clone_conf(src, req, a->newid))) {
		free(a);
		return NULL;
	}
	return a;
}

int api_qemu_clone(struct req *req, struct resp *resp)
{
	int vmid = qemu_vmid(req), newid = (int)req_int(req, "newid", 0), full;
	int r = qemu_check_vm(req, resp, vmid);
	const char *target = req_str(req, "target");
	struct clone_arg *a = NULL;
	struct qvm src;

	if (r < 0 || (r = api_pools_vm_allocate(req, resp, newid, req_str(req, "pool"))) < 0)
		return r;
	if (target && !api_node_is_local(req->app, target))
		return resp_error(resp, CR_EINTERNAL,
				  "clone to node '%s' is not possible: the target must be this node",
				  target);
	if ((r = qvm_read(req->app, vmid, &src)) < 0)
		return resp_error(resp, r, "%s", err_str(r));
	full = req_bool(req, "full", !vmconf_int(src.conf, "template", 0));
	if ((r = clone_check(req, resp, &src, full)) == 0 &&
	    !(a = clone_arg_new(req, &src, full)))
		r = resp_error(resp, -ENOMEM, "out of memory");
	qvm_clear(&src);
	if (r < 0 || (r = clone_reserve(req, resp, newid)) < 0) {
		if (a)
			clone_arg_free(a);
		return r;
	}
	r = qemu_task(req, resp, "qmclone", vmid, clone_task, a, clone_arg_free, 0);
	if (r < 0)
		qvm_drop(req->app, newid);
	return r;
}
