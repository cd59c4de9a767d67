/* /nodes/{node}/qemu: list, create (qmcreate), index and destroy
 * (qmdestroy) of VMs, as qemu-server's API2/Qemu.pm serves them. */
#include "server/api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "server/acl.h"
#include "server/app.h"
#include "server/cluster.h"
#include "server/params.h"
#include "server/qemu_int.h"
#include "server/rescache.h"
#include "server/store.h"
#include "server/tasks.h"
#include "storage/pool.h"

const struct param_spec api_qemu_list_params[] = {
    QEMU_NODE_PARAM,
    QEMU_BOOL_OPT("full"),
    {.name = NULL},
};

const struct param_spec api_qemu_create_params[] = {
    QEMU_NODE_PARAM,
    QEMU_VMID_PARAM,
    QEMU_BOOL_OPT("start"),
    QEMU_BOOL_OPT("unique"),
    {.name = "pool", .type = PT_STRING, .flags = PF_OPTIONAL, .check = param_check_pve_poolid},
    {.name = NULL},
};

const struct param_spec api_qemu_vm_params[] = {
    QEMU_NODE_PARAM,
    QEMU_VMID_PARAM,
    {.name = NULL},
};

const struct param_spec api_qemu_destroy_params[] = {
    QEMU_NODE_PARAM,	       QEMU_VMID_PARAM,
    QEMU_BOOL_OPT("purge"),    QEMU_BOOL_OPT("destroy-unreferenced-disks"),
    QEMU_BOOL_OPT("skiplock"), {.name = NULL},
};

/* ---- list ------------------------------------------------------------------ */

int api_qemu_list(struct req *req, struct resp *resp)
{
	int r = api_node_check(req, resp);

	if (r < 0)
		return r;
	resp->data = cJSON_CreateArray();
	if ((r = rescache_rows(req->app->rescache, req, RESCACHE_VMLIST, resp->data)) < 0)
		return resp_error(resp, r, "cannot list VMs: %s", err_str(r));
	return 0;
}

int api_qemu_resource_rows(struct req *req, cJSON *rows)
{
	return rescache_rows(req->app->rescache, req, RESCACHE_RESOURCES, rows);
}

/* ---- create ---------------------------------------------------------------- */

size_t qemu_config_params(const struct req *req, const struct param_spec *spec, const char **keys,
			  const char **values, size_t max, struct vmconf_errors *errs)
{
	const cJSON *it;
	size_t n = 0;

	cJSON_ArrayForEach(it, req->params)
	{
		if (params_find_spec(spec, it->string))
			continue;
		if (!vmconf_key_known(it->string) || !cJSON_IsString(it))
			vmconf_errors_add(errs, it->string,
					  "property is not defined in schema "
					  "and the schema does not allow additional properties");
		else if (n < max) {
			keys[n] = it->string;
			values[n++] = it->valuestring;
		}
	}
	return n;
}

struct create_arg {
	int vmid;
	int start;
	struct vmconf *conf; /* as validated, new disks not yet allocated */
	char pool[ACL_ID_MAX]; /* resource pool the VM joins; "" for none */
};

static void create_arg_free(void *p)
{
	struct create_arg *a = p;

	vmconf_free(a->conf);
	free(a);
}

static int free_volume(const char *volid, void *ctx)
{
	struct task *t = ctx;
	char err[256];

	if (pool_set_vol_free(task_app(t)->pools, volid, err, sizeof(err)) < 0)
		task_warn(t, "cannot remove %s: %s", volid, err);
	else
		task_log(t, "removed volume %s", volid);
	return 0;
}

/* The volume id at the start of an allocated drive's value. */
static void free_new_volume(const char *value, struct task *t)
{
	char volid[POOL_VOLID_MAX];

	snprintf(volid, sizeof(volid), "%.*s", (int)strcspn(value, ","), value);
	free_volume(volid, t);
}

/* 1 if KEY was a new disk in ORIG and has been allocated as NOW. */
static int was_new(const struct vmconf *orig, const char *key, const char *now)
{
	struct vmconf_drive d;
	char err[256];
	const char *before = vmconf_get(orig, key);

	return before && strcmp(before, now) != 0 && qemu_is_drive_key(key) &&
	       vmconf_drive_parse(key, before, &d, err, sizeof(err)) == 0 &&
	       d.kind == VMCONF_VOL_NEW;
}

static int create_task(struct task *t, void *opaque)
{
	struct create_arg *a = opaque;
	struct app *app = task_app(t);
	struct vmconf *orig = vmconf_dup(a->conf);
	char err[512] = "";
	int r = orig ? qemu_alloc_disks(app, a->vmid, a->conf, err, sizeof(err)) : -ENOMEM;

	for (size_t i = 0; i < vmconf_count(a->conf); i++)
		if (was_new(orig, vmconf_key_at(a->conf, i), vmconf_value_at(a->conf, i)))
			task_log(t, "%s: allocated %s", vmconf_key_at(a->conf, i),
				 vmconf_value_at(a->conf, i));
	if (r == 0 && (r = qvm_finish_new(app, a->vmid, a->conf)) < 0)
		snprintf(err, sizeof(err), "cannot store the configuration: %s", err_str(r));
	if (r < 0) {
		for (size_t i = 0; i < vmconf_count(a->conf); i++)
			if (was_new(orig, vmconf_key_at(a->conf, i), vmconf_value_at(a->conf, i)))
				free_new_volume(vmconf_value_at(a->conf, i), t);
		qvm_drop(app, a->vmid);
		vmconf_free(orig);
		return task_fail(t, r, "unable to create VM %d - %s", a->vmid, err);
	}
	vmconf_free(orig);
	if (a->pool[0] && api_pools_add_vm(app, a->pool, a->vmid) < 0)
		task_warn(t, "can't add VM %d to pool '%s'", a->vmid, a->pool);
	return a->start ? qemu_task_start(t, a->vmid, QEMU_START_TIMEOUT_MS / 1000) : 0;
}

/* Takes VMID for the new VM: its record, locked "create", so a second create
 * of the same id fails at once.  Errors as the answer. */
static int create_reserve(struct req *req, struct resp *resp, int vmid)
{
	char where[64];
	int r;

	/* VMIDs are unique in the whole cluster (gossiped inventories). */
	if (req->app->cluster && cluster_vmid_elsewhere(req->app->cluster, vmid, where, sizeof(where)))
		return resp_param_error(resp, "vmid", "VM %d already exists on node '%s'", vmid, where);
	if ((r = qvm_reserve(req->app, vmid, "create")) == CR_EEXISTS)
		return resp_param_error(resp, "vmid", "VM %d already exists", vmid);
	return r < 0 ? resp_error(resp, r, "cannot write the configuration: %s", err_str(r)) : 0;
}

/* Validates every key (values, volumes) of the request into *CONF. */
static int create_validate(struct req *req, struct resp *resp, int vmid, struct vmconf **conf)
{
	const char *keys[256], *values[256];
	struct vmconf_errors errs = {.n = 0};
	size_t n = qemu_config_params(req, api_qemu_create_params, keys, values, 256, &errs);

	if (!(*conf = vmconf_new()))
		return resp_error(resp, -ENOMEM, "out of memory");
	if (errs.n == 0)
		vmconf_update(*conf, keys, values, n, NULL, &errs);
	if (errs.n == 0)
		qemu_check_volumes(req, vmid, keys, values, n, &errs);
	if (errs.n == 0 && (vmconf_assign_macs(*conf) < 0 || vmconf_assign_smbios_uuid(*conf) < 0))
		return resp_error(resp, CR_EINTERNAL, "cannot generate MAC addresses or uuid");
	return errs.n ? qemu_errors_reply(resp, &errs) : 0;
}

int api_qemu_create(struct req *req, struct resp *resp)
{
	int vmid = qemu_vmid(req), r;
	struct create_arg *a = NULL;
	struct vmconf *conf = NULL;
	const char *pool = req_str(req, "pool");

	if ((r = api_node_check(req, resp)) < 0 ||
	    (r = api_pools_vm_allocate(req, resp, vmid, pool)) < 0)
		return r;
	if ((r = create_validate(req, resp, vmid, &conf)) < 0 ||
	    (r = create_reserve(req, resp, vmid)) < 0) {
		vmconf_free(conf);
		return r;
	}
	if (!(a = calloc(1, sizeof(*a)))) {
		vmconf_free(conf);
		qvm_drop(req->app, vmid);
		return resp_error(resp, -ENOMEM, "out of memory");
	}
	*a = (struct create_arg){vmid, req_bool(req, "start", 0), conf, ""};
	snprintf(a->pool, sizeof(a->pool), "%s", pool ? pool : "");
	r = qemu_task(req, resp, "qmcreate", vmid, create_task, a, create_arg_free, 0);
	if (r < 0)
		qvm_drop(req->app, vmid);
	return r;
}

/* ---- index ----------------------------------------------------------------- */

int api_qemu_index(struct req *req, struct resp *resp)
{
	cJSON *names = api_subdirs("/nodes/{node}/qemu/{vmid}/"), *it;
	struct qvm vm;
	int r = api_node_check(req, resp);

	if (r == 0 && (r = qvm_read(req->app, qemu_vmid(req), &vm)) == 0)
		qvm_clear(&vm);
	else if (r == CR_ENOTFOUND)
		r = qemu_no_such_vm(req, resp, qemu_vmid(req));
	if (r < 0) {
		cJSON_Delete(names);
		return r;
	}
	resp->data = cJSON_CreateArray();
	cJSON_ArrayForEach(it, names)
	{
		cJSON *row = cJSON_CreateObject();

		cJSON_AddStringToObject(row, "subdir",
					cJSON_GetStringValue(cJSON_GetObjectItem(it, "name")));
		cJSON_AddItemToArray(resp->data, row);
	}
	cJSON_Delete(names);
	return 0;
}

/* ---- destroy --------------------------------------------------------------- */

struct destroy_arg {
	int vmid;
	int unreferenced;
};

static int free_unreferenced(const struct pool_volume *v, void *ctx)
{
	return free_volume(v->volid, ctx);
}

struct unref_scan {
	struct task *t;
	int vmid;
};

/* Every image of the VM left in POOL (Proxmox scans each enabled storage
 * that holds images). */
static int scan_unreferenced(struct pool *pool, void *ctx)
{
	const struct unref_scan *u = ctx;

	if (pool_content_mask(pool) & (1u << POOL_CONTENT_IMAGES))
		pool_list(pool, POOL_CONTENT_IMAGES, u->vmid, free_unreferenced, u->t);
	return 0;
}

static int destroy_task(struct task *t, void *opaque)
{
	const struct destroy_arg *a = opaque;
	struct app *app = task_app(t);
	struct qvm vm;
	int r;

	if (qemu_running(app, a->vmid))
		return task_fail(t, CR_EINTERNAL, "VM %d is running - destroy failed", a->vmid);
	if ((r = qvm_read(app, a->vmid, &vm)) < 0)
		return task_fail(t, r,
				 "Configuration file 'nodes/%s/qemu-server/%d.conf' does "
				 "not exist",
				 app->cfg.node, a->vmid);
	if (app->pool) {
		qemu_foreach_volume(vm.conf, free_volume, t);
		qemu_foreach_volume(vm.pending, free_volume, t);
		if (a->unreferenced)
			pool_set_foreach(app->pools, scan_unreferenced,
					 &(struct unref_scan){t, a->vmid});
	}
	qvm_clear(&vm);
	r = qvm_drop(app, a->vmid);
	if (r < 0)
		return task_fail(t, r, "cannot remove the configuration: %s", err_str(r));
	/* remove_vm_access: its ACL entries and pool membership go with it. */
	if ((r = api_pools_remove_vm(app, a->vmid)) < 0)
		task_warn(t, "access permissions cleanup for VM %d failed: %s", a->vmid, err_str(r));
	return 0;
}

/* A template whose bases back linked clones stays (api_qemu_clone.c). */
static int template_check(struct req *req, struct resp *resp, int vmid)
{
	char err[512];
	struct qvm vm;
	int r = qvm_read(req->app, vmid, &vm);

	if (r < 0)
		return 0;
	r = qemu_template_in_use(req->app, vm.conf, err, sizeof(err));
	qvm_clear(&vm);
	return r == 1 ? resp_error(resp, CR_EINTERNAL, "%s", err) : 0;
}

int api_qemu_destroy(struct req *req, struct resp *resp)
{
	int vmid = qemu_vmid(req), r = qemu_check_vm(req, resp, vmid);
	struct destroy_arg *a;

	if (r < 0)
		return r;
	if (qemu_running(req->app, vmid))
		return resp_error(resp, CR_EINTERNAL, "VM %d is running - destroy failed", vmid);
	if ((r = template_check(req, resp, vmid)) < 0)
		return r;
	if (!(a = calloc(1, sizeof(*a))))
		return resp_error(resp, -ENOMEM, "out of memory");
	*a = (struct destroy_arg){vmid, req_bool(req, "destroy-unreferenced-disks", 0)};
	return qemu_task(req, resp, "qmdestroy", vmid, destroy_task, a, free, 0);
}
