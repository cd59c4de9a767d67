/* scrypt password hashes (see password.h) and the small crypto helpers the
 * auth module shares: base64, constant-time compare, randomness. */
#include "server/password.h"

#include "common/err.h"
#include "server/auth_int.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#define SALT_LEN 16
#define KEY_LEN 32
/* Refuse stored parameters beyond this: a forged hash must not make a login
 * allocate gigabytes (2^20 * 8 * 128 = 1 GiB). */
#define MAX_LOG2N 20
#define MAX_R 32
#define MAX_P 16

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int auth_b64_encode(const unsigned char *in, size_t len, int pad, char *out, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t left = len - i;

		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		if (o + 5 > n)
			return -ERANGE;
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		if (left > 1)
			out[o++] = b64_alphabet[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (left > 2)
			out[o++] = b64_alphabet[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	if (o >= n)
		return -ERANGE;
	out[o] = '\0';
	return (int)o;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64_alphabet, c) : NULL;

	return p ? (int)(p - b64_alphabet) : -1;
}

int auth_b64_decode(const char *in, unsigned char *out, size_t n)
{
	size_t len = strlen(in), o = 0;
	uint32_t acc = 0;
	int bits = 0;

	while (len && in[len - 1] == '=')
		len--;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(in[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= n)
				return -ERANGE;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	if (bits >= 6)
		return -EINVAL;
	return (int)o;
}

int auth_str_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return 0;
	return CRYPTO_memcmp(a, b, la) == 0;
}

int auth_random(unsigned char *out, size_t n)
{
	return RAND_bytes(out, (int)n) == 1 ? 0 : CR_EINTERNAL;
}

static int derive(const char *pw, const unsigned char *salt, size_t saltlen, unsigned log2n,
		  unsigned r, unsigned p, unsigned char key[KEY_LEN])
{
	uint64_t N = 1ULL << log2n;
	/* scrypt needs 128*N*r*p bytes for V plus 256*r*p for B. */
	uint64_t maxmem = 128ULL * N * r * p + 256ULL * r * p + (1 << 20);

	if (EVP_PBE_scrypt(pw, strlen(pw), salt, saltlen, N, r, p, maxmem, key, KEY_LEN) != 1)
		return CR_EINTERNAL;
	return 0;
}

int password_hash_cost(const char *pw, unsigned log2n, unsigned r, unsigned p, char *out,
		       size_t n)
{
	unsigned char salt[SALT_LEN], key[KEY_LEN];
	char salt64[32], key64[64];
	int r_;

	if (log2n < 1 || log2n > MAX_LOG2N || r < 1 || r > MAX_R || p < 1 || p > MAX_P)
		return -EINVAL;
	r_ = auth_random(salt, sizeof(salt));
	if (r_ == 0)
		r_ = derive(pw, salt, sizeof(salt), log2n, r, p, key);
	if (r_ < 0)
		return r_;
	auth_b64_encode(salt, sizeof(salt), 0, salt64, sizeof(salt64));
	auth_b64_encode(key, sizeof(key), 0, key64, sizeof(key64));
	OPENSSL_cleanse(key, sizeof(key));
	r_ = snprintf(out, n, "$scrypt$ln=%u,r=%u,p=%u$%s$%s", log2n, r, p, salt64, key64);
	return r_ > 0 && (size_t)r_ < n ? 0 : -ERANGE;
}

int password_hash(const char *pw, char *out, size_t n)
{
	return password_hash_cost(pw, PASSWORD_LOG2N, PASSWORD_R, PASSWORD_P, out, n);
}

/* Splits "$scrypt$ln=..,r=..,p=..$SALT$KEY" into its fields. */
static int parse_stored(const char *stored, unsigned *log2n, unsigned *r, unsigned *p,
			char salt64[32], char key64[64])
{
	int end = 0;

	if (sscanf(stored, "$scrypt$ln=%u,r=%u,p=%u$%31[A-Za-z0-9+/]$%63[A-Za-z0-9+/]%n", log2n,
		   r, p, salt64, key64, &end) != 5 || stored[end] != '\0')
		return -EINVAL;
	if (*log2n < 1 || *log2n > MAX_LOG2N || *r < 1 || *r > MAX_R || *p < 1 || *p > MAX_P)
		return -EINVAL;
	return 0;
}

int password_verify(const char *pw, const char *stored)
{
	unsigned char salt[SALT_LEN * 2], want[KEY_LEN + 4], got[KEY_LEN];
	char salt64[32], key64[64];
	unsigned log2n, r, p;
	int saltlen, keylen, ok;

	if (!pw || !stored || parse_stored(stored, &log2n, &r, &p, salt64, key64) < 0)
		return CR_EAUTH;
	saltlen = auth_b64_decode(salt64, salt, sizeof(salt));
	keylen = auth_b64_decode(key64, want, sizeof(want));
	if (saltlen <= 0 || keylen != KEY_LEN)
		return CR_EAUTH;
	if (derive(pw, salt, (size_t)saltlen, log2n, r, p, got) < 0)
		return CR_EAUTH;
	ok = CRYPTO_memcmp(got, want, KEY_LEN) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok ? 0 : CR_EAUTH;
}
