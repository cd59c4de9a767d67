/* A VM's record in DB_VMS (configuration, pending changes, lock) and the
 * volume helpers the qemu handlers share. */
#include "server/qemu_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/util.h"
#include "hv/vm.h"
#include "server/api.h"
#include "server/app.h"
#include "server/store.h"
#include "server/tasks.h"
#include "storage/image.h"
#include "storage/pool.h"

int qvm_init(struct qvm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->conf = vmconf_new();
	vm->pending = vmconf_new();
	vm->pdel = vmconf_new();
	if (vm->conf && vm->pending && vm->pdel)
		return 0;
	qvm_clear(vm);
	return -ENOMEM;
}

void qvm_clear(struct qvm *vm)
{
	vmconf_free(vm->conf);
	vmconf_free(vm->pending);
	vmconf_free(vm->pdel);
	cJSON_Delete(vm->snaps);
	vmconf_free(vm->cigen);
	memset(vm, 0, sizeof(*vm));
}

static int map_from_json(struct vmconf *c, const cJSON *obj)
{
	const cJSON *it;
	int r = 0;

	cJSON_ArrayForEach(it, obj) if (r == 0 && cJSON_IsString(it)) r =
	    vmconf_set(c, it->string, it->valuestring);
	return r;
}

static cJSON *map_to_json(const struct vmconf *c)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t i = 0; o && i < vmconf_count(c); i++)
		cJSON_AddStringToObject(o, vmconf_key_at(c, i), vmconf_value_at(c, i));
	return o;
}

/* "a,b" into the key set PDEL. */
static int pdel_from_text(struct vmconf *pdel, const char *text)
{
	char *copy = strdup(text), *save = NULL;
	int r = copy ? 0 : -ENOMEM;

	for (char *k = copy ? strtok_r(copy, ",", &save) : NULL; k && r == 0;
	     k = strtok_r(NULL, ",", &save))
		r = vmconf_set(pdel, k, "1");
	free(copy);
	return r;
}

int qvm_from_json(const cJSON *doc, struct qvm *vm)
{
	const cJSON *lock, *del;
	int r = qvm_init(vm);

	if (r < 0)
		return r;
	r = map_from_json(vm->conf, cJSON_GetObjectItemCaseSensitive(doc, "config"));
	if (r == 0)
		r = map_from_json(vm->pending, cJSON_GetObjectItemCaseSensitive(doc, "pending"));
	del = cJSON_GetObjectItemCaseSensitive(doc, "delete");
	if (r == 0 && cJSON_IsString(del))
		r = pdel_from_text(vm->pdel, del->valuestring);
	if (r == 0 && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "snapshots")) &&
	    !(vm->snaps = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(doc, "snapshots"), 1)))
		r = -ENOMEM;
	if (r == 0 && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "cloudinit")))
		r = (vm->cigen = vmconf_new()) ? map_from_json(vm->cigen,
			cJSON_GetObjectItemCaseSensitive(doc, "cloudinit")) : -ENOMEM;
	lock = cJSON_GetObjectItemCaseSensitive(doc, "lock");
	if (cJSON_IsString(lock))
		snprintf(vm->lock, sizeof(vm->lock), "%s", lock->valuestring);
	if (r < 0)
		qvm_clear(vm);
	return r;
}

int qvm_load(struct store_txn *t, int vmid, struct qvm *vm)
{
	char key[16];
	cJSON *doc = NULL;
	int r;

	snprintf(key, sizeof(key), "%d", vmid);
	if ((r = store_get(t, DB_VMS, key, &doc)) < 0)
		return r;
	if ((r = qvm_from_json(doc, vm)) == 0 && (r = store_digest(t, DB_VMS, key, vm->digest)) < 0)
		qvm_clear(vm);
	cJSON_Delete(doc);
	return r;
}

static char *pdel_text(const struct vmconf *pdel)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < vmconf_count(pdel); i++)
		len += strlen(vmconf_key_at(pdel, i)) + 1;
	if (!(s = calloc(1, len)))
		return NULL;
	for (size_t i = 0; i < vmconf_count(pdel); i++) {
		if (i)
			strcat(s, ",");
		strcat(s, vmconf_key_at(pdel, i));
	}
	return s;
}

int qvm_save(struct store_txn *t, int vmid, const struct qvm *vm)
{
	cJSON *doc = cJSON_CreateObject();
	char key[16], *del = pdel_text(vm->pdel);
	int r = -ENOMEM;

	if (!doc || !del)
		goto out;
	cJSON_AddItemToObject(doc, "config", map_to_json(vm->conf));
	if (vmconf_count(vm->pending))
		cJSON_AddItemToObject(doc, "pending", map_to_json(vm->pending));
	if (del[0])
		cJSON_AddStringToObject(doc, "delete", del);
	if (vm->lock[0])
		cJSON_AddStringToObject(doc, "lock", vm->lock);
	if (vm->snaps)
		cJSON_AddItemToObject(doc, "snapshots", cJSON_Duplicate(vm->snaps, 1));
	if (vm->cigen)
		cJSON_AddItemToObject(doc, "cloudinit", map_to_json(vm->cigen));
	snprintf(key, sizeof(key), "%d", vmid);
	r = store_put(t, DB_VMS, key, doc);
out:
	free(del);
	cJSON_Delete(doc);
	return r;
}

int qvm_read(struct app *app, int vmid, struct qvm *vm)
{
	struct store_txn *t;
	int r = store_begin(app->store, 1, &t);

	if (r < 0)
		return r;
	r = qvm_load(t, vmid, vm);
	store_abort(t);
	return r;
}

/* Runs FN(T, VMID, CTX) in a write transaction: committed when FN returns
 * 0, else aborted and FN's code returned. */
static int qvm_txn(struct app *app, int vmid, int (*fn)(struct store_txn *t, int vmid, void *ctx),
		   void *ctx)
{
	struct store_txn *t;
	int r = store_begin(app->store, 0, &t);

	if (r < 0)
		return r;
	if ((r = fn(t, vmid, ctx)) == 0)
		return store_commit(t);
	store_abort(t);
	return r;
}

struct edit_ctx {
	int (*fn)(struct qvm *vm, void *ctx);
	void *ctx;
};

static int edit_in(struct store_txn *t, int vmid, void *ctx)
{
	const struct edit_ctx *e = ctx;
	struct qvm vm;
	int r = qvm_load(t, vmid, &vm);

	if (r < 0)
		return r;
	if ((r = e->fn(&vm, e->ctx)) == 0)
		r = qvm_save(t, vmid, &vm);
	qvm_clear(&vm);
	return r;
}

int qvm_edit(struct app *app, int vmid, int (*fn)(struct qvm *vm, void *ctx), void *ctx)
{
	struct edit_ctx e = {.fn = fn, .ctx = ctx};

	return qvm_txn(app, vmid, edit_in, &e);
}

struct update_ctx {
	void (*fn)(struct qvm *vm, const void *ctx);
	const void *ctx;
};

static int run_update(struct qvm *vm, void *ctx)
{
	const struct update_ctx *u = ctx;

	u->fn(vm, u->ctx);
	return 0;
}

int qvm_update(struct app *app, int vmid, void (*fn)(struct qvm *vm, const void *ctx),
	       const void *ctx)
{
	struct update_ctx u = {.fn = fn, .ctx = ctx};

	return qvm_edit(app, vmid, run_update, &u);
}

static int reserve_in(struct store_txn *t, int vmid, void *lock)
{
	struct qvm vm;
	char key[16];
	const char *data;
	size_t len;
	int r;

	snprintf(key, sizeof(key), "%d", vmid);
	if (store_get_raw(t, DB_VMS, key, &data, &len) == 0)
		return CR_EEXISTS;
	if ((r = qvm_init(&vm)) < 0)
		return r;
	snprintf(vm.lock, sizeof(vm.lock), "%s", (const char *)lock);
	r = qvm_save(t, vmid, &vm);
	qvm_clear(&vm);
	return r;
}

int qvm_reserve(struct app *app, int vmid, const char *lock)
{
	return qvm_txn(app, vmid, reserve_in, (void *)lock);
}

static int set_final(struct qvm *vm, void *ctx)
{
	vmconf_free(vm->conf);
	vm->conf = vmconf_dup(ctx);
	vm->lock[0] = '\0';
	return vm->conf ? 0 : -ENOMEM;
}

int qvm_finish_new(struct app *app, int vmid, const struct vmconf *conf)
{
	return qvm_edit(app, vmid, set_final, (void *)conf);
}

static int drop_in(struct store_txn *t, int vmid, void *ctx)
{
	char key[16];

	(void)ctx;
	snprintf(key, sizeof(key), "%d", vmid);
	return store_del(t, DB_VMS, key);
}

int qvm_drop(struct app *app, int vmid)
{
	return qvm_txn(app, vmid, drop_in, NULL);
}

void qvm_replace(struct qvm *vm, struct vmconf *conf, struct vmconf *pending, struct vmconf *pdel)
{
	vmconf_free(vm->conf);
	vmconf_free(vm->pending);
	vmconf_free(vm->pdel);
	vm->conf = conf;
	vm->pending = pending;
	vm->pdel = pdel;
}

struct vmconf *qvm_effective(const struct qvm *vm)
{
	struct vmconf *c = vmconf_dup(vm->conf);
	int r = 0;

	for (size_t i = 0; c && r == 0 && i < vmconf_count(vm->pdel); i++)
		vmconf_delete(c, vmconf_key_at(vm->pdel, i));
	for (size_t i = 0; c && r == 0 && i < vmconf_count(vm->pending); i++)
		r = vmconf_set(c, vmconf_key_at(vm->pending, i), vmconf_value_at(vm->pending, i));
	if (r < 0) {
		vmconf_free(c);
		return NULL;
	}
	return c;
}

int qvm_apply_pending(struct qvm *vm)
{
	struct vmconf *eff, *empty1 = vmconf_new(), *empty2 = vmconf_new();

	/* Disks detached or replaced while the VM ran are kept as unusedN. */
	for (size_t i = 0; i < vmconf_count(vm->pdel); i++)
		qemu_keep_unused(vm->conf, vmconf_key_at(vm->pdel, i), NULL);
	for (size_t i = 0; i < vmconf_count(vm->pending); i++)
		qemu_keep_unused(vm->conf, vmconf_key_at(vm->pending, i),
				 vmconf_value_at(vm->pending, i));
	eff = qvm_effective(vm);

	if (!eff || !empty1 || !empty2) {
		vmconf_free(eff);
		vmconf_free(empty1);
		vmconf_free(empty2);
		return -ENOMEM;
	}
	qvm_replace(vm, eff, empty1, empty2);
	return 0;
}

/* ---- request helpers ------------------------------------------------------- */

int qemu_vmid(const struct req *req)
{
	return (int)req_int(req, "vmid", 0);
}

int qemu_no_such_vm(struct req *req, struct resp *resp, int vmid)
{
	return resp_error(resp, CR_EINTERNAL,
			  "Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist",
			  req->app->cfg.node, vmid);
}

int qemu_check_lock(struct req *req, struct resp *resp, int vmid, const struct qvm *vm)
{
	if (!vm->lock[0] || req_bool(req, "skiplock", 0))
		return 0;
	return resp_error(resp, CR_ELOCKED, "VM %d is locked (%s)", vmid, vm->lock);
}

int qemu_check_vm(struct req *req, struct resp *resp, int vmid)
{
	struct qvm vm;
	int r = api_node_check(req, resp);

	if (r < 0)
		return r;
	if ((r = qvm_read(req->app, vmid, &vm)) < 0)
		return r == CR_ENOTFOUND ? qemu_no_such_vm(req, resp, vmid)
					 : resp_error(resp, r, "%s", err_str(r));
	r = qemu_check_lock(req, resp, vmid, &vm);
	qvm_clear(&vm);
	return r;
}

int qemu_load_checked(struct req *req, struct resp *resp, int vmid, struct qvm *vm)
{
	int r = qemu_check_vm(req, resp, vmid);

	if (r < 0)
		return r;
	if ((r = qvm_read(req->app, vmid, vm)) < 0)
		return r == CR_ENOTFOUND ? qemu_no_such_vm(req, resp, vmid)
					 : resp_error(resp, r, "%s", err_str(r));
	return 0;
}

int qemu_task(struct req *req, struct resp *resp, const char *type, int vmid, task_fn fn, void *arg,
	      void (*free_arg)(void *), int delay_s)
{
	char upid[UPID_MAX], err[512] = "", id[16], lock[32];
	int r;

	snprintf(id, sizeof(id), "%d", vmid);
	snprintf(lock, sizeof(lock), "vm:%d", vmid);
	r = tasks_start(req->app->tasks, type, id, req->who, lock, fn, arg, free_arg, upid, err,
			sizeof(err));
	if (r < 0)
		return resp_error(resp, r, "%s", err);
	return api_task_reply(req, resp, upid, delay_s, type);
}

int qemu_is_drive_key(const char *key)
{
	static const char *const prefixes[] = {"ide",	  "sata",     "scsi",  "virtio",
					       "efidisk", "tpmstate", "unused"};

	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		size_t n = strlen(prefixes[i]);

		if (strncmp(key, prefixes[i], n) == 0 && key[n] >= '0' && key[n] <= '9' &&
		    strcmp(key, "scsihw") != 0)
			return 1;
	}
	return 0;
}

int qemu_running(struct app *app, int vmid)
{
	return app->hv && hv_vm_running(app->hv, vmid);
}

int qemu_errors_reply(struct resp *resp, const struct vmconf_errors *errs)
{
	int r = CR_EINVAL_PARAM;

	for (size_t i = 0; i < errs->n; i++)
		r = resp_param_error(resp, errs->e[i].key, "%s", errs->e[i].msg);
	return r;
}
