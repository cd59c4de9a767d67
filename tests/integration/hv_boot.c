/* Boots the real test guest (build/guest/guest.qcow2) under real QEMU through
 * hv/: serial marker and shell, QMP status, suspend/resume, ACPI shutdown,
 * kill -9 noticed by the supervisor, re-attach after dropping struct hv,
 * start errors with QEMU's own message.  Cases run in order and share the
 * VM; run by tests/integration/test_hv_boot.sh. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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
#include "hv/vm.h"
#include "tests/integration/hv_serial.h"
#include "tests/unit/test.h"

#define VMID 100
#define BOOT_TIMEOUT_MS 120000 /* TCG on a busy 2-core machine */
#define START_TIMEOUT_MS 30000

static struct hv *h;
static struct vmconf *conf;
static char run_dir[80], overlay[300], data_disk[300];
static struct hv_disk_path disks[2];
static char err[2048];

/* ---- events ----------------------------------------------------------------------- */

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;
static char ev_log[8192];
static int last_exit_status = -2;

static void on_event(void *opaque, const struct hv_event *ev)
{
	(void)opaque;
	pthread_mutex_lock(&ev_lock);
	if (strlen(ev_log) + 64 < sizeof(ev_log))
		snprintf(ev_log + strlen(ev_log), 64, "%d:%s%s ", ev->vmid, ev->name,
			 ev->guest ? "(guest)" : "");
	if (ev->type == HV_EV_EXITED)
		last_exit_status = ev->wait_status;
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_lock);
}

static void events_clear(void)
{
	pthread_mutex_lock(&ev_lock);
	ev_log[0] = '\0';
	last_exit_status = -2;
	pthread_mutex_unlock(&ev_lock);
}

/* Waits (bounded) until the event log mentions WHAT. */
static int event_seen(const char *what, int timeout_ms)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
	int seen;

	pthread_mutex_lock(&ev_lock);
	while (!(seen = strstr(ev_log, what) != NULL) && util_now_ms() < deadline) {
		pthread_mutex_unlock(&ev_lock);
		usleep(20000);
		pthread_mutex_lock(&ev_lock);
	}
	pthread_mutex_unlock(&ev_lock);
	if (!seen)
		fprintf(stderr, "  events so far: %s\n", ev_log);
	return seen;
}

/* ---- fixtures ----------------------------------------------------------------------- */

/* Whatever happens, no QEMU or test bridge outlives the test. */
static void kill_leftover(void)
{
	char path[512], *text = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/%d.pid", run_dir, VMID);
	if (util_read_file(path, 64, &text, &len) == 0 && atoi(text) > 1)
		kill(atoi(text), SIGKILL);
	free(text);
	if (access("/sys/class/net/crlhvtest0", F_OK) == 0)
		hv_run_cmd("ip link del crlhvtest0");
}


static void setup(void)
{
	const char *root = getenv("CORRAL_ROOT");
	const char *guest = getenv("CORRAL_GUEST");
	char cmd[1024], gpath[512];
	const char *keys[] = { "name", "memory", "serial0", "virtio0", "virtio1", "net0", "boot" };
	const char *vals[] = { "hvboot", "256", "socket", "local:100/vm-100-disk-0.qcow2",
			       "local:100/vm-100-disk-1.raw", "virtio", "order=virtio0" };
	struct vmconf_errors errs = { .n = 0 };
	struct hv_config cfg = { .run_dir = run_dir, .on_event = on_event };
	int fd;

	snprintf(gpath, sizeof(gpath), "%s/build/guest/guest.qcow2", root ? root : ".");
	snprintf(run_dir, sizeof(run_dir), "%s/run", test_tmpdir());
	snprintf(overlay, sizeof(overlay), "%s/vm-100-disk-0.qcow2", test_tmpdir());
	snprintf(data_disk, sizeof(data_disk), "%s/vm-100-disk-1.raw", test_tmpdir());
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 -F qcow2 -b '%s' '%s'",
		 guest ? guest : gpath, overlay);
	CHECK_INT(hv_run_cmd(cmd), 0);
	fd = open(data_disk, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK_INT(ftruncate(fd, 1 << 20), 0);
	close(fd);
	disks[0] = (struct hv_disk_path){ "virtio0", overlay, "qcow2" };
	disks[1] = (struct hv_disk_path){ "virtio1", data_disk, "raw" };
	conf = vmconf_new();
	CHECK_INT(vmconf_update(conf, keys, vals, 7, NULL, &errs), 0);
	CHECK_INT(hv_new(&cfg, &h, err, sizeof(err)), 0);
	atexit(kill_leftover);
}

static int start_vm(void)
{
	int r = hv_vm_start(h, VMID, conf, disks, 2, START_TIMEOUT_MS, err, sizeof(err));

	if (r < 0)
		fprintf(stderr, "  start: %s\n", err);
	return r;
}

/* ---- cases ---------------------------------------------------------------------------- */

static void test_boot_marker(void)
{
	struct buf out = BUF_INIT;
	int fd;

	setup();
	CHECK_STR(hv_accel(h), hv_kvm_usable() ? "kvm" : "tcg");
	CHECK_INT(start_vm(), 0);
	CHECK_INT(hv_vm_running(h, VMID), 1);
	fd = hv_serial_connect(run_dir, VMID);
	CHECK(fd >= 0);
	CHECK(hv_serial_expect(fd, &out, "CORRAL-GUEST-READY", NULL, BOOT_TIMEOUT_MS));
	CHECK(out.data && strstr(out.data, "CORRAL-BOOT-COUNT 1") != NULL);
	/* a shell on the console answers a typed command */
	CHECK(hv_serial_expect(fd, &out, "hv-42", "echo hv-$((6*7))\n", 60000));
	buf_free(&out);
	close(fd);
}

static void test_status(void)
{
	struct hv_vm_status st;
	int busy = 0;

	/* the guest shell spins a little; usage is a fraction of host CPUs */
	for (int i = 0; i < 50 && !busy; i++) {
		hv_vm_status(h, VMID, &st, err, sizeof(err));
		busy = st.cpu_usage > 0 && st.cpu_usage < 4;
		usleep(100000);
	}
	CHECK(busy);

	CHECK_INT(hv_vm_status(h, VMID, &st, err, sizeof(err)), 0);
	CHECK_INT(st.running, 1);
	CHECK_STR(st.qmpstatus, "running");
	CHECK(st.pid > 0);
	CHECK(st.rss_bytes > 0);
	CHECK(st.cpu_time_ns > 0);
	CHECK(st.diskread > 0); /* the guest read its kernel and initramfs */
	CHECK_INT(st.balloon_bytes, 256ull << 20);
	CHECK(st.qemu_version[0] >= '1' && strchr(st.qemu_version, '.') != NULL);
}

static void test_suspend_resume(void)
{
	struct hv_vm_status st;

	events_clear();
	CHECK_INT(hv_vm_suspend(h, VMID, err, sizeof(err)), 0);
	CHECK(event_seen("100:STOP", 10000));
	hv_vm_status(h, VMID, &st, err, sizeof(err));
	CHECK_STR(st.qmpstatus, "paused");
	CHECK_INT(st.running, 1);
	CHECK_INT(hv_vm_resume(h, VMID, err, sizeof(err)), 0);
	CHECK(event_seen("100:RESUME", 10000));
	hv_vm_status(h, VMID, &st, err, sizeof(err));
	CHECK_STR(st.qmpstatus, "running");
}

static void test_acpi_shutdown(void)
{
	char pidfile[512];

	events_clear();
	CHECK_INT(hv_vm_shutdown(h, VMID, 90000, 0, err, sizeof(err)), 0);
	CHECK(event_seen("100:POWERDOWN", 1000));
	CHECK(event_seen("100:SHUTDOWN(guest)", 1000)); /* the guest powered itself off */
	CHECK(event_seen("100:EXITED", 10000));
	CHECK_INT(hv_vm_running(h, VMID), 0);
	CHECK(WIFEXITED(last_exit_status) && WEXITSTATUS(last_exit_status) == 0);
	snprintf(pidfile, sizeof(pidfile), "%s/%d.pid", run_dir, VMID);
	CHECK(access(pidfile, F_OK) != 0);
	CHECK_INT(hv_vm_reset(h, VMID, err, sizeof(err)), CR_ENOTRUNNING);
	CHECK_STR(err, "VM 100 not running");
}

static void test_kill9_noticed(void)
{
	struct hv_vm_status st;
	struct buf out = BUF_INIT;
	int fd;

	CHECK_INT(start_vm(), 0);
	fd = hv_serial_connect(run_dir, VMID);
	CHECK(hv_serial_expect(fd, &out, "CORRAL-GUEST-READY", NULL, BOOT_TIMEOUT_MS));
	CHECK(out.data && strstr(out.data, "CORRAL-BOOT-COUNT 2") != NULL); /* data disk kept it */
	close(fd);
	buf_free(&out);
	hv_vm_status(h, VMID, &st, err, sizeof(err));
	events_clear();
	CHECK(st.pid > 0 && kill(st.pid, SIGKILL) == 0);
	CHECK(event_seen("100:EXITED", 10000));
	CHECK(WIFSIGNALED(last_exit_status) && WTERMSIG(last_exit_status) == SIGKILL);
	hv_vm_status(h, VMID, &st, err, sizeof(err));
	CHECK_INT(st.running, 0);
	CHECK_STR(st.qmpstatus, "stopped");
}

static void test_reattach(void)
{
	struct hv_config cfg = { .run_dir = run_dir, .on_event = on_event };
	struct hv_vm_status before, after;
	struct buf out = BUF_INIT;
	int vmids[4] = { 0 }, fd;

	CHECK_INT(start_vm(), 0);
	hv_vm_status(h, VMID, &before, err, sizeof(err));
	hv_free(h); /* the daemon goes away; QEMU must not */
	h = NULL;
	CHECK_INT(kill(before.pid, 0), 0);
	CHECK_INT(hv_new(&cfg, &h, err, sizeof(err)), 0);
	CHECK_INT(hv_attach_all(h, vmids, 4, err, sizeof(err)), 1);
	CHECK_INT(vmids[0], VMID);
	hv_vm_status(h, VMID, &after, err, sizeof(err));
	CHECK_INT(after.running, 1);
	CHECK_INT(after.pid, before.pid);
	CHECK_STR(after.qmpstatus, "running");
	fd = hv_serial_connect(run_dir, VMID);
	CHECK(hv_serial_expect(fd, &out, "hv-42-again", "echo hv-$((40+2))-again\n", BOOT_TIMEOUT_MS));
	close(fd);
	buf_free(&out);
	events_clear();
	CHECK_INT(hv_vm_stop(h, VMID, 10000, err, sizeof(err)), 0);
	CHECK(event_seen("100:EXITED", 10000));
	CHECK_INT(hv_vm_running(h, VMID), 0);
}

/* A NIC on a Linux bridge: hv makes tap100i1, enslaves it, QEMU opens it;
 * link_down=1 reaches the guest as no carrier; the tap goes with the VM. */
static void test_bridged_nic(void)
{
	const char *keys[] = { "net1" };
	const char *vals[] = { "virtio,bridge=crlhvtest0,link_down=1" };
	struct vmconf_errors errs = { .n = 0 };
	struct buf out = BUF_INIT;
	char master[256] = "";
	ssize_t n;
	int fd;

	CHECK_INT(hv_run_cmd("ip link add crlhvtest0 type bridge && ip link set crlhvtest0 up"), 0);
	CHECK_INT(vmconf_update(conf, keys, vals, 1, NULL, &errs), 0);
	CHECK_INT(start_vm(), 0);
	n = readlink("/sys/class/net/tap100i1/master", master, sizeof(master) - 1);
	master[n > 0 ? n : 0] = '\0';
	CHECK(strstr(master, "crlhvtest0") != NULL);
	fd = hv_serial_connect(run_dir, VMID);
	CHECK(hv_serial_expect(fd, &out, "CORRAL-GUEST-READY", NULL, BOOT_TIMEOUT_MS));
	CHECK(hv_serial_expect(fd, &out, "carrier=0",
			    "ip link set eth1 up; echo carrier=$(cat /sys/class/net/eth1/carrier)\n", 60000));
	close(fd);
	buf_free(&out);
	CHECK_INT(hv_vm_stop(h, VMID, 10000, err, sizeof(err)), 0);
	CHECK(access("/sys/class/net/tap100i1", F_OK) != 0);
	CHECK_INT(vmconf_update(conf, NULL, NULL, 0, "net1", &errs), 0);
	hv_run_cmd("ip link del crlhvtest0");
}

static void test_start_errors(void)
{
	struct hv_disk_path bad[2] = { { "virtio0", "/nonexistent/disk.qcow2", "qcow2" },
				       disks[1] };
	struct hv_config cfg = { .run_dir = run_dir, .qemu_binary = "/nonexistent/qemu" };
	struct hv *h2 = NULL;

	CHECK_INT(hv_vm_start(h, VMID, conf, bad, 2, START_TIMEOUT_MS, err, sizeof(err)), -EIO);
	CHECK(strstr(err, "start failed: QEMU exited with code 1") != NULL);
	CHECK(strstr(err, "/nonexistent/disk.qcow2") != NULL); /* QEMU's own words */
	CHECK_INT(hv_vm_running(h, VMID), 0);
	CHECK_INT(hv_new(&cfg, &h2, err, sizeof(err)), 0);
	CHECK_INT(hv_vm_start(h2, VMID, conf, disks, 2, START_TIMEOUT_MS, err, sizeof(err)), -ENOENT);
	CHECK_STR(err, "failed to execute /nonexistent/qemu: No such file or directory");
	hv_free(h2);
	hv_free(h);
	vmconf_free(conf);
}

static const struct test_case tests[] = {
	{ "boot_marker_and_shell", test_boot_marker },
	{ "status", test_status },
	{ "suspend_resume", test_suspend_resume },
	{ "acpi_shutdown", test_acpi_shutdown },
	{ "kill9_noticed", test_kill9_noticed },
	{ "reattach_after_daemon_restart", test_reattach },
	{ "bridged_nic_and_link_down", test_bridged_nic },
	{ "start_errors", test_start_errors },
};

TEST_MAIN(tests)
