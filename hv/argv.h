/* Pure builder of a qemu-system-x86_64 command line from a validated VM
 * configuration, the resolved disk paths and the run directory.
 *
 * Every value reaching the command line is either checked by vmconf (names,
 * enums, numbers, MACs, volume IDs) or is a path Corral made, escaped with
 * QEMU's comma doubling; there is no passthrough of raw arguments.
 *
 * QEMU runs in the foreground (no -daemonize) in its own session, started by
 * hv/spawn.c: that lets the sandbox deny spawn and privilege changes
 * (-daemonize needs fork and setsid after the filter is installed), makes a
 * failed start an ordinary child exit with its message in <vmid>.log, and
 * the QMP socket tells when it is up.  See hv/vm.h. */
#ifndef CORRAL_HV_ARGV_H
#define CORRAL_HV_ARGV_H

#include <stddef.h>

#include "hv/vmconf.h"

/* Where the storage layer found a drive's volume. */
struct hv_disk_path {
	const char *key;    /* "scsi0", "ide2", "efidisk0" */
	const char *path;   /* file or block device */
	const char *format; /* "qcow2", "raw" */
};

struct hv_argv_opts {
	int vmid;
	const struct vmconf *conf; /* validated (vmconf_validate) */
	const struct hv_disk_path *disks;
	size_t ndisks;
	const char *run_dir;     /* sockets and pidfile: <run_dir>/<vmid>.<what> */
	const char *qemu_binary; /* NULL: "qemu-system-x86_64" */
	int kvm;                 /* 1: -accel kvm, 0: -accel tcg */
	const char *ovmf_code;   /* firmware for bios=ovmf; NULL: Debian's OVMF_CODE_4M.fd */
	int incoming;            /* 1: -incoming defer -S, a migration target (hv/migrate.h) */
};

/* Builds the NULL-terminated argv into *OUT (free with hv_argv_free).
 * 0, -EINVAL (ERR explains: template, unallocated disk, missing path...) or
 * -ENOMEM. */
int hv_argv_build(const struct hv_argv_opts *o, char ***out, char *err, size_t errlen);
void hv_argv_free(char **argv);
/* The id of the SCSI controller that disk scsi<INDEX> of CONF sits on
 * ("scsihw0", "virtioscsi3" with virtio-scsi-single). */
void hv_argv_scsi_controller(const struct vmconf *conf, int index, char *out, size_t n);
/* The options hv_argv_build gives the disk or NIC KEY of O->conf, for
 * hot-plugging it: pairs such as "-blockdev" "<opts>", "-netdev" "<opts>",
 * "-device" "<opts>" (a SCSI disk's controller first), NULL-terminated;
 * free with hv_argv_free.  0 or -EINVAL with ERR. */
int hv_argv_device(const struct hv_argv_opts *o, const char *key, char ***out, char *err,
		   size_t errlen);

/* "<run_dir>/<vmid>.<suffix>" (qmp, vnc, serial0, pid, log, qga).
 * 0 or -ENAMETOOLONG. */
int hv_run_path(char *out, size_t n, const char *run_dir, int vmid, const char *suffix);

/* Appends S to B with every ',' doubled, as QEMU's option parser wants. */
struct buf;
int hv_qemu_escape(struct buf *b, const char *s);

/* 1 if /dev/kvm can be opened and speaks KVM API version 12 (hv/kvm.c). */
int hv_kvm_usable(void);

#endif
