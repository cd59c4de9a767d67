/* Per-migration TLS credentials (see migrate.h): a P-256 CA valid for one
 * day that signs one server and one client certificate, made with OpenSSL.
 * The server side also gets RFC 7919's ffdhe2048 group as dh-params.pem:
 * without it QEMU generates fresh DH parameters on every server object-add
 * (about a second, at times several). */
#include "hv/migrate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/err.h"
#include "common/util.h"

#define TLS_VALID_S (24 * 3600) /* a migration never takes a day */

static EVP_PKEY *new_key(void)
{
	return EVP_EC_gen("P-256");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return 0;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

static int set_name(X509 *cert, const char *cn)
{
	X509_NAME *name = X509_get_subject_name(cert);

	return X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Corral",
					  -1, -1, 0) &&
	       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
					  -1, 0);
}

static int set_serial(X509 *cert)
{
	unsigned char raw[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return 0;
	raw[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
	BN_free(bn);
	return ok;
}

/* Extensions per role: what QEMU's GnuTLS checks insist on. */
static const struct {
	const char *basic, *usage, *ext_usage;
} roles[] = {
	{ "critical,CA:TRUE", "critical,keyCertSign,cRLSign", NULL },
	{ "critical,CA:FALSE", "critical,digitalSignature,keyEncipherment", "serverAuth" },
	{ "critical,CA:FALSE", "critical,digitalSignature,keyEncipherment", "clientAuth" },
};

/* ROLE 0: self-signed CA; 1 server; 2 client, both signed by CA/CAKEY. */
static X509 *make_cert(int role, EVP_PKEY *key, X509 *ca, EVP_PKEY *cakey)
{
	X509 *c = X509_new();
	X509 *issuer = role ? ca : c;
	int ok;

	if (!c)
		return NULL;
	ok = X509_set_version(c, 2) && set_serial(c) &&
	     X509_gmtime_adj(X509_getm_notBefore(c), -3600) &&
	     X509_gmtime_adj(X509_getm_notAfter(c), TLS_VALID_S) && X509_set_pubkey(c, key) &&
	     set_name(c, role ? HV_MIG_TLS_HOSTNAME : "Corral migration CA") &&
	     X509_set_issuer_name(c, X509_get_subject_name(issuer)) &&
	     add_ext(c, issuer, NID_basic_constraints, roles[role].basic) &&
	     add_ext(c, issuer, NID_key_usage, roles[role].usage) &&
	     add_ext(c, issuer, NID_subject_key_identifier, "hash");
	if (ok && role)
		ok = add_ext(c, issuer, NID_ext_key_usage, roles[role].ext_usage) &&
		     add_ext(c, issuer, NID_subject_alt_name, "DNS:" HV_MIG_TLS_HOSTNAME);
	if (ok)
		ok = X509_sign(c, role ? cakey : key, EVP_sha256()) > 0;
	if (!ok) {
		X509_free(c);
		return NULL;
	}
	return c;
}

static char *bio_text(BIO *b)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *out = n > 0 ? malloc((size_t)n + 1) : NULL;

	if (out) {
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(b);
	return out;
}

static char *cert_pem(X509 *c)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (!b || !PEM_write_bio_X509(b, c)) {
		BIO_free(b);
		return NULL;
	}
	return bio_text(b);
}

static char *key_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());

	if (!b || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(b);
		return NULL;
	}
	return bio_text(b);
}

/* The named group ffdhe2048 as PKCS#3 PEM (what GnuTLS reads). */
static char *dh_params_pem(void)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"ffdhe2048", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY *p = NULL;
	BIO *b = NULL;
	char *text = NULL;

	if (ctx && EVP_PKEY_paramgen_init(ctx) > 0 && EVP_PKEY_CTX_set_params(ctx, params) > 0 &&
	    EVP_PKEY_paramgen(ctx, &p) > 0 && (b = BIO_new(BIO_s_mem())) &&
	    PEM_write_bio_Parameters(b, p)) {
		text = bio_text(b);
		b = NULL;
	}
	BIO_free(b);
	EVP_PKEY_free(p);
	EVP_PKEY_CTX_free(ctx);
	return text;
}

/* Makes the certificate of ROLE (1 server, 2 client) into *CERT and *KEY. */
static int make_leaf(int role, X509 *ca, EVP_PKEY *cakey, char **cert, char **key)
{
	EVP_PKEY *k = new_key();
	X509 *c = k ? make_cert(role, k, ca, cakey) : NULL;

	if (c) {
		*cert = cert_pem(c);
		*key = key_pem(k);
	}
	X509_free(c);
	EVP_PKEY_free(k);
	return *cert && *key ? 0 : -1;
}

int hv_mig_tls_new(struct hv_mig_tls *t, char *err, size_t errlen)
{
	EVP_PKEY *cakey = new_key();
	X509 *ca = cakey ? make_cert(0, cakey, NULL, NULL) : NULL;
	int r = CR_EINTERNAL;

	memset(t, 0, sizeof(*t));
	if (!ca)
		goto out_free;
	t->ca_cert = cert_pem(ca);
	if (!t->ca_cert || make_leaf(1, ca, cakey, &t->server_cert, &t->server_key) < 0 ||
	    make_leaf(2, ca, cakey, &t->client_cert, &t->client_key) < 0)
		goto out_free;
	r = 0;
out_free:
	X509_free(ca);
	EVP_PKEY_free(cakey);
	if (r < 0) {
		hv_mig_tls_free(t);
		snprintf(err, errlen, "cannot make migration certificates");
	}
	return r;
}

void hv_mig_tls_free(struct hv_mig_tls *t)
{
	free(t->ca_cert);
	free(t->server_cert);
	free(t->server_key);
	free(t->client_cert);
	free(t->client_key);
	memset(t, 0, sizeof(*t));
}

static const char *const tls_files[] = { "ca-cert.pem",     "server-cert.pem", "server-key.pem",
					 "client-cert.pem", "client-key.pem",  "dh-params.pem" };

int hv_mig_tls_write(const struct hv_mig_tls *t, const char *dir, int server, char *err,
		     size_t errlen)
{
	const char *text[3] = { t->ca_cert, server ? t->server_cert : t->client_cert,
				server ? t->server_key : t->client_key };
	char path[600];
	int r = util_mkdir_p(dir, 0700);

	for (int i = 0; i < 3 && r == 0; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, tls_files[i == 0 ? 0 : server ? i : i + 2]);
		r = text[i] ? util_write_file_atomic(path, text[i], strlen(text[i]), 0600)
			    : -EINVAL;
	}
	if (r == 0 && server) {
		char *dh = dh_params_pem();

		snprintf(path, sizeof(path), "%s/dh-params.pem", dir);
		r = dh ? util_write_file_atomic(path, dh, strlen(dh), 0600) : -ENOMEM;
		free(dh);
	}
	if (r < 0)
		snprintf(err, errlen, "cannot write migration credentials to %s: %s", dir,
			 err_str(r));
	return r;
}

void hv_mig_tls_remove(const char *dir)
{
	char path[600];

	for (size_t i = 0; i < ARRAY_SIZE(tls_files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, tls_files[i]);
		unlink(path);
	}
	rmdir(dir);
}
