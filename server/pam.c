/* The pam realm: system users checked through libpam (auth, then account
 * stack) with a conversation that answers every hidden prompt with the
 * password.  PAM's own failure delay is switched off: the HTTP layer delays
 * every 401 and the login limiter caps attempts per client. */
#include "common/err.h"
#include "server/auth_int.h"

#include <pthread.h>
#include <security/pam_appl.h>
#include <stdlib.h>
#include <string.h>
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
