/* VNC tickets (see auth_vnc.h), signed and checked with the node's ticket
 * key pair. */
#include "server/auth_vnc.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "server/auth_int.h"

#define VNC_PREFIX "PVEVNC:"
#define VNC_SIG_MAX 512

/* "PVEVNC:<HEX8>:<authid>:<path>": what the signature covers. */
static int signed_text(char *out, size_t n, const char *stamp8, const char *authid,
		       const char *path)
{
	int len = snprintf(out, n, VNC_PREFIX "%.8s:%s:%s", stamp8, authid, path);

	return len > 0 && (size_t)len < n ? len : -ERANGE;
}

int auth_vncticket_make(struct auth *a, const char *authid, const char *path, time_t now,
			char *out, size_t n)
{
	char stamp[16], text[AUTH_VNC_TICKET_MAX];
	unsigned char sig[VNC_SIG_MAX];
	size_t siglen = sizeof(sig);
	int len, r, head;

	snprintf(stamp, sizeof(stamp), "%08X", (unsigned)now);
	if ((len = signed_text(text, sizeof(text), stamp, authid, path)) < 0)
		return len;
	if ((r = auth_rsa_sign(__atomic_load_n(&a->priv, __ATOMIC_ACQUIRE), text, sig, &siglen)) < 0)
		return r;
	head = snprintf(out, n, VNC_PREFIX "%s::", stamp);
	if (head < 0 || (size_t)head >= n)
		return -ERANGE;
	r = auth_b64_encode(sig, siglen, 1, out + head, n - (size_t)head);
	return r < 0 ? r : 0;
}

int auth_vncticket_verify(struct auth *a, const char *ticket, const char *authid, const char *path,
			  time_t now)
{
	const size_t plen = sizeof(VNC_PREFIX) - 1;
	char text[AUTH_VNC_TICKET_MAX];
	unsigned char sig[VNC_SIG_MAX];
	int64_t age;
	uint32_t stamp;
	int len, siglen;

	if (!ticket || strlen(ticket) >= AUTH_VNC_TICKET_MAX || strncmp(ticket, VNC_PREFIX, plen) ||
	    strlen(ticket) < plen + 10 || auth_parse_hex8(ticket + plen, &stamp) < 0 ||
	    strncmp(ticket + plen + 8, "::", 2) != 0)
		return CR_EAUTH;
	age = (int64_t)now - (int64_t)stamp;
	if (age < -AUTH_VNC_TICKET_AHEAD || age > AUTH_VNC_TICKET_LIFETIME)
		return CR_EAUTH;
	siglen = auth_b64_decode(ticket + plen + 10, sig, sizeof(sig));
	if (siglen <= 0 || (len = signed_text(text, sizeof(text), ticket + plen, authid, path)) < 0)
		return CR_EAUTH;
	return auth_rsa_verify(__atomic_load_n(&a->pub, __ATOMIC_ACQUIRE), text, (size_t)len, sig,
			       (size_t)siglen) == 0
		       ? 0
		       : CR_EAUTH;
}
