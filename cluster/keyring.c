/* AES-256-GCM keyring over OpenSSL EVP with a random 12-byte nonce per packet. */
#include "cluster/keyring.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NONCE_LEN 12
#define TAG_LEN 16

struct keyring {
	pthread_mutex_t lock;
	EVP_CIPHER *cipher;  /* fetched once: a fetch per packet costs more than AES */
	EVP_CIPHER_CTX *ctx; /* reused under the lock */
	uint8_t keys[KEYRING_MAX_KEYS][KEYRING_KEY_LEN]; /* keys[0] is primary */
	unsigned nkeys;
	char label[KEYRING_LABEL_MAX + 1];
	struct keyring_stats stats;
};

struct keyring *keyring_new(void)
{
	struct keyring *kr = calloc(1, sizeof(*kr));

	if (!kr)
		return NULL;
	pthread_mutex_init(&kr->lock, NULL);
	kr->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	kr->ctx = EVP_CIPHER_CTX_new();
	if (!kr->cipher || !kr->ctx) {
		keyring_free(kr);
		return NULL;
	}
	return kr;
}

void keyring_free(struct keyring *kr)
{
	if (!kr)
		return;
	OPENSSL_cleanse(kr->keys, sizeof(kr->keys));
	EVP_CIPHER_CTX_free(kr->ctx);
	EVP_CIPHER_free(kr->cipher);
	pthread_mutex_destroy(&kr->lock);
	free(kr);
}

static int find_key(const struct keyring *kr, const uint8_t *key)
{
	for (unsigned i = 0; i < kr->nkeys; i++)
		if (CRYPTO_memcmp(kr->keys[i], key, KEYRING_KEY_LEN) == 0)
			return (int)i;
	return -1;
}

int keyring_install(struct keyring *kr, const uint8_t *key)
{
	int rc = 0;

	pthread_mutex_lock(&kr->lock);
	if (find_key(kr, key) >= 0)
		goto out;
	if (kr->nkeys == KEYRING_MAX_KEYS) {
		rc = -ENOSPC;
		goto out;
	}
	memcpy(kr->keys[kr->nkeys++], key, KEYRING_KEY_LEN);
out:
	pthread_mutex_unlock(&kr->lock);
	return rc;
}

int keyring_use(struct keyring *kr, const uint8_t *key)
{
	uint8_t tmp[KEYRING_KEY_LEN];
	int i;

	pthread_mutex_lock(&kr->lock);
	i = find_key(kr, key);
	if (i > 0) {
		memcpy(tmp, kr->keys[0], KEYRING_KEY_LEN);
		memcpy(kr->keys[0], kr->keys[i], KEYRING_KEY_LEN);
		memcpy(kr->keys[i], tmp, KEYRING_KEY_LEN);
		OPENSSL_cleanse(tmp, sizeof(tmp));
	}
	pthread_mutex_unlock(&kr->lock);
	return i < 0 ? -ENOENT : 0;
}

int keyring_remove(struct keyring *kr, const uint8_t *key)
{
	int i, rc = 0;

	pthread_mutex_lock(&kr->lock);
	i = find_key(kr, key);
	if (i < 0)
		rc = -ENOENT;
	else if (i == 0)
		rc = -EBUSY;
	else {
		kr->nkeys--;
		memmove(kr->keys[i], kr->keys[i + 1], (kr->nkeys - (unsigned)i) * KEYRING_KEY_LEN);
		OPENSSL_cleanse(kr->keys[kr->nkeys], KEYRING_KEY_LEN);
	}
	pthread_mutex_unlock(&kr->lock);
	return rc;
}

int keyring_set_label(struct keyring *kr, const char *label)
{
	if (strlen(label) > KEYRING_LABEL_MAX)
		return -EINVAL;
	pthread_mutex_lock(&kr->lock);
	strcpy(kr->label, label);
	pthread_mutex_unlock(&kr->lock);
	return 0;
}

unsigned keyring_count(struct keyring *kr)
{
	unsigned n;

	pthread_mutex_lock(&kr->lock);
	n = kr->nkeys;
	pthread_mutex_unlock(&kr->lock);
	return n;
}

/* One GCM pass with KEY (lock held).  ENC selects direction; TAG is
 * written or checked. */
static int gcm(struct keyring *kr, const uint8_t *key, int enc, const uint8_t *nonce,
	       const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *c = kr->ctx;
	int n, ok;

	ok = EVP_CipherInit_ex(c, kr->cipher, NULL, NULL, NULL, enc) &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) &&
	     EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) &&
	     (!kr->label[0] ||
	      EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)kr->label, (int)strlen(kr->label))) &&
	     EVP_CipherUpdate(c, out, &n, in, (int)len) &&
	     (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag)) &&
	     EVP_CipherFinal_ex(c, out + n, &n) &&
	     (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag));
	return ok ? 0 : -EIO;
}

int keyring_seal(struct keyring *kr, const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	int rc = -ENOKEY;

	if (len > (size_t)INT32_MAX || cap < len + KEYRING_OVERHEAD)
		return -ENOSPC;
	out[0] = KEYRING_VERSION;
	if (RAND_bytes(out + 1, NONCE_LEN) != 1)
		return -EIO;
	pthread_mutex_lock(&kr->lock);
	if (kr->nkeys)
		rc = gcm(kr, kr->keys[0], 1, out + 1, in, len, out + 1 + NONCE_LEN,
			 out + 1 + NONCE_LEN + len);
	if (rc == 0)
		kr->stats.sealed++;
	pthread_mutex_unlock(&kr->lock);
	return rc < 0 ? rc : (int)(len + KEYRING_OVERHEAD);
}

int keyring_open(struct keyring *kr, const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	size_t plen;
	uint8_t tag[TAG_LEN];
	int rc = -EBADMSG;

	pthread_mutex_lock(&kr->lock);
	if (len < KEYRING_OVERHEAD || in[0] != KEYRING_VERSION || len > (size_t)INT32_MAX ||
	    cap < len - KEYRING_OVERHEAD) {
		kr->stats.drop_format++;
		goto out;
	}
	plen = len - KEYRING_OVERHEAD;
	for (unsigned i = 0; i < kr->nkeys && rc < 0; i++) {
		memcpy(tag, in + len - TAG_LEN, TAG_LEN);
		if (gcm(kr, kr->keys[i], 0, in + 1, in + 1 + NONCE_LEN, plen, out, tag) == 0)
			rc = (int)plen;
	}
	if (rc < 0)
		kr->stats.drop_auth++;
	else
		kr->stats.opened++;
out:
	pthread_mutex_unlock(&kr->lock);
	return rc;
}

void keyring_get_stats(struct keyring *kr, struct keyring_stats *out)
{
	pthread_mutex_lock(&kr->lock);
	*out = kr->stats;
	pthread_mutex_unlock(&kr->lock);
}
