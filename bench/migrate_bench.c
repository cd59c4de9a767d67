/* Live migration benchmark, Corral's side (driven by bench/migrate_anchor.py):
 * the test guest migrates back and forth between two QEMUs on this host
 * through hv/migrate.h as the qmigrate task runs it, and every step is
 * timed; also prints the QEMU command line hv builds, for the anchor. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "hv/migrate.h"
#include "hv/vm.h"

#define VMID 100
#define START_MS 60000
#define BOOT_MS 180000
#define NDISKS 2

/* The guest both drivers run: the anchor gets its command line from here. */
static const char *const conf_keys[] = { "name", "memory", "serial0", "virtio0", "virtio1",
					 "boot" };
static const char *conf_vals[] = { "migbench", "512", "socket", "local:100/vm-100-disk-0.qcow2",
				   "local:100/vm-100-disk-1.raw", "order=virtio0" };

/* When things happened during one migration (ms, util_now_ms); events come
 * from hv's supervisor thread, hence the lock. */
struct trace {
	pthread_mutex_t lock;
	int src;                       /* side the guest leaves */
	int nready;                    /* BLOCK_JOB_READY events */
	uint64_t ready_ev, stop_ev, resume_ev;
	uint64_t mirror_started, ready_seen, preswitch_seen, continue_done, completed_seen;
	uint64_t tls_object; /* the target's object-add: QEMU makes DH parameters */
	int job_polls, mig_polls, in_polls;
	int switch_cmds; /* QMP commands while the source waits at pre-switchover */
};

struct side {
	int idx;
	struct hv *h;
	char run[80], disk0[300], disk1[300], tls[300];
	struct hv_disk_path d[NDISKS];
	struct trace *t;
};

static struct trace T = { .lock = PTHREAD_MUTEX_INITIALIZER };
static struct side S[2];
static struct vmconf *conf;
static char err[2048];

static void die(const char *what)
{
	fprintf(stderr, "migrate_bench: %s: %s\n", what, err);
	for (int i = 0; i < 2; i++)
		if (S[i].h)
			hv_vm_stop(S[i].h, VMID, 5000, err, sizeof(err));
	exit(1);
}

static int sh(const char *cmd)
{
	return system(cmd) == 0 ? 0 : -1;
}

static void on_event(void *opaque, const struct hv_event *ev)
{
	const struct side *s = opaque;
	uint64_t now = util_now_ms();

	if (ev->type != HV_EV_QMP)
		return;
	pthread_mutex_lock(&T.lock);
	if (s->idx == T.src && strcmp(ev->name, "BLOCK_JOB_READY") == 0) {
		T.nready++;
		T.ready_ev = now;
	} else if (s->idx == T.src && strcmp(ev->name, "STOP") == 0 && !T.stop_ev) {
		T.stop_ev = now;
	} else if (s->idx != T.src && strcmp(ev->name, "RESUME") == 0 && !T.resume_ev) {
		T.resume_ev = now;
	}
	pthread_mutex_unlock(&T.lock);
}

static void trace_reset(int src)
{
	pthread_mutex_lock(&T.lock);
	T.src = src;
	T.nready = T.job_polls = T.mig_polls = T.in_polls = T.switch_cmds = 0;
	T.ready_ev = T.stop_ev = T.resume_ev = 0;
	T.mirror_started = T.ready_seen = T.preswitch_seen = 0;
	T.continue_done = T.completed_seen = T.tls_object = 0;
	pthread_mutex_unlock(&T.lock);
}

static void note_once(uint64_t *slot, uint64_t when)
{
	pthread_mutex_lock(&T.lock);
	if (!*slot)
		*slot = when;
	pthread_mutex_unlock(&T.lock);
}

/* What a command's answer says about the migration's progress. */
static void note_answer(const struct side *s, const char *cmd, const cJSON *ret, uint64_t at)
{
	struct hv_mig_progress p;

	if (strcmp(cmd, "blockdev-mirror") == 0) {
		T.mirror_started = at; /* the last one */
	} else if (strcmp(cmd, "query-block-jobs") == 0) {
		T.job_polls++;
		if (hv_mig_parse_jobs(ret, &p) == NDISKS && p.disks_ready == NDISKS)
			note_once(&T.ready_seen, at);
	} else if (strcmp(cmd, "migrate-continue") == 0) {
		T.continue_done = at;
	} else if (strcmp(cmd, "query-migrate") == 0 && hv_mig_parse_migrate(ret, &p) == 0) {
		if (s->idx != T.src) {
			T.in_polls++;
			return;
		}
		T.mig_polls++;
		if (strcmp(p.status, "pre-switchover") == 0)
			note_once(&T.preswitch_seen, at);
		else if (strcmp(p.status, "completed") == 0)
			note_once(&T.completed_seen, at);
	}
}

/* hv/migrate.c's QMP path, timed: hv_vm_qmp as it uses it with fn NULL. */
static int traced_qmp(void *ctx, const char *cmd, const cJSON *args, int timeout_ms,
		      cJSON **ret, char *e, size_t elen)
{
	const struct side *s = ctx;
	cJSON *mine = NULL;
	uint64_t t0 = util_now_ms();
	int r = hv_vm_qmp(s->h, VMID, cmd, args, timeout_ms, ret ? ret : &mine, e, elen);

	if (s->idx == T.src && T.preswitch_seen && !T.continue_done)
		T.switch_cmds++;
	if (r == 0 && s->idx != T.src && strcmp(cmd, "object-add") == 0)
		T.tls_object = util_now_ms() - t0;
	if (r == 0)
		note_answer(s, cmd, ret ? *ret : mine, util_now_ms());
	cJSON_Delete(mine);
	return r;
}

static int serial_fd(const struct side *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%d.serial0", s->run, VMID);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int wait_text(int fd, const char *needle, int ms)
{
	uint64_t end = util_now_ms() + (uint64_t)ms;
	struct buf b = BUF_INIT;
	char chunk[4096];
	int found = 0;

	while (!found && util_now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		if ((n = read(fd, chunk, sizeof(chunk))) <= 0)
			break;
		buf_append(&b, chunk, (size_t)n);
		found = strstr(b.data, needle) != NULL;
	}
	buf_free(&b);
	return found;
}

/* Types LINE slowly: the emulated UART drops what overflows its FIFO. */
static void type_line(int fd, const char *line)
{
	for (size_t i = 0; i < strlen(line); i += 8) {
		util_write_all(fd, line + i, strlen(line + i) < 8 ? strlen(line + i) : 8);
		usleep(50000);
	}
}

static void make_conf(const char *mem)
{
	struct vmconf_errors errs = { .n = 0 };

	conf_vals[1] = mem;
	conf = vmconf_new();
	if (!conf || vmconf_update(conf, conf_keys, conf_vals, 6, NULL, &errs) < 0)
		die("configuration");
}

static void setup(const char *guest, const char *dir)
{
	char cmd[2048];

	for (int i = 0; i < 2; i++) {
		struct side *s = &S[i];
		struct hv_config cfg = { .run_dir = s->run, .on_event = on_event, .opaque = s };

		s->idx = i;
		snprintf(s->run, sizeof(s->run), "%s/%d/run", dir, i);
		snprintf(s->disk0, sizeof(s->disk0), "%s/%d/disk0.qcow2", dir, i);
		snprintf(s->disk1, sizeof(s->disk1), "%s/%d/disk1.raw", dir, i);
		snprintf(s->tls, sizeof(s->tls), "%s/%d/tls", dir, i);
		s->d[0] = (struct hv_disk_path){ "virtio0", s->disk0, "qcow2" };
		s->d[1] = (struct hv_disk_path){ "virtio1", s->disk1, "raw" };
		if (hv_new(&cfg, &s->h, err, sizeof(err)) < 0)
			die("hv_new");
	}
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s/0' '%s/1' && qemu-img create -q -f qcow2 -F qcow2 -b '%s' '%s' && "
		 "truncate -s 1M '%s'", dir, dir, guest, S[0].disk0, S[0].disk1);
	if (sh(cmd) < 0)
		die("setup");
}

/* Boots on side 0, starts the workload (64 MiB rewritten in the guest's
 * RAM-backed root over and over) and pauses the guest. */
static void boot(void)
{
	int fd;

	trace_reset(-1);
	if (hv_vm_start(S[0].h, VMID, conf, S[0].d, NDISKS, START_MS, err, sizeof(err)) < 0)
		die("start");
	fd = serial_fd(&S[0]);
	if (fd < 0 || !wait_text(fd, "CORRAL-GUEST-READY", BOOT_MS))
		die("boot");
	type_line(fd, "while true; do dd if=/dev/zero of=/tmp/dirty bs=1M count=64 "
		       "2>/dev/null; done &\n");
	sleep(2);
	close(fd);
	if (hv_vm_suspend(S[0].h, VMID, err, sizeof(err)) < 0)
		die("pause");
}

static void fresh_disks(const struct side *s)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "rm -f '%s' '%s' && qemu-img create -q -f qcow2 '%s' 64M && "
		 "truncate -s 1M '%s'", s->disk0, s->disk1, s->disk0, s->disk1);
	if (sh(cmd) < 0)
		die("target disks");
}

/* The step boundaries of one migration, in order (ms). */
enum mark { M_T0, M_TLS, M_SPAWN, M_PREPARE, M_SOURCE, M_FINISH, M_END, M_COUNT };

static long d(uint64_t a, uint64_t b)
{
	return a && b ? (long)(b - a) : -1;
}

static void print_run(const char *kind, const uint64_t *m, const struct hv_mig_progress *p)
{
	pthread_mutex_lock(&T.lock);
	printf("%s pause=%ld downtime=%lld total=%lld wall=%ld tls=%ld spawn=%ld prepare=%ld "
	       "mirror_setup=%ld mirror_sync=%ld ready_lag=%ld ram=%ld switch=%ld complete=%ld "
	       "source_end=%ld finish=%ld stop=%ld tls_object=%llu job_polls=%d mig_polls=%d in_polls=%d "
	       "switch_cmds=%d paused_detect=%ld resume=%ld\n", kind,
	       d(T.stop_ev, T.resume_ev), (long long)p->downtime_ms, (long long)p->total_ms,
	       d(m[M_T0], m[M_END]), d(m[M_T0], m[M_TLS]), d(m[M_TLS], m[M_SPAWN]),
	       d(m[M_SPAWN], m[M_PREPARE]), d(m[M_PREPARE], T.mirror_started),
	       d(T.mirror_started, T.ready_seen),
	       T.nready >= NDISKS ? d(T.ready_ev, T.ready_seen) : -1,
	       d(T.ready_seen, T.preswitch_seen), d(T.preswitch_seen, T.continue_done),
	       d(T.continue_done, T.completed_seen), d(T.completed_seen, m[M_SOURCE]),
	       d(m[M_SOURCE], m[M_FINISH]), d(m[M_FINISH], m[M_END]),
	       (unsigned long long)T.tls_object, T.job_polls, T.mig_polls, T.in_polls, T.switch_cmds,
	       d(T.stop_ev, T.preswitch_seen), d(T.completed_seen, T.resume_ev));
	pthread_mutex_unlock(&T.lock);
	fflush(stdout);
}

/* The per-migration credentials, as the qmigrate task makes them: a new CA,
 * the target's server half and the source's client half written out.  DH
 * (the proposed change): also RFC 7919's ffdhe2048 group as dh-params.pem,
 * which spares QEMU generating DH parameters for its server object. */
static int new_tls(const struct side *src, const struct side *dst, const char *dh)
{
	struct hv_mig_tls tls;
	char path[400];
	int r = hv_mig_tls_new(&tls, err, sizeof(err));

	if (r == 0)
		r = hv_mig_tls_write(&tls, dst->tls, 1, err, sizeof(err));
	if (r == 0)
		r = hv_mig_tls_write(&tls, src->tls, 0, err, sizeof(err));
	hv_mig_tls_free(&tls);
	snprintf(path, sizeof(path), "%s/dh-params.pem", dst->tls);
	if (r == 0 && dh && link(dh, path) < 0 && errno != EEXIST) {
		snprintf(err, sizeof(err), "%s: %s", path, strerror(errno));
		r = -errno;
	}
	return r;
}

static void forget_dh(const struct side *s)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/dh-params.pem", s->tls);
	unlink(path);
}

static void corral_once(struct side *src, struct side *dst, const char *dh)
{
	struct hv_mig_qemu sq = { .fn = traced_qmp, .ctx = src, .h = src->h, .vmid = VMID };
	struct hv_mig_qemu dq = { .fn = traced_qmp, .ctx = dst, .h = dst->h, .vmid = VMID };
	struct hv_mig_target_opts to = { .tls_dir = dst->tls, .listen_host = "127.0.0.1",
					  .disks = { { "virtio0", "virtio1" }, NDISKS } };
	struct hv_mig_source_opts so = { .tls_dir = src->tls, .host = "127.0.0.1",
					 .disks = { { "virtio0", "virtio1" }, NDISKS } };
	struct hv_mig_progress p;
	uint64_t m[M_COUNT];

	fresh_disks(dst);
	forget_dh(dst);
	trace_reset(src->idx);
	m[M_T0] = util_now_ms();
	if (new_tls(src, dst, dh) < 0)
		die("tls");
	m[M_TLS] = util_now_ms();
	so.nbd_port = to.nbd_port = hv_mig_free_port("127.0.0.1");
	so.mig_port = to.mig_port = hv_mig_free_port("127.0.0.1");
	if (hv_vm_start_incoming(dst->h, VMID, conf, dst->d, NDISKS, START_MS, err, sizeof(err)) < 0)
		die("target start");
	m[M_SPAWN] = util_now_ms();
	if (hv_mig_target_prepare(&dq, &to, err, sizeof(err)) < 0)
		die("target prepare");
	m[M_PREPARE] = util_now_ms();
	if (hv_mig_source_run(&sq, &so, &p, err, sizeof(err)) < 0)
		die("corral migration");
	m[M_SOURCE] = util_now_ms();
	if (hv_mig_target_finish(&dq, 30000, err, sizeof(err)) < 0)
		die("target finish");
	m[M_FINISH] = util_now_ms();
	if (hv_vm_stop(src->h, VMID, 10000, err, sizeof(err)) < 0)
		die("stop source");
	m[M_END] = util_now_ms();
	print_run(dh ? "corral_dh" : "corral", m, &p);
}

/* "argv RUN_DIR MEMORY_MIB INCOMING": the command line hv gives the guest
 * (disk paths @DISK0@ and @DISK1@), NUL-separated. */
static int print_argv(char **argv)
{
	struct hv_disk_path dp[NDISKS] = { { "virtio0", "@DISK0@", "qcow2" },
					   { "virtio1", "@DISK1@", "raw" } };
	struct hv_argv_opts o = { .vmid = VMID, .disks = dp, .ndisks = NDISKS,
				  .run_dir = argv[2], .kvm = hv_kvm_usable(),
				  .incoming = atoi(argv[4]) };
	char **out;

	make_conf(argv[3]);
	o.conf = conf;
	if (hv_argv_build(&o, &out, err, sizeof(err)) < 0)
		die("argv");
	for (char **a = out; *a; a++)
		fwrite(*a, 1, strlen(*a) + 1, stdout);
	hv_argv_free(out);
	vmconf_free(conf);
	return 0;
}

/* "tls DIR": one CA's server half in DIR/server, client half in DIR/client. */
static int write_tls(char **argv)
{
	struct hv_mig_tls tls;
	char dir[600];
	int r = hv_mig_tls_new(&tls, err, sizeof(err));

	snprintf(dir, sizeof(dir), "%s/server", argv[2]);
	if (r == 0)
		r = hv_mig_tls_write(&tls, dir, 1, err, sizeof(err));
	snprintf(dir, sizeof(dir), "%s/client", argv[2]);
	if (r == 0)
		r = hv_mig_tls_write(&tls, dir, 0, err, sizeof(err));
	hv_mig_tls_free(&tls);
	if (r < 0)
		die("tls");
	return 0;
}

/* "serve GUEST WORKDIR MEMORY_MIB SETTLE_S": boots, says "ready", then
 * one migration per "corral" or "corral-dh" line read (the guest runs only
 * for it). */
static int serve(char **argv)
{
	char line[64], dh[300], cmd[400];
	int cur = 0, settle = atoi(argv[5]);

	make_conf(argv[4]);
	setup(argv[2], argv[3]);
	snprintf(dh, sizeof(dh), "%s/dh-params.pem", argv[3]);
	snprintf(cmd, sizeof(cmd), "openssl genpkey -genparam -algorithm DH -pkeyopt "
		 "group:ffdhe2048 -out '%s'", dh);
	if (sh(cmd) < 0)
		die("dh-params.pem");
	boot();
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) &&
	       (strcmp(line, "corral\n") == 0 || strcmp(line, "corral-dh\n") == 0)) {
		trace_reset(-1);
		if (hv_vm_resume(S[cur].h, VMID, err, sizeof(err)) < 0)
			die("resume");
		sleep((unsigned)settle);
		corral_once(&S[cur], &S[!cur], line[6] == '-' ? dh : NULL);
		cur = !cur;
		trace_reset(-1);
		if (hv_vm_suspend(S[cur].h, VMID, err, sizeof(err)) < 0)
			die("pause");
	}
	hv_vm_stop(S[cur].h, VMID, 10000, err, sizeof(err));
	for (int i = 0; i < 2; i++)
		hv_free(S[i].h);
	vmconf_free(conf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "argv") == 0)
		return print_argv(argv);
	if (argc == 3 && strcmp(argv[1], "tls") == 0)
		return write_tls(argv);
	if (argc == 6 && strcmp(argv[1], "serve") == 0)
		return serve(argv);
	fprintf(stderr, "usage: migrate_bench argv RUN_DIR MEMORY_MIB INCOMING\n"
			"       migrate_bench tls DIR\n"
			"       migrate_bench serve GUEST WORKDIR MEMORY_MIB SETTLE_S\n");
	return 2;
}
