/* Private to hv/vm.c, hv/supervisor.c and hv/spawn.c. */
#ifndef CORRAL_HV_VM_INT_H
#define CORRAL_HV_VM_INT_H

#include <pthread.h>
#include <sys/types.h>

#include "hv/vm.h"

/* One running VM.  References: the table holds one, every user another;
 * freed by the last hv_vm_put(). */
struct hv_vm {
	struct hv *h;
	int vmid;
	pid_t pid;
	int pidfd;
	struct qmp_client *qmp; /* set once at registration */
	int qmp_closed;         /* QEMU closed the socket */
	int exiting;            /* exit being handled (under h->lock) */
	int gone;               /* exit handled, out of the table (under h->lock) */
	int refs;               /* under h->lock */
	uint64_t last_cpu_ns, last_wall_ns; /* previous status sample (h->lock) */
	/* The cached status (under h->lock): qmpstatus follows QMP run-state
	 * events, the counters come from the stats thread (hv/vm_stats.c). */
	char qmpstatus[32];
	unsigned status_seq;      /* bumped by every run-state event */
	struct hv_vm_status snap; /* counters of the last refresh */
	uint64_t snap_ns;         /* when (monotonic), 0 before the first */
};

struct hv {
	char run_dir[512];
	char qemu[512];
	int kvm;
	hv_event_fn on_event;
	void *opaque;

	pthread_mutex_t lock;   /* the table, refs, gone */
	pthread_cond_t changed; /* a VM exited */
	struct hv_vm **vms;
	size_t nvms, cap;

	pthread_t thread;
	int wake[2]; /* pipe: the supervisor rebuilds its poll set */
	int stopping;

	pthread_t stats_thread;
	pthread_cond_t stats_cond; /* signalled to stop the stats thread */
	int stats_stopping;        /* under lock */
	int stats_period_ms;
};

/* Table (hv/vm.c). */
struct hv_vm *hv_vm_get(struct hv *h, int vmid); /* new reference or NULL */
void hv_vm_put(struct hv_vm *vm);
/* Process gone: marks it, drops it from the table, removes its run files,
 * reports HV_EV_EXITED. */
void hv_vm_exited(struct hv_vm *vm);
void hv_emit(struct hv *h, const struct hv_event *ev);

/* Supervisor (hv/supervisor.c). */
int hv_supervisor_start(struct hv *h);
void hv_supervisor_stop(struct hv *h);
void hv_supervisor_wake(struct hv *h);

/* Status sources (hv/vm_ops.c): QMP queries (query-status, -balloon,
 * -blockstats) and /proc (cpu time, rss, uptime, tap counters). */
void hv_status_qmp(struct hv_vm *vm, struct hv_vm_status *st);
void hv_status_proc(struct hv_vm *vm, struct hv_vm_status *st);

/* Stats thread (hv/vm_stats.c). */
int hv_stats_start(struct hv *h);
void hv_stats_stop(struct hv *h);
/* Refreshes VM's cached counters; WITH_QMP also asks QEMU (blockstats,
 * balloon, run state), else only /proc is read. */
void hv_vm_refresh(struct hv_vm *vm, int with_qmp);
/* Sets the cached run state after a QMP event (the client calls it with
 * its own lock held; takes h->lock). */
void hv_vm_note_event(struct hv_vm *vm, enum qmp_event kind);

/* Spawn (hv/spawn.c): forks, starts a new session, points stdin at
 * /dev/null and stdout/stderr at LOG_PATH, closes every other descriptor and
 * execs ARGV[0] (searched in PATH).  A failed exec is reported through a
 * close-on-exec pipe.  0 with *PID, or -errno with ERR. */
int hv_spawn(char *const *argv, const char *log_path, pid_t *pid, char *err, size_t errlen);
/* QEMU's own last words from <vmid>.log into OUT (hv/vm.c). */
void hv_log_tail(const struct hv *h, int vmid, char *out, size_t n);
/* Tap devices (hv/tap.c): for every netN on a bridge, a persistent
 * tap<vmid>i<n> enslaved to that bridge and up, for QEMU to open by name.
 * 0 or a negative code with ERR (e.g. the bridge does not exist). */
int hv_tap_setup(struct hv *h, int vmid, const struct vmconf *conf, char *err, size_t errlen);
/* Deletes every tap<vmid>i<n>. */
void hv_tap_teardown(int vmid);
/* One NIC's tap (hot-plug): made, enslaved to N's bridge and up. */
int hv_tap_setup_nic(int vmid, const struct vmconf_net *n, char *err, size_t errlen);
/* Deletes tap<vmid>i<index> if it exists. */
void hv_tap_delete(int vmid, int index);
/* hv/tap_net.c: N's tag (untagged PVID) and trunks on the VLAN-aware bridge
 * port TAP (-EINVAL with ERR when the bridge is not VLAN-aware), and its
 * rate limit RATE (MB/s as written; "" for none) with tc. */
int hv_tap_vlan(const char *tap, const struct vmconf_net *n, char *err, size_t errlen);
int hv_tap_rate(const char *tap, const char *rate, char *err, size_t errlen);
/* A running NIC's tap moved from OLD's bridge, VLANs and rate to N's. */
int hv_tap_retune(int vmid, const struct vmconf_net *old, const struct vmconf_net *n, char *err,
		  size_t errlen);
/* Undo OLD's VLANs (back to untagged PVID 1) and the tap's tc limits. */
void hv_tap_vlan_clear(const char *tap, const struct vmconf_net *old);
void hv_tap_rate_clear(const char *tap);
/* pidfd for PID (pidfd_open), -errno on failure. */
int hv_pidfd_open(pid_t pid);

#endif
