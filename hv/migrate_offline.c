/* Offline migration of a stopped VM's disks (see migrate.h): qemu-nbd
 * serves each image read-only over TLS on the source, qemu-img convert
 * pulls it into the volume allocated on the target.  Same per-migration
 * credentials as live migration. */
#include "hv/migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"

#define TLS_OBJ "tls-creds-x509,id=mig-tls,endpoint=%s,dir=%s"

/* Runs ARGV (argv[0] from PATH), its stderr into a pipe, until it exits
 * or STOP(OPAQUE) (asked every 20 ms) says to kill it.  0 on exit status 0,
 * else CR_EINTERNAL with its message (or why it was stopped) in ERR. */
static int run_tool(char *const *argv, hv_mig_stop_fn stop, void *opaque, char *err,
		    size_t errlen)
{
	const char *why;
	int fds[2], status = -1;
	char msg[1024] = "";
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(fds[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -errno;
	}
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (stop && (why = stop(opaque)) != NULL) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			snprintf(msg, sizeof(msg), "%s", why);
			break;
		}
		usleep(20000);
	}
	if (!msg[0] && (n = read(fds[0], msg, sizeof(msg) - 1)) > 0)
		msg[n - (msg[n - 1] == '\n')] = '\0';
	close(fds[0]);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	snprintf(err, errlen, "%s failed: %s", argv[0], msg[0] ? msg : "exit status");
	return CR_EINTERNAL;
}

/* Connects to HOST:PORT once: 1 when something listens there. */
static int listening(const char *host, int port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ai;
	char ports[16];
	int fd, ok = 0;

	snprintf(ports, sizeof(ports), "%d", port);
	if (getaddrinfo(host, ports, &hints, &ai) != 0)
		return 0;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ok = fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return ok;
}

static pid_t spawn_logged(char *const *argv, const char *log_path)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(null, 0);
		dup2(null, 1);
		dup2(log >= 0 ? log : null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* qemu-nbd stays our child (no --fork): we reap it in hv_mig_nbd_stop. */
int hv_mig_nbd_serve(const char *path, const char *format, const char *host, int port,
		     const char *name, const char *tls_dir, const char *log_path, pid_t *pid,
		     char *err, size_t errlen)
{
	char obj[700], ports[16], *text = NULL;
	char *argv[] = { "qemu-nbd", "--read-only", "--persistent", "--object", obj,
			 "--tls-creds", "mig-tls", "--bind", (char *)host, "--port", ports,
			 "--export-name", (char *)name, "--format", (char *)format, (char *)path,
			 NULL };
	uint64_t deadline = util_now_ms() + 30000;
	size_t len;
	int status;

	snprintf(obj, sizeof(obj), TLS_OBJ ",verify-peer=on", "server", tls_dir);
	snprintf(ports, sizeof(ports), "%d", port);
	*pid = spawn_logged(argv, log_path);
	if (*pid < 0)
		return -errno;
	while (!listening(host, port)) {
		if (waitpid(*pid, &status, WNOHANG) == *pid || util_now_ms() >= deadline) {
			hv_mig_nbd_stop(*pid);
			util_read_file(log_path, 1024, &text, &len);
			snprintf(err, errlen, "qemu-nbd failed: %s", text ? text : "no answer");
			free(text);
			*pid = -1;
			return CR_EINTERNAL;
		}
		usleep(20000);
	}
	return 0;
}

void hv_mig_nbd_stop(pid_t pid)
{
	uint64_t deadline = util_now_ms() + 5000;

	if (pid <= 1)
		return;
	kill(pid, SIGTERM);
	while (waitpid(pid, NULL, WNOHANG) == 0) {
		if (util_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return;
		}
		usleep(10000);
	}
}

int hv_mig_nbd_pull(const char *host, int port, const char *name, const char *tls_dir,
		    const char *dst, const char *format, uint64_t rate, hv_mig_stop_fn stop,
		    void *opaque, char *err, size_t errlen)
{
	char obj[700], src[700], rates[24], *argv[16];
	int n = 0;

	argv[n++] = "qemu-img";
	argv[n++] = "convert";
	argv[n++] = "-n";
	if (rate) { /* bytes per second */
		snprintf(rates, sizeof(rates), "%llu", (unsigned long long)rate);
		argv[n++] = "-r";
		argv[n++] = rates;
	}
	argv[n++] = "--object";
	argv[n++] = obj;
	argv[n++] = "--image-opts";
	argv[n++] = src;
	argv[n++] = "-O";
	argv[n++] = (char *)format;
	argv[n++] = (char *)dst;
	argv[n] = NULL;

	snprintf(obj, sizeof(obj), TLS_OBJ, "client", tls_dir);
	snprintf(src, sizeof(src),
		 "driver=nbd,server.type=inet,server.host=%s,server.port=%d,export=%s,"
		 "tls-creds=mig-tls,tls-hostname=" HV_MIG_TLS_HOSTNAME,
		 host, port, name);
	return run_tool(argv, stop, opaque, err, errlen);
}
