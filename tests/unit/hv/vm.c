/* Tests hv/vm.c, hv/vm_ops.c, hv/spawn.c, hv/supervisor.c and hv/procstat.c
 * against a fake QEMU: this same binary, re-executed with QEMU's arguments,
 * speaks QMP on the socket hv asks for.  Real QEMU is exercised by
 * tests/integration/test_hv_boot.sh. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "hv/vm.h"
#include "tests/unit/test.h"

/* ---- the fake QEMU ------------------------------------------------------------- */

struct fake {
	char name[64];
	char state[16];
	int client;
};

static void fake_send(struct fake *f, const char *s)
{
	if (write(f->client, s, strlen(s)) < 0)
		_exit(3);
}

static void fake_reply(struct fake *f, int id, const char *ret)
{
	char line[512];

	snprintf(line, sizeof(line), "{\"return\": %s, \"id\": %d}\r\n", ret, id);
	fake_send(f, line);
}

static void fake_event(struct fake *f, const char *name, const char *data)
{
	char line[512];

	snprintf(line, sizeof(line), "{\"event\": \"%s\", \"data\": %s, \"timestamp\": "
		 "{\"seconds\": 1, \"microseconds\": 0}}\r\n", name, data);
	fake_send(f, line);
}

/* One command: returns 1 when the fake should exit. */
static int fake_command(struct fake *f, const char *cmd, int id)
{
	char ret[256];

	if (strcmp(cmd, "query-status") == 0) {
		snprintf(ret, sizeof(ret), "{\"status\": \"%s\", \"running\": %s}", f->state,
			 strcmp(f->state, "running") ? "false" : "true");
		fake_reply(f, id, ret);
	} else if (strcmp(cmd, "query-blockstats") == 0) {
		fake_reply(f, id, "[{\"device\": \"\", \"stats\": {\"rd_bytes\": 100, \"wr_bytes\": 50}},"
				  " {\"stats\": {\"rd_bytes\": 1, \"wr_bytes\": 2}}]");
	} else if (strcmp(cmd, "stop") == 0 || strcmp(cmd, "cont") == 0) {
		snprintf(f->state, sizeof(f->state), "%s", cmd[0] == 's' ? "paused" : "running");
		fake_reply(f, id, "{}");
		fake_event(f, cmd[0] == 's' ? "STOP" : "RESUME", "{}");
	} else if (strcmp(cmd, "system_reset") == 0) {
		fake_reply(f, id, "{}");
		fake_event(f, "RESET", "{\"guest\": false, \"reason\": \"host-qmp-system-reset\"}");
	} else if (strcmp(cmd, "system_powerdown") == 0) {
		fake_reply(f, id, "{}");
		fake_event(f, "POWERDOWN", "{}");
		if (strcmp(f->name, "deafguest") == 0)
			return 0; /* a guest that ignores the power button */
		fake_event(f, "SHUTDOWN", "{\"guest\": true, \"reason\": \"guest-shutdown\"}");
		return 1;
	} else if (strcmp(cmd, "quit") == 0 || strcmp(cmd, "qmp_capabilities") == 0) {
		fake_reply(f, id, "{}");
		return cmd[0] == 'q' && cmd[1] == 'u';
	} else {
		snprintf(ret, sizeof(ret), "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
			 "\"The command %s has not been found\"}, \"id\": %d}\r\n", cmd, id);
		fake_send(f, ret);
	}
	return 0;
}

/* Serves one client; returns 1 when the fake should exit. */
static int fake_session(struct fake *f)
{
	char line[1024], cmd[64];
	size_t len = 0;

	fake_send(f, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n");
	while (len < sizeof(line) - 1 && read(f->client, line + len, 1) == 1) {
		const char *ex, *id;

		if (line[len++] != '\n')
			continue;
		line[len] = '\0';
		len = 0;
		ex = strstr(line, "\"execute\":\"");
		id = strstr(line, "\"id\":");
		if (!ex || !id || sscanf(ex + 11, "%63[^\"]", cmd) != 1)
			continue;
		if (fake_command(f, cmd, atoi(id + 5)))
			return 1;
	}
	return 0;
}

/* "socket,id=qmp,path=/a,,b,server=on" -> "/a,b" */
static void option_path(const char *opt, char *out, size_t n)
{
	const char *p = strstr(opt, "path=");
	size_t o = 0;

	for (p = p ? p + 5 : ""; *p && o + 1 < n; p++) {
		if (*p == ',' && p[1] != ',')
			break;
		out[o++] = *p;
		p += *p == ',';
	}
	out[o] = '\0';
}

static int fake_qemu(int argc, char **argv)
{
	struct fake f = { .state = "running" };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char pidfile[512] = "", line[32];
	int s;

	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "-pidfile") == 0)
			snprintf(pidfile, sizeof(pidfile), "%s", argv[i + 1]);
		if (strcmp(argv[i], "-chardev") == 0 && strstr(argv[i + 1], "id=qmp,"))
			option_path(argv[i + 1], sa.sun_path, sizeof(sa.sun_path));
		if (strcmp(argv[i], "-name") == 0)
			sscanf(argv[i + 1], "guest=%63[^,]", f.name);
	}
	if (strcmp(f.name, "failvm") == 0) {
		fprintf(stderr, "fake-qemu: -blockdev driver=file: Could not open 'x': No such file or directory\n");
		return 1;
	}
	snprintf(line, sizeof(line), "%d\n", (int)getpid());
	util_write_file_atomic(pidfile, line, strlen(line), 0600);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 1) < 0)
		return 2;
	while ((f.client = accept(s, NULL, NULL)) >= 0) {
		int done = fake_session(&f);

		close(f.client);
		if (done)
			return 0;
	}
	return 0;
}

/* ---- fixtures -------------------------------------------------------------------- */

static char run_dir[128], err[1024];
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static char ev_log[4096];
static int exit_status = -2;

static void on_event(void *opaque, const struct hv_event *ev)
{
	(void)opaque;
	pthread_mutex_lock(&ev_lock);
	if (strlen(ev_log) + 64 < sizeof(ev_log))
		snprintf(ev_log + strlen(ev_log), 64, "%d:%s%s ", ev->vmid, ev->name,
			 ev->guest ? "(guest)" : "");
	if (ev->type == HV_EV_EXITED)
		exit_status = ev->wait_status;
	pthread_mutex_unlock(&ev_lock);
}

/* Bounded wait for WHAT in the event log (the supervisor runs async). */
static int seen(const char *what)
{
	for (int i = 0; i < 500; i++) {
		int found;

		pthread_mutex_lock(&ev_lock);
		found = strstr(ev_log, what) != NULL;
		pthread_mutex_unlock(&ev_lock);
		if (found)
			return 1;
		usleep(10000);
	}
	fprintf(stderr, "  events: %s\n", ev_log);
	return 0;
}

static void clear_events(void)
{
	pthread_mutex_lock(&ev_lock);
	ev_log[0] = '\0';
	exit_status = -2;
	pthread_mutex_unlock(&ev_lock);
}

static struct hv *new_hv(const char *qemu)
{
	struct hv_config cfg = { .run_dir = run_dir, .qemu_binary = qemu, .force_tcg = 1,
				 .on_event = on_event };
	struct hv *h = NULL;

	snprintf(run_dir, sizeof(run_dir), "%s/run", test_tmpdir());
	CHECK_INT(hv_new(&cfg, &h, err, sizeof(err)), 0);
	return h;
}

static struct vmconf *conf_named(const char *name)
{
	struct vmconf *c = vmconf_new();

	vmconf_set(c, "name", name);
	return c;
}

static int start(struct hv *h, int vmid, const char *name)
{
	struct vmconf *c = conf_named(name);
	int r = hv_vm_start(h, vmid, c, NULL, 0, 5000, err, sizeof(err));

	vmconf_free(c);
	return r;
}

static int run_file_exists(int vmid, const char *what)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%d.%s", run_dir, vmid, what);
	return access(path, F_OK) == 0;
}

/* ---- cases --------------------------------------------------------------------------- */

static void test_lifecycle(void)
{
	struct hv *h = new_hv("/proc/self/exe");
	struct hv_vm_status st;

	CHECK_STR(hv_accel(h), "tcg");
	clear_events();
	CHECK_INT(start(h, 101, "alpha"), 0);
	CHECK_INT(start(h, 101, "alpha"), CR_EEXISTS);
	CHECK_STR(err, "VM 101 already running");
	CHECK_INT(hv_vm_status(h, 101, &st, err, sizeof(err)), 0);
	CHECK_INT(st.running, 1);
	CHECK_STR(st.qmpstatus, "running");
	CHECK_INT(st.diskread, 101);
	CHECK_INT(st.diskwrite, 52);
	CHECK(st.pid > 0 && st.rss_bytes > 0);
	CHECK_INT(hv_vm_suspend(h, 101, err, sizeof(err)), 0);
	CHECK(seen("101:STOP"));
	hv_vm_status(h, 101, &st, err, sizeof(err));
	CHECK_STR(st.qmpstatus, "paused");
	CHECK_INT(hv_vm_resume(h, 101, err, sizeof(err)), 0);
	CHECK_INT(hv_vm_reset(h, 101, err, sizeof(err)), 0);
	CHECK(seen("101:RESUME 101:RESET"));
	CHECK_INT(hv_vm_qmp(h, 101, "bogus", NULL, 1000, NULL, err, sizeof(err)), CR_EQMP);
	CHECK_STR(err, "CommandNotFound: The command bogus has not been found");
	CHECK_INT(hv_vm_stop(h, 101, 5000, err, sizeof(err)), 0);
	CHECK(seen("101:EXITED"));
	CHECK(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0);
	CHECK_INT(hv_vm_running(h, 101), 0);
	CHECK_INT(run_file_exists(101, "pid") || run_file_exists(101, "qmp"), 0);
	CHECK_INT(run_file_exists(101, "log"), 1);
	hv_vm_status(h, 101, &st, err, sizeof(err));
	CHECK_STR(st.qmpstatus, "stopped");
	CHECK_INT(hv_vm_resume(h, 101, err, sizeof(err)), CR_ENOTRUNNING);
	hv_free(h);
}

static void test_shutdown(void)
{
	struct hv *h = new_hv("/proc/self/exe");

	clear_events();
	CHECK_INT(start(h, 102, "beta"), 0);
	CHECK_INT(hv_vm_shutdown(h, 102, 5000, 0, err, sizeof(err)), 0);
	CHECK(seen("102:POWERDOWN 102:SHUTDOWN(guest)"));
	CHECK(seen("102:EXITED"));
	CHECK_INT(start(h, 103, "deafguest"), 0);
	CHECK_INT(hv_vm_shutdown(h, 103, 100, 0, err, sizeof(err)), CR_ETIMEOUT);
	CHECK_STR(err, "VM 103 shutdown failed - got timeout");
	CHECK_INT(hv_vm_running(h, 103), 1);
	CHECK_INT(hv_vm_shutdown(h, 103, 100, 1, err, sizeof(err)), 0); /* forceStop */
	CHECK_INT(hv_vm_running(h, 103), 0);
	hv_free(h);
}

static void test_kill_noticed(void)
{
	struct hv *h = new_hv("/proc/self/exe");
	struct hv_vm_status st;

	clear_events();
	CHECK_INT(start(h, 104, "gamma"), 0);
	hv_vm_status(h, 104, &st, err, sizeof(err));
	CHECK_INT(kill(st.pid, SIGKILL), 0);
	CHECK(seen("104:EXITED"));
	CHECK(WIFSIGNALED(exit_status) && WTERMSIG(exit_status) == SIGKILL);
	CHECK_INT(hv_vm_running(h, 104), 0);
	CHECK_INT(run_file_exists(104, "pid"), 0);
	hv_free(h);
}

static void test_start_failures(void)
{
	struct hv *h = new_hv("/proc/self/exe"), *bad = new_hv("/nonexistent/qemu");

	CHECK_INT(start(h, 105, "failvm"), -EIO);
	CHECK_STR(err, "start failed: QEMU exited with code 1: fake-qemu: -blockdev driver=file: "
		       "Could not open 'x': No such file or directory");
	CHECK_INT(hv_vm_running(h, 105), 0);
	CHECK_INT(start(bad, 105, "delta"), -ENOENT);
	CHECK_STR(err, "failed to execute /nonexistent/qemu: No such file or directory");
	hv_free(bad);
	hv_free(h);
}

static void test_reattach(void)
{
	struct hv *h = new_hv("/proc/self/exe");
	struct hv_vm_status before, after;
	char stale[256], line[32];
	int vmids[8] = { 0 };

	CHECK_INT(start(h, 106, "epsilon"), 0);
	hv_vm_status(h, 106, &before, err, sizeof(err));
	hv_free(h);
	/* a pidfile naming a live process that is not that QEMU: ours */
	snprintf(stale, sizeof(stale), "%s/107.pid", run_dir);
	snprintf(line, sizeof(line), "%d\n", (int)getpid());
	util_write_file_atomic(stale, line, strlen(line), 0600);
	h = new_hv("/proc/self/exe");
	CHECK_INT(hv_attach_all(h, vmids, 8, err, sizeof(err)), 1);
	CHECK_INT(vmids[0], 106);
	CHECK_INT(access(stale, F_OK) != 0, 1);
	hv_vm_status(h, 106, &after, err, sizeof(err));
	CHECK_INT(after.pid, before.pid);
	CHECK_INT(hv_vm_attach(h, 107, err, sizeof(err)), CR_ENOTRUNNING);
	clear_events();
	CHECK_INT(hv_vm_stop(h, 106, 5000, err, sizeof(err)), 0);
	CHECK(seen("106:EXITED"));
	hv_free(h);
}

/* Bounded wait until the snapshot's qmpstatus is WANT (events are async). */
static int cached_state(struct hv *h, int vmid, const char *want)
{
	struct hv_vm_status st;

	for (int i = 0; i < 500; i++) {
		hv_vm_status_cached(h, vmid, &st);
		if (strcmp(st.qmpstatus, want) == 0)
			return 1;
		usleep(10000);
	}
	fprintf(stderr, "  cached qmpstatus %s, wanted %s\n", st.qmpstatus, want);
	return 0;
}

static void test_status_cached(void)
{
	struct hv *h = new_hv("/proc/self/exe");
	struct hv_vm_status st, full;

	hv_vm_status_cached(h, 108, &st);
	CHECK_INT(st.running, 0);
	CHECK_STR(st.qmpstatus, "stopped");
	CHECK_INT(start(h, 108, "zeta"), 0);
	/* straight after start: pid and /proc figures, no QMP counters yet */
	CHECK_INT(hv_vm_status_cached(h, 108, &st), 0);
	hv_vm_status(h, 108, &full, err, sizeof(err));
	CHECK_INT(st.running, 1);
	CHECK_STR(st.qmpstatus, "running");
	CHECK_INT(st.pid, full.pid);
	CHECK(st.rss_bytes > 0);
	CHECK_INT(st.diskread, 0);
	hv_stats_refresh(h);
	hv_vm_status_cached(h, 108, &st);
	CHECK_INT(st.diskread, 101);
	CHECK_INT(st.diskwrite, 52);
	/* run state from the STOP / RESUME events, without a refresh */
	CHECK_INT(hv_vm_suspend(h, 108, err, sizeof(err)), 0);
	CHECK(cached_state(h, 108, "paused"));
	CHECK_INT(hv_vm_resume(h, 108, err, sizeof(err)), 0);
	CHECK(cached_state(h, 108, "running"));
	CHECK_INT(hv_vm_stop(h, 108, 5000, err, sizeof(err)), 0);
	hv_vm_status_cached(h, 108, &st);
	CHECK_INT(st.running, 0);
	CHECK_STR(st.qmpstatus, "stopped");
	CHECK_INT(st.pid, 0);
	hv_free(h);
}

/* A paused VM re-attached by a new struct hv shows paused at once. */
static void test_status_cached_reattach(void)
{
	struct hv *h = new_hv("/proc/self/exe");
	struct hv_vm_status st;

	clear_events();
	CHECK_INT(start(h, 109, "eta"), 0);
	CHECK_INT(hv_vm_suspend(h, 109, err, sizeof(err)), 0);
	CHECK(seen("109:STOP")); /* read before closing: the fake writes it after the reply */
	hv_free(h);
	h = new_hv("/proc/self/exe");
	CHECK_INT(hv_vm_attach(h, 109, err, sizeof(err)), 0);
	hv_vm_status_cached(h, 109, &st);
	CHECK_INT(st.running, 1);
	CHECK_STR(st.qmpstatus, "paused");
	CHECK_INT(st.diskread, 101);
	CHECK_INT(hv_vm_stop(h, 109, 5000, err, sizeof(err)), 0);
	hv_free(h);
}

/* The stats thread refreshes on its own (short period here). */
static void test_status_cached_thread(void)
{
	struct hv_config cfg = { .run_dir = run_dir, .qemu_binary = "/proc/self/exe",
				 .force_tcg = 1, .stats_period_ms = 20 };
	struct hv *h = NULL;
	struct hv_vm_status st = { 0 };

	snprintf(run_dir, sizeof(run_dir), "%s/run", test_tmpdir());
	CHECK_INT(hv_new(&cfg, &h, err, sizeof(err)), 0);
	CHECK_INT(start(h, 110, "theta"), 0);
	for (int i = 0; i < 500 && st.diskread != 101; i++) {
		usleep(10000);
		hv_vm_status_cached(h, 110, &st);
	}
	CHECK_INT(st.diskread, 101);
	CHECK_INT(hv_vm_stop(h, 110, 5000, err, sizeof(err)), 0);
	hv_free(h);
}

static void test_proc_parsers(void)
{
	struct hv_proc_stat ps;
	static const char stat[] = "4242 (qemu (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
				   "250 75 0 0 20 0 3 0 123456 1000000 2048 18446744073709551615";
	static const char cmd[] = "qemu\0-pidfile\0/run/corral/100.pid\0-m\0512";
	static const char netdev[] =
		"Inter-|   Receive\n face |bytes packets\n"
		"  tap100i0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n"
		"tap100i1: 5 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0\n"
		"  tap1000i0: 999 1 0 0 0 0 0 0 999 1 0 0 0 0 0 0\n";
	uint64_t rx, tx;

	CHECK_INT(hv_parse_proc_stat(stat, &ps), 0);
	CHECK_INT(ps.state, 'S');
	CHECK_INT(ps.utime_ticks, 250);
	CHECK_INT(ps.stime_ticks, 75);
	CHECK_INT(ps.start_ticks, 123456);
	CHECK_INT(ps.rss_pages, 2048);
	CHECK_INT(hv_parse_proc_stat("4242 (qemu) S 1", &ps), -EINVAL);
	CHECK_INT(hv_cmdline_has(cmd, sizeof(cmd), "/run/corral/100.pid"), 1);
	CHECK_INT(hv_cmdline_has(cmd, sizeof(cmd), "/run/corral/10.pid"), 0);
	CHECK_INT(hv_parse_net_dev(netdev, 100, &rx, &tx), 0);
	CHECK_INT(rx, 1005);
	CHECK_INT(tx, 2007);
}

static const struct test_case tests[] = {
	{ "lifecycle", test_lifecycle },
	{ "shutdown", test_shutdown },
	{ "kill_noticed", test_kill_noticed },
	{ "start_failures", test_start_failures },
	{ "reattach", test_reattach },
	{ "status_cached", test_status_cached },
	{ "status_cached_reattach", test_status_cached_reattach },
	{ "status_cached_thread", test_status_cached_thread },
	{ "proc_parsers", test_proc_parsers },
};

/* Started by hv as "QEMU" (argv[1] is -name), the binary plays the fake. */
int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "-name") == 0)
		return fake_qemu(argc, argv);
	return test_run(tests, ARRAY_SIZE(tests), argc, argv);
}
