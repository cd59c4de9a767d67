/* Power operations and status of running VMs (see vm.h). */
#include "hv/vm_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"

#define QMP_TIMEOUT_MS 5000
#define KILL_WAIT_MS 10000 /* SIGKILL'd QEMU is gone long before this */
#define QUIT_GRACE_MS 5000 /* forceStop: time for "quit" before SIGKILL */
#define AGENT_SYNC_MS 3000 /* a running agent answers guest-sync-delimited at once */

static struct hv_vm *running_vm(struct hv *h, int vmid, char *err, size_t errlen)
{
	struct hv_vm *vm = hv_vm_get(h, vmid);

	if (!vm)
		snprintf(err, errlen, "VM %d not running", vmid);
	return vm;
}

int hv_vm_running(struct hv *h, int vmid)
{
	struct hv_vm *vm = hv_vm_get(h, vmid);

	if (vm)
		hv_vm_put(vm);
	return vm != NULL;
}

/* Waits until the supervisor saw the process go.  1 if gone. */
static int wait_gone(struct hv_vm *vm, int timeout_ms)
{
	struct hv *h = vm->h;
	struct timespec until;
	int gone;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&h->lock);
	while (!vm->gone && pthread_cond_timedwait(&h->changed, &h->lock, &until) == 0)
		;
	gone = vm->gone;
	pthread_mutex_unlock(&h->lock);
	return gone;
}

static int vm_qmp(struct hv_vm *vm, const char *cmd, cJSON **ret, char *err, size_t errlen)
{
	return qmp_client_execute(vm->qmp, cmd, NULL, QMP_TIMEOUT_MS, ret, err, errlen);
}

/* quit, then SIGKILL; both end in the supervisor noticing the exit. */
static int stop_vm(struct hv_vm *vm, int timeout_ms, char *err, size_t errlen)
{
	char ignored[256];

	if (vm_qmp(vm, "quit", NULL, ignored, sizeof(ignored)) < 0 || !wait_gone(vm, timeout_ms))
		kill(vm->pid, SIGKILL);
	if (!wait_gone(vm, KILL_WAIT_MS)) {
		snprintf(err, errlen, "VM %d quit/kill failed - got timeout", vm->vmid);
		return CR_ETIMEOUT;
	}
	return 0;
}

int hv_vm_stop(struct hv *h, int vmid, int timeout_ms, char *err, size_t errlen)
{
	struct hv_vm *vm = running_vm(h, vmid, err, errlen);
	int r;

	if (!vm)
		return CR_ENOTRUNNING;
	r = stop_vm(vm, timeout_ms, err, errlen);
	hv_vm_put(vm);
	return r;
}

/* After the guest was asked to power off (ACPI, or ASK false: its agent). */
static int shutdown_vm(struct hv *h, int vmid, int ask, int timeout_ms, int force_stop,
		       char *err, size_t errlen)
{
	struct hv_vm *vm = running_vm(h, vmid, err, errlen);
	int r;

	if (!vm)
		return CR_ENOTRUNNING;
	r = ask ? vm_qmp(vm, "system_powerdown", NULL, err, errlen) : 0;
	if (r == 0 && !wait_gone(vm, timeout_ms)) {
		if (force_stop)
			r = stop_vm(vm, QUIT_GRACE_MS, err, errlen);
		else {
			snprintf(err, errlen, "VM %d shutdown failed - got timeout", vmid);
			r = CR_ETIMEOUT;
		}
	}
	hv_vm_put(vm);
	return r;
}

int hv_vm_shutdown(struct hv *h, int vmid, int timeout_ms, int force_stop, char *err,
		   size_t errlen)
{
	return shutdown_vm(h, vmid, 1, timeout_ms, force_stop, err, errlen);
}

int hv_vm_await_shutdown(struct hv *h, int vmid, int timeout_ms, int force_stop, char *err,
			 size_t errlen)
{
	return shutdown_vm(h, vmid, 0, timeout_ms, force_stop, err, errlen);
}

int hv_vm_reboot(struct hv *h, int vmid, const struct vmconf *conf,
		 const struct hv_disk_path *disks, size_t ndisks, int timeout_ms, char *err,
		 size_t errlen)
{
	int r = hv_vm_shutdown(h, vmid, timeout_ms, 1, err, errlen);

	if (r < 0)
		return r;
	return hv_vm_start(h, vmid, conf, disks, ndisks, timeout_ms, err, errlen);
}

static int simple_command(struct hv *h, int vmid, const char *cmd, char *err, size_t errlen)
{
	struct hv_vm *vm = running_vm(h, vmid, err, errlen);
	int r;

	if (!vm)
		return CR_ENOTRUNNING;
	r = vm_qmp(vm, cmd, NULL, err, errlen);
	hv_vm_put(vm);
	return r;
}

int hv_vm_reset(struct hv *h, int vmid, char *err, size_t errlen)
{
	return simple_command(h, vmid, "system_reset", err, errlen);
}

int hv_vm_suspend(struct hv *h, int vmid, char *err, size_t errlen)
{
	return simple_command(h, vmid, "stop", err, errlen);
}

int hv_vm_resume(struct hv *h, int vmid, char *err, size_t errlen)
{
	return simple_command(h, vmid, "cont", err, errlen);
}

int hv_vm_qmp(struct hv *h, int vmid, const char *cmd, const cJSON *args, int timeout_ms,
	      cJSON **ret, char *err, size_t errlen)
{
	struct hv_vm *vm = running_vm(h, vmid, err, errlen);
	int r;

	if (!vm)
		return CR_ENOTRUNNING;
	r = qmp_client_execute(vm->qmp, cmd, args, timeout_ms, ret, err, errlen);
	hv_vm_put(vm);
	return r;
}

/* ---- guest agent ----------------------------------------------------------------- */

/* Agent commands that answer nothing when they succeed. */
static const char *const agent_no_reply[] = {
	"guest-shutdown", "guest-suspend-disk", "guest-suspend-ram", "guest-suspend-hybrid",
};

static int agent_replies(const char *cmd)
{
	for (size_t i = 0; i < sizeof(agent_no_reply) / sizeof(agent_no_reply[0]); i++)
		if (strcmp(cmd, agent_no_reply[i]) == 0)
			return 0;
	return 1;
}

int hv_vm_agent(struct hv *h, int vmid, const char *cmd, const cJSON *args, int timeout_ms,
		cJSON **ret, char *err, size_t errlen)
{
	struct hv_vm *vm = running_vm(h, vmid, err, errlen);
	struct qmp_client *c = NULL;
	char path[600];
	int r;

	if (ret)
		*ret = NULL;
	if (!vm)
		return CR_ENOTRUNNING;
	hv_vm_put(vm);
	r = hv_run_path(path, sizeof(path), h->run_dir, vmid, "qga");
	if (r == 0)
		r = qmp_client_connect_agent(path, AGENT_SYNC_MS, &c, err, errlen);
	if (r == 0 && agent_replies(cmd))
		r = qmp_client_execute(c, cmd, args, timeout_ms, ret, err, errlen);
	else if (r == 0)
		r = qmp_client_send(c, cmd, args, timeout_ms, err, errlen);
	qmp_client_free(c);
	return r;
}

/* ---- status -------------------------------------------------------------------- */

void hv_status_qmp(struct hv_vm *vm, struct hv_vm_status *st)
{
	cJSON *ret = NULL, *dev;
	char ignored[256];

	if (vm_qmp(vm, "query-status", &ret, ignored, sizeof(ignored)) == 0) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(ret, "status");

		if (cJSON_IsString(s))
			util_strlcpy(st->qmpstatus, s->valuestring, sizeof(st->qmpstatus));
	}
	cJSON_Delete(ret);
	ret = NULL;
	if (vm_qmp(vm, "query-balloon", &ret, ignored, sizeof(ignored)) == 0) {
		const cJSON *actual = cJSON_GetObjectItemCaseSensitive(ret, "actual");

		st->balloon_bytes = cJSON_IsNumber(actual) ? (uint64_t)actual->valuedouble : 0;
	}
	cJSON_Delete(ret);
	ret = NULL;
	if (vm_qmp(vm, "query-blockstats", &ret, ignored, sizeof(ignored)) == 0) {
		cJSON_ArrayForEach(dev, ret) {
			const cJSON *stats = cJSON_GetObjectItemCaseSensitive(dev, "stats");
			const cJSON *rd = cJSON_GetObjectItemCaseSensitive(stats, "rd_bytes");
			const cJSON *wr = cJSON_GetObjectItemCaseSensitive(stats, "wr_bytes");

			st->diskread += cJSON_IsNumber(rd) ? (uint64_t)rd->valuedouble : 0;
			st->diskwrite += cJSON_IsNumber(wr) ? (uint64_t)wr->valuedouble : 0;
		}
	}
	cJSON_Delete(ret);
}

static uint64_t host_uptime_ticks(long hz)
{
	char *text = NULL;
	size_t len;
	double up = 0;

	if (util_read_file("/proc/uptime", 256, &text, &len) == 0)
		up = strtod(text, NULL);
	free(text);
	return (uint64_t)(up * (double)hz);
}

void hv_status_proc(struct hv_vm *vm, struct hv_vm_status *st)
{
	char path[64], *text = NULL;
	size_t len;
	struct hv_proc_stat ps;
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t now;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)vm->pid);
	if (util_read_file(path, 4096, &text, &len) == 0 && hv_parse_proc_stat(text, &ps) == 0) {
		now = host_uptime_ticks(hz);
		st->cpu_time_ns = (ps.utime_ticks + ps.stime_ticks) * (1000000000ull / (uint64_t)hz);
		st->rss_bytes = ps.rss_pages * (uint64_t)sysconf(_SC_PAGESIZE);
		st->uptime_s = now > ps.start_ticks ? (now - ps.start_ticks) / (uint64_t)hz : 0;
	}
	free(text);
	text = NULL;
	if (util_read_file("/proc/net/dev", 1 << 20, &text, &len) == 0)
		hv_parse_net_dev(text, vm->vmid, &st->netin, &st->netout);
	free(text);
}

static void status_cpu_usage(struct hv_vm *vm, struct hv_vm_status *st)
{
	uint64_t now = util_now_ns();

	pthread_mutex_lock(&vm->h->lock);
	if (vm->last_wall_ns && now > vm->last_wall_ns && st->cpu_time_ns >= vm->last_cpu_ns)
		st->cpu_usage = (double)(st->cpu_time_ns - vm->last_cpu_ns) /
				(double)(now - vm->last_wall_ns);
	vm->last_cpu_ns = st->cpu_time_ns;
	vm->last_wall_ns = now;
	pthread_mutex_unlock(&vm->h->lock);
}

int hv_vm_status(struct hv *h, int vmid, struct hv_vm_status *st, char *err, size_t errlen)
{
	struct hv_vm *vm = hv_vm_get(h, vmid);

	(void)err;
	(void)errlen;
	memset(st, 0, sizeof(*st));
	util_strlcpy(st->qmpstatus, "stopped", sizeof(st->qmpstatus));
	if (!vm)
		return 0;
	st->running = 1;
	st->pid = vm->pid;
	util_strlcpy(st->qemu_version, qmp_client_version(vm->qmp), sizeof(st->qemu_version));
	util_strlcpy(st->qmpstatus, "running", sizeof(st->qmpstatus));
	hv_status_qmp(vm, st);
	hv_status_proc(vm, st);
	status_cpu_usage(vm, st);
	hv_vm_put(vm);
	return 0;
}
