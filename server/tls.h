/* The node's TLS identity: an EC P-256 key (0600) and a self-signed
 * certificate made with OpenSSL on first start, kept under DATA/certs. */
#ifndef CORRAL_TLS_H
#define CORRAL_TLS_H

#include <stddef.h>

#define TLS_KEY_FILE "node.key"
#define TLS_CERT_FILE "node.pem"
#define TLS_VALID_DAYS 3650
/* "AA:BB:..." for SHA-256: 32 pairs and 31 colons. */
#define TLS_FINGERPRINT_LEN 96

/* Loads DIR/node.key and DIR/node.pem, making both when either is missing:
 * SAN = NODE, the host name, every address of the host (getifaddrs),
 * 127.0.0.1, ::1 and localhost; valid TLS_VALID_DAYS.  *KEY_PEM and
 * *CERT_PEM are malloc'ed text the caller frees; FP gets the certificate's
 * SHA-256 fingerprint.  Returns 0 or a negative code with ERR. */
int tls_load_or_create(const char *dir, const char *node, char **key_pem, char **cert_pem,
		       char fp[TLS_FINGERPRINT_LEN], char *err, size_t errlen);

/* SHA-256 fingerprint of a PEM certificate as "AA:BB:...".  0 or -EINVAL. */
int tls_fingerprint(const char *cert_pem, char fp[TLS_FINGERPRINT_LEN]);

#endif
