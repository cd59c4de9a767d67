/* The pam realm: logins through libpam (auth and account stacks; PAM's own
 * failure delay off, as the HTTP layer delays every 401 and the limiter caps
 * attempts), password changes through chpasswd(8). */
#include "common/err.h"
#include "server/auth_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <security/pam_appl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* pam_unix and friends keep static state; one login at a time. */
static pthread_mutex_t pam_lock = PTHREAD_MUTEX_INITIALIZER;

const char *auth_pam_service(void)
{
	return access("/etc/pam.d/corral", F_OK) == 0 ? "corral" : "login";
}

static void free_replies(struct pam_response *r, int n)
{
	for (int i = 0; i < n; i++) {
		if (r[i].resp) {
			memset(r[i].resp, 0, strlen(r[i].resp));
			free(r[i].resp);
		}
	}
	free(r);
}

static int conversation(int n, const struct pam_message **msg, struct pam_response **resp,
			void *data)
{
	struct pam_response *r;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF)
			continue; /* info/error text needs no answer; no echoed prompts */
		r[i].resp = strdup(data);
		if (!r[i].resp) {
			free_replies(r, n);
			return PAM_BUF_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

static void no_delay(int status, unsigned delay, void *data)
{
	(void)status;
	(void)delay;
	(void)data;
}

int auth_pam_login(const char *user, const char *password)
{
	struct pam_conv conv = { conversation, (void *)password };
	pam_handle_t *h = NULL;
	int rc;

	if (!user[0] || !password[0])
		return CR_EAUTH;
	pthread_mutex_lock(&pam_lock);
	rc = pam_start(auth_pam_service(), user, &conv, &h);
	if (rc == PAM_SUCCESS)
		rc = pam_set_item(h, PAM_FAIL_DELAY, (const void *)no_delay);
	if (rc == PAM_SUCCESS)
		rc = pam_authenticate(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (h)
		pam_end(h, rc);
	pthread_mutex_unlock(&pam_lock);
	return rc == PAM_SUCCESS ? 0 : CR_EAUTH;
}

/* "USER:PASSWORD\n" on a socket: send() with MSG_NOSIGNAL, so a chpasswd
 * that dies early gives an error here and no SIGPIPE to corrald. */
static int send_line(int fd, const char *user, const char *password)
{
	const char *parts[] = { user, ":", password, "\n" };

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t len = strlen(parts[i]), off = 0;

		while (off < len) {
			ssize_t n = send(fd, parts[i] + off, len - off, MSG_NOSIGNAL);

			if (n < 0 && errno != EINTR)
				return -errno;
			off += n > 0 ? (size_t)n : 0;
		}
	}
	return 0;
}

/* Sets the system password with the distribution's own tool, which hashes
 * and locks /etc/shadow as configured there. */
int auth_pam_set_password(const char *user, const char *password)
{
	static char *const argv[] = { "chpasswd", NULL };
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	posix_spawn_file_actions_t fa;
	int fds[2], status = 0, r, w;
	pid_t pid;

	if (!user[0] || strpbrk(user, ":\n") || strchr(password, '\n') || !password[0])
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
	/* Its complaints would land in corrald's log as unformatted lines. */
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(&pid, "/usr/sbin/chpasswd", &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[0]);
	if (r != 0) {
		close(fds[1]);
		return -r;
	}
	w = send_line(fds[1], user, password);
	close(fds[1]);
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (w < 0)
		return w;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : CR_EINTERNAL;
}
