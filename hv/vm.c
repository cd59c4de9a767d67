/* The VM table, start and re-attach, power operations and status (see
 * vm.h).  hv/spawn.c starts processes, hv/supervisor.c watches them. */
#include "hv/vm_int.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"

#define QMP_TIMEOUT_MS 5000   /* ordinary commands */
#define ATTACH_TIMEOUT_MS 5000

/* Run-directory files a VM owns while it runs (logs are kept). */
static const char *const run_files[] = { "pid", "qmp", "vnc", "qga", "serial0", "serial1",
					 "serial2", "serial3" };

/* ---- context and table ------------------------------------------------------- */

int hv_new(const struct hv_config *cfg, struct hv **out, char *err, size_t errlen)
{
	struct hv *h = calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	if (util_strlcpy(h->run_dir, cfg->run_dir, sizeof(h->run_dir)) < 0 ||
	    util_strlcpy(h->qemu, cfg->qemu_binary ? cfg->qemu_binary : "qemu-system-x86_64",
			 sizeof(h->qemu)) < 0) {
		snprintf(err, errlen, "path too long");
		free(h);
		return -ENAMETOOLONG;
	}
	r = util_mkdir_p(h->run_dir, 0750);
	if (r < 0) {
		snprintf(err, errlen, "mkdir %s: %s", h->run_dir, strerror(-r));
		free(h);
		return r;
	}
	h->kvm = !cfg->force_tcg && hv_kvm_usable();
	h->on_event = cfg->on_event;
	h->opaque = cfg->opaque;
	h->stats_period_ms = cfg->stats_period_ms;
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->changed, &ca);
	pthread_condattr_destroy(&ca);
	r = hv_supervisor_start(h);
	if (r < 0) {
		snprintf(err, errlen, "supervisor thread: %s", strerror(-r));
		free(h);
		return r;
	}
	r = hv_stats_start(h);
	if (r < 0) {
		snprintf(err, errlen, "stats thread: %s", strerror(-r));
		hv_supervisor_stop(h);
		free(h);
		return r;
	}
	*out = h;
	return 0;
}

void hv_free(struct hv *h)
{
	struct hv_vm **vms;
	size_t n;

	if (!h)
		return;
	hv_stats_stop(h);
	hv_supervisor_stop(h);
	pthread_mutex_lock(&h->lock);
	vms = h->vms;
	n = h->nvms;
	h->vms = NULL;
	h->nvms = 0;
	pthread_mutex_unlock(&h->lock);
	for (size_t i = 0; i < n; i++)
		hv_vm_put(vms[i]);
	free(vms);
	pthread_cond_destroy(&h->changed);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

const char *hv_accel(const struct hv *h)
{
	return h->kvm ? "kvm" : "tcg";
}

static struct hv_vm *find_locked(struct hv *h, int vmid)
{
	for (size_t i = 0; i < h->nvms; i++)
		if (h->vms[i]->vmid == vmid)
			return h->vms[i];
	return NULL;
}

struct hv_vm *hv_vm_get(struct hv *h, int vmid)
{
	struct hv_vm *vm;

	pthread_mutex_lock(&h->lock);
	vm = find_locked(h, vmid);
	if (vm)
		vm->refs++;
	pthread_mutex_unlock(&h->lock);
	return vm;
}

static void vm_destroy(struct hv_vm *vm)
{
	qmp_client_free(vm->qmp);
	if (vm->pidfd >= 0)
		close(vm->pidfd);
	free(vm);
}

void hv_vm_put(struct hv_vm *vm)
{
	int last;

	pthread_mutex_lock(&vm->h->lock);
	last = --vm->refs == 0;
	pthread_mutex_unlock(&vm->h->lock);
	if (last)
		vm_destroy(vm);
}

static int table_add_locked(struct hv *h, struct hv_vm *vm)
{
	if (h->nvms == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 16;
		struct hv_vm **v = realloc(h->vms, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		h->vms = v;
		h->cap = cap;
	}
	h->vms[h->nvms++] = vm;
	return 0;
}

/* Under h->lock; returns 1 if VM was in the table (its reference moves to
 * the caller). */
static int table_remove_locked(struct hv *h, struct hv_vm *vm)
{
	for (size_t i = 0; i < h->nvms; i++) {
		if (h->vms[i] == vm) {
			h->vms[i] = h->vms[--h->nvms];
			return 1;
		}
	}
	return 0;
}

void hv_emit(struct hv *h, const struct hv_event *ev)
{
	if (h->on_event)
		h->on_event(h->opaque, ev);
}

static void on_qmp_event(void *opaque, const struct qmp_msg *m)
{
	struct hv_vm *vm = opaque;
	const cJSON *guest = cJSON_GetObjectItemCaseSensitive(m->data, "guest");
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(m->data, "reason");
	struct hv_event ev = {
		.vmid = vm->vmid, .type = HV_EV_QMP, .qmp_kind = m->kind, .name = m->event,
		.guest = cJSON_IsTrue(guest), .wait_status = -1,
		.reason = cJSON_IsString(reason) ? reason->valuestring : "",
	};

	hv_vm_note_event(vm, m->kind);
	hv_emit(vm->h, &ev);
}

/* ---- run directory --------------------------------------------------------------- */

static void run_path(const struct hv *h, int vmid, const char *what, char *out, size_t n)
{
	if (hv_run_path(out, n, h->run_dir, vmid, what) < 0)
		out[0] = '\0';
}

static void remove_run_files(const struct hv *h, int vmid)
{
	char path[600];

	for (size_t i = 0; i < ARRAY_SIZE(run_files); i++) {
		run_path(h, vmid, run_files[i], path, sizeof(path));
		unlink(path);
	}
}

static void remove_serial_logs(const struct hv *h, int vmid)
{
	char what[32], path[600];

	for (int i = 0; i <= 3; i++) {
		snprintf(what, sizeof(what), "serial%d.log", i);
		run_path(h, vmid, what, path, sizeof(path));
		unlink(path);
	}
}

static int reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1; /* ECHILD: started by an earlier daemon */
	return status;
}

void hv_vm_exited(struct hv_vm *vm)
{
	struct hv *h = vm->h;
	struct hv_event ev = { .vmid = vm->vmid, .type = HV_EV_EXITED, .name = "EXITED",
			       .reason = "" };
	int was_listed;

	pthread_mutex_lock(&h->lock);
	if (vm->exiting) {
		pthread_mutex_unlock(&h->lock);
		return;
	}
	vm->exiting = 1;
	pthread_mutex_unlock(&h->lock);
	ev.wait_status = reap(vm->pid);
	remove_run_files(h, vm->vmid);
	hv_tap_teardown(vm->vmid);
	/* gone and out of the table at once: waiters then see a stopped VM */
	pthread_mutex_lock(&h->lock);
	was_listed = table_remove_locked(h, vm);
	vm->gone = 1;
	pthread_cond_broadcast(&h->changed);
	pthread_mutex_unlock(&h->lock);
	hv_emit(h, &ev);
	if (was_listed)
		hv_vm_put(vm);
}

static struct hv_vm *vm_alloc(struct hv *h, int vmid, pid_t pid)
{
	struct hv_vm *vm = calloc(1, sizeof(*vm));

	if (vm)
		*vm = (struct hv_vm){ .h = h, .vmid = vmid, .pid = pid, .pidfd = -1, .refs = 1 };
	return vm;
}

static int vm_connect(struct hv_vm *vm, int timeout_ms, char *err, size_t errlen)
{
	char path[600];

	run_path(vm->h, vm->vmid, "qmp", path, sizeof(path));
	return qmp_client_connect(path, timeout_ms, on_qmp_event, vm, &vm->qmp, err, errlen);
}

/* Puts a connected VM under supervision; on failure VM is destroyed. */
static int vm_register(struct hv_vm *vm, char *err, size_t errlen)
{
	struct hv *h = vm->h;
	int r;

	vm->pidfd = hv_pidfd_open(vm->pid);
	if (vm->pidfd < 0) {
		r = vm->pidfd;
		snprintf(err, errlen, "pidfd_open(%d): %s", (int)vm->pid, strerror(-r));
		goto out_destroy;
	}
	pthread_mutex_lock(&h->lock);
	r = find_locked(h, vm->vmid) ? CR_EEXISTS : table_add_locked(h, vm);
	pthread_mutex_unlock(&h->lock);
	if (r == CR_EEXISTS)
		snprintf(err, errlen, "VM %d is already running", vm->vmid);
	if (r < 0)
		goto out_destroy;
	hv_supervisor_wake(h);
	return 0;
out_destroy:
	vm_destroy(vm);
	return r;
}

/* ---- start --------------------------------------------------------------------- */

/* QEMU's own words from <vmid>.log, last lines first trimmed to fit. */
void hv_log_tail(const struct hv *h, int vmid, char *out, size_t n)
{
	char path[600], *text = NULL;
	size_t len = 0;

	out[0] = '\0';
	run_path(h, vmid, "log", path, sizeof(path));
	if (util_read_file(path, 64 << 10, &text, &len) < 0)
		return;
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	snprintf(out, n, "%s", len > n - 1 ? text + len - (n - 1) : text);
	free(text);
}

static int early_exit(struct hv *h, int vmid, int status, char *err, size_t errlen)
{
	char msg[1024];

	hv_log_tail(h, vmid, msg, sizeof(msg));
	if (WIFEXITED(status))
		snprintf(err, errlen, "start failed: QEMU exited with code %d%s%s",
			 WEXITSTATUS(status), msg[0] ? ": " : "", msg);
	else
		snprintf(err, errlen, "start failed: QEMU killed by signal %d%s%s",
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0, msg[0] ? ": " : "", msg);
	remove_run_files(h, vmid);
	return -EIO;
}

/* Polls for the QMP socket (every 1 to 2 ms: a failed connect costs
 * microseconds, and start latency is measured) until QEMU answers, exits,
 * or the deadline passes. */
static int wait_qmp(struct hv_vm *vm, uint64_t deadline, char *err, size_t errlen)
{
	useconds_t pause_us = 1000;

	for (;;) {
		int status, r = vm_connect(vm, 1000, err, errlen);

		if (r == 0)
			return 0;
		if (waitpid(vm->pid, &status, WNOHANG) == vm->pid)
			return early_exit(vm->h, vm->vmid, status, err, errlen);
		if (util_now_ms() >= deadline) {
			snprintf(err, errlen, "start failed: QEMU did not answer on QMP in time");
			kill(vm->pid, SIGKILL);
			reap(vm->pid);
			remove_run_files(vm->h, vm->vmid);
			return CR_ETIMEOUT;
		}
		usleep(pause_us);
		pause_us = 2000;
	}
}

static int prepare_start(struct hv *h, int vmid, char *err, size_t errlen)
{
	struct hv_vm *running = hv_vm_get(h, vmid);

	if (running) {
		hv_vm_put(running);
		snprintf(err, errlen, "VM %d already running", vmid);
		return CR_EEXISTS;
	}
	if (hv_vm_attach(h, vmid, err, errlen) == 0) { /* left by an earlier daemon */
		snprintf(err, errlen, "VM %d already running", vmid);
		return CR_EEXISTS;
	}
	remove_run_files(h, vmid);
	remove_serial_logs(h, vmid);
	return 0;
}

static int spawn_vm(struct hv *h, int vmid, char **argv, int timeout_ms, char *err,
		    size_t errlen)
{
	char log[600];
	struct hv_vm *vm;
	pid_t pid;
	int r;

	run_path(h, vmid, "log", log, sizeof(log));
	r = hv_spawn(argv, log, &pid, err, errlen);
	if (r < 0)
		return r;
	vm = vm_alloc(h, vmid, pid);
	if (!vm) {
		kill(pid, SIGKILL);
		reap(pid);
		return -ENOMEM;
	}
	r = wait_qmp(vm, util_now_ms() + (uint64_t)timeout_ms, err, errlen);
	if (r < 0) {
		vm_destroy(vm);
		return r;
	}
	hv_vm_refresh(vm, 0); /* QEMU runs (no -S): the /proc figures are enough */
	return vm_register(vm, err, errlen);
}

/* QEMU has no command-line switch for a NIC without carrier: link_down=1
 * is applied over QMP as soon as the VM answers. */
static int apply_link_down(struct hv *h, int vmid, const struct vmconf *conf, char *err,
			   size_t errlen)
{
	for (size_t i = 0; i < vmconf_count(conf); i++) {
		const char *k = vmconf_key_at(conf, i);
		struct vmconf_net n;
		cJSON *args;
		int r;

		if (strncmp(k, "net", 3) != 0 ||
		    vmconf_net_parse(k, vmconf_value_at(conf, i), &n, err, errlen) < 0 || !n.link_down)
			continue;
		args = cJSON_CreateObject();
		if (!args || !cJSON_AddStringToObject(args, "name", k) ||
		    !cJSON_AddBoolToObject(args, "up", 0))
			r = -ENOMEM;
		else
			r = hv_vm_qmp(h, vmid, "set_link", args, QMP_TIMEOUT_MS, NULL, err, errlen);
		cJSON_Delete(args);
		if (r < 0)
			return r;
	}
	return 0;
}

static int start_vm(struct hv *h, int vmid, const struct vmconf *conf,
		    const struct hv_disk_path *disks, size_t ndisks, int incoming, int timeout_ms,
		    char *err, size_t errlen)
{
	struct hv_argv_opts o = { .vmid = vmid, .conf = conf, .disks = disks, .ndisks = ndisks,
				  .run_dir = h->run_dir, .qemu_binary = h->qemu, .kvm = h->kvm,
				  .incoming = incoming };
	char **argv = NULL, ignored[256];
	int r;

	r = prepare_start(h, vmid, err, errlen);
	if (r < 0)
		return r;
	r = hv_argv_build(&o, &argv, err, errlen);
	if (r < 0)
		return r;
	r = hv_tap_setup(h, vmid, conf, err, errlen);
	if (r == 0) {
		r = spawn_vm(h, vmid, argv, timeout_ms, err, errlen);
		if (r < 0)
			hv_tap_teardown(vmid);
	}
	if (r == 0) {
		r = apply_link_down(h, vmid, conf, err, errlen);
		if (r < 0) /* half-configured: do not leave it running */
			hv_vm_stop(h, vmid, QMP_TIMEOUT_MS, ignored, sizeof(ignored));
	}
	hv_argv_free(argv);
	return r;
}

int hv_vm_start(struct hv *h, int vmid, const struct vmconf *conf,
		const struct hv_disk_path *disks, size_t ndisks, int timeout_ms, char *err,
		size_t errlen)
{
	return start_vm(h, vmid, conf, disks, ndisks, 0, timeout_ms, err, errlen);
}

int hv_vm_start_incoming(struct hv *h, int vmid, const struct vmconf *conf,
			 const struct hv_disk_path *disks, size_t ndisks, int timeout_ms,
			 char *err, size_t errlen)
{
	return start_vm(h, vmid, conf, disks, ndisks, 1, timeout_ms, err, errlen);
}

/* ---- re-attach ---------------------------------------------------------------- */

static int read_pidfile(const char *path, pid_t *pid)
{
	char *text = NULL;
	size_t len;
	int64_t v;
	int r = util_read_file(path, 64, &text, &len);

	if (r < 0)
		return r;
	text[strcspn(text, "\n")] = '\0';
	r = util_parse_i64(text, &v) == 0 && v > 1 && v <= INT32_MAX ? 0 : -EINVAL;
	*pid = (pid_t)v;
	free(text);
	return r;
}

/* The pid must be a QEMU started with this very pidfile. */
static int is_our_qemu(pid_t pid, const char *pidfile)
{
	char path[64], *cmdline = NULL;
	size_t len = 0;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (util_read_file(path, 1 << 20, &cmdline, &len) < 0)
		return 0;
	ok = hv_cmdline_has(cmdline, len, pidfile);
	free(cmdline);
	return ok;
}

int hv_vm_attach(struct hv *h, int vmid, char *err, size_t errlen)
{
	char pidfile[600];
	struct hv_vm *vm = hv_vm_get(h, vmid);
	pid_t pid;
	int r;

	if (vm) {
		hv_vm_put(vm);
		return 0;
	}
	run_path(h, vmid, "pid", pidfile, sizeof(pidfile));
	if (read_pidfile(pidfile, &pid) < 0 || !is_our_qemu(pid, pidfile)) {
		snprintf(err, errlen, "VM %d not running", vmid);
		return CR_ENOTRUNNING;
	}
	vm = vm_alloc(h, vmid, pid);
	if (!vm)
		return -ENOMEM;
	r = vm_connect(vm, ATTACH_TIMEOUT_MS, err, errlen);
	if (r < 0) {
		vm_destroy(vm);
		return r;
	}
	hv_vm_refresh(vm, 1); /* it may be paused */
	return vm_register(vm, err, errlen);
}

static int vmid_of_pidfile(const char *name)
{
	int64_t v;
	char num[16];
	size_t n = strcspn(name, ".");

	if (n == 0 || n >= sizeof(num) || strcmp(name + n, ".pid") != 0)
		return -1;
	memcpy(num, name, n);
	num[n] = '\0';
	return util_parse_i64(num, &v) == 0 && v >= 100 && v <= 999999999 ? (int)v : -1;
}

int hv_attach_all(struct hv *h, int *vmids, size_t max, char *err, size_t errlen)
{
	DIR *d = opendir(h->run_dir);
	struct dirent *e;
	size_t n = 0;
	char ignored[256];
	int r;

	if (!d) {
		snprintf(err, errlen, "opendir %s: %s", h->run_dir, strerror(errno));
		return -errno;
	}
	while ((e = readdir(d))) {
		int vmid = vmid_of_pidfile(e->d_name);

		if (vmid < 0)
			continue;
		r = hv_vm_attach(h, vmid, ignored, sizeof(ignored));
		if (r == 0 && n < max)
			vmids[n++] = vmid;
		else if (r == CR_ENOTRUNNING)
			remove_run_files(h, vmid); /* stale: that QEMU is gone */
	}
	closedir(d);
	return (int)n;
}
