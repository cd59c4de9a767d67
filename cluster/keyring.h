/* Cluster keyring: AES-256-GCM sealing of every gossip packet and TCP frame.
 * The primary key encrypts; every installed key is tried on receive, so keys
 * can be rotated (install, use, remove) without downtime.  Thread-safe. */
#ifndef CORRAL_KEYRING_H
#define CORRAL_KEYRING_H

#include <stddef.h>
#include <stdint.h>

/*
 * A sealed packet:
 *   +-----+----------+-------------+------------+
 *   | 0   | 0x01     | nonce (12)  | ciphertext | tag (16) |
 *   +-----+----------+-------------+------------+
 * The label is GCM associated data and is not sent: clusters with different
 * labels cannot read each other even with the same key.
 */
#define KEYRING_KEY_LEN 32
#define KEYRING_MAX_KEYS 8
#define KEYRING_VERSION 1
#define KEYRING_OVERHEAD (1 + 12 + 16)
#define KEYRING_LABEL_MAX 64

struct keyring;

struct keyring_stats {
	uint64_t sealed;
	uint64_t opened;
	uint64_t drop_auth;    /* no installed key authenticates it: wrong key or tampered */
	uint64_t drop_format;  /* too short or unknown version byte */
};

/* Returns NULL only when memory runs out.  Free with keyring_free(). */
struct keyring *keyring_new(void);
void keyring_free(struct keyring *kr);
/* Installs KEY (32 bytes); the first key installed becomes primary.
 * Installing a key twice is a no-op.  0 or -ENOSPC when the ring is full. */
int keyring_install(struct keyring *kr, const uint8_t *key);
/* Makes an installed key primary.  0 or -ENOENT. */
int keyring_use(struct keyring *kr, const uint8_t *key);
/* Removes a key; the primary cannot be removed (-EBUSY).  0 or -ENOENT. */
int keyring_remove(struct keyring *kr, const uint8_t *key);
int keyring_set_label(struct keyring *kr, const char *label);
/* Number of installed keys; 0 means packets travel in plaintext. */
unsigned keyring_count(struct keyring *kr);
/* Seals LEN bytes into OUT (needs LEN + KEYRING_OVERHEAD).  Returns the
 * sealed length, -ENOKEY with no key, -ENOSPC, or -EIO from OpenSSL. */
int keyring_seal(struct keyring *kr, const uint8_t *in, size_t len, uint8_t *out, size_t cap);
/* Opens a sealed packet into OUT (LEN - KEYRING_OVERHEAD bytes).  Returns the
 * plaintext length or -EBADMSG (counted as a drop). */
int keyring_open(struct keyring *kr, const uint8_t *in, size_t len, uint8_t *out, size_t cap);
void keyring_get_stats(struct keyring *kr, struct keyring_stats *out);

#endif
