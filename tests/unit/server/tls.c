/* Tests for server/tls.c: the key and certificate made on first start, read
 * back with OpenSSL, and kept across restarts. */
#include "server/tls.h"
#include "tests/unit/test.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static X509 *parse_cert(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

	BIO_free(bio);
	return x;
}

/* The subjectAltName entries as "DNS:a,IP:1.2.3.4,...". */
static void san_list(X509 *x, char *out, size_t n)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		unsigned char *text = NULL;

		if (g->type == GEN_DNS) {
			ASN1_STRING_to_UTF8(&text, g->d.dNSName);
			o += (size_t)snprintf(out + o, n - o, "DNS:%s,", text);
		} else if (g->type == GEN_IPADD && g->d.iPAddress->length == 4) {
			const unsigned char *a = g->d.iPAddress->data;

			o += (size_t)snprintf(out + o, n - o, "IP:%u.%u.%u.%u,", a[0], a[1], a[2], a[3]);
		} else if (g->type == GEN_IPADD) {
			o += (size_t)snprintf(out + o, n - o, "IP6,");
		}
		OPENSSL_free(text);
		if (o >= n)
			break;
	}
	GENERAL_NAMES_free(names);
}

static void test_first_start_makes_files(void)
{
	char dir[512], keyf[600], fp[TLS_FINGERPRINT_LEN], err[256], sans[2048];
	char *key = NULL, *cert = NULL;
	struct stat st;
	X509 *x;

	snprintf(dir, sizeof(dir), "%s/certs", test_tmpdir());
	CHECK_INT(tls_load_or_create(dir, "node1", &key, &cert, fp, err, sizeof(err)), 0);
	snprintf(keyf, sizeof(keyf), "%s/" TLS_KEY_FILE, dir);
	CHECK_INT(stat(keyf, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	CHECK(strstr(key, "PRIVATE KEY") != NULL);
	CHECK_INT(strlen(fp), 95);
	CHECK(fp[2] == ':' && fp[94] != ':');
	x = parse_cert(cert);
	CHECK(x != NULL);
	san_list(x, sans, sizeof(sans));
	CHECK(strstr(sans, "DNS:node1,") != NULL);
	CHECK(strstr(sans, "DNS:localhost,") != NULL);
	CHECK(strstr(sans, "IP:127.0.0.1,") != NULL);
	CHECK(strstr(sans, "IP6,") != NULL);
	/* About ten years of validity. */
	CHECK(X509_cmp_time(X509_get0_notAfter(x), &(time_t){ time(NULL) + 3600L * 24 * 3000 }) > 0);
	CHECK(X509_cmp_time(X509_get0_notBefore(x), NULL) < 0);
	X509_free(x);
	free(key);
	free(cert);
}

static void test_restart_keeps_identity(void)
{
	char dir[512], fp1[TLS_FINGERPRINT_LEN], fp2[TLS_FINGERPRINT_LEN], fp3[TLS_FINGERPRINT_LEN];
	char err[256], *key = NULL, *cert = NULL, *key2 = NULL, *cert2 = NULL;

	snprintf(dir, sizeof(dir), "%s/again", test_tmpdir());
	CHECK_INT(tls_load_or_create(dir, "n", &key, &cert, fp1, err, sizeof(err)), 0);
	CHECK_INT(tls_load_or_create(dir, "n", &key2, &cert2, fp2, err, sizeof(err)), 0);
	CHECK_STR(fp1, fp2);
	CHECK_STR(key, key2);
	CHECK_INT(tls_fingerprint(cert, fp3), 0);
	CHECK_STR(fp1, fp3);
	CHECK_INT(tls_fingerprint("not a certificate", fp3), -22);
	free(key);
	free(cert);
	free(key2);
	free(cert2);
}

static const struct test_case tests[] = {
	{ "first_start_makes_files", test_first_start_makes_files },
	{ "restart_keeps_identity", test_restart_keeps_identity },
};

TEST_MAIN(tests)
