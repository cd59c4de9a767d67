/* Live migration through hv/migrate.h between two real QEMUs of the test
 * guest on one host over loopback, each under its own struct hv (as on two
 * nodes): local disks mirrored over TLS NBD, RAM over TLS; the guest's serial
 * counter goes on on the target and its disk writes are there.  Then the
 * failures: the target killed mid-mirror and the run stopped mid-RAM leave
 * the source running with nothing of the migration left; finally the guest
 * moves back.  Cases run in order; run by tests/integration/test_hv_migrate.sh. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "hv/migrate.h"
#include "hv/vm.h"
#include "tests/integration/hv_serial.h"
#include "tests/unit/test.h"

#define VMID 100
#define BOOT_TIMEOUT_MS 120000
#define START_TIMEOUT_MS 30000
#define MIG_TIMEOUT_MS 240000

/* One side: its own hv, run directory and disk files. */
struct side {
	const char *name;
	struct hv *h;
	char run_dir[80], disk0[300], disk1[300], tls[300];
	struct hv_disk_path disks[2];
};

static struct side A = { .name = "a" }, B = { .name = "b" };
static struct vmconf *conf;
static struct hv_mig_tls tls;
static char err[2048];
static long last_count; /* highest counter value seen on the console */

/* ---- console ------------------------------------------------------------------------ */

/* Highest "TICK <n> END" in TEXT (the pattern keeps typed-command echoes
 * and interleaved output from counting). */
static long max_count(const char *text)
{
	long best = -1, v;
	char end[4];

	for (const char *p = text; p && (p = strstr(p, "TICK ")); p += 5)
		if (sscanf(p, "TICK %ld %3s", &v, end) == 2 && strcmp(end, "END") == 0 && v > best)
			best = v;
	return best;
}

/* Reads the console of S until its counter passes ABOVE + 1; returns the
 * highest value seen (-1 if none within a minute). */
static long count_after(const struct side *s, long above)
{
	uint64_t deadline = util_now_ms() + 60000;
	struct buf out = BUF_INIT;
	char chunk[4096];
	long c = -1;
	int fd = hv_serial_connect(s->run_dir, VMID);

	while (fd >= 0 && c <= above + 1 && util_now_ms() < deadline) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		buf_append(&out, chunk, (size_t)n);
		c = max_count(out.data);
	}
	if (c <= above + 1)
		fprintf(stderr, "  counter above %ld wanted; console:\n%s\n", above,
			out.data ? out.data : "");
	if (fd >= 0)
		close(fd);
	buf_free(&out);
	return c;
}

/* ---- fixtures ----------------------------------------------------------------------- */

static void kill_side(const struct side *s)
{
	char path[512], *text = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/%d.pid", s->run_dir, VMID);
	if (util_read_file(path, 64, &text, &len) == 0 && atoi(text) > 1)
		kill(atoi(text), SIGKILL);
	free(text);
}

static void kill_leftover(void)
{
	kill_side(&A);
	kill_side(&B);
}

static void side_setup(struct side *s)
{
	struct hv_config cfg = { .run_dir = s->run_dir };

	snprintf(s->run_dir, sizeof(s->run_dir), "%s/%s/run", test_tmpdir(), s->name);
	snprintf(s->disk0, sizeof(s->disk0), "%s/%s/vm-100-disk-0.qcow2", test_tmpdir(), s->name);
	snprintf(s->disk1, sizeof(s->disk1), "%s/%s/vm-100-disk-1.raw", test_tmpdir(), s->name);
	snprintf(s->tls, sizeof(s->tls), "%s/%s/tls", test_tmpdir(), s->name);
	s->disks[0] = (struct hv_disk_path){ "virtio0", s->disk0, "qcow2" };
	s->disks[1] = (struct hv_disk_path){ "virtio1", s->disk1, "raw" };
	CHECK_INT(hv_new(&cfg, &s->h, err, sizeof(err)), 0);
}

/* Fresh empty disks of the guest's sizes for S as a target. */
static void target_disks(const struct side *s)
{
	char cmd[1024];

	unlink(s->disk0);
	unlink(s->disk1);
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 '%s' 64M && truncate -s 1M '%s'",
		 s->disk0, s->disk1);
	CHECK_INT(hv_run_cmd(cmd), 0);
}

static void setup(void)
{
	const char *root = getenv("CORRAL_ROOT");
	const char *keys[] = { "name", "memory", "serial0", "virtio0", "virtio1", "boot" };
	const char *vals[] = { "hvmig", "256", "socket", "local:100/vm-100-disk-0.qcow2",
			       "local:100/vm-100-disk-1.raw", "order=virtio0" };
	struct vmconf_errors errs = { .n = 0 };
	char cmd[2048], base[512];

	CHECK(realpath(root ? root : ".", base) != NULL);
	side_setup(&A);
	side_setup(&B);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s/a' '%s/b' && qemu-img create -q -f qcow2 -F qcow2 -b "
		 "'%s/build/guest/guest.qcow2' '%s' && truncate -s 1M '%s'",
		 test_tmpdir(), test_tmpdir(), base, A.disk0, A.disk1);
	CHECK_INT(hv_run_cmd(cmd), 0);
	conf = vmconf_new();
	CHECK_INT(vmconf_update(conf, keys, vals, 6, NULL, &errs), 0);
	CHECK_INT(hv_mig_tls_new(&tls, err, sizeof(err)), 0);
	CHECK_INT(hv_mig_tls_write(&tls, A.tls, 1, err, sizeof(err)), 0);
	CHECK_INT(hv_mig_tls_write(&tls, A.tls, 0, err, sizeof(err)), 0);
	CHECK_INT(hv_mig_tls_write(&tls, B.tls, 1, err, sizeof(err)), 0);
	CHECK_INT(hv_mig_tls_write(&tls, B.tls, 0, err, sizeof(err)), 0);
	atexit(kill_leftover);
}

/* ---- one migration ------------------------------------------------------------------ */

struct run_ctl {
	const struct side *dst;
	int kill_target_mid_mirror; /* SIGKILL the target QEMU once disk data flows */
	int abort_in_ram;           /* stop the run in the RAM phase */
	int saw_mirror, saw_ram;
};

static int on_progress(void *opaque, const struct hv_mig_progress *p)
{
	struct run_ctl *c = opaque;

	if (p->phase == HV_MIG_MIRROR && p->disk_done > 0) {
		c->saw_mirror = 1;
		if (c->kill_target_mid_mirror)
			kill_side(c->dst);
	}
	if (p->phase == HV_MIG_RAM)
		c->saw_ram = 1;
	return c->abort_in_ram && p->phase == HV_MIG_RAM;
}

static int start_target(const struct side *d, int *nbd_port, int *mig_port)
{
	struct hv_mig_qemu q = { .h = d->h, .vmid = VMID };
	struct hv_mig_target_opts to = { .tls_dir = d->tls, .listen_host = "127.0.0.1",
					  .disks = { { "virtio0", "virtio1" }, 2 } };
	int r;

	target_disks(d);
	r = hv_vm_start_incoming(d->h, VMID, conf, d->disks, 2, START_TIMEOUT_MS, err, sizeof(err));
	*nbd_port = to.nbd_port = hv_mig_free_port("127.0.0.1");
	*mig_port = to.mig_port = hv_mig_free_port("127.0.0.1");
	if (r == 0)
		r = hv_mig_target_prepare(&q, &to, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "  target: %s\n", err);
	return r;
}

/* Migrates VMID from S to D under CTL; the source run's result. */
static int migrate(const struct side *s, const struct side *d, struct run_ctl *ctl,
		   struct hv_mig_progress *last, uint64_t bwlimit_kib)
{
	struct hv_mig_qemu sq = { .h = s->h, .vmid = VMID };
	struct hv_mig_source_opts so = { .tls_dir = s->tls, .host = "127.0.0.1",
					 .disks = { { "virtio0", "virtio1" }, 2 },
					 .bwlimit_kib = bwlimit_kib, .timeout_ms = MIG_TIMEOUT_MS,
					 .progress = on_progress, .opaque = ctl };
	int r = start_target(d, &so.nbd_port, &so.mig_port);

	ctl->dst = d;
	if (r == 0)
		r = hv_mig_source_run(&sq, &so, last, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "  migrate: %s\n", err);
	return r;
}

static int finish(const struct side *s, const struct side *d)
{
	struct hv_mig_qemu dq = { .h = d->h, .vmid = VMID };
	int r = hv_mig_target_finish(&dq, 30000, err, sizeof(err));

	if (r < 0)
		fprintf(stderr, "  finish: %s\n", err);
	if (r == 0)
		r = hv_vm_stop(s->h, VMID, 10000, err, sizeof(err));
	return r;
}

/* The source after a failed run: running, no migration job or node left. */
static void check_source_clean(const struct side *s)
{
	struct hv_vm_status st;
	cJSON *ret = NULL;
	long c;

	CHECK_INT(hv_vm_status(s->h, VMID, &st, err, sizeof(err)), 0);
	CHECK_STR(st.qmpstatus, "running");
	CHECK_INT(hv_vm_qmp(s->h, VMID, "query-block-jobs", NULL, 5000, &ret, err, sizeof(err)), 0);
	CHECK_INT(cJSON_GetArraySize(ret), 0);
	cJSON_Delete(ret);
	c = count_after(s, last_count);
	CHECK(c > last_count);
	last_count = c;
}

/* ---- cases -------------------------------------------------------------------------- */

/* The cases share one guest: after a failure the rest would only wait out
 * their timeouts. */
static int skip_after_failure(void)
{
	if (test_failures)
		test_fail(__FILE__, __LINE__, "an earlier case failed");
	return test_failures != 0;
}

static const char counter[] =
	"echo DATA-BEFORE | dd of=/dev/vdb bs=512 seek=100 conv=fsync 2>/dev/null; "
	"i=0; while true; do i=$((i+1)); echo TICK $i END; "
	"echo TICK $i END | dd of=/dev/vdb bs=512 seek=200 conv=fsync 2>/dev/null; sleep 1; done &\n";

static void test_boot_and_counter(void)
{
	struct buf out = BUF_INIT;
	int fd;

	setup();
	CHECK_INT(hv_vm_start(A.h, VMID, conf, A.disks, 2, START_TIMEOUT_MS, err, sizeof(err)), 0);
	fd = hv_serial_connect(A.run_dir, VMID);
	CHECK(fd >= 0);
	CHECK(hv_serial_expect(fd, &out, "CORRAL-GUEST-READY", NULL, BOOT_TIMEOUT_MS));
	CHECK(hv_serial_expect(fd, &out, "TICK 3 END", counter, 60000));
	last_count = max_count(out.data);
	buf_free(&out);
	close(fd);
}

static void test_migrate_a_to_b(void)
{
	struct run_ctl ctl = { 0 };
	struct hv_mig_progress last;
	long c;

	if (skip_after_failure())
		return;

	CHECK_INT(migrate(&A, &B, &ctl, &last, 0), 0);
	CHECK_STR(last.status, "completed");
	CHECK(last.downtime_ms >= 0);
	CHECK(last.total_ms > 0);
	CHECK(last.transferred > 0);
	CHECK_INT(finish(&A, &B), 0);
	CHECK_INT(hv_vm_running(A.h, VMID), 0);
	CHECK_INT(hv_vm_running(B.h, VMID), 1);
	/* the counter goes on where it was: no reboot on the target */
	c = count_after(&B, last_count);
	CHECK(c > last_count);
	last_count = c;
	fprintf(stderr, "  downtime %lld ms, total %lld ms\n", (long long)last.downtime_ms,
		(long long)last.total_ms);
}

static void test_data_on_target(void)
{
	struct buf out = BUF_INIT;
	int fd = hv_serial_connect(B.run_dir, VMID);

	if (skip_after_failure())
		return;

	CHECK(fd >= 0);
	CHECK(hv_serial_expect(fd, &out, "SEEN-DATA-BEFORE",
			    "dd if=/dev/vdb bs=512 skip=100 count=1 2>/dev/null | "
			    "grep -q DATA-BEFORE && echo SEEN-DATA-BEFORE\n",
			    30000));
	/* no reboot: the boot counter on the data disk still says 1 */
	CHECK(hv_serial_expect(fd, &out, "BOOTS-1",
			    "dd if=/dev/vdb bs=64 count=1 2>/dev/null | grep -q 'CORRAL-BOOTS 1$' "
			    "&& echo BOOTS-$((0+1))\n",
			    30000));
	buf_free(&out);
	close(fd);
}

static void test_target_killed_mid_mirror(void)
{
	struct run_ctl ctl = { .kill_target_mid_mirror = 1 };

	if (skip_after_failure())
		return;

	/* a slow mirror so the kill lands while disk data flows */
	CHECK(migrate(&B, &A, &ctl, NULL, 2048) < 0);
	CHECK_INT(ctl.saw_mirror, 1);
	CHECK_INT(ctl.saw_ram, 0);
	for (int i = 0; i < 100 && hv_vm_running(A.h, VMID); i++)
		usleep(50000);
	CHECK_INT(hv_vm_running(A.h, VMID), 0);
	check_source_clean(&B);
}

static void test_stopped_mid_ram(void)
{
	struct run_ctl ctl = { .abort_in_ram = 1 };

	if (skip_after_failure())
		return;

	CHECK_INT(migrate(&B, &A, &ctl, NULL, 0), -ECANCELED);
	CHECK_INT(ctl.saw_ram, 1);
	/* a failed incoming migration ends the target QEMU by itself */
	for (int i = 0; i < 200 && hv_vm_running(A.h, VMID); i++)
		usleep(50000);
	CHECK_INT(hv_vm_running(A.h, VMID), 0);
	check_source_clean(&B);
}

static void test_migrate_back(void)
{
	struct run_ctl ctl = { 0 };
	struct hv_mig_progress last;
	char *text = NULL;
	size_t len;
	long c;

	if (skip_after_failure())
		return;

	CHECK_INT(migrate(&B, &A, &ctl, &last, 0), 0);
	CHECK_INT(finish(&B, &A), 0);
	c = count_after(&A, last_count);
	CHECK(c > last_count);
	CHECK_INT(hv_vm_stop(A.h, VMID, 10000, err, sizeof(err)), 0);
	/* the disk file itself holds the writes of both homes */
	CHECK_INT(util_read_file(A.disk1, 1 << 20, &text, &len), 0);
	CHECK(text && len == 1 << 20 && memcmp(text + 100 * 512, "DATA-BEFORE", 11) == 0);
	CHECK(text && max_count(text + 200 * 512) > c - 3);
	free(text);
	hv_mig_tls_free(&tls);
	hv_free(A.h);
	hv_free(B.h);
	vmconf_free(conf);
}

static const struct test_case tests[] = {
	{ "boot_and_counter", test_boot_and_counter },
	{ "migrate_with_local_disks", test_migrate_a_to_b },
	{ "disk_data_on_target", test_data_on_target },
	{ "target_killed_mid_mirror", test_target_killed_mid_mirror },
	{ "stopped_mid_ram", test_stopped_mid_ram },
	{ "migrate_back", test_migrate_back },
};

TEST_MAIN(tests)
