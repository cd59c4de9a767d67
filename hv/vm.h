/* Running VMs: spawn QEMU, re-attach after a daemon restart, supervise,
 * power operations and status.  A library: no logging, events through a
 * callback, errors as codes plus a caller buffer.
 *
 * Each running VM owns files in the run directory, named by VMID:
 *   <vmid>.pid      QEMU's pidfile (proof of a running VM across restarts)
 *   <vmid>.qmp      QMP socket        <vmid>.vnc      VNC socket
 *   <vmid>.serialN  serial consoles   <vmid>.serialN.log  their output
 *   <vmid>.log      QEMU's stdout/stderr (start errors come from here)
 * QEMU runs in its own session with no inherited descriptors, so it
 * outlives the daemon; a new struct hv finds it again with hv_attach_all().
 * The process using this library must not ignore SIGCHLD (QEMU is its child
 * until it exits and is reaped by the supervisor).
 *
 * Every call is thread-safe.  Keeping two power operations off one VM at the
 * same time (Proxmox's VM lock) is the caller's job. */
#ifndef CORRAL_HV_VM_H
#define CORRAL_HV_VM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hv/argv.h"
#include "hv/qmp.h"
#include "hv/vmconf.h"

struct hv;

enum hv_event_type {
	HV_EV_QMP,    /* a QMP event: see qmp_kind / name */
	HV_EV_EXITED, /* the QEMU process is gone (quit, poweroff, crash, kill) */
};

struct hv_event {
	int vmid;
	enum hv_event_type type;
	enum qmp_event qmp_kind; /* HV_EV_QMP */
	const char *name;        /* QMP event name, or "EXITED" */
	int guest;               /* SHUTDOWN/RESET: initiated by the guest */
	const char *reason;      /* SHUTDOWN/RESET reason, "" if none */
	int wait_status;         /* EXITED: waitpid() status, -1 when not our child */
};

/* Called from the supervisor thread or from a thread inside an hv call; must
 * be quick and must not call into the same struct hv. */
typedef void (*hv_event_fn)(void *opaque, const struct hv_event *ev);

struct hv_config {
	const char *run_dir;     /* created if missing */
	const char *qemu_binary; /* NULL: qemu-system-x86_64 from PATH */
	int force_tcg;           /* 1: never use KVM */
	hv_event_fn on_event;    /* may be NULL */
	void *opaque;
	int stats_period_ms;     /* cached-status refresh period; 0: 2000 */
};

/* Starts the supervisor thread.  Running VMs are not touched until
 * hv_attach_all().  0 or a negative code with ERR. */
int hv_new(const struct hv_config *cfg, struct hv **out, char *err, size_t errlen);
/* Stops supervising and closes QMP connections; VMs keep running.  Call it
 * once every other call on H has returned. */
void hv_free(struct hv *h);
/* "kvm" or "tcg": what hv_vm_start() passes to -accel. */
const char *hv_accel(const struct hv *h);

/* Re-attaches every VM with a live pidfile in the run directory (stale
 * files are removed).  Fills up to MAX vmids; returns how many were attached
 * or a negative code. */
int hv_attach_all(struct hv *h, int *vmids, size_t max, char *err, size_t errlen);
/* Re-attaches one VM from its pidfile and QMP socket after checking that the
 * pid is the QEMU that wrote that pidfile.  CR_ENOTRUNNING if it is not. */
int hv_vm_attach(struct hv *h, int vmid, char *err, size_t errlen);

/* Builds the argv (hv/argv.h), spawns QEMU and waits up to TIMEOUT_MS for
 * its QMP socket.  A failed exec or an early exit gives -EIO with QEMU's own
 * message in ERR.  CR_EEXISTS if the VM already runs. */
int hv_vm_start(struct hv *h, int vmid, const struct vmconf *conf,
		const struct hv_disk_path *disks, size_t ndisks, int timeout_ms, char *err,
		size_t errlen);
/* The same with -incoming defer: a paused QEMU waiting to become the
 * target of a live migration (hv/migrate.h). */
int hv_vm_start_incoming(struct hv *h, int vmid, const struct vmconf *conf,
			 const struct hv_disk_path *disks, size_t ndisks, int timeout_ms,
			 char *err, size_t errlen);
/* Hard stop: QMP quit, then SIGKILL if QEMU is still there after
 * TIMEOUT_MS.  Returns once the process is gone. */
int hv_vm_stop(struct hv *h, int vmid, int timeout_ms, char *err, size_t errlen);
/* ACPI power button; waits up to TIMEOUT_MS for the guest to power off.
 * Then FORCE_STOP stops it hard, otherwise CR_ETIMEOUT. */
int hv_vm_shutdown(struct hv *h, int vmid, int timeout_ms, int force_stop, char *err,
		   size_t errlen);
/* The same wait (and forced stop) for a guest asked to power off another
 * way: through its agent's guest-shutdown. */
int hv_vm_await_shutdown(struct hv *h, int vmid, int timeout_ms, int force_stop, char *err,
			 size_t errlen);
/* Proxmox's reboot: shutdown (forced after TIMEOUT_MS) and start again with
 * CONF, which applies pending changes. */
int hv_vm_reboot(struct hv *h, int vmid, const struct vmconf *conf,
		 const struct hv_disk_path *disks, size_t ndisks, int timeout_ms, char *err,
		 size_t errlen);
int hv_vm_reset(struct hv *h, int vmid, char *err, size_t errlen);   /* system_reset */
int hv_vm_suspend(struct hv *h, int vmid, char *err, size_t errlen); /* stop (pause) */
int hv_vm_resume(struct hv *h, int vmid, char *err, size_t errlen);  /* cont */
/* Any other QMP command for the server (set_link, block_resize...).  *RET
 * as in qmp_client_execute(). */
int hv_vm_qmp(struct hv *h, int vmid, const char *cmd, const cJSON *args, int timeout_ms,
	      cJSON **ret, char *err, size_t errlen);

/* Runs CMD (guest-ping, guest-network-get-interfaces...) with ARGS in the
 * QEMU guest agent of running VM VMID through its virtio-serial socket,
 * waiting TIMEOUT_MS for the answer (none for guest-shutdown and
 * guest-suspend-*).  *RET as in qmp_client_execute(); an agent error is
 * CR_EQMP, a silent agent -ETIMEDOUT ("QEMU guest agent is not running"). */
int hv_vm_agent(struct hv *h, int vmid, const char *cmd, const cJSON *args, int timeout_ms,
		cJSON **ret, char *err, size_t errlen);

/* ---- suspend to disk (hv/vm_state.c) ------------------------------------------- */

/* Pauses running VM VMID, saves its RAM and device state into the existing
 * file PATH (QEMU's migration stream) and stops QEMU.  On failure the VM
 * runs on.  Within TIMEOUT_MS. */
int hv_vm_save_state(struct hv *h, int vmid, const char *path, int timeout_ms, char *err,
		     size_t errlen);
/* Starts VMID from the state file PATH hv_vm_save_state wrote (QEMU with
 * -incoming defer, the file streamed in, then cont): it runs on where it
 * was saved.  CONF and DISKS as for hv_vm_start, unchanged since the save. */
int hv_vm_start_from_state(struct hv *h, int vmid, const struct vmconf *conf,
			   const struct hv_disk_path *disks, size_t ndisks, const char *path,
			   int timeout_ms, char *err, size_t errlen);

/* ---- hot-plug (hv/hotplug.c) ------------------------------------------------- */

/* Adds disk or NIC KEY of CONF (the configuration with KEY in it) to the
 * running VM: the options hv_argv_device gives KEY, as blockdev-add,
 * netdev_add (a bridged NIC's tap made first) and device_add; what was
 * added is taken back on failure.  The guest sees a PCI hot-plug. */
int hv_vm_plug(struct hv *h, int vmid, const struct vmconf *conf, const char *key,
	       const struct hv_disk_path *disks, size_t ndisks, char *err, size_t errlen);
/* device_del of KEY, then waits up to TIMEOUT_MS for the guest to release
 * it (CR_ETIMEOUT otherwise) and deletes its block nodes, or its netdev
 * and tap.  A KEY that is not plugged is no error. */
int hv_vm_unplug(struct hv *h, int vmid, const char *key, int timeout_ms, char *err,
		 size_t errlen);
/* A bridged NIC KEY changed from OLD to NEW (values of the netN key) only
 * on the host side (bridge, tag, trunks, rate, firewall, link_down): its
 * tap is moved and re-limited and the link set, the guest's device stays. */
int hv_vm_nic_update(struct hv *h, int vmid, const char *key, const char *old, const char *new,
		     char *err, size_t errlen);
/* QMP set_link: NIC KEY's carrier on (UP 1) or off. */
int hv_vm_set_link(struct hv *h, int vmid, const char *key, int up, char *err, size_t errlen);
/* Pure: QEMU option text OPTS ("driver=qcow2,file.filename=/a,,b") as a QMP
 * argument object: dotted keys nest, ",," is a comma, a first item without
 * '=' is the value of IMPLIED ("driver", "type"; NULL: an error).  TYPED
 * turns on/off into booleans and digit strings into numbers (blockdev-add,
 * netdev_add); otherwise every value stays a string (device_add takes
 * strings).  0 or -EINVAL; *OUT is the caller's. */
int hv_keyval_json(const char *opts, const char *implied, int typed, cJSON **out);

struct hv_vm_status {
	int running;
	char qmpstatus[32];    /* query-status: running, paused...; "stopped" */
	pid_t pid;             /* 0 when stopped */
	uint64_t uptime_s;
	uint64_t cpu_time_ns;  /* user+system time of the QEMU process */
	double cpu_usage;      /* host CPUs busy since the previous status call
				* (0 on the first); Proxmox's "cpu" is this / cpus */
	uint64_t rss_bytes;
	uint64_t diskread, diskwrite; /* query-blockstats sums */
	uint64_t netin, netout;       /* tap<vmid>i* counters (0 for user-mode NICs) */
	uint64_t balloon_bytes;       /* query-balloon "actual", 0 without a balloon */
	char qemu_version[32];        /* Proxmox's running-qemu, "7.2.22" */
};
/* A VM not known to be running reports running=0, qmpstatus "stopped". */
int hv_vm_status(struct hv *h, int vmid, struct hv_vm_status *st, char *err, size_t errlen);
/* The same figures from the snapshot the stats thread refreshes every
 * stats_period_ms (hv_config): no QMP command, no /proc read, no waiting
 * beyond a mutex, so list views can ask for hundreds of VMs.  qmpstatus
 * follows QMP events (STOP, RESUME, SUSPEND...) as they arrive; uptime
 * runs on from the last sample; cpu_usage is measured over the last
 * refresh period.  Counters lag by up to one period.  Always 0. */
int hv_vm_status_cached(struct hv *h, int vmid, struct hv_vm_status *st);
/* Refreshes every running VM's snapshot now (what the stats thread does
 * each period). */
void hv_stats_refresh(struct hv *h);
/* 1 if the VM is running under this struct hv. */
int hv_vm_running(struct hv *h, int vmid);

/* ---- pure helpers (hv/procstat.c) ---------------------------------------------- */

struct hv_proc_stat {
	char state;
	uint64_t utime_ticks, stime_ticks, start_ticks; /* clock ticks */
	uint64_t rss_pages;
};
/* Parses the text of /proc/<pid>/stat (the command name may hold spaces and
 * parentheses).  0 or -EINVAL. */
int hv_parse_proc_stat(const char *text, struct hv_proc_stat *out);
/* 1 if the NUL-separated /proc/<pid>/cmdline of LEN bytes has an argument
 * equal to PIDFILE. */
int hv_cmdline_has(const char *cmdline, size_t len, const char *pidfile);
/* Adds the rx/tx byte counters of every tap<vmid>i<n> in /proc/net/dev
 * TEXT.  0 or -EINVAL. */
int hv_parse_net_dev(const char *text, int vmid, uint64_t *rx, uint64_t *tx);

#endif
