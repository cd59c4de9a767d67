/* Offline migration of a stopped VM's disks (see migrate.h): qemu-nbd
 * serves each image read-only over TLS on the source, qemu-img convert
 * pulls it into the volume allocated on the target.  Same per-migration
 * credentials as live migration. */
#include "hv/migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"

#define TLS_OBJ "tls-creds-x509,id=mig-tls,endpoint=%s,dir=%s"

/* Runs ARGV (argv[0] from PATH), its stderr into a pipe; waits up to
 * TIMEOUT_S for it to exit.  0 on exit status 0, else CR_EINTERNAL with
 * its message in ERR. */
static int run_tool(char *const *argv, int timeout_s, char *err, size_t errlen)
{
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_s * 1000;
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
		if (util_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			snprintf(msg, sizeof(msg), "timed out");
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

int hv_mig_nbd_serve(const char *path, const char *format, const char *host, int port,
		     const char *name, const char *tls_dir, const char *pidfile, pid_t *pid,
		     char *err, size_t errlen)
{
	char obj[700], ports[16], pidopt[600], *text = NULL;
	char *argv[] = { "qemu-nbd", "--read-only", "--persistent", "--fork", "--object", obj,
			 "--tls-creds", "mig-tls", "--bind", (char *)host, "--port", ports,
			 "--export-name", (char *)name, "--format", (char *)format, pidopt,
			 (char *)path, NULL };
	size_t len;
	int64_t v;
	int r;

	snprintf(obj, sizeof(obj), TLS_OBJ ",verify-peer=on", "server", tls_dir);
	snprintf(ports, sizeof(ports), "%d", port);
	snprintf(pidopt, sizeof(pidopt), "--pid-file=%s", pidfile);
	unlink(pidfile);
	r = run_tool(argv, 30, err, errlen); /* --fork: returns once it listens */
	if (r == 0 && (r = util_read_file(pidfile, 64, &text, &len)) == 0) {
		text[strcspn(text, "\n")] = '\0';
		r = util_parse_i64(text, &v) == 0 && v > 1 ? 0 : -EINVAL;
		*pid = (pid_t)v;
	}
	free(text);
	if (r < 0 && !err[0])
		snprintf(err, errlen, "qemu-nbd left no pid file");
	return r;
}

void hv_mig_nbd_stop(pid_t pid)
{
	if (pid > 1)
		kill(pid, SIGTERM);
}

int hv_mig_nbd_pull(const char *host, int port, const char *name, const char *tls_dir,
		    const char *dst, const char *format, int timeout_s, char *err, size_t errlen)
{
	char obj[700], src[700];
	char *argv[] = { "qemu-img", "convert", "-n", "--object", obj, "--image-opts", src,
			 "-O", (char *)format, (char *)dst, NULL };

	snprintf(obj, sizeof(obj), TLS_OBJ, "client", tls_dir);
	snprintf(src, sizeof(src),
		 "driver=nbd,server.type=inet,server.host=%s,server.port=%d,export=%s,"
		 "tls-creds=mig-tls,tls-hostname=" HV_MIG_TLS_HOSTNAME,
		 host, port, name);
	return run_tool(argv, timeout_s, err, errlen);
}
