/* /nodes/{node}/qemu/{vmid}/status: vmstatus figures from hv_vm_status (or
 * its cached snapshot for list views) and
 * the power operations as tasks with Proxmox's types (qmstart, qmstop,
 * qmshutdown, qmreboot, qmreset, qmpause, qmresume), each holding the
 * per-VM lock "vm:<vmid>". */
#include "server/api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/buf.h"
#include "common/util.h"
#include "hv/vm.h"
#include "server/app.h"
#include "server/params.h"
#include "server/qemu_int.h"
#include "server/store.h"
#include "server/tasks.h"

#define TIMEOUT_OPT                                                                                \
	{                                                                                          \
		.name = "timeout", .type = PT_INTEGER, .flags = PF_OPTIONAL, .min = 0,             \
		.max = 86400                                                                       \
	}
#define STR_OPT(n)                                                                                 \
	{                                                                                          \
		.name = n, .type = PT_STRING, .flags = PF_OPTIONAL, .max = 256                     \
	}

/* Proxmox's defaults: stop waits 5 s for QMP quit, shutdown 10 minutes. */
#define STOP_TIMEOUT_S 5
#define SHUTDOWN_TIMEOUT_S 600
#define AGENT_SEND_MS 10000 /* guest-shutdown: sent, never answered */

const struct param_spec api_qemu_start_params[] = {
    QEMU_NODE_PARAM,	       QEMU_VMID_PARAM,	    TIMEOUT_OPT,
    QEMU_BOOL_OPT("skiplock"), STR_OPT("machine"),  STR_OPT("targetstorage"),
    STR_OPT("migratedfrom"),   STR_OPT("stateuri"), {.name = NULL},
};
const struct param_spec api_qemu_stop_params[] = {
    QEMU_NODE_PARAM,
    QEMU_VMID_PARAM,
    TIMEOUT_OPT,
    QEMU_BOOL_OPT("skiplock"),
    QEMU_BOOL_OPT("keepActive"),
    QEMU_BOOL_OPT("overrule-shutdown"),
    STR_OPT("migratedfrom"),
    {.name = NULL},
};
const struct param_spec api_qemu_shutdown_params[] = {
    QEMU_NODE_PARAM,
    QEMU_VMID_PARAM,
    TIMEOUT_OPT,
    QEMU_BOOL_OPT("skiplock"),
    QEMU_BOOL_OPT("keepActive"),
    QEMU_BOOL_OPT("forceStop"),
    {.name = NULL},
};
const struct param_spec api_qemu_reboot_params[] = {
    QEMU_NODE_PARAM,
    QEMU_VMID_PARAM,
    TIMEOUT_OPT,
    {.name = NULL},
};
const struct param_spec api_qemu_skiplock_params[] = {
    QEMU_NODE_PARAM,	      QEMU_VMID_PARAM, QEMU_BOOL_OPT("skiplock"),
    QEMU_BOOL_OPT("nocheck"), {.name = NULL},
};
const struct param_spec api_qemu_suspend_params[] = {
    QEMU_NODE_PARAM,	     QEMU_VMID_PARAM,	      QEMU_BOOL_OPT("skiplock"),
    QEMU_BOOL_OPT("todisk"), STR_OPT("statestorage"), {.name = NULL},
};

/* ---- vmstatus --------------------------------------------------------------- */

unsigned qemu_host_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

/* Size of the first disk in the boot order (Proxmox's maxdisk). */
static uint64_t boot_disk_size(const struct vmconf *c)
{
	char keys[16][16], err[256];
	struct vmconf_drive d;
	int n = vmconf_boot_order(c, keys, 16);

	for (int i = 0; i < n; i++) {
		const char *v = vmconf_get(c, keys[i]);

		if (v && qemu_is_drive_key(keys[i]) &&
		    vmconf_drive_parse(keys[i], v, &d, err, sizeof(err)) == 0 && !d.cdrom)
			return d.size;
	}
	return 0;
}

/* The figures of one vmstatus row. */
struct qrow {
	int vmid;
	char name[256];
	int64_t cpus;
	uint64_t maxmem, maxdisk;
	int is_template, agent, serial;
	const char *tags, *lock; /* borrowed from the qvm; NULL when absent */
	struct hv_vm_status st;
	double cpu; /* Proxmox's share of the VM's own CPUs */
};

void qemu_rowconf(int vmid, const struct qvm *vm, struct qemu_rowconf *rc)
{
	const char *name = vmconf_get(vm->conf, "name");
	int64_t cpus = vmconf_int(vm->conf, "sockets", 1) * vmconf_int(vm->conf, "cores", 1);

	if (name)
		snprintf(rc->name, sizeof(rc->name), "%s", name);
	else
		snprintf(rc->name, sizeof(rc->name), "VM %d", vmid);
	rc->cpus = vmconf_int(vm->conf, "vcpus", cpus);
	rc->maxmem = (uint64_t)vmconf_memory_mib(vm->conf) << 20;
	rc->maxdisk = boot_disk_size(vm->conf);
	rc->is_template = vmconf_int(vm->conf, "template", 0) ? 1 : 0;
	rc->agent = qemu_agent_enabled(vm->conf);
	rc->serial = vmconf_get(vm->conf, "serial0") != NULL;
	rc->tags = vmconf_get(vm->conf, "tags");
	rc->lock = vm->lock[0] ? vm->lock : NULL;
}

static void row_from_conf(struct qrow *row, int vmid, const struct qemu_rowconf *rc,
			  int64_t host_cpus)
{
	row->vmid = vmid;
	memcpy(row->name, rc->name, sizeof(row->name));
	row->cpus = rc->cpus > host_cpus ? host_cpus : rc->cpus;
	row->maxmem = rc->maxmem;
	row->maxdisk = rc->maxdisk;
	row->is_template = rc->is_template;
	row->agent = rc->agent;
	row->serial = rc->serial;
	row->tags = rc->tags;
	row->lock = rc->lock;
}

/* Proxmox's "cpu": hv gives host CPUs busy since the previous sample,
 * Proxmox the share of the VM's own CPUs. */
static void row_cpu(struct qrow *row)
{
	row->cpu = row->cpus > 0 ? row->st.cpu_usage / (double)row->cpus : 0;
	row->cpu = row->cpu < 0 ? 0 : row->cpu > 1 ? 1 : row->cpu;
}

/* The running figures: hv's snapshot when CACHED, else asked of QEMU. */
static void row_status(struct app *app, int cached, struct qrow *row)
{
	char err[256];

	if (app->hv && cached)
		hv_vm_status_cached(app->hv, row->vmid, &row->st);
	else if (!app->hv || hv_vm_status(app->hv, row->vmid, &row->st, err, sizeof(err)) < 0)
		memset(&row->st, 0, sizeof(row->st));
	row_cpu(row);
}

static void row_fill(struct app *app, int vmid, const struct qvm *vm, unsigned host_cpus,
		     int cached, struct qrow *row)
{
	struct qemu_rowconf rc;

	memset(row, 0, sizeof(*row));
	qemu_rowconf(vmid, vm, &rc);
	row_from_conf(row, vmid, &rc, host_cpus);
	row_status(app, cached, row);
}

static cJSON *row_object(const struct qrow *row)
{
	const struct hv_vm_status *st = &row->st;
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "vmid", row->vmid);
	cJSON_AddStringToObject(o, "name", row->name);
	cJSON_AddNumberToObject(o, "cpus", (double)row->cpus);
	cJSON_AddNumberToObject(o, "maxmem", (double)row->maxmem);
	cJSON_AddNumberToObject(o, "maxdisk", (double)row->maxdisk);
	cJSON_AddNumberToObject(o, "disk", 0);
	cJSON_AddNumberToObject(o, "template", row->is_template);
	if (row->agent)
		cJSON_AddNumberToObject(o, "agent", 1);
	if (row->serial)
		cJSON_AddNumberToObject(o, "serial", 1);
	if (row->tags)
		cJSON_AddStringToObject(o, "tags", row->tags);
	if (row->lock)
		cJSON_AddStringToObject(o, "lock", row->lock);
	cJSON_AddStringToObject(o, "status", st->running ? "running" : "stopped");
	cJSON_AddStringToObject(o, "qmpstatus", st->running ? st->qmpstatus : "stopped");
	cJSON_AddNumberToObject(o, "cpu", row->cpu);
	cJSON_AddNumberToObject(o, "mem", (double)st->rss_bytes);
	cJSON_AddNumberToObject(o, "uptime", (double)st->uptime_s);
	cJSON_AddNumberToObject(o, "netin", (double)st->netin);
	cJSON_AddNumberToObject(o, "netout", (double)st->netout);
	cJSON_AddNumberToObject(o, "diskread", (double)st->diskread);
	cJSON_AddNumberToObject(o, "diskwrite", (double)st->diskwrite);
	if (st->running) {
		cJSON_AddNumberToObject(o, "pid", (double)st->pid);
		cJSON_AddStringToObject(o, "running-qemu", st->qemu_version);
	}
	if (st->running && st->balloon_bytes)
		cJSON_AddNumberToObject(o, "balloon", (double)st->balloon_bytes);
	return o;
}

cJSON *qemu_vmstatus(struct app *app, int vmid, const struct qvm *vm, unsigned host_cpus,
		     int cached)
{
	struct qrow row;

	row_fill(app, vmid, vm, host_cpus, cached, &row);
	return row_object(&row);
}

/* ---- list rows as JSON text ---------------------------------------------------- */

/* ,"KEY": (keys are plain ASCII literals).  The writers below append
 * pieces instead of formatting: printf was the main cost of 500 rows. */
static void json_key(struct buf *b, const char *key)
{
	buf_append(b, ",\"", 2);
	buf_puts(b, key);
	buf_append(b, "\":", 2);
}

/* A JSON string as cJSON writes it: quotes, backslashes and control
 * characters escaped, other bytes as they are. */
static void json_str(struct buf *b, const char *key, const char *s)
{
	json_key(b, key);
	buf_append(b, "\"", 1);
	while (*s) {
		size_t n = 0;
		char esc[8];

		while (s[n] && s[n] != '"' && s[n] != '\\' && (unsigned char)s[n] >= 0x20)
			n++;
		buf_append(b, s, n);
		s += n;
		if (!*s)
			break;
		if (*s == '"' || *s == '\\')
			snprintf(esc, sizeof(esc), "\\%c", *s);
		else
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char)*s);
		buf_puts(b, esc);
		s++;
	}
	buf_append(b, "\"", 1);
}

static void json_u64(struct buf *b, const char *key, uint64_t v)
{
	char d[24];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (key) /* NULL: the bare number */
		json_key(b, key);
	buf_append(b, d + i, sizeof(d) - i);
}

static void json_cpu(struct buf *b, double cpu)
{
	if (cpu > 0)
		buf_printf(b, ",\"cpu\":%.6g", cpu); /* running VMs only */
	else
		buf_puts(b, ",\"cpu\":0");
}

/* The figures both row kinds share, in the order vmstatus has them. */
static void json_counters(struct buf *b, const struct hv_vm_status *st)
{
	json_u64(b, "mem", st->rss_bytes);
	json_u64(b, "uptime", st->uptime_s);
	json_u64(b, "netin", st->netin);
	json_u64(b, "netout", st->netout);
	json_u64(b, "diskread", st->diskread);
	json_u64(b, "diskwrite", st->diskwrite);
}

static void json_list_row(struct buf *b, const struct qrow *row)
{
	const struct hv_vm_status *st = &row->st;

	buf_puts(b, "{\"vmid\":");
	json_u64(b, NULL, (uint64_t)row->vmid);
	json_str(b, "name", row->name);
	json_u64(b, "cpus", (uint64_t)row->cpus);
	json_u64(b, "maxmem", row->maxmem);
	json_u64(b, "maxdisk", row->maxdisk);
	json_u64(b, "disk", 0);
	json_u64(b, "template", (uint64_t)row->is_template);
	if (row->agent)
		buf_puts(b, ",\"agent\":1");
	if (row->serial)
		buf_puts(b, ",\"serial\":1");
	if (row->tags)
		json_str(b, "tags", row->tags);
	if (row->lock)
		json_str(b, "lock", row->lock);
	json_str(b, "status", st->running ? "running" : "stopped");
	json_str(b, "qmpstatus", st->running ? st->qmpstatus : "stopped");
	json_cpu(b, row->cpu);
	json_counters(b, st);
	if (st->running) {
		json_u64(b, "pid", (uint64_t)st->pid);
		json_str(b, "running-qemu", st->qemu_version);
	}
	if (st->running && st->balloon_bytes)
		json_u64(b, "balloon", st->balloon_bytes);
	buf_puts(b, "}");
}

/* Proxmox's /cluster/resources VM row. */
static void json_resource_row(struct buf *b, const struct qrow *row, const char *node)
{
	buf_puts(b, "{\"id\":\"qemu/");
	json_u64(b, NULL, (uint64_t)row->vmid);
	buf_puts(b, "\",\"type\":\"qemu\"");
	json_str(b, "node", node);
	json_u64(b, "maxcpu", (uint64_t)row->cpus);
	json_u64(b, "vmid", (uint64_t)row->vmid);
	json_str(b, "name", row->name);
	json_str(b, "status", row->st.running ? "running" : "stopped");
	json_u64(b, "template", (uint64_t)row->is_template);
	json_cpu(b, row->cpu);
	json_u64(b, "maxmem", row->maxmem);
	json_u64(b, "maxdisk", row->maxdisk);
	buf_puts(b, ",\"disk\":0");
	json_counters(b, &row->st);
	if (row->tags)
		json_str(b, "tags", row->tags);
	if (row->lock)
		json_str(b, "lock", row->lock);
	buf_puts(b, "}");
}

cJSON *qemu_list_row(struct app *app, int vmid, const struct qvm *vm, unsigned host_cpus,
		     const char *node)
{
	struct buf b = BUF_INIT;
	struct qrow row;
	cJSON *raw = NULL;

	row_fill(app, vmid, vm, host_cpus, 1, &row);
	if (buf_reserve(&b, 4096) < 0)
		return NULL;
	if (node)
		json_resource_row(&b, &row, node);
	else
		json_list_row(&b, &row);
	if (b.len && b.data[b.len - 1] == '}') /* complete: no append ran out of memory */
		raw = cJSON_CreateRaw(b.data);
	buf_free(&b);
	return raw;
}

void qemu_row_status(struct app *app, int vmid, struct hv_vm_status *st)
{
	memset(st, 0, sizeof(*st));
	if (app->hv)
		hv_vm_status_cached(app->hv, vmid, st);
}

void qemu_row_text(int vmid, const struct qemu_rowconf *rc, unsigned host_cpus, const char *node,
		   const struct hv_vm_status *st, struct buf *b)
{
	struct qrow row;

	memset(&row, 0, sizeof(row));
	row_from_conf(&row, vmid, rc, host_cpus);
	row.st = *st;
	row_cpu(&row);
	if (node)
		json_resource_row(b, &row, node);
	else
		json_list_row(b, &row);
}

int api_qemu_status_current(struct req *req, struct resp *resp)
{
	int vmid = qemu_vmid(req), r = api_node_check(req, resp);
	struct qvm vm;
	cJSON *ha;

	if (r < 0)
		return r;
	if ((r = qvm_read(req->app, vmid, &vm)) < 0)
		return r == CR_ENOTFOUND ? qemu_no_such_vm(req, resp, vmid)
					 : resp_error(resp, r, "%s", err_str(r));
	resp->data = qemu_vmstatus(req->app, vmid, &vm, qemu_host_cpus(), 0);
	ha = cJSON_AddObjectToObject(resp->data, "ha");
	cJSON_AddNumberToObject(ha, "managed", 0);
	if (cJSON_GetObjectItem(resp->data, "pid")) {
		const char *machine = vmconf_get(vm.conf, "machine");

		cJSON_AddStringToObject(resp->data, "running-machine", machine ? machine : "pc");
	}
	qvm_clear(&vm);
	return 0;
}

int api_qemu_status_index(struct req *req, struct resp *resp)
{
	static const char *const subdirs[] = {"current",  "reboot", "reset", "resume",
					      "shutdown", "start",  "stop",  "suspend"};
	struct qvm vm;
	int r = api_node_check(req, resp);

	if (r == 0 && (r = qvm_read(req->app, qemu_vmid(req), &vm)) == CR_ENOTFOUND)
		return qemu_no_such_vm(req, resp, qemu_vmid(req));
	if (r < 0)
		return r;
	qvm_clear(&vm);
	resp->data = cJSON_CreateArray();
	for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++) {
		cJSON *row = cJSON_CreateObject();

		cJSON_AddStringToObject(row, "subdir", subdirs[i]);
		cJSON_AddItemToArray(resp->data, row);
	}
	return 0;
}

/* ---- power operations ------------------------------------------------------- */

struct power_arg {
	int vmid;
	int timeout_s; /* -1: the operation's default */
	int force;     /* shutdown: forceStop */
};

/* Loads the VM, applies its pending changes (stored at once) and resolves
 * its disks: what start and reboot run QEMU with. */
static int prepare_start(struct task *t, int vmid, struct qvm *vm, struct qemu_disks *disks)
{
	struct app *app = task_app(t);
	struct store_txn *txn;
	char err[512] = "";
	int r = store_begin(app->store, 0, &txn);

	if (r < 0)
		return task_fail(t, r, "cannot read the configuration: %s", err_str(r));
	if ((r = qvm_load(txn, vmid, vm)) < 0) {
		store_abort(txn);
		return task_fail(t, r,
				 "Configuration file 'nodes/%s/qemu-server/%d.conf' does "
				 "not exist",
				 app->cfg.node, vmid);
	}
	/* a resume from a saved state needs the hardware it was saved with */
	if ((vmconf_count(vm->pending) || vmconf_count(vm->pdel)) &&
	    !vmconf_get(vm->conf, "vmstate")) {
		task_log(t, "applying pending changes");
		qemu_cloudinit_retire_pending(app, vmid, vm);
		if ((r = qvm_apply_pending(vm)) < 0 || (r = qvm_save(txn, vmid, vm)) < 0) {
			store_abort(txn);
			qvm_clear(vm);
			return task_fail(t, r, "cannot apply pending changes: %s", err_str(r));
		}
	}
	if ((r = store_commit(txn)) == 0 && (r = qemu_cloudinit_start(t, vmid, vm->conf)) == 0 &&
	    (r = qemu_resolve_disks(app, vm->conf, disks, err, sizeof(err))) < 0)
		task_fail(t, r, "%s", err);
	if (r < 0)
		qvm_clear(vm);
	return r;
}

static void log_accel(struct task *t)
{
	const char *accel = hv_accel(task_app(t)->hv);

	task_log(t, "accelerator: -accel %s%s", accel,
		 strcmp(accel, "tcg") == 0 ? " (no usable /dev/kvm)" : "");
}

/* Corral keeps no firewall rules: firewall=1 is stored for Proxmox clients
 * but filters nothing (as Proxmox with the datacenter firewall off, its
 * default).  The start log says so rather than staying silent. */
static void log_firewall(struct task *t, const struct vmconf *c)
{
	for (size_t i = 0; i < vmconf_count(c); i++) {
		struct vmconf_net n;
		char err[256];

		if (strncmp(vmconf_key_at(c, i), "net", 3) == 0 &&
		    vmconf_net_parse(vmconf_key_at(c, i), vmconf_value_at(c, i), &n, err,
				     sizeof(err)) == 0 && n.firewall)
			task_log(t, "%s: firewall=1 has no effect: Corral applies no packet filter",
				 vmconf_key_at(c, i));
	}
}

int qemu_task_start(struct task *t, int vmid, int timeout_s)
{
	struct app *app = task_app(t);
	struct qemu_disks *disks = calloc(1, sizeof(*disks));
	char err[2048] = "";
	struct qvm vm;
	int r;

	if (!disks)
		return task_fail(t, -ENOMEM, "out of memory");
	if (!app->hv)
		r = task_fail(t, CR_EUNSUPPORTED, "this node cannot run VMs");
	else if (hv_vm_running(app->hv, vmid))
		r = task_fail(t, CR_EEXISTS, "VM %d already running", vmid);
	else if ((r = prepare_start(t, vmid, &vm, disks)) == 0) {
		log_accel(t);
		log_firewall(t, vm.conf);
		if (vmconf_get(vm.conf, "vmstate"))
			r = qemu_start_from_state(t, vmid, vm.conf, disks, timeout_s);
		else
			r = hv_vm_start(app->hv, vmid, vm.conf, disks->d, disks->n,
					timeout_s * 1000, err, sizeof(err));
		if (r < 0 && err[0])
			task_fail(t, r, "start failed: %s", err);
		else if (r == 0)
			task_log(t, "VM %d started", vmid);
		qvm_clear(&vm);
	}
	free(disks);
	return r;
}

static int start_task(struct task *t, void *opaque)
{
	const struct power_arg *a = opaque;

	return qemu_task_start(t, a->vmid,
			       a->timeout_s > 0 ? a->timeout_s : QEMU_START_TIMEOUT_MS / 1000);
}

/* A finished hv call: 0, or the task's failure with hv's message. */
static int hv_result(struct task *t, int r, const char *err)
{
	if (r == CR_ENOTRUNNING)
		return task_fail(t, r, "%s", err[0] ? err : "VM not running");
	return r < 0 ? task_fail(t, r, "%s", err[0] ? err : err_str(r)) : 0;
}

static int stop_task(struct task *t, void *opaque)
{
	const struct power_arg *a = opaque;
	char err[512] = "";

	if (!qemu_running(task_app(t), a->vmid)) {
		task_log(t, "VM %d is not running", a->vmid);
		return 0;
	}
	return hv_result(t,
			 hv_vm_stop(task_app(t)->hv, a->vmid,
				    (a->timeout_s >= 0 ? a->timeout_s : STOP_TIMEOUT_S) * 1000, err,
				    sizeof(err)),
			 err);
}

/* As Proxmox: a VM with the agent enabled is shut down through the agent
 * (guest-shutdown); 1 if the agent took the command, 0 to use ACPI (no
 * agent configured, or none answering). */
static int agent_shutdown(struct task *t, int vmid)
{
	struct qvm vm;
	char err[256];
	int on;

	if (qvm_read(task_app(t), vmid, &vm) < 0)
		return 0;
	on = qemu_agent_enabled(vm.conf);
	qvm_clear(&vm);
	if (on && hv_vm_agent(task_app(t)->hv, vmid, "guest-shutdown", NULL, AGENT_SEND_MS, NULL, err,
			      sizeof(err)) < 0) {
		task_log(t, "guest agent: %s", err);
		on = 0;
	}
	return on;
}

static int shutdown_task(struct task *t, void *opaque)
{
	const struct power_arg *a = opaque;
	int timeout = a->timeout_s >= 0 ? a->timeout_s : SHUTDOWN_TIMEOUT_S;
	char err[512] = "";
	int r;

	if (!qemu_running(task_app(t), a->vmid)) {
		task_log(t, "VM %d is not running", a->vmid);
		return 0;
	}
	if (agent_shutdown(t, a->vmid)) {
		task_log(t, "the guest agent shuts the guest down, waiting up to %d s", timeout);
		r = hv_vm_await_shutdown(task_app(t)->hv, a->vmid, timeout * 1000, a->force, err,
					 sizeof(err));
	} else {
		task_log(t, "sending ACPI power-down, waiting up to %d s", timeout);
		r = hv_vm_shutdown(task_app(t)->hv, a->vmid, timeout * 1000, a->force, err,
				   sizeof(err));
	}
	if (r == CR_ETIMEOUT)
		return task_fail(t, r, "VM quit/powerdown failed - got timeout");
	return hv_result(t, r, err);
}

static int reboot_task(struct task *t, void *opaque)
{
	const struct power_arg *a = opaque;
	struct qemu_disks *disks = calloc(1, sizeof(*disks));
	char err[2048] = "";
	struct qvm vm;
	int r;

	if (!disks)
		return task_fail(t, -ENOMEM, "out of memory");
	if ((r = prepare_start(t, a->vmid, &vm, disks)) == 0) {
		log_accel(t);
		r = hv_vm_reboot(task_app(t)->hv, a->vmid, vm.conf, disks->d, disks->n,
				 (a->timeout_s >= 0 ? a->timeout_s : SHUTDOWN_TIMEOUT_S) * 1000,
				 err, sizeof(err));
		r = hv_result(t, r, err);
		qvm_clear(&vm);
	}
	free(disks);
	return r;
}

static int reset_task(struct task *t, void *opaque)
{
	char err[512] = "";
	const struct power_arg *a = opaque;

	return hv_result(t, hv_vm_reset(task_app(t)->hv, a->vmid, err, sizeof(err)), err);
}

static int suspend_task(struct task *t, void *opaque)
{
	char err[512] = "";
	const struct power_arg *a = opaque;

	return hv_result(t, hv_vm_suspend(task_app(t)->hv, a->vmid, err, sizeof(err)), err);
}

static int resume_task(struct task *t, void *opaque)
{
	char err[512] = "";
	const struct power_arg *a = opaque;

	return hv_result(t, hv_vm_resume(task_app(t)->hv, a->vmid, err, sizeof(err)), err);
}

struct power_op {
	const char *type; /* Proxmox's task type */
	int need_running; /* refused at once for a stopped VM ("VM 100 not running") */
	int need_hv;	  /* needs a node that can run VMs */
	task_fn fn;
};

enum { OP_START, OP_STOP, OP_SHUTDOWN, OP_REBOOT, OP_RESET, OP_SUSPEND, OP_RESUME };

static const struct power_op power_ops[] = {
    [OP_START] = {"qmstart", 0, 1, start_task},
    [OP_STOP] = {"qmstop", 0, 0, stop_task},
    [OP_SHUTDOWN] = {"qmshutdown", 0, 0, shutdown_task},
    [OP_REBOOT] = {"qmreboot", 1, 1, reboot_task},
    [OP_RESET] = {"qmreset", 1, 1, reset_task},
    [OP_SUSPEND] = {"qmpause", 1, 1, suspend_task},
    [OP_RESUME] = {"qmresume", 1, 1, resume_task},
};

/* A VM suspended to disk carries the lock "suspended"; start resumes it. */
static int check_vm_for(struct req *req, struct resp *resp, int vmid, const struct power_op *op)
{
	struct qvm vm;
	int r;

	if (op != &power_ops[OP_START])
		return qemu_check_vm(req, resp, vmid);
	if ((r = api_node_check(req, resp)) < 0)
		return r;
	if ((r = qvm_read(req->app, vmid, &vm)) < 0)
		return r == CR_ENOTFOUND ? qemu_no_such_vm(req, resp, vmid)
					 : resp_error(resp, r, "%s", err_str(r));
	r = strcmp(vm.lock, "suspended") == 0 ? 0 : qemu_check_lock(req, resp, vmid, &vm);
	qvm_clear(&vm);
	return r;
}

/* The checks Proxmox makes before forking the worker. */
static int power_precheck(struct req *req, struct resp *resp, int vmid, const struct power_op *op)
{
	int r = check_vm_for(req, resp, vmid, op);

	if (r < 0)
		return r;
	if (op->need_running && !qemu_running(req->app, vmid))
		return resp_error(resp, CR_ENOTRUNNING, "VM %d not running", vmid);
	if (op->need_hv && !req->app->hv)
		return resp_error(resp, CR_EUNSUPPORTED, "this node cannot run VMs");
	return 0;
}

static int power_request(struct req *req, struct resp *resp, int which)
{
	const struct power_op *op = &power_ops[which];
	int vmid = qemu_vmid(req), r = power_precheck(req, resp, vmid, op);
	struct power_arg *a;

	if (r < 0)
		return r;
	if (which == OP_SUSPEND && req_bool(req, "todisk", 0))
		return qemu_suspend_todisk(req, resp, vmid);
	if (!(a = calloc(1, sizeof(*a))))
		return resp_error(resp, -ENOMEM, "out of memory");
	a->vmid = vmid;
	a->timeout_s = (int)req_int(req, "timeout", -1);
	a->force = req_bool(req, "forceStop", 0);
	return qemu_task(req, resp, op->type, vmid, op->fn, a, free, 0);
}

int api_qemu_start(struct req *req, struct resp *resp)
{
	return power_request(req, resp, OP_START);
}

int api_qemu_stop(struct req *req, struct resp *resp)
{
	return power_request(req, resp, OP_STOP);
}

int api_qemu_shutdown(struct req *req, struct resp *resp)
{
	return power_request(req, resp, OP_SHUTDOWN);
}

int api_qemu_reboot(struct req *req, struct resp *resp)
{
	return power_request(req, resp, OP_REBOOT);
}

int api_qemu_reset(struct req *req, struct resp *resp)
{
	return power_request(req, resp, OP_RESET);
}

int api_qemu_suspend(struct req *req, struct resp *resp)
{
	return power_request(req, resp, OP_SUSPEND);
}

int api_qemu_resume(struct req *req, struct resp *resp)
{
	return power_request(req, resp, OP_RESUME);
}
