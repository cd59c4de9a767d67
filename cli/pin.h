/* TLS trust on first use: SHA-256 certificate fingerprints in Proxmox's
 * "AA:BB:..." notation and the known_hosts text that maps "host:port" to the
 * fingerprint accepted for it.  Pure apart from the hash. */
#ifndef CORRAL_CLI_PIN_H
#define CORRAL_CLI_PIN_H

#include <stddef.h>

#include "common/buf.h"

/* 32 bytes as 32 hex pairs joined by ':' plus NUL. */
#define PIN_FP_LEN 96

/* SHA-256 of a DER certificate as "AA:BB:...".  0 or -EINVAL. */
int pin_fingerprint_der(const unsigned char *der, size_t len, char out[PIN_FP_LEN]);
/* Brings a user-written fingerprint to canonical form: hex pairs in any case,
 * with or without ':' separators, optionally prefixed "sha256:".
 * 0 or -EINVAL when it is not 32 bytes of hex. */
int pin_normalize(const char *in, char out[PIN_FP_LEN]);
/* 1 when A and B name the same fingerprint (each normalized), 0 otherwise
 * (including when either is malformed). */
int pin_equal(const char *a, const char *b);

/* known_hosts: one "HOST:PORT FINGERPRINT" per line; '#' comments and blank
 * lines are kept as they are.  TEXT may be NULL (no file yet). */
/* Copies the fingerprint stored for HOSTPORT; 0, or -ENOENT. */
int pin_lookup(const char *text, const char *hostport, char out[PIN_FP_LEN]);
/* Writes TEXT with HOSTPORT's entry set to FP (replaced in place, or appended)
 * to OUT.  0 or -ENOMEM / -EINVAL (HOSTPORT with blanks, malformed FP). */
int pin_update(const char *text, const char *hostport, const char *fp, struct buf *out);

#endif
