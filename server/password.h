/* Password hashing for the pve realm: scrypt through OpenSSL, stored as one
 * self-describing string so the cost can change without a migration:
 *
 *   $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt, base64>$<key, base64>
 *
 * (base64 without padding, 16-byte salt, 32-byte key). */
#ifndef CORRAL_PASSWORD_H
#define CORRAL_PASSWORD_H

#include <stddef.h>

#define PASSWORD_HASH_MAX 160

/* Cost of new hashes: N = 2^15, r = 8, p = 1 needs 32 MiB and ~0.1 s on one
 * core, the interactive-login setting of the scrypt paper. */
#define PASSWORD_LOG2N 15
#define PASSWORD_R 8
#define PASSWORD_P 1

/* Hashes PW with a fresh random salt into OUT (PASSWORD_HASH_MAX bytes).
 * Returns 0, -ERANGE when N is too small, or CR_EINTERNAL. */
int password_hash(const char *pw, char *out, size_t n);
/* Same with explicit parameters (tests use a cheap cost). */
int password_hash_cost(const char *pw, unsigned log2n, unsigned r, unsigned p, char *out,
		       size_t n);
/* 0 when PW matches STORED (constant-time compare); CR_EAUTH when it does not
 * or when STORED is malformed. */
int password_verify(const char *pw, const char *stored);

#endif
