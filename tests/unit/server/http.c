/* Tests for server/http.c over real HTTPS with libcurl: static files (ETag,
 * gzip, traversal), keep-alive, security headers, the body limit, TLS
 * versions, and failed authentications that wait without holding the only
 * worker thread. */
#include "common/buf.h"
#include "common/util.h"
#include "server/http.h"
#include "server/tls.h"
#include "tests/unit/server/api_fixture.h"
#include "tests/unit/test.h"

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Proxmox's 3 s: a wide margin over a good request even on a busy machine. */
#define TEST_AUTH_DELAY_MS 3000

struct server {
	struct api_fixture f;
	char *key, *cert;
	char base[64];
	char cookie[AUTH_TICKET_MAX + 32];
};

struct hresp {
	long status;
	struct buf body;
	struct buf headers;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	buf_append(ud, p, size * n);
	return size * n;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK_INT(util_write_file_atomic(path, text, strlen(text), 0644), 0);
}

static void make_webui(const char *dir)
{
	struct buf js = BUF_INIT;

	CHECK_INT(util_mkdir_p(dir, 0755), 0);
	write_file(dir, "index.html", "<!DOCTYPE html><title>Corral</title>");
	for (int i = 0; i < 200; i++)
		buf_printf(&js, "console.log('line %d');\n", i);
	write_file(dir, "app.js", js.data);
	write_file(dir, ".secret", "hidden");
	buf_free(&js);
}

static void server_start(struct server *s, const char *name, unsigned threads)
{
	char dir[600], err[256], fp[TLS_FINGERPRINT_LEN], ticket[AUTH_TICKET_MAX];
	struct http_options opt = { .listen_addr = "127.0.0.1", .threads = threads,
				    .auth_delay_ms = TEST_AUTH_DELAY_MS };

	api_fixture_open(&s->f, name);
	snprintf(dir, sizeof(dir), "%s/certs", s->f.app.cfg.data_dir);
	CHECK_INT(tls_load_or_create(dir, FIX_NODE, &s->key, &s->cert, fp, err, sizeof(err)), 0);
	snprintf(dir, sizeof(dir), "%s/webui", s->f.app.cfg.data_dir);
	make_webui(dir);
	opt.key_pem = s->key;
	opt.cert_pem = s->cert;
	opt.webui_dir = dir;
	CHECK_INT(http_start(&s->f.app, &opt, &s->f.app.http, err, sizeof(err)), 0);
	snprintf(s->base, sizeof(s->base), "https://127.0.0.1:%u", http_port(s->f.app.http));
	CHECK_INT(auth_ticket_make(s->f.app.auth, "admin@pve", time(NULL), ticket, sizeof(ticket)), 0);
	snprintf(s->cookie, sizeof(s->cookie), "PVEAuthCookie=%s", ticket);
}

static void server_stop(struct server *s)
{
	http_stop(s->f.app.http);
	api_fixture_close(&s->f);
	free(s->key);
	free(s->cert);
}

static CURL *easy(const struct server *s, const char *path, struct hresp *r)
{
	CURL *c = curl_easy_init();
	char url[1024];

	snprintf(url, sizeof(url), "%s%s", s->base, path);
	memset(r, 0, sizeof(*r));
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	return c;
}

static CURLcode perform(CURL *c, struct hresp *r)
{
	CURLcode rc = curl_easy_perform(c);

	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	return rc;
}

static void hresp_free(struct hresp *r)
{
	buf_free(&r->body);
	buf_free(&r->headers);
}

static int has_header(const struct hresp *r, const char *line)
{
	return r->headers.data && strcasestr(r->headers.data, line) != NULL;
}

static long get_status(const struct server *s, const char *path, int as_is)
{
	struct hresp r;
	CURL *c = easy(s, path, &r);
	long status;

	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, (long)as_is);
	perform(c, &r);
	status = r.status;
	curl_easy_cleanup(c);
	hresp_free(&r);
	return status;
}

static void test_static_files(void)
{
	struct server s;
	struct hresp r;
	struct curl_slist *h = NULL;
	char inm[64], *etag;
	CURL *c;

	server_start(&s, "static", 2);
	c = easy(&s, "/", &r);
	CHECK_INT(perform(c, &r), CURLE_OK);
	CHECK_INT(r.status, 200);
	CHECK(has_header(&r, "Content-Type: text/html"));
	CHECK(has_header(&r, "Content-Security-Policy: default-src 'self'"));
	CHECK(has_header(&r, "X-Content-Type-Options: nosniff"));
	CHECK(has_header(&r, "Strict-Transport-Security: max-age="));
	etag = r.headers.data ? strstr(r.headers.data, "ETag: ") : NULL;
	CHECK(etag != NULL);
	snprintf(inm, sizeof(inm), "If-None-Match: %.18s", etag ? etag + 6 : "");
	curl_easy_cleanup(c);
	hresp_free(&r);
	c = easy(&s, "/", &r);
	h = curl_slist_append(h, inm);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	CHECK_INT(perform(c, &r), CURLE_OK);
	CHECK_INT(r.status, 304);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	hresp_free(&r);
	c = easy(&s, "/app.js", &r);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
	CHECK_INT(perform(c, &r), CURLE_OK);
	CHECK(has_header(&r, "Content-Encoding: gzip"));
	CHECK(r.body.data && strstr(r.body.data, "console.log('line 199');"));
	curl_easy_cleanup(c);
	hresp_free(&r);
	server_stop(&s);
}

static void test_static_refusals(void)
{
	struct server s;

	server_start(&s, "refuse", 2);
	CHECK_INT(get_status(&s, "/../../etc/passwd", 1), 403);
	CHECK_INT(get_status(&s, "/%2e%2e/%2e%2e/etc/passwd", 1), 403);
	CHECK_INT(get_status(&s, "/.secret", 1), 403);
	CHECK_INT(get_status(&s, "/novnc/../../../etc/passwd", 1), 403);
	CHECK_INT(get_status(&s, "/missing.html", 0), 404);
	server_stop(&s);
}

static void test_api_keepalive_and_headers(void)
{
	struct server s;
	struct hresp r;
	long connects = -1;
	CURL *c;

	server_start(&s, "keepalive", 2);
	c = easy(&s, "/api2/json/version", &r);
	curl_easy_setopt(c, CURLOPT_COOKIE, s.cookie);
	CHECK_INT(perform(c, &r), CURLE_OK);
	CHECK_INT(r.status, 200);
	CHECK(has_header(&r, "Content-Type: application/json;charset=UTF-8"));
	CHECK(has_header(&r, "Server: corrald"));
	CHECK(has_header(&r, "X-Frame-Options: SAMEORIGIN"));
	CHECK(!has_header(&r, "Connection: close"));
	CHECK(r.body.data && strncmp(r.body.data, "{\"data\":{", 9) == 0);
	hresp_free(&r);
	memset(&r, 0, sizeof(r));
	/* The same handle again: the connection is reused, not reopened. */
	CHECK_INT(perform(c, &r), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
	CHECK_INT(connects, 0);
	CHECK_INT(r.status, 200);
	curl_easy_cleanup(c);
	hresp_free(&r);
	server_stop(&s);
}

static void test_prefixes_and_encoded_upid(void)
{
	struct server s;
	struct hresp r;
	CURL *c;

	server_start(&s, "prefix", 2);
	c = easy(&s, "/api2/extjs/version", &r);
	curl_easy_setopt(c, CURLOPT_COOKIE, s.cookie);
	CHECK_INT(perform(c, &r), CURLE_OK);
	CHECK_INT(r.status, 200);
	curl_easy_cleanup(c);
	hresp_free(&r);
	c = easy(&s, "/api2/json/nodes/" FIX_NODE "/tasks/"
		     "UPID%3A" FIX_NODE "%3A0000AAAA%3A0000BBBB%3A66A1B2C3%3Aqmstart%3A100%3Aroot%40pam%3A"
		     "/status", &r);
	curl_easy_setopt(c, CURLOPT_COOKIE, s.cookie);
	CHECK_INT(perform(c, &r), CURLE_OK);
	CHECK(r.status != 501); /* the route was found through the encoded UPID */
	curl_easy_cleanup(c);
	hresp_free(&r);
	server_stop(&s);
}

static int status_line_is(const struct hresp *r, const char *line)
{
	size_t n = strlen(line);

	return r->headers.data && strncmp(r->headers.data, line, n) == 0 &&
	       strncmp(r->headers.data + n, "\r\n", 2) == 0;
}

/* Proxmox's message is the reason phrase; the next answer on the same
 * thread has its standard one again. */
static void test_reason_phrases(void)
{
	struct server s;
	struct hresp r;
	CURL *c;

	server_start(&s, "reason", 1);
	c = easy(&s, "/api2/json/no/such", &r);
	curl_easy_setopt(c, CURLOPT_COOKIE, s.cookie);
	CHECK_INT(perform(c, &r), CURLE_OK);
	CHECK_INT(r.status, 501);
	CHECK(status_line_is(&r, "HTTP/1.1 501 Method 'GET /no/such' not implemented"));
	CHECK(r.body.data && strstr(r.body.data, "\"message\":\"Method 'GET /no/such' not implemented\""));
	hresp_free(&r);
	memset(&r, 0, sizeof(r));
	curl_easy_setopt(c, CURLOPT_URL, s.base);
	CHECK_INT(perform(c, &r), CURLE_OK);
	CHECK(status_line_is(&r, "HTTP/1.1 200 OK"));
	curl_easy_cleanup(c);
	hresp_free(&r);
	c = easy(&s, "/api2/json/cluster/nextid?vmid=abc", &r);
	curl_easy_setopt(c, CURLOPT_COOKIE, s.cookie);
	CHECK_INT(perform(c, &r), CURLE_OK);
	CHECK(status_line_is(&r, "HTTP/1.1 400 Parameter verification failed."));
	CHECK(r.body.data && strstr(r.body.data, "\"errors\":{\"vmid\":"));
	curl_easy_cleanup(c);
	hresp_free(&r);
	server_stop(&s);
}

static void test_body_limit(void)
{
	struct server s;
	struct hresp r;
	size_t n = HTTP_BODY_LIMIT + 1024;
	char *body = malloc(n + 1);
	struct curl_slist *hdrs;
	CURL *c;

	memset(body, 'a', n);
	memcpy(body, "x=", 2);
	body[n] = '\0';
	server_start(&s, "413", 2);
	c = easy(&s, "/api2/json/version", &r);
	curl_easy_setopt(c, CURLOPT_COOKIE, s.cookie);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	/* With "Expect: 100-continue" the 413 arrives before the body is sent;
	 * without it a client still writing when the server closes may see the
	 * connection reset before it reads the answer. */
	hdrs = curl_slist_append(NULL, "Expect: 100-continue");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 60000L);
	perform(c, &r);
	curl_slist_free_all(hdrs);
	CHECK_INT(r.status, 413);
	CHECK(r.body.data && strstr(r.body.data, "\"data\":null"));
	curl_easy_cleanup(c);
	hresp_free(&r);
	free(body);
	server_stop(&s);
}

/* Header callback recording the TLS version while the connection is up. */
struct tls_probe {
	CURL *c;
	char version[16];
};

static size_t on_header_tls(char *p, size_t size, size_t n, void *ud)
{
	struct tls_probe *t = ud;
	struct curl_tlssessioninfo *info = NULL;

	(void)p;
	if (!t->version[0] && curl_easy_getinfo(t->c, CURLINFO_TLS_SSL_PTR, &info) == CURLE_OK &&
	    info && info->backend == CURLSSLBACKEND_OPENSSL && info->internals)
		snprintf(t->version, sizeof(t->version), "%s", SSL_get_version(info->internals));
	return size * n;
}

/* GET / with the TLS versions MIN..MAX allowed; the version negotiated. */
static const char *tls_get(const struct server *s, long versions, const char *ciphers,
			   CURLcode *rc)
{
	static struct tls_probe t;
	struct hresp r;
	CURL *c = easy(s, "/", &r);

	memset(&t, 0, sizeof(t));
	t.c = c;
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header_tls);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, versions);
	if (ciphers)
		curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, ciphers);
	*rc = perform(c, &r);
	curl_easy_cleanup(c);
	hresp_free(&r);
	return t.version;
}

static void test_tls_versions(void)
{
	struct server s;
	CURLcode rc;

	server_start(&s, "tls", 2);
	CHECK_STR(tls_get(&s, CURL_SSLVERSION_DEFAULT, NULL, &rc), "TLSv1.3");
	CHECK_INT(rc, CURLE_OK);
	CHECK_STR(tls_get(&s, CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2, NULL, &rc),
		  "TLSv1.2");
	CHECK_INT(rc, CURLE_OK);
	/* A client willing to speak TLS 1.1 (security level 0) is still refused. */
	tls_get(&s, CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_1, "DEFAULT:@SECLEVEL=0",
		&rc);
	CHECK(rc != CURLE_OK);
	server_stop(&s);
}

/* Three failed authentications wait out their delay while a good request
 * on the single worker thread is answered: the waiting holds no thread. */
static void test_auth_delay_does_not_block(void)
{
	enum { BAD = 3 };
	struct server s;
	struct hresp r[BAD + 1];
	CURL *c[BAD + 1];
	CURLM *m = curl_multi_init();
	int running = 1, done_bad_before_good = 0, good_done = 0;

	server_start(&s, "delay", 1);
	for (int i = 0; i <= BAD; i++) {
		c[i] = easy(&s, "/api2/json/version", &r[i]);
		if (i == BAD)
			curl_easy_setopt(c[i], CURLOPT_COOKIE, s.cookie);
		curl_multi_add_handle(m, c[i]);
	}
	while (running) {
		CURLMsg *msg;
		int left;

		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			if (msg->easy_handle == c[BAD])
				good_done = 1;
			else if (!good_done)
				done_bad_before_good++;
		}
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	CHECK_INT(good_done, 1);
	CHECK_INT(done_bad_before_good, 0);
	for (int i = 0; i <= BAD; i++) {
		curl_easy_getinfo(c[i], CURLINFO_RESPONSE_CODE, &r[i].status);
		CHECK_INT(r[i].status, i == BAD ? 200 : 401);
		curl_multi_remove_handle(m, c[i]);
		curl_easy_cleanup(c[i]);
		hresp_free(&r[i]);
	}
	curl_multi_cleanup(m);
	server_stop(&s);
}

static const struct test_case tests[] = {
	{ "static_files", test_static_files },
	{ "static_refusals", test_static_refusals },
	{ "api_keepalive_and_headers", test_api_keepalive_and_headers },
	{ "prefixes_and_encoded_upid", test_prefixes_and_encoded_upid },
	{ "reason_phrases", test_reason_phrases },
	{ "body_limit", test_body_limit },
	{ "tls_versions", test_tls_versions },
	{ "auth_delay_does_not_block", test_auth_delay_does_not_block },
};

TEST_MAIN(tests)
