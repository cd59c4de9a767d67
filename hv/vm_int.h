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

/* Spawn (hv/spawn.c): forks, starts a new session, points stdin at
 * /dev/null and stdout/stderr at LOG_PATH, closes every other descriptor and
 * execs ARGV[0] (searched in PATH).  A failed exec is reported through a
 * close-on-exec pipe.  0 with *PID, or -errno with ERR. */
int hv_spawn(char *const *argv, const char *log_path, pid_t *pid, char *err, size_t errlen);
/* Tap devices (hv/tap.c): for every netN on a bridge, a persistent
 * tap<vmid>i<n> enslaved to that bridge and up, for QEMU to open by name.
 * 0 or a negative code with ERR (e.g. the bridge does not exist). */
int hv_tap_setup(struct hv *h, int vmid, const struct vmconf *conf, char *err, size_t errlen);
/* Deletes every tap<vmid>i<n>. */
void hv_tap_teardown(int vmid);
/* pidfd for PID (pidfd_open), -errno on failure. */
int hv_pidfd_open(pid_t pid);

#endif
