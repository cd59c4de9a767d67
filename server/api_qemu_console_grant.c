/* The one-time console grants (see api_qemu_console.h): a slot per port,
 * the ticket kept as a SHA-256 digest. */
#include "server/api_qemu_console.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"

#define GRANT_SLOTS (CONSOLE_PORT_MAX - CONSOLE_PORT_MIN + 1)

struct grant {
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char authid[192];
	char what[CONSOLE_WHAT_MAX];
	int vmid;
	time_t expires; /* 0: free */
};

struct console_grants {
	pthread_mutex_t lock;
	unsigned next;  /* where the search for a free slot starts: ports rotate */
	struct grant slot[GRANT_SLOTS];
};

int console_grants_new(struct console_grants **out)
{
	struct console_grants *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	pthread_mutex_init(&g->lock, NULL);
	*out = g;
	return 0;
}

void console_grants_free(struct console_grants *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->lock);
	OPENSSL_cleanse(g, sizeof(*g));
	free(g);
}

static void digest(const char *ticket, unsigned char out[SHA256_DIGEST_LENGTH])
{
	SHA256((const unsigned char *)ticket, strlen(ticket), out);
}

/* A free or expired slot, searched from NEXT on; -1 when none. */
static int free_slot(struct console_grants *g, time_t now)
{
	for (unsigned i = 0; i < GRANT_SLOTS; i++) {
		unsigned s = (g->next + i) % GRANT_SLOTS;

		if (g->slot[s].expires <= now) {
			g->next = (s + 1) % GRANT_SLOTS;
			return (int)s;
		}
	}
	return -1;
}

int console_grant_add(struct console_grants *g, const char *ticket, const char *authid, int vmid,
		      const char *what, time_t now, int lifetime, unsigned *port)
{
	struct grant gr = { .vmid = vmid, .expires = now + lifetime };
	int s;

	if (util_strlcpy(gr.authid, authid, sizeof(gr.authid)) < 0 ||
	    util_strlcpy(gr.what, what, sizeof(gr.what)) < 0)
		return -ERANGE;
	digest(ticket, gr.digest);
	pthread_mutex_lock(&g->lock);
	s = free_slot(g, now);
	if (s >= 0)
		g->slot[s] = gr;
	pthread_mutex_unlock(&g->lock);
	if (s < 0)
		return -EAGAIN;
	*port = CONSOLE_PORT_MIN + (unsigned)s;
	return 0;
}

static int grant_matches(const struct grant *gr, const unsigned char *d, const char *authid,
			 int vmid, time_t now)
{
	return gr->expires > now && CRYPTO_memcmp(gr->digest, d, sizeof(gr->digest)) == 0 &&
	       strcmp(gr->authid, authid) == 0 && gr->vmid == vmid;
}

int console_grant_take(struct console_grants *g, const char *ticket, const char *authid, int vmid,
		       unsigned port, time_t now, char *what, size_t n)
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	struct grant *gr;
	int rc = CR_EAUTH;

	if (port < CONSOLE_PORT_MIN || port > CONSOLE_PORT_MAX)
		return CR_EAUTH;
	digest(ticket, d);
	gr = &g->slot[port - CONSOLE_PORT_MIN];
	pthread_mutex_lock(&g->lock);
	if (grant_matches(gr, d, authid, vmid, now) && util_strlcpy(what, gr->what, n) == 0) {
		memset(gr, 0, sizeof(*gr));
		rc = 0;
	}
	pthread_mutex_unlock(&g->lock);
	return rc;
}
