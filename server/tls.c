/* The node's key and self-signed certificate (see tls.h), made with
 * OpenSSL; the HTTPS server (GnuTLS inside libmicrohttpd) reads the PEMs. */
#include "server/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"

#define TLS_PEM_MAX (64 * 1024)

static int san_add(struct buf *b, const char *kind, const char *value)
{
	return buf_printf(b, "%s%s:%s", b->len ? "," : "", kind, value);
}

static void san_add_addrs(struct buf *b)
{
	struct ifaddrs *ifa, *i;
	char text[INET6_ADDRSTRLEN];

	if (getifaddrs(&ifa) < 0)
		return; /* the fixed names still go in */
	for (i = ifa; i; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;
		const void *addr;

		if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
			continue;
		addr = sa->sa_family == AF_INET
			       ? (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr
			       : (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL((const struct in6_addr *)addr))
			continue; /* a zone id cannot be written in a SAN */
		if (!inet_ntop(sa->sa_family, addr, text, sizeof(text)) ||
		    strcmp(text, "127.0.0.1") == 0 || strcmp(text, "::1") == 0)
			continue;
		san_add(b, "IP", text);
	}
	freeifaddrs(ifa);
}

/* "DNS:node,DNS:host,DNS:localhost,IP:127.0.0.1,IP:::1,IP:..."; caller frees. */
static char *san_text(const char *node)
{
	struct buf b = BUF_INIT;
	char host[256] = "";

	san_add(&b, "DNS", node);
	if (gethostname(host, sizeof(host) - 1) == 0 && host[0] && strcmp(host, node) != 0)
		san_add(&b, "DNS", host);
	san_add(&b, "DNS", "localhost");
	san_add(&b, "IP", "127.0.0.1");
	san_add(&b, "IP", "::1");
	san_add_addrs(&b);
	return buf_steal(&b);
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EINVAL;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EINVAL;
}

static int set_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int ok = bn && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
		 BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));

	BN_free(bn);
	return ok ? 0 : -EINVAL;
}

static int set_names(X509 *x, const char *node)
{
	X509_NAME *name = X509_get_subject_name(x);

	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"Corral", -1,
					-1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)node, -1,
					-1, 0))
		return -EINVAL;
	return X509_set_issuer_name(x, name) ? 0 : -EINVAL;
}

static int set_extensions(X509 *x, const char *node)
{
	char *san = san_text(node);
	int rc = -ENOMEM;

	if (!san)
		return rc;
	rc = add_ext(x, NID_basic_constraints, "critical,CA:FALSE");
	if (!rc)
		rc = add_ext(x, NID_key_usage, "critical,digitalSignature,keyEncipherment");
	if (!rc)
		rc = add_ext(x, NID_ext_key_usage, "serverAuth");
	if (!rc)
		rc = add_ext(x, NID_subject_key_identifier, "hash");
	if (!rc)
		rc = add_ext(x, NID_subject_alt_name, san);
	free(san);
	return rc;
}

static X509 *make_cert(EVP_PKEY *key, const char *node)
{
	X509 *x = X509_new();

	if (!x || !X509_set_version(x, 2) || set_serial(x) < 0 ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), TLS_VALID_DAYS, 0, NULL) ||
	    !X509_set_pubkey(x, key) || set_names(x, node) < 0 || set_extensions(x, node) < 0 ||
	    !X509_sign(x, key, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* The contents of a memory BIO as a new string. */
static char *bio_text(BIO *bio)
{
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);

	return n > 0 ? strndup(data, (size_t)n) : NULL;
}

static int make_pems(const char *node, char **key_pem, char **cert_pem)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = key ? make_cert(key, node) : NULL;
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	int rc = -EINVAL;

	if (cert && kb && cb && PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) &&
	    PEM_write_bio_X509(cb, cert)) {
		*key_pem = bio_text(kb);
		*cert_pem = bio_text(cb);
		rc = *key_pem && *cert_pem ? 0 : -ENOMEM;
	}
	BIO_free(kb);
	BIO_free(cb);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

int tls_fingerprint(const char *cert_pem, char fp[TLS_FINGERPRINT_LEN])
{
	BIO *bio = BIO_new_mem_buf(cert_pem, -1);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int ok = x && X509_digest(x, EVP_sha256(), md, &n) && n == 32;

	for (unsigned i = 0; ok && i < n; i++)
		snprintf(fp + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
	X509_free(x);
	BIO_free(bio);
	return ok ? 0 : -EINVAL;
}

static int create_files(const char *keyf, const char *certf, const char *node, char **key_pem,
			char **cert_pem, char *err, size_t errlen)
{
	int rc = make_pems(node, key_pem, cert_pem);

	if (rc < 0) {
		snprintf(err, errlen, "cannot make the TLS key and certificate");
		return rc;
	}
	rc = util_write_file_atomic(keyf, *key_pem, strlen(*key_pem), 0600);
	if (rc == 0)
		rc = util_write_file_atomic(certf, *cert_pem, strlen(*cert_pem), 0644);
	if (rc < 0)
		snprintf(err, errlen, "cannot write %s: %s", keyf, strerror(-rc));
	return rc;
}

int tls_load_or_create(const char *dir, const char *node, char **key_pem, char **cert_pem,
		       char fp[TLS_FINGERPRINT_LEN], char *err, size_t errlen)
{
	char keyf[4096], certf[4096];
	size_t len;
	int rc;

	*key_pem = *cert_pem = NULL;
	snprintf(keyf, sizeof(keyf), "%s/%s", dir, TLS_KEY_FILE);
	snprintf(certf, sizeof(certf), "%s/%s", dir, TLS_CERT_FILE);
	if ((rc = util_mkdir_p(dir, 0700)) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
		return rc;
	}
	if (access(keyf, F_OK) == 0 && access(certf, F_OK) == 0) {
		rc = util_read_file(keyf, TLS_PEM_MAX, key_pem, &len);
		if (rc == 0)
			rc = util_read_file(certf, TLS_PEM_MAX, cert_pem, &len);
		if (rc < 0)
			snprintf(err, errlen, "cannot read %s: %s", dir, strerror(-rc));
	} else {
		rc = create_files(keyf, certf, node, key_pem, cert_pem, err, errlen);
	}
	if (rc == 0 && (rc = tls_fingerprint(*cert_pem, fp)) < 0)
		snprintf(err, errlen, "%s is not a PEM certificate", certf);
	if (rc < 0) {
		free(*key_pem);
		free(*cert_pem);
		*key_pem = *cert_pem = NULL;
	}
	return rc;
}
