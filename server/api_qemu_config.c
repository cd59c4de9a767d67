/* /nodes/{node}/qemu/{vmid}/config and /pending: the flat key map with its
 * digest, updates (POST as qmconfig task, PUT synchronous) with delete,
 * revert, digest checks, and pending changes while the VM runs. */
#include "server/api.h"
#include "server/api_qemu_snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "server/app.h"
#include "server/params.h"
#include "server/qemu_int.h"
#include "server/store.h"
#include "server/tasks.h"
#include "storage/pool.h"

#define MAX_KEYS 256

const struct param_spec api_qemu_config_get_params[] = {
    QEMU_NODE_PARAM,
    QEMU_VMID_PARAM,
    QEMU_BOOL_OPT("current"),
    {.name = "snapshot", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 40},
    {.name = NULL},
};

const struct param_spec api_qemu_config_set_params[] = {
    QEMU_NODE_PARAM,
    QEMU_VMID_PARAM,
    {.name = "delete", .type = PT_STRING, .flags = PF_OPTIONAL},
    {.name = "revert", .type = PT_STRING, .flags = PF_OPTIONAL},
    {.name = "digest", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 64},
    QEMU_BOOL_OPT("skiplock"),
    QEMU_BOOL_OPT("force"),
    {.name = "background_delay", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 1, .max = 30},
    {.name = NULL},
};

/* Keys a running VM takes at once (Proxmox's "fast plug" options); every
 * other change waits in pending for the next start. */
static const char *const hot_keys[] = {"name",	     "description", "onboot", "tags",
				       "protection", "startup",	    "lock"};

static int is_hot(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(hot_keys); i++)
		if (strcmp(key, hot_keys[i]) == 0)
			return 1;
	return 0;
}

/* ---- GET config / pending --------------------------------------------------- */

/* Proxmox's types: integers as numbers, memory (a property string since 8.1)
 * and everything else as strings. */
static const char *const number_keys[] = {
    "cores",	 "sockets",    "vcpus",	 "balloon", "onboot",	"agent_numeric",
    "template",	 "protection", "shares", "acpi",    "kvm",	"tablet",
    "localtime", "reboot",     "numa",	 "freeze",  "autostart"};

static cJSON *typed_value(const char *key, const char *value)
{
	int64_t n;

	if (strcmp(key, "cipassword") == 0) /* a hash, never shown (as Proxmox) */
		return cJSON_CreateString("**********");
	for (size_t i = 0; i < ARRAY_SIZE(number_keys); i++)
		if (strcmp(key, number_keys[i]) == 0 && util_parse_i64(value, &n) == 0)
			return cJSON_CreateNumber((double)n);
	return cJSON_CreateString(value);
}

int qemu_read_or_fail(struct req *req, struct resp *resp, struct qvm *vm)
{
	int r = api_node_check(req, resp);

	if (r < 0)
		return r;
	r = qvm_read(req->app, qemu_vmid(req), vm);
	if (r == CR_ENOTFOUND)
		return qemu_no_such_vm(req, resp, qemu_vmid(req));
	return r < 0 ? resp_error(resp, r, "%s", err_str(r)) : 0;
}

int api_qemu_config_get(struct req *req, struct resp *resp)
{
	struct vmconf *c;
	struct qvm vm;
	int r = qemu_read_or_fail(req, resp, &vm);

	if (r < 0)
		return r;
	if (req_str(req, "snapshot") && !qsnap_get(vm.snaps, req_str(req, "snapshot"))) {
		qvm_clear(&vm);
		return resp_error(resp, CR_EINTERNAL, "snapshot '%s' does not exist",
				  req_str(req, "snapshot"));
	}
	if (req_str(req, "snapshot"))
		c = qsnap_config(vm.snaps, req_str(req, "snapshot"));
	else
		c = req_bool(req, "current", 0) ? vmconf_dup(vm.conf) : qvm_effective(&vm);
	resp->data = cJSON_CreateObject();
	for (size_t i = 0; c && i < vmconf_count(c); i++)
		cJSON_AddItemToObject(resp->data, vmconf_key_at(c, i),
				      typed_value(vmconf_key_at(c, i), vmconf_value_at(c, i)));
	if (vm.lock[0])
		cJSON_AddStringToObject(resp->data, "lock", vm.lock);
	if (!req_str(req, "snapshot") && qsnap_parent(vm.snaps)[0])
		cJSON_AddStringToObject(resp->data, "parent", qsnap_parent(vm.snaps));
	cJSON_AddStringToObject(resp->data, "digest", vm.digest);
	vmconf_free(c);
	qvm_clear(&vm);
	return 0;
}

static void pending_row(cJSON *rows, const struct qvm *vm, const char *key)
{
	cJSON *row = cJSON_CreateObject();
	const char *cur = vmconf_get(vm->conf, key), *pend = vmconf_get(vm->pending, key);

	cJSON_AddStringToObject(row, "key", key);
	if (cur)
		cJSON_AddItemToObject(row, "value", typed_value(key, cur));
	if (pend)
		cJSON_AddItemToObject(row, "pending", typed_value(key, pend));
	if (vmconf_get(vm->pdel, key))
		cJSON_AddNumberToObject(row, "delete", 1);
	cJSON_AddItemToArray(rows, row);
}

int api_qemu_pending(struct req *req, struct resp *resp)
{
	struct qvm vm;
	int r = qemu_read_or_fail(req, resp, &vm);

	if (r < 0)
		return r;
	resp->data = cJSON_CreateArray();
	for (size_t i = 0; i < vmconf_count(vm.conf); i++)
		pending_row(resp->data, &vm, vmconf_key_at(vm.conf, i));
	for (size_t i = 0; i < vmconf_count(vm.pending); i++)
		if (!vmconf_get(vm.conf, vmconf_key_at(vm.pending, i)))
			pending_row(resp->data, &vm, vmconf_key_at(vm.pending, i));
	for (size_t i = 0; i < vmconf_count(vm.pdel); i++)
		if (!vmconf_get(vm.conf, vmconf_key_at(vm.pdel, i)) &&
		    !vmconf_get(vm.pending, vmconf_key_at(vm.pdel, i)))
			pending_row(resp->data, &vm, vmconf_key_at(vm.pdel, i));
	qvm_clear(&vm);
	return 0;
}

/* ---- POST/PUT config -------------------------------------------------------- */

struct config_update {
	int vmid;
	int skiplock;
	size_t n;
	char *keys[MAX_KEYS], *values[MAX_KEYS];
	char *del, *revert, *digest; /* NULL when absent */
};

static void update_free(void *p)
{
	struct config_update *u = p;

	for (size_t i = 0; i < u->n; i++) {
		free(u->keys[i]);
		free(u->values[i]);
	}
	free(u->del);
	free(u->revert);
	free(u->digest);
	free(u);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static struct config_update *update_from_req(const struct req *req, struct vmconf_errors *errs)
{
	const char *keys[MAX_KEYS], *values[MAX_KEYS];
	size_t n =
	    qemu_config_params(req, api_qemu_config_set_params, keys, values, MAX_KEYS, errs);
	struct config_update *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->vmid = qemu_vmid(req);
	u->skiplock = req_bool(req, "skiplock", 0);
	for (size_t i = 0; i < n; i++) {
		u->keys[u->n] = strdup(keys[i]);
		u->values[u->n++] = strdup(values[i]);
	}
	u->del = dup_or_null(req_str(req, "delete"));
	u->revert = dup_or_null(req_str(req, "revert"));
	u->digest = dup_or_null(req_str(req, "digest"));
	return u;
}

/* Calls FN for each key of the comma (or space/semicolon) list LIST. */
static int each_listed(const char *list, int (*fn)(const char *key, void *ctx), void *ctx)
{
	char *copy = list ? strdup(list) : NULL, *save = NULL;
	int r = 0;

	for (char *k = copy ? strtok_r(copy, ",; ", &save) : NULL; k && r == 0;
	     k = strtok_r(NULL, ",; ", &save))
		r = fn(k, ctx);
	free(copy);
	return r;
}

/* The state one update works on inside its store transaction. */
struct apply {
	struct app *app;
	const struct config_update *u;
	struct qvm vm;
	int running;
	struct task *task; /* NULL for PUT */
	char err[512];
};

static int revert_key(const char *key, void *ctx)
{
	struct apply *a = ctx;

	vmconf_delete(a->vm.pending, key);
	vmconf_delete(a->vm.pdel, key);
	return 0;
}

/* The update asks for a cloud-init drive ("STORAGE:cloudinit"), which takes
 * over the VM's existing cloud-init volume: that one must not be freed. */
static int adds_cloudinit(const struct config_update *u)
{
	for (size_t i = 0; i < u->n; i++) {
		const char *v = u->values[i], *c = strstr(v, ":cloudinit");

		if (qemu_is_drive_key(u->keys[i]) && c && (c[10] == '\0' || c[10] == ','))
			return 1;
	}
	return 0;
}

/* A removed disk becomes unusedN; a removed unusedN is freed; a removed
 * cloud-init drive is freed (as Proxmox). */
static int retire_volume(struct apply *a, const char *key)
{
	char volid[POOL_VOLID_MAX], err[256];

	if (!adds_cloudinit(a->u) &&
	    qemu_cloudinit_retire(a->app, a->u->vmid, key, vmconf_get(a->vm.conf, key), NULL))
		return 0;
	if (strncmp(key, "unused", 6) != 0)
		return qemu_keep_unused(a->vm.conf, key, NULL);
	if (!a->app->pool ||
	    qemu_drive_volid(key, vmconf_get(a->vm.conf, key), volid, sizeof(volid)) < 0)
		return 0;
	return pool_set_vol_free(a->app->pools, volid, err, sizeof(err));
}

static int delete_key(const char *key, void *ctx)
{
	struct apply *a = ctx;

	if (a->running && !is_hot(key)) {
		vmconf_delete(a->vm.pending, key);
		return vmconf_get(a->vm.conf, key) ? vmconf_set(a->vm.pdel, key, "1") : 0;
	}
	vmconf_delete(a->vm.pending, key);
	vmconf_delete(a->vm.pdel, key);
	if (qemu_is_drive_key(key))
		retire_volume(a, key);
	vmconf_delete(a->vm.conf, key);
	return 0;
}

static int set_key(struct apply *a, const char *key, const char *value)
{
	vmconf_delete(a->vm.pdel, key);
	if (a->running && !is_hot(key))
		return vmconf_set(a->vm.pending, key, value);
	vmconf_delete(a->vm.pending, key);
	if (qemu_is_drive_key(key) &&
	    (adds_cloudinit(a->u) ||
	     !qemu_cloudinit_retire(a->app, a->u->vmid, key, vmconf_get(a->vm.conf, key), value)))
		qemu_keep_unused(a->vm.conf, key, value);
	return vmconf_set(a->vm.conf, key, value);
}

/* Canonical values of the update (new disks allocated) into VALS. */
static int canonical_values(struct apply *a, struct vmconf *vals)
{
	const struct config_update *u = a->u;
	int r = 0;

	for (size_t i = 0; r == 0 && i < u->n; i++) {
		char *canon = NULL;

		r = vmconf_check(u->keys[i], u->values[i], &canon, a->err, sizeof(a->err));
		if (r == 0)
			r = vmconf_set(vals, u->keys[i], canon);
		free(canon);
	}
	if (r == 0)
		r = vmconf_assign_macs(vals);
	return r < 0 ? r : qemu_alloc_disks(a->app, u->vmid, vals, a->err, sizeof(a->err));
}

static int check_result(struct apply *a)
{
	struct vmconf *eff = qvm_effective(&a->vm);
	struct vmconf_errors errs = {.n = 0};
	int r = eff ? vmconf_validate(eff, &errs) : -ENOMEM;

	if (r < 0 && errs.n)
		snprintf(a->err, sizeof(a->err), "%s: %s", errs.e[0].key, errs.e[0].msg);
	vmconf_free(eff);
	return r;
}

static int apply_changes(struct apply *a)
{
	struct vmconf *vals = vmconf_new();
	int r = vals ? canonical_values(a, vals) : -ENOMEM;

	if (r == 0)
		r = each_listed(a->u->revert, revert_key, a);
	if (r == 0)
		r = each_listed(a->u->del, delete_key, a);
	for (size_t i = 0; r == 0 && vals && i < vmconf_count(vals); i++)
		r = set_key(a, vmconf_key_at(vals, i), vmconf_value_at(vals, i));
	if (r == 0)
		r = check_result(a);
	vmconf_free(vals);
	return r;
}

#define MODIFIED_MSG "detected modified configuration - file changed by other user? Try again."

/* One transaction: load, digest and lock checks, changes, save. */
static int config_apply(struct app *app, const struct config_update *u, char *err, size_t errlen)
{
	struct apply a = {.app = app, .u = u};
	struct store_txn *t = NULL;
	int r = store_begin(app->store, 0, &t);

	if (r < 0 || (r = qvm_load(t, u->vmid, &a.vm)) < 0) {
		snprintf(err, errlen,
			 r == CR_ENOTFOUND ? "Configuration file does not exist" : "%s",
			 err_str(r));
		goto out_txn;
	}
	a.running = qemu_running(app, u->vmid);
	if (u->digest && strcmp(u->digest, a.vm.digest) != 0) {
		r = CR_EINTERNAL;
		snprintf(err, errlen, MODIFIED_MSG);
	} else if (a.vm.lock[0] && !u->skiplock) {
		r = CR_ELOCKED;
		snprintf(err, errlen, "VM %d is locked (%s)", u->vmid, a.vm.lock);
	} else if ((r = apply_changes(&a)) < 0 || (r = qvm_save(t, u->vmid, &a.vm)) < 0) {
		snprintf(err, errlen, "%s", a.err[0] ? a.err : err_str(r));
	}
	qvm_clear(&a.vm);
	if (r == 0)
		return store_commit(t);
out_txn:
	if (t)
		store_abort(t);
	return r;
}

static int config_task(struct task *t, void *opaque)
{
	const struct config_update *u = opaque;
	char err[512] = "";
	int r = config_apply(task_app(t), u, err, sizeof(err));

	if (r == 0)
		r = qemu_hotplug_pending(task_app(t), u->vmid, t, err, sizeof(err));
	return r < 0 ? task_fail(t, r, "%s", err) : 0;
}

/* Checks the whole update against the current state before anything runs:
 * unknown keys, values, cross-key rules and volumes come back as a 400. */
static int update_validate(struct req *req, struct resp *resp, const struct config_update *u,
			   struct vmconf_errors *errs)
{
	struct vmconf *cand;
	struct qvm vm;
	int r = qemu_read_or_fail(req, resp, &vm);

	if (r < 0)
		return r;
	if (u->digest && strcmp(u->digest, vm.digest) != 0) {
		qvm_clear(&vm);
		return resp_error(resp, CR_EINTERNAL, MODIFIED_MSG);
	}
	if ((r = qemu_check_lock(req, resp, u->vmid, &vm)) < 0) {
		qvm_clear(&vm);
		return r;
	}
	cand = qvm_effective(&vm);
	qvm_clear(&vm);
	if (!cand)
		return resp_error(resp, -ENOMEM, "out of memory");
	if (errs->n == 0)
		vmconf_update(cand, (const char *const *)u->keys, (const char *const *)u->values,
			      u->n, u->del, errs);
	vmconf_free(cand);
	if (errs->n == 0)
		qemu_check_volumes(req, u->vmid, (const char *const *)u->keys,
				   (const char *const *)u->values, u->n, errs);
	return errs->n ? qemu_errors_reply(resp, errs) : 0;
}

static int config_set(struct req *req, struct resp *resp, int async)
{
	struct vmconf_errors errs = {.n = 0};
	struct config_update *u = update_from_req(req, &errs);
	char err[512] = "";
	int r;

	if (!u)
		return resp_error(resp, -ENOMEM, "out of memory");
	if ((r = update_validate(req, resp, u, &errs)) < 0) {
		update_free(u);
		return r;
	}
	if (!async) {
		r = config_apply(req->app, u, err, sizeof(err));
		if (r == 0)
			r = qemu_hotplug_pending(req->app, u->vmid, NULL, err, sizeof(err));
		update_free(u);
		return r < 0 ? resp_error(resp, r, "%s", err) : 0;
	}
	return qemu_task(req, resp, "qmconfig", u->vmid, config_task, u, update_free,
			 (int)req_int(req, "background_delay", 0));
}

int api_qemu_config_post(struct req *req, struct resp *resp)
{
	return config_set(req, resp, 1);
}

int api_qemu_config_put(struct req *req, struct resp *resp)
{
	return config_set(req, resp, 0);
}
