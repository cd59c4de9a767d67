/* Suspend to disk: a VM's RAM and device state saved into a file through
 * QEMU's migration stream, and a new QEMU started from it.  The stream goes
 * over a unix socket in the run directory that this side reads or feeds
 * (QEMU's sandbox allows no exec: migration, and QEMU 7.2 has no file:). */
#include "hv/vm_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"

#define QMP_TIMEOUT_MS 10000
#define POLL_MS 50

static int remaining(uint64_t deadline)
{
	uint64_t now = util_now_ms();

	return now >= deadline ? 0 : (int)(deadline - now);
}

static int unix_addr(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	return util_strlcpy(a->sun_path, path, sizeof(a->sun_path)) < 0 ? -ENAMETOOLONG : 0;
}

static int qmp_uri(struct hv *h, int vmid, const char *cmd, const char *sock, char *err,
		   size_t errlen)
{
	char uri[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	cJSON *a = cJSON_CreateObject();
	int r;

	snprintf(uri, sizeof(uri), "unix:%s", sock);
	cJSON_AddStringToObject(a, "uri", uri);
	r = hv_vm_qmp(h, vmid, cmd, a, QMP_TIMEOUT_MS, NULL, err, errlen);
	cJSON_Delete(a);
	return r;
}

/* query-migrate's status until it is "completed" (0) or failed. */
static int wait_migration(struct hv *h, int vmid, uint64_t deadline, char *err, size_t errlen)
{
	for (;;) {
		cJSON *ret = NULL;
		const cJSON *st;
		int r = hv_vm_qmp(h, vmid, "query-migrate", NULL, QMP_TIMEOUT_MS, &ret, err, errlen);

		st = r == 0 ? cJSON_GetObjectItemCaseSensitive(ret, "status") : NULL;
		r = r < 0 ? r : !cJSON_IsString(st) ? -EPROTO
			: strcmp(st->valuestring, "completed") == 0 ? 0
			: strcmp(st->valuestring, "failed") == 0 ? -EIO : 1;
		cJSON_Delete(ret);
		if (r <= 0) {
			if (r == -EIO || r == -EPROTO)
				snprintf(err, errlen, "the VM state stream failed in QEMU");
			return r;
		}
		if (!remaining(deadline)) {
			snprintf(err, errlen, "the VM state stream did not complete in time");
			return CR_ETIMEOUT;
		}
		poll(NULL, 0, POLL_MS);
	}
}

/* Copies FROM to TO until FROM's end, within DEADLINE. */
static int pump(int from, int to, uint64_t deadline)
{
	char buf[1 << 16];

	for (;;) {
		struct pollfd p = { .fd = from, .events = POLLIN };
		ssize_t n;
		int pr = poll(&p, 1, remaining(deadline));

		if (pr == 0)
			return -ETIMEDOUT;
		if (pr < 0 && errno != EINTR)
			return -errno;
		n = read(from, buf, sizeof(buf));
		if (n == 0)
			return 0;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (n > 0 && util_write_all(to, buf, (size_t)n) < 0)
			return -EIO;
	}
}

/* ---- save ---- */

static int listen_on(const char *path)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -errno;
	unlink(path);
	r = unix_addr(path, &a);
	if (r == 0 && (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0))
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static int accept_within(int lfd, uint64_t deadline)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int fd;

	if (poll(&p, 1, remaining(deadline)) <= 0)
		return -ETIMEDOUT;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The stream QEMU sends to socket SOCK, into the file OUT. */
static int receive_state(struct hv *h, int vmid, const char *sock, int out, uint64_t deadline,
			 char *err, size_t errlen)
{
	int lfd = listen_on(sock), cfd = -1, r;

	if (lfd < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", sock, strerror(-lfd));
		return lfd;
	}
	r = qmp_uri(h, vmid, "migrate", sock, err, errlen);
	if (r == 0 && (cfd = accept_within(lfd, deadline)) < 0) {
		r = cfd;
		snprintf(err, errlen, "QEMU did not connect to %s", sock);
	}
	if (r == 0 && (r = pump(cfd, out, deadline)) < 0)
		snprintf(err, errlen, "receiving the VM state: %s", strerror(-r));
	if (r == 0)
		r = wait_migration(h, vmid, deadline, err, errlen);
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	unlink(sock);
	return r;
}

int hv_vm_save_state(struct hv *h, int vmid, const char *path, int timeout_ms, char *err,
		     size_t errlen)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int out, r;

	if (hv_run_path(sock, sizeof(sock), h->run_dir, vmid, "state") < 0) {
		snprintf(err, errlen, "run directory path too long for a socket");
		return -ENAMETOOLONG;
	}
	out = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (out < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	r = hv_vm_qmp(h, vmid, "stop", NULL, QMP_TIMEOUT_MS, NULL, err, errlen);
	if (r == 0)
		r = receive_state(h, vmid, sock, out, deadline, err, errlen);
	if (r == 0 && fsync(out) < 0)
		r = -errno;
	close(out);
	if (r == 0)
		return hv_vm_stop(h, vmid, QMP_TIMEOUT_MS, err, errlen);
	hv_vm_resume(h, vmid, err + strlen(err), errlen - strlen(err));
	return r;
}

/* ---- resume ---- */

static int connect_within(const char *path, uint64_t deadline)
{
	struct sockaddr_un a;
	int r = unix_addr(path, &a);

	while (r == 0) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		close(fd);
		if (!remaining(deadline))
			return -ETIMEDOUT;
		poll(NULL, 0, POLL_MS);
	}
	return r;
}

static int send_state(struct hv *h, int vmid, const char *sock, int in, uint64_t deadline,
		      char *err, size_t errlen)
{
	int fd, r = qmp_uri(h, vmid, "migrate-incoming", sock, err, errlen);

	if (r < 0)
		return r;
	if ((fd = connect_within(sock, deadline)) < 0) {
		snprintf(err, errlen, "cannot reach QEMU's %s", sock);
		return fd;
	}
	r = pump(in, fd, deadline);
	close(fd);
	if (r < 0) {
		snprintf(err, errlen, "sending the VM state: %s", strerror(-r));
		return r;
	}
	return wait_migration(h, vmid, deadline, err, errlen);
}

int hv_vm_start_from_state(struct hv *h, int vmid, const struct vmconf *conf,
			   const struct hv_disk_path *disks, size_t ndisks, const char *path,
			   int timeout_ms, char *err, size_t errlen)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)], ignored[256];
	int in = open(path, O_RDONLY | O_CLOEXEC), r;

	if (in < 0) {
		snprintf(err, errlen, "cannot open the VM state %s: %s", path, strerror(errno));
		return -errno;
	}
	r = hv_run_path(sock, sizeof(sock), h->run_dir, vmid, "state-in");
	if (r == 0)
		r = hv_vm_start_incoming(h, vmid, conf, disks, ndisks, timeout_ms, err, errlen);
	if (r == 0 && (r = send_state(h, vmid, sock, in, deadline, err, errlen)) < 0) {
		char msg[512];

		hv_log_tail(h, vmid, msg, sizeof(msg));
		if (msg[0])
			snprintf(err + strlen(err), errlen - strlen(err), "; QEMU: %s", msg);
	}
	if (r == 0)
		r = hv_vm_qmp(h, vmid, "cont", NULL, QMP_TIMEOUT_MS, NULL, err, errlen);
	if (r < 0 && hv_vm_running(h, vmid))
		hv_vm_stop(h, vmid, QMP_TIMEOUT_MS, ignored, sizeof(ignored));
	close(in);
	unlink(sock);
	return r;
}
