/* Live migration of a running VM and its local disks from one QEMU to
 * another: the QMP sequences of both ends, progress figures, and the TLS
 * material that keeps RAM and disk data encrypted on the wire.
 *
 *   target (started with -incoming defer, hv_vm_start_incoming):
 *     object-add tls-creds-x509 (server) -> nbd-server-start (TLS) ->
 *     block-export-add nbd writable per disk -> migrate-set-parameters
 *     tls-creds -> migrate-incoming tcp:HOST:PORT
 *   source:
 *     object-add tls-creds-x509 (client) -> blockdev-add nbd per disk ->
 *     blockdev-mirror sync=full -> all jobs ready -> migrate-set-capabilities
 *     pause-before-switchover -> migrate-set-parameters (tls, bandwidth,
 *     downtime) -> migrate -> query-migrate until pre-switchover ->
 *     block-job-cancel (a ready mirror then finishes its copy without
 *     pivoting) -> migrate-continue -> completed
 * The source stays paused after completion (postmigrate) and so does the
 * target (-S) until hv_mig_target_finish() resumes it: a migration whose
 * owner cannot confirm the target never runs the guest twice.  The caller
 * stops the source once the target runs, or resumes it (cont) if not.  Any failure on the source side cancels the jobs,
 * removes what was added and resumes the source; the target is the caller's
 * to kill.  A library: no logging, errors as codes plus a caller buffer. */
#ifndef CORRAL_HV_MIGRATE_H
#define CORRAL_HV_MIGRATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

struct hv;

/* ---- TLS (hv/migrate_tls.c) ------------------------------------------------------ */

/* Name both certificates carry and both QEMUs check, so certificates do not
 * depend on the addresses the nodes use. */
#define HV_MIG_TLS_HOSTNAME "corral-migration"

/* Throwaway credentials of one migration, PEM text: a CA that signs only
 * these two certificates, the target's server certificate and the source's
 * client certificate (the NBD server and the migration listener verify the
 * client).  Free with hv_mig_tls_free(). */
struct hv_mig_tls {
	char *ca_cert;
	char *server_cert, *server_key;
	char *client_cert, *client_key;
};

/* 0 or -ENOMEM / CR_EINTERNAL with ERR. */
int hv_mig_tls_new(struct hv_mig_tls *t, char *err, size_t errlen);
void hv_mig_tls_free(struct hv_mig_tls *t);
/* Writes into DIR (created 0700) what QEMU's tls-creds-x509 reads: ca-cert.pem
 * plus server-cert.pem/server-key.pem (SERVER) or client-cert.pem/
 * client-key.pem.  Fields of T may be NULL except the ones written. */
int hv_mig_tls_write(const struct hv_mig_tls *t, const char *dir, int server, char *err,
		     size_t errlen);
/* Removes the files hv_mig_tls_write() may have written, and DIR. */
void hv_mig_tls_remove(const char *dir);

/* ---- one end ----------------------------------------------------------------------- */

/* Runs one QMP command; *RET as in qmp_client_execute(). */
typedef int (*hv_mig_qmp_fn)(void *ctx, const char *cmd, const cJSON *args, int timeout_ms,
			     cJSON **ret, char *err, size_t errlen);

/* A QEMU as migration sees it: QMP through FN (unit tests script QEMU
 * there) or, with FN NULL, hv_vm_qmp(H, VMID). */
struct hv_mig_qemu {
	hv_mig_qmp_fn fn;
	void *ctx;
	struct hv *h;
	int vmid;
};

#define HV_MIG_MAX_DISKS 32

/* Drive keys ("virtio0", "scsi1") whose format node drive-<key> is mirrored
 * and exported under the NBD export name <key>. */
struct hv_mig_disks {
	const char *key[HV_MIG_MAX_DISKS];
	size_t n;
};

struct hv_mig_target_opts {
	const char *tls_dir;     /* server credentials (hv_mig_tls_write SERVER) */
	const char *listen_host; /* an address of this node the source reaches */
	int nbd_port, mig_port;
	struct hv_mig_disks disks;
};

/* Prepares an incoming QEMU: TLS object, NBD server with a writable export
 * per disk, and the migration listener. */
int hv_mig_target_prepare(const struct hv_mig_qemu *q, const struct hv_mig_target_opts *o,
			  char *err, size_t errlen);
/* After the source completed: waits up to TIMEOUT_MS for the incoming
 * migration to complete, stops the NBD server, resumes the guest if it is
 * paused.  CR_ETIMEOUT, CR_EQMP (incoming failed) with ERR. */
int hv_mig_target_finish(const struct hv_mig_qemu *q, int timeout_ms, char *err, size_t errlen);

/* ---- progress ------------------------------------------------------------------------- */

enum hv_mig_phase {
	HV_MIG_MIRROR,     /* disks copying to the target */
	HV_MIG_RAM,        /* RAM and device state */
	HV_MIG_SWITCHOVER, /* source paused: block jobs finishing */
	HV_MIG_DONE,
};

struct hv_mig_progress {
	enum hv_mig_phase phase;
	uint64_t disk_done, disk_total; /* bytes over all mirror jobs */
	int disks_ready;                /* mirror jobs in sync */
	char status[24];                /* query-migrate status */
	uint64_t transferred, remaining, total; /* RAM bytes */
	double mbps;                    /* RAM transfer rate */
	uint64_t dirty_rate;            /* pages dirtied per second */
	uint64_t dirty_syncs;           /* RAM passes */
	int64_t expected_downtime_ms;
	int64_t downtime_ms, total_ms, setup_ms; /* once completed, else -1 */
};

/* Fills P's RAM fields from a query-migrate return value (pure).  0, or
 * -EINVAL when RET has no status. */
int hv_mig_parse_migrate(const cJSON *ret, struct hv_mig_progress *p);
/* Fills P's disk fields from a query-block-jobs return value, counting only
 * jobs whose id starts with "mig-" (pure).  Returns how many there are. */
int hv_mig_parse_jobs(const cJSON *ret, struct hv_mig_progress *p);

/* Called about once a second and at each phase change; a nonzero return
 * aborts the migration (the task was stopped). */
typedef int (*hv_mig_progress_fn)(void *opaque, const struct hv_mig_progress *p);

struct hv_mig_source_opts {
	const char *tls_dir; /* client credentials (hv_mig_tls_write !SERVER) */
	const char *host;    /* target address */
	int nbd_port, mig_port;
	struct hv_mig_disks disks; /* local disks to mirror; may be empty */
	uint64_t bwlimit_kib;      /* KiB/s for mirror and RAM; 0: unlimited */
	int downtime_ms;           /* 0: HV_MIG_DOWNTIME_MS */
	int timeout_ms;            /* whole run; 0: no limit */
	int stall_ms;              /* no byte moved this long: failed; 0: HV_MIG_STALL_MS
				    * (longer under a low bwlimit), negative: never */
	hv_mig_progress_fn progress;
	void *opaque;
};

#define HV_MIG_DOWNTIME_MS 300 /* Proxmox's and QEMU's default limit */
/* A transfer that moves no byte for this long lost its link. */
#define HV_MIG_STALL_MS 20000

/* Mirrors the disks, migrates, and leaves the source paused (postmigrate)
 * with the target owning the guest.  On failure the source runs again as
 * before and ERR says what failed; CR_ETIMEOUT, -ECANCELED (progress asked
 * to stop), CR_EQMP.  LAST (may be NULL) gets the final figures.  On the
 * way back the migration and NBD sockets are yanked (shut down) first, so
 * a dead link cannot hold the source in a drain. */
int hv_mig_source_run(const struct hv_mig_qemu *q, const struct hv_mig_source_opts *o,
		      struct hv_mig_progress *last, char *err, size_t errlen);

/* Moves the disk KEY of a running VM onto the image file PATH (FORMAT
 * "qcow2"/"raw", at least the disk's size) on this host with the same mirror
 * job migration uses, then switches the device over (job-complete) and
 * closes the old image.  PROGRESS as above (phase HV_MIG_MIRROR).  On
 * failure the VM keeps its disk and the new node is removed.  After the
 * switch the drive's node is "mig-KEY" until QEMU restarts. */
int hv_mig_local_move(const struct hv_mig_qemu *q, const char *key, const char *path,
		      const char *format, uint64_t bwlimit_kib, hv_mig_progress_fn progress,
		      void *opaque, char *err, size_t errlen);

/* ---- offline copy (hv/migrate_offline.c) ---------------------------------------- */

/* Serves the image PATH (FORMAT "qcow2"/"raw") read-only over NBD with TLS
 * as export NAME on HOST:PORT (server credentials in TLS_DIR, clients must
 * show a certificate of the same CA) through a qemu-nbd child whose stderr
 * goes to LOG_PATH.  Returns once it listens; *PID is the child (end it
 * with hv_mig_nbd_stop).  0 or -errno / CR_EINTERNAL with ERR. */
int hv_mig_nbd_serve(const char *path, const char *format, const char *host, int port,
		     const char *name, const char *tls_dir, const char *log_path, pid_t *pid,
		     char *err, size_t errlen);
/* Terminates and reaps the qemu-nbd child PID. */
void hv_mig_nbd_stop(pid_t pid);
/* Why a copy must stop now (a short phrase), or NULL to go on. */
typedef const char *(*hv_mig_stop_fn)(void *opaque);
/* Copies export NAME of HOST:PORT (client credentials in TLS_DIR) into the
 * existing image DST of FORMAT with qemu-img convert -n, at most RATE bytes
 * a second (0: no limit), for as long as it takes unless STOP(OPAQUE)
 * (asked every 20 ms; may be NULL) gives a reason to kill it.  0 or a
 * negative code with qemu-img's message (or the reason) in ERR. */
int hv_mig_nbd_pull(const char *host, int port, const char *name, const char *tls_dir,
		    const char *dst, const char *format, uint64_t rate, hv_mig_stop_fn stop,
		    void *opaque, char *err, size_t errlen);

/* A free TCP port on HOST for a listener QEMU opens next (bound and released
 * here; the caller passes it on at once).  Port or -errno. */
int hv_mig_free_port(const char *host);

#endif
