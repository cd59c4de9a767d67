/* Live migration benchmark (run by bench/migrate.sh): the test guest with a
 * memory-dirtying workload migrates back and forth N times between two
 * QEMUs on this host, first through Corral's hv/migrate.h (TLS for RAM and
 * disks, local disks mirrored over NBD), then as QEMU's own migration of two
 * bare processes over plain TCP with the disk files shared.  Prints one line
 * per migration: "corral|qemu pause_ms qemu_total_ms wall_ms", the pause
 * being QEMU's downtime plus the wait until the target was resumed. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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

struct side {
	struct hv *h;
	char run[80], disk0[300], disk1[300], tls[300];
	struct hv_disk_path d[2];
};

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

static void setup(const char *guest, const char *dir, const char *mem)
{
	const char *keys[] = { "name", "memory", "serial0", "virtio0", "virtio1", "boot" };
	const char *vals[] = { "migbench", mem, "socket", "local:100/vm-100-disk-0.qcow2",
			       "local:100/vm-100-disk-1.raw", "order=virtio0" };
	struct vmconf_errors errs = { .n = 0 };
	char cmd[2048];

	for (int i = 0; i < 2; i++) {
		struct side *s = &S[i];
		struct hv_config cfg = { .run_dir = s->run };

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
	conf = vmconf_new();
	if (sh(cmd) < 0 || vmconf_update(conf, keys, vals, 6, NULL, &errs) < 0)
		die("setup");
}

/* Boots on side 0 and starts the workload: 64 MiB rewritten in the
 * guest's RAM-backed root over and over. */
static void boot(void)
{
	int fd;

	if (hv_vm_start(S[0].h, VMID, conf, S[0].d, 2, START_MS, err, sizeof(err)) < 0)
		die("start");
	fd = serial_fd(&S[0]);
	if (fd < 0 || !wait_text(fd, "CORRAL-GUEST-READY", BOOT_MS))
		die("boot");
	type_line(fd, "while true; do dd if=/dev/zero of=/tmp/dirty bs=1M count=64 "
		       "2>/dev/null; done &\n");
	sleep(5);
	close(fd);
}

static void fresh_disks(const struct side *s)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "rm -f '%s' '%s' && qemu-img create -q -f qcow2 '%s' 64M && "
		 "truncate -s 1M '%s'", s->disk0, s->disk1, s->disk0, s->disk1);
	if (sh(cmd) < 0)
		die("target disks");
}

static void corral_once(const struct side *src, const struct side *dst)
{
	struct hv_mig_qemu sq = { .h = src->h, .vmid = VMID }, dq = { .h = dst->h, .vmid = VMID };
	struct hv_mig_target_opts to = { .tls_dir = dst->tls, .listen_host = "127.0.0.1",
					  .disks = { { "virtio0", "virtio1" }, 2 } };
	struct hv_mig_source_opts so = { .tls_dir = src->tls, .host = "127.0.0.1",
					 .disks = { { "virtio0", "virtio1" }, 2 } };
	struct hv_mig_progress p;
	uint64_t t0, t_done;

	fresh_disks(dst);
	t0 = util_now_ms();
	so.nbd_port = to.nbd_port = hv_mig_free_port("127.0.0.1");
	so.mig_port = to.mig_port = hv_mig_free_port("127.0.0.1");
	if (hv_vm_start_incoming(dst->h, VMID, conf, dst->d, 2, START_MS, err, sizeof(err)) < 0 ||
	    hv_mig_target_prepare(&dq, &to, err, sizeof(err)) < 0 ||
	    hv_mig_source_run(&sq, &so, &p, err, sizeof(err)) < 0 ||
	    ((t_done = util_now_ms()), hv_mig_target_finish(&dq, 30000, err, sizeof(err)) < 0))
		die("corral migration");
	/* the guest resumes on the target only now (-S) */
	p.downtime_ms += (int64_t)(util_now_ms() - t_done);
	if (hv_vm_stop(src->h, VMID, 10000, err, sizeof(err)) < 0)
		die("stop source");
	printf("corral %lld %lld %llu\n", (long long)p.downtime_ms, (long long)p.total_ms,
	       (unsigned long long)(util_now_ms() - t0));
	fflush(stdout);
}

static int qmp(const struct side *s, const char *cmd, const char *json, cJSON **ret)
{
	cJSON *args = json ? cJSON_Parse(json) : NULL;
	int r = hv_vm_qmp(s->h, VMID, cmd, args, 10000, ret, err, sizeof(err));

	cJSON_Delete(args);
	return r;
}

/* Polls query-migrate on S until completed; P gets the figures. */
static int wait_completed(const struct side *s, struct hv_mig_progress *p)
{
	for (;;) {
		cJSON *ret = NULL;
		int r = qmp(s, "query-migrate", NULL, &ret);

		if (r == 0 && hv_mig_parse_migrate(ret, p) < 0)
			snprintf(p->status, sizeof(p->status), "none");
		cJSON_Delete(ret);
		if (r < 0 || strcmp(p->status, "failed") == 0)
			return -1;
		if (strcmp(p->status, "completed") == 0)
			return 0;
		usleep(5000);
	}
}

/* QEMU's own migration: plain TCP, the disk files shared (no copy). */
static void qemu_once(const struct side *src, const struct side *dst, const struct side *files)
{
	char uri[128], json[160];
	struct hv_mig_progress p, pd;
	uint64_t t0 = util_now_ms(), t_done;
	int port = hv_mig_free_port("127.0.0.1");

	snprintf(uri, sizeof(uri), "{\"uri\": \"tcp:127.0.0.1:%d\"}", port);
	snprintf(json, sizeof(json), "{\"downtime-limit\": %d, \"max-bandwidth\": %llu, \"tls-creds\": \"\"}",
		 HV_MIG_DOWNTIME_MS, 1ull << 40);
	if (hv_vm_start_incoming(dst->h, VMID, conf, files->d, 2, START_MS, err, sizeof(err)) < 0 ||
	    qmp(dst, "migrate-incoming", uri, NULL) < 0 ||
	    qmp(src, "migrate-set-parameters", json, NULL) < 0 || qmp(src, "migrate", uri, NULL) < 0 ||
	    wait_completed(src, &p) < 0)
		die("qemu migration");
	/* the target runs -S as well: resumed as soon as it completed */
	t_done = util_now_ms();
	if (wait_completed(dst, &pd) < 0 || qmp(dst, "cont", NULL, NULL) < 0 ||
	    hv_vm_stop(src->h, VMID, 10000, err, sizeof(err)) < 0)
		die("qemu migration end");
	p.downtime_ms += (int64_t)(util_now_ms() - t_done);
	printf("qemu %lld %lld %llu\n", (long long)p.downtime_ms, (long long)p.total_ms,
	       (unsigned long long)(util_now_ms() - t0));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct hv_mig_tls tls;
	int n;

	if (argc != 5) {
		fprintf(stderr, "usage: migrate_bench GUEST WORKDIR N MEMORY_MIB\n");
		return 2;
	}
	n = atoi(argv[3]);
	setup(argv[1], argv[2], argv[4]);
	if (hv_mig_tls_new(&tls, err, sizeof(err)) < 0)
		die("tls");
	for (int i = 0; i < 2; i++)
		if (hv_mig_tls_write(&tls, S[i].tls, 0, err, sizeof(err)) < 0 ||
		    hv_mig_tls_write(&tls, S[i].tls, 1, err, sizeof(err)) < 0)
			die("tls files");
	boot();
	for (int i = 0; i < n; i++)
		corral_once(&S[i % 2], &S[(i + 1) % 2]);
	/* the guest is on side n % 2 with that side's files */
	for (int i = 0; i < n; i++)
		qemu_once(&S[(n + i) % 2], &S[(n + i + 1) % 2], &S[n % 2]);
	hv_vm_stop(S[n % 2].h, VMID, 10000, err, sizeof(err));
	hv_mig_tls_free(&tls);
	return 0;
}
