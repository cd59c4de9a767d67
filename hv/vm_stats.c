/* The cached VM status for list views: a thread refreshes every running
 * VM's counters every few seconds, QMP events keep the run state, and
 * hv_vm_status_cached() answers from that snapshot without any I/O. */
#include "hv/vm_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

#define STATS_PERIOD_MS 2000

/* The run state QMP reports after event KIND; NULL when it does not change. */
static const char *state_after(enum qmp_event kind)
{
	switch (kind) {
	case QMP_EV_STOP:
		return "paused";
	case QMP_EV_RESUME:
	case QMP_EV_WAKEUP:
		return "running";
	case QMP_EV_SUSPEND:
		return "suspended";
	case QMP_EV_GUEST_PANICKED:
		return "guest-panicked";
	default:
		return NULL;
	}
}

void hv_vm_note_event(struct hv_vm *vm, enum qmp_event kind)
{
	const char *s = state_after(kind);

	if (!s)
		return;
	pthread_mutex_lock(&vm->h->lock);
	util_strlcpy(vm->qmpstatus, s, sizeof(vm->qmpstatus));
	vm->status_seq++;
	pthread_mutex_unlock(&vm->h->lock);
}

/* Under h->lock: stores the new sample ST taken at NOW. */
static void store_sample(struct hv_vm *vm, struct hv_vm_status *st, unsigned seq, int with_qmp,
			 uint64_t now)
{
	const struct hv_vm_status *old = &vm->snap;

	if (vm->snap_ns && now > vm->snap_ns && st->cpu_time_ns >= old->cpu_time_ns)
		st->cpu_usage = (double)(st->cpu_time_ns - old->cpu_time_ns) /
				(double)(now - vm->snap_ns);
	if (!with_qmp) {
		st->diskread = old->diskread;
		st->diskwrite = old->diskwrite;
		st->balloon_bytes = old->balloon_bytes;
	}
	/* an event seen meanwhile is newer than the answer to query-status */
	if (st->qmpstatus[0] && seq == vm->status_seq)
		util_strlcpy(vm->qmpstatus, st->qmpstatus, sizeof(vm->qmpstatus));
	vm->snap = *st;
	vm->snap_ns = now;
}

void hv_vm_refresh(struct hv_vm *vm, int with_qmp)
{
	struct hv_vm_status st;
	unsigned seq;

	memset(&st, 0, sizeof(st));
	pthread_mutex_lock(&vm->h->lock);
	seq = vm->status_seq;
	pthread_mutex_unlock(&vm->h->lock);
	if (with_qmp)
		hv_status_qmp(vm, &st);
	hv_status_proc(vm, &st);
	pthread_mutex_lock(&vm->h->lock);
	store_sample(vm, &st, seq, with_qmp, util_now_ns());
	pthread_mutex_unlock(&vm->h->lock);
}

/* New references to every VM in the table; *N of them. */
static struct hv_vm **table_copy(struct hv *h, size_t *n)
{
	struct hv_vm **v;

	pthread_mutex_lock(&h->lock);
	v = calloc(h->nvms ? h->nvms : 1, sizeof(*v));
	*n = 0;
	for (size_t i = 0; v && i < h->nvms; i++) {
		v[(*n)++] = h->vms[i];
		h->vms[i]->refs++;
	}
	pthread_mutex_unlock(&h->lock);
	return v;
}

void hv_stats_refresh(struct hv *h)
{
	size_t n;
	struct hv_vm **v = table_copy(h, &n);

	for (size_t i = 0; v && i < n; i++) {
		hv_vm_refresh(v[i], 1);
		hv_vm_put(v[i]);
	}
	free(v);
}

/* Waits one period; 1 when the thread must stop. */
static int stats_sleep(struct hv *h)
{
	struct timespec until;
	int stop;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += h->stats_period_ms / 1000;
	until.tv_nsec += (long)(h->stats_period_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&h->lock);
	while (!h->stats_stopping &&
	       pthread_cond_timedwait(&h->stats_cond, &h->lock, &until) == 0)
		;
	stop = h->stats_stopping;
	pthread_mutex_unlock(&h->lock);
	return stop;
}

static void *stats_main(void *arg)
{
	struct hv *h = arg;

	while (!stats_sleep(h))
		hv_stats_refresh(h);
	return NULL;
}

int hv_stats_start(struct hv *h)
{
	pthread_condattr_t ca;
	int r;

	if (h->stats_period_ms <= 0)
		h->stats_period_ms = STATS_PERIOD_MS;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->stats_cond, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&h->stats_thread, NULL, stats_main, h);
	if (r)
		pthread_cond_destroy(&h->stats_cond);
	return -r;
}

void hv_stats_stop(struct hv *h)
{
	pthread_mutex_lock(&h->lock);
	h->stats_stopping = 1;
	pthread_cond_broadcast(&h->stats_cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->stats_thread, NULL);
	pthread_cond_destroy(&h->stats_cond);
}

/* Under h->lock: the snapshot of a VM in the table. */
static void cached_locked(const struct hv_vm *vm, struct hv_vm_status *st, uint64_t now)
{
	*st = vm->snap;
	st->running = 1;
	st->pid = vm->pid;
	util_strlcpy(st->qmpstatus, vm->qmpstatus[0] ? vm->qmpstatus : "running",
		     sizeof(st->qmpstatus));
	util_strlcpy(st->qemu_version, qmp_client_version(vm->qmp), sizeof(st->qemu_version));
	if (vm->snap_ns && now > vm->snap_ns)
		st->uptime_s += (now - vm->snap_ns) / 1000000000ull;
}

int hv_vm_status_cached(struct hv *h, int vmid, struct hv_vm_status *st)
{
	uint64_t now = util_now_ns();

	memset(st, 0, sizeof(*st));
	util_strlcpy(st->qmpstatus, "stopped", sizeof(st->qmpstatus));
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < h->nvms; i++) {
		if (h->vms[i]->vmid == vmid && !h->vms[i]->gone) {
			cached_locked(h->vms[i], st, now);
			break;
		}
	}
	pthread_mutex_unlock(&h->lock);
	return 0;
}
