/* HTTPS client with certificate pinning for corral (see client.h). */
#include "cli/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/util.h"

/* What the certificate check saw during the last handshake. */
enum pin_verdict { PIN_NONE, PIN_OK, PIN_UNKNOWN, PIN_CHANGED };

struct client {
	CURL *curl;
	struct client_opts o;
	char hostport[300];
	char known_hosts[1024];   /* "" when there is no such file */
	char pinned[PIN_FP_LEN];  /* "" while nothing is trusted */
	int pin_explicit;         /* from --fingerprint: wins over known_hosts */
	char seen[PIN_FP_LEN];
	enum pin_verdict verdict;
	char *auth_header;        /* "Authorization: ..." or "Cookie: ..." */
	char *csrf_header;
	/* client_set_upload: the next POST is multipart with this file */
	const char *up_field, *up_path, *up_name;
	const struct param *up_params;
	size_t up_n;
	curl_mime *mime;
};

/* OpenSSL calls this instead of chain verification: only the leaf counts. */
static int verify_leaf(X509_STORE_CTX *store, void *arg)
{
	struct client *c = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(store);
	unsigned char *der = NULL;
	int len = leaf ? i2d_X509(leaf, &der) : -1;
	int r = len > 0 ? pin_fingerprint_der(der, (size_t)len, c->seen) : -EINVAL;

	OPENSSL_free(der);
	if (r < 0)
		c->verdict = PIN_UNKNOWN;
	else if (!c->pinned[0])
		c->verdict = PIN_UNKNOWN;
	else
		c->verdict = pin_equal(c->pinned, c->seen) ? PIN_OK : PIN_CHANGED;
	return c->verdict == PIN_OK;
}

static CURLcode setup_ssl_ctx(CURL *curl, void *ssl_ctx, void *arg)
{
	(void)curl;
	/* VERIFY_PEER makes a failed check abort the handshake, before any
	 * request (and any password) is sent. */
	SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ssl_ctx, verify_leaf, arg);
	return CURLE_OK;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	return buf_append(arg, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

/* Keeps the reason phrase of the last status line ("HTTP/1.1 400 Reason"). */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct client_resp *resp = arg;

	util_http_reason(data, size * nmemb, resp->reason, sizeof(resp->reason));
	return size * nmemb;
}

static int read_known(struct client *c)
{
	char *text = NULL;
	size_t len;

	if (util_read_file(c->o.known_hosts, 1 << 20, &text, &len) < 0)
		return 0;
	if (pin_lookup(text, c->hostport, c->pinned) < 0)
		c->pinned[0] = '\0';
	free(text);
	return 0;
}

/* Records FP for our host in known_hosts (0600). */
static int store_known(struct client *c, const char *fp)
{
	char *text = NULL;
	size_t len;
	struct buf out = BUF_INIT;
	int r;

	if (!c->o.known_hosts)
		return 0;
	util_read_file(c->o.known_hosts, 1 << 20, &text, &len);
	r = pin_update(text, c->hostport, fp, &out);
	if (!r)
		r = util_write_file_atomic(c->o.known_hosts, out.data, out.len, 0600);
	free(text);
	buf_free(&out);
	return r;
}

static int pin_setup(struct client *c, const char *fingerprint, char *err, size_t errlen)
{
	if (fingerprint) {
		if (pin_normalize(fingerprint, c->pinned) < 0) {
			snprintf(err, errlen, "malformed fingerprint '%s' (want 32 hex pairs)",
				 fingerprint);
			return -EINVAL;
		}
		c->pin_explicit = 1;
		return 0;
	}
	return c->o.known_hosts ? read_known(c) : 0;
}

int client_new(const struct client_opts *o, struct client **out, char *err, size_t errlen)
{
	struct client *c = calloc(1, sizeof(*c));
	int r = -ENOMEM;

	if (!c)
		goto fail;
	c->o = *o;
	/* The caller's strings need not outlive this call. */
	if (o->known_hosts && util_strlcpy(c->known_hosts, o->known_hosts,
					   sizeof(c->known_hosts)) == 0)
		c->o.known_hosts = c->known_hosts;
	else
		c->o.known_hosts = NULL;
	c->o.host = NULL;
	c->o.fingerprint = NULL;
	snprintf(c->hostport, sizeof(c->hostport), strchr(o->host, ':') ? "[%s]:%u" : "%s:%u",
		 o->host, o->port);
	r = pin_setup(c, o->fingerprint, err, errlen);
	if (r < 0)
		goto free_client;
	c->curl = curl_easy_init();
	if (!c->curl) {
		r = -ENOMEM;
		snprintf(err, errlen, "cannot initialise libcurl");
		goto free_client;
	}
	*out = c;
	return 0;
free_client:
	free(c);
fail:
	return r;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c->auth_header);
	free(c->csrf_header);
	free(c);
}

static int set_header(char **slot, const char *fmt, const char *a, const char *b)
{
	struct buf h = BUF_INIT;
	int r = buf_printf(&h, fmt, a, b);

	if (r < 0)
		return r;
	free(*slot);
	*slot = buf_steal(&h);
	return *slot ? 0 : -ENOMEM;
}

int client_set_ticket(struct client *c, const char *ticket, const char *csrf)
{
	int r = set_header(&c->auth_header, "Cookie: PVEAuthCookie=%s%s", ticket, "");

	return r < 0 ? r : set_header(&c->csrf_header, "CSRFPreventionToken: %s%s", csrf, "");
}

int client_set_token(struct client *c, const char *token)
{
	const char *prefix = strncmp(token, "PVEAPIToken=", 12) == 0 ? "" : "PVEAPIToken=";

	free(c->csrf_header);
	c->csrf_header = NULL;
	return set_header(&c->auth_header, "Authorization: %s%s", prefix, token);
}

const char *client_fingerprint(const struct client *c)
{
	return c->seen;
}

void client_resp_free(struct client_resp *r)
{
	cJSON_Delete(r->body);
	r->body = NULL;
}

static int build_url(struct client *c, const char *method, const char *path,
		     const struct param *p, size_t n, struct buf *url, struct buf *form)
{
	int query = strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0;
	int r = buf_printf(url, "https://%s/api2/json%s", c->hostport, path[0] == '/' ? "" : "/");

	if (!r)
		r = args_encode_path(path, url);
	if (!r && query && n > 0)
		r = buf_append(url, "?", 1);
	if (!r)
		r = args_encode(p, n, query ? url : form);
	return r;
}

static struct curl_slist *build_headers(struct client *c, const char *method)
{
	struct curl_slist *h = curl_slist_append(NULL, "Expect:"), *t;

	if (h && c->auth_header && (t = curl_slist_append(h, c->auth_header)))
		h = t;
	if (h && c->csrf_header && strcmp(method, "GET") != 0 &&
	    (t = curl_slist_append(h, c->csrf_header)))
		h = t;
	return h;
}

void client_set_upload(struct client *c, const char *field, const char *path, const char *name)
{
	c->up_field = field;
	c->up_path = path;
	c->up_name = name;
}

/* The multipart body of an upload: the parameters, then the file, which
 * libcurl streams from disk. */
static int set_mime(struct client *c)
{
	curl_mimepart *part;

	curl_mime_free(c->mime);
	if (!(c->mime = curl_mime_init(c->curl)))
		return CLIENT_ENOMEM;
	for (size_t i = 0; i < c->up_n; i++) {
		char key[128];

		snprintf(key, sizeof(key), "%.*s", (int)c->up_params[i].keylen, c->up_params[i].key);
		if (!(part = curl_mime_addpart(c->mime)) || curl_mime_name(part, key) != CURLE_OK ||
		    curl_mime_data(part, c->up_params[i].value, CURL_ZERO_TERMINATED) != CURLE_OK)
			return CLIENT_ENOMEM;
	}
	if (!(part = curl_mime_addpart(c->mime)) || curl_mime_name(part, c->up_field) != CURLE_OK ||
	    curl_mime_filedata(part, c->up_path) != CURLE_OK ||
	    curl_mime_filename(part, c->up_name) != CURLE_OK)
		return CLIENT_ENOMEM;
	curl_easy_setopt(c->curl, CURLOPT_MIMEPOST, c->mime);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 0L); /* as long as the file needs */
	return 0;
}

static void set_options(struct client *c, const char *method, const struct buf *url,
			const struct buf *form, struct buf *body, struct client_resp *resp)
{
	CURL *k = c->curl;

	curl_easy_setopt(k, CURLOPT_URL, url->data);
	curl_easy_setopt(k, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(k, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(k, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(k, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(k, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(k, CURLOPT_SSL_CTX_FUNCTION, setup_ssl_ctx);
	curl_easy_setopt(k, CURLOPT_SSL_CTX_DATA, c);
	curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(k, CURLOPT_TIMEOUT, c->o.timeout_s > 0 ? c->o.timeout_s : 120L);
	curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k, CURLOPT_USERAGENT, "corral");
	curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(k, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(k, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(k, CURLOPT_HEADERDATA, resp);
	if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		curl_easy_setopt(k, CURLOPT_POSTFIELDS, form->data ? form->data : "");
		curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE, (long)form->len);
	} else {
		curl_easy_setopt(k, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(k, CURLOPT_CUSTOMREQUEST, method);
	}
}

/* Turns a failed transfer into a client_err, consulting the pin verdict. */
static int transfer_error(struct client *c, CURLcode cc, char *err, size_t errlen)
{
	if (c->verdict == PIN_CHANGED) {
		snprintf(err, errlen,
			 "certificate of %s CHANGED: it presents %s, but %s is pinned%s", c->hostport,
			 c->seen, c->pinned,
			 c->pin_explicit ? "" : " (known_hosts); if the change is expected, "
					       "pass --fingerprint with the new value");
		return CLIENT_ECHANGED;
	}
	if (c->verdict == PIN_UNKNOWN) {
		snprintf(err, errlen, "certificate of %s is not trusted (SHA-256 %s); "
			 "check it on the node and pass --fingerprint", c->hostport, c->seen);
		return CLIENT_EUNKNOWN;
	}
	snprintf(err, errlen, "cannot reach %s: %s", c->hostport, curl_easy_strerror(cc));
	return CLIENT_ECONNECT;
}

static int perform_once(struct client *c, const char *method, const struct buf *url,
			const struct buf *form, struct client_resp *resp, char *err, size_t errlen)
{
	struct buf body = BUF_INIT;
	struct curl_slist *headers = build_headers(c, method);
	CURLcode cc;
	int r = 0;

	if (!headers)
		return CLIENT_ENOMEM;
	memset(resp, 0, sizeof(*resp));
	c->verdict = PIN_NONE;
	set_options(c, method, url, form, &body, resp);
	if (c->up_path && strcmp(method, "POST") == 0 && (r = set_mime(c)) < 0) {
		curl_slist_free_all(headers);
		return r;
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	cc = curl_easy_perform(c->curl);
	if (cc != CURLE_OK)
		r = transfer_error(c, cc, err, errlen);
	else {
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
		resp->body = body.len ? cJSON_ParseWithLength(body.data, body.len) : NULL;
	}
	curl_slist_free_all(headers);
	buf_free(&body);
	return r;
}

/* After the first handshake with an unknown certificate: ask, store, retry. */
static int trust_first_use(struct client *c, char *err, size_t errlen)
{
	if (!c->o.accept || !c->o.accept(c->hostport, c->seen, c->o.accept_arg))
		return CLIENT_EUNKNOWN;
	util_strlcpy(c->pinned, c->seen, sizeof(c->pinned));
	if (store_known(c, c->seen) < 0) {
		snprintf(err, errlen, "cannot write %s", c->o.known_hosts);
		return CLIENT_EUNKNOWN;
	}
	return 0;
}

/* An explicit pin that matched is remembered for later calls without it. */
static void remember_explicit(struct client *c)
{
	char stored[PIN_FP_LEN];
	char *text = NULL;
	size_t len;

	if (!c->pin_explicit || !c->o.known_hosts || c->verdict != PIN_OK)
		return;
	util_read_file(c->o.known_hosts, 1 << 20, &text, &len);
	if (pin_lookup(text, c->hostport, stored) < 0 || !pin_equal(stored, c->seen))
		store_known(c, c->seen);
	free(text);
}

int client_call(struct client *c, const char *method, const char *path, const struct param *p,
		size_t n, struct client_resp *resp, char *err, size_t errlen)
{
	struct buf url = BUF_INIT, form = BUF_INIT;
	int r = build_url(c, method, path, p, n, &url, &form) < 0 ? CLIENT_ENOMEM : 0;

	c->up_params = p;
	c->up_n = n;

	if (!r)
		r = perform_once(c, method, &url, &form, resp, err, errlen);
	if (r == CLIENT_EUNKNOWN && !c->pinned[0] && trust_first_use(c, err, errlen) == 0)
		r = perform_once(c, method, &url, &form, resp, err, errlen);
	if (!r)
		remember_explicit(c);
	if (r == CLIENT_ENOMEM)
		snprintf(err, errlen, "out of memory");
	c->up_path = NULL; /* an upload is for one call */
	curl_easy_setopt(c->curl, CURLOPT_MIMEPOST, NULL);
	curl_mime_free(c->mime);
	c->mime = NULL;
	buf_free(&url);
	buf_free(&form);
	return r;
}
