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

static int vnc_sign(struct auth *a, const char *msg, size_t len, unsigned char *sig,
		    size_t *siglen)
{
	EVP_PKEY *key = __atomic_load_n(&a->priv, __ATOMIC_ACQUIRE);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	     EVP_DigestSign(ctx, sig, siglen, (const unsigned char *)msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : CR_EINTERNAL;
}

static int vnc_verify(struct auth *a, const char *msg, size_t len, const unsigned char *sig,
		      size_t siglen)
{
	EVP_PKEY *key = __atomic_load_n(&a->pub, __ATOMIC_ACQUIRE);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	     EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : CR_EAUTH;
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
	if ((r = vnc_sign(a, text, (size_t)len, sig, &siglen)) < 0)
		return r;
	head = snprintf(out, n, VNC_PREFIX "%s::", stamp);
	if (head < 0 || (size_t)head >= n)
		return -ERANGE;
	r = auth_b64_encode(sig, siglen, 1, out + head, n - (size_t)head);
	return r < 0 ? r : 0;
}

/* Strict upper-case %08X. */
static int stamp_parse(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 8; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			v = v << 4 | (uint32_t)(c - '0');
		else if (c >= 'A' && c <= 'F')
			v = v << 4 | (uint32_t)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
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
	    strlen(ticket) < plen + 10 || stamp_parse(ticket + plen, &stamp) < 0 ||
	    strncmp(ticket + plen + 8, "::", 2) != 0)
		return CR_EAUTH;
	age = (int64_t)now - (int64_t)stamp;
	if (age < -AUTH_VNC_TICKET_AHEAD || age > AUTH_VNC_TICKET_LIFETIME)
		return CR_EAUTH;
	siglen = auth_b64_decode(ticket + plen + 10, sig, sizeof(sig));
	if (siglen <= 0 || (len = signed_text(text, sizeof(text), ticket + plen, authid, path)) < 0)
		return CR_EAUTH;
	return vnc_verify(a, text, (size_t)len, sig, (size_t)siglen) == 0 ? 0 : CR_EAUTH;
}
