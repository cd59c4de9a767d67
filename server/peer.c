/* HTTPS requests to other cluster members with libcurl: the member's
 * certificate is pinned by its SHA-256 fingerprint (only the leaf counts),
 * the caller is authenticated with a ticket minted from the cluster's
 * shared signing key, or with its own credentials when forwarding. */
#include "server/peer.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/cluster.h"
#include "server/router.h"
#include "server/ws_bridge.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Proxmox's proxy gives a member this long to answer. */
#define PEER_TIMEOUT_S 60
#define PEER_CONNECT_TIMEOUT_S 5
/* A streamed body has no overall deadline; idle this long, it fails (as
 * corrald's own HTTP idle timeout). */
#define PEER_IDLE_S 30

/* --- lookup --- */

int peer_lookup(struct app *app, const char *node, struct peer_info *out)
{
	struct cluster_member m;
	int r;

	memset(out, 0, sizeof(*out));
	if (!app->cluster || cluster_member_get(app->cluster, node, &m) < 0)
		return CR_ENOTFOUND;
	snprintf(out->node, sizeof(out->node), "%s", m.name);
	snprintf(out->api, sizeof(out->api), "%s", m.api);
	snprintf(out->fp, sizeof(out->fp), "%s", m.fp);
	out->online = m.online;
	out->local = m.local;
	r = cluster_parse_hostport(m.api, CLUSTER_API_PORT, out->host, sizeof(out->host), &out->port);
	return r < 0 ? CR_ENOTFOUND : 0;
}

/* --- one HTTPS exchange --- */

struct pin {
	const char *want;
	char seen[CLUSTER_FP_LEN];
};

static int verify_leaf(X509_STORE_CTX *store, void *arg)
{
	struct pin *p = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(store);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char hex[3 * EVP_MAX_MD_SIZE] = "";

	if (!leaf || X509_digest(leaf, EVP_sha256(), md, &mdlen) != 1)
		return 0;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 3 * i, 4, i + 1 < mdlen ? "%02X:" : "%02X", md[i]);
	snprintf(p->seen, sizeof(p->seen), "%.95s", hex);
	return cluster_fp_normalize(p->want, hex) == 0 && strcmp(hex, p->seen) == 0;
}

static CURLcode setup_ssl(CURL *curl, void *ssl_ctx, void *arg)
{
	(void)curl;
	SSL_CTX_set_cert_verify_callback(ssl_ctx, verify_leaf, arg);
	return CURLE_OK;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	return buf_append(arg, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

/* Keeps the reason phrase of the status line. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct peer_reply *rp = arg;

	util_http_reason(data, size * nmemb, rp->reason, sizeof(rp->reason));
	return size * nmemb;
}

static struct curl_slist *header_list(const char *const *headers, const char *content_type)
{
	struct curl_slist *h = curl_slist_append(NULL, "Expect:"), *t;
	char ct[160];

	if (h && content_type) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		if ((t = curl_slist_append(h, ct)))
			h = t;
	}
	for (size_t i = 0; h && headers && headers[i]; i++)
		if ((t = curl_slist_append(h, headers[i])))
			h = t;
	return h;
}

static void set_options(CURL *k, const char *method, const char *url, struct pin *pin,
			const char *body, size_t body_len)
{
	curl_easy_setopt(k, CURLOPT_URL, url);
	curl_easy_setopt(k, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(k, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(k, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(k, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(k, CURLOPT_SSL_CTX_FUNCTION, setup_ssl);
	curl_easy_setopt(k, CURLOPT_SSL_CTX_DATA, pin);
	curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT, (long)PEER_CONNECT_TIMEOUT_S);
	curl_easy_setopt(k, CURLOPT_TIMEOUT, (long)PEER_TIMEOUT_S);
	curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k, CURLOPT_USERAGENT, "corrald");
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(k, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(k, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE, (long)body_len);
		curl_easy_setopt(k, CURLOPT_CUSTOMREQUEST, method);
	}
}

/* "Connection refused" and friends, as Proxmox's 595 answers say them. */
static int transport_error(CURLcode cc, const struct pin *pin, char *err, size_t errlen)
{
	if (cc == CURLE_PEER_FAILED_VERIFICATION || (cc == CURLE_SSL_CONNECT_ERROR && pin->seen[0]))
		snprintf(err, errlen, "certificate fingerprint mismatch (got %s)", pin->seen);
	else if (cc == CURLE_COULDNT_CONNECT)
		snprintf(err, errlen, "Connection refused");
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		snprintf(err, errlen, "Connection timed out");
	else
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
	return CR_EPEER;
}

static void finish_reply(CURL *k, struct buf *body, struct peer_reply *out)
{
	long status = 0;

	curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &status);
	out->status = (int)status;
	out->body_len = body->len;
	out->body = buf_steal(body);
	if (out->body && out->body_len)
		out->json = cJSON_ParseWithLength(out->body, out->body_len);
	out->data = cJSON_GetObjectItemCaseSensitive(out->json, "data");
}

/* The body pulled from SRC instead of a buffer. */
static void stream_options(CURL *k, const struct peer_body_src *src)
{
	curl_easy_setopt(k, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(k, CURLOPT_POST, 1L);
	curl_easy_setopt(k, CURLOPT_READFUNCTION, src->read);
	curl_easy_setopt(k, CURLOPT_READDATA, src->arg);
	curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)src->len);
	curl_easy_setopt(k, CURLOPT_TIMEOUT, 0L);
	curl_easy_setopt(k, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(k, CURLOPT_LOW_SPEED_TIME, (long)PEER_IDLE_S);
}

/* peer_https, with the body from SRC when it is not NULL. */
static int https_request(const struct peer_target *t, const char *method, const char *url_path,
			 const char *const *headers, const char *content_type, const char *body,
			 size_t body_len, const struct peer_body_src *src,
			 struct peer_reply *out, char *err, size_t errlen)
{
	struct pin pin = { .want = t->fp };
	struct buf url = BUF_INIT, resp = BUF_INIT;
	struct curl_slist *h = header_list(headers, content_type);
	CURL *k = curl_easy_init();
	CURLcode cc;
	int r = -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!k || !h || buf_printf(&url, strchr(t->host, ':') ? "https://[%s]:%u%s" : "https://%s:%u%s",
				   t->host, t->port, url_path) < 0)
		goto out;
	set_options(k, method, url.data, &pin, body, body_len);
	if (src)
		stream_options(k, src);
	curl_easy_setopt(k, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(k, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(k, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(k, CURLOPT_HEADERDATA, out);
	cc = curl_easy_perform(k);
	if (cc != CURLE_OK)
		r = transport_error(cc, &pin, err, errlen);
	else {
		finish_reply(k, &resp, out);
		r = 0;
	}
out:
	buf_free(&url);
	buf_free(&resp);
	curl_slist_free_all(h);
	curl_easy_cleanup(k);
	return r;
}

int peer_https(const struct peer_target *t, const char *method, const char *url_path,
	       const char *const *headers, const char *content_type, const char *body,
	       size_t body_len, struct peer_reply *out, char *err, size_t errlen)
{
	return https_request(t, method, url_path, headers, content_type, body, body_len, NULL, out,
			     err, errlen);
}

void *peer_tls_connect(const struct peer_target *t, char *err, size_t errlen)
{
	/* Only the handshake reads the pin, within curl_easy_perform. */
	struct pin pin = { .want = t->fp };
	struct buf url = BUF_INIT;
	CURL *k = curl_easy_init();
	CURLcode cc;

	if (!k || buf_printf(&url, strchr(t->host, ':') ? "https://[%s]:%u/" : "https://%s:%u/",
			     t->host, t->port) < 0) {
		snprintf(err, errlen, "out of memory");
		curl_easy_cleanup(k);
		return NULL;
	}
	set_options(k, "GET", url.data, &pin, NULL, 0);
	curl_easy_setopt(k, CURLOPT_CONNECT_ONLY, 1L);
	/* A console stays open as long as it is used: only the connection
	 * (TCP and TLS) is bounded, by the connect timeout. */
	curl_easy_setopt(k, CURLOPT_TIMEOUT, 0L);
	cc = curl_easy_perform(k);
	buf_free(&url);
	if (cc != CURLE_OK) {
		transport_error(cc, &pin, err, errlen);
		curl_easy_cleanup(k);
		return NULL;
	}
	curl_easy_setopt(k, CURLOPT_SSL_CTX_DATA, NULL);
	return k;
}

void peer_reply_free(struct peer_reply *r)
{
	cJSON_Delete(r->json);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* --- authenticated requests --- */

static int encode_params(const cJSON *params, struct buf *b)
{
	const cJSON *it;
	char num[32];
	int r = 0;

	cJSON_ArrayForEach(it, params)
	{
		const char *v = cJSON_IsString(it) ? it->valuestring : NULL;
		char *e;

		if (!v && cJSON_IsNumber(it)) {
			snprintf(num, sizeof(num), "%.17g", it->valuedouble);
			v = num;
		}
		if (!v || !it->string)
			continue;
		if (!(e = curl_easy_escape(NULL, v, 0)))
			return -ENOMEM;
		r = buf_printf(b, "%s%s=%s", b->len ? "&" : "", it->string, e);
		curl_free(e);
		if (r < 0)
			return r;
	}
	return 0;
}

struct creds {
	char cookie[AUTH_TICKET_MAX + 32];
	char csrf[AUTH_CSRF_MAX + 32];
};

static int mint(struct app *app, const char *user, struct creds *c)
{
	char ticket[AUTH_TICKET_MAX], csrf[AUTH_CSRF_MAX];
	time_t now = time(NULL);
	int r = auth_ticket_make(app->auth, user, now, ticket, sizeof(ticket));

	if (r == 0)
		r = auth_csrf_make(app->auth, user, now, csrf, sizeof(csrf));
	if (r == 0) {
		snprintf(c->cookie, sizeof(c->cookie), "Cookie: PVEAuthCookie=%s", ticket);
		snprintf(c->csrf, sizeof(c->csrf), "CSRFPreventionToken: %s", csrf);
	}
	return r;
}

static int target_of(struct app *app, const char *node, struct peer_info *pi,
		     struct peer_target *t, char *err, size_t errlen)
{
	if (peer_lookup(app, node, pi) < 0) {
		snprintf(err, errlen, "hostname lookup '%s' failed - no such cluster node", node);
		return CR_ENOTFOUND;
	}
	if (!pi->online && !pi->local) {
		snprintf(err, errlen, "node '%s' is offline", node);
		return CR_EPEER;
	}
	t->host = pi->host;
	t->port = pi->port;
	t->fp = pi->fp;
	return 0;
}

int peer_request(struct app *app, const char *node, const char *method, const char *path,
		 const cJSON *params, const char *as_user, struct peer_reply *out, char *err,
		 size_t errlen)
{
	struct peer_info pi;
	struct peer_target t;
	struct creds cr;
	struct buf url = BUF_INIT, form = BUF_INIT;
	int query = strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0, r;
	const char *headers[] = { cr.cookie, cr.csrf, NULL };

	memset(out, 0, sizeof(*out));
	if ((r = target_of(app, node, &pi, &t, err, errlen)) < 0)
		return r;
	if ((r = mint(app, as_user, &cr)) < 0) {
		snprintf(err, errlen, "cannot mint a ticket for %s: %s", as_user, err_str(r));
		return r;
	}
	r = encode_params(params, &form);
	if (r == 0)
		r = buf_printf(&url, "/api2/json%s%s%s", path, query && form.len ? "?" : "",
			       query && form.len ? form.data : "");
	if (r == 0)
		r = peer_https(&t, method, url.data, headers,
			       query ? NULL : "application/x-www-form-urlencoded",
			       query ? NULL : form.data, query ? 0 : form.len, out, err, errlen);
	buf_free(&url);
	buf_free(&form);
	return r;
}

/* --- forwarding --- */

int peer_path_node(const char *path, char *out, size_t n)
{
	const char *s, *e;

	if (strncmp(path, "/nodes/", 7) != 0)
		return -ENOENT;
	s = path + 7;
	e = strchr(s, '/');
	if (!e)
		e = s + strlen(s);
	if (e == s || (size_t)(e - s) >= n)
		return -ENOENT;
	memcpy(out, s, (size_t)(e - s));
	out[e - s] = '\0';
	return 0;
}

static void reply_text(struct router_reply *out, int status, const char *msg)
{
	struct buf b = BUF_INIT;

	out->status = status;
	out->reason = strdup(msg);
	if (buf_puts(&b, "{\"data\":null}") == 0) {
		out->body_len = b.len;
		out->body = buf_steal(&b);
	}
}

static int forward_headers(const struct router_request *rq, struct buf *b, const char *v[4])
{
	size_t n = 0;
	int r = 0;

	/* One buffer, three NUL-separated lines; pointers are fixed up after. */
	size_t off[3];

	if (rq->cookie && r == 0) {
		off[n++] = b->len;
		r = buf_printf(b, "Cookie: PVEAuthCookie=%s", rq->cookie) || buf_append(b, "", 1);
	}
	if (rq->authorization && r == 0) {
		off[n++] = b->len;
		r = buf_printf(b, "Authorization: %s", rq->authorization) || buf_append(b, "", 1);
	}
	if (rq->csrf_token && r == 0) {
		off[n++] = b->len;
		r = buf_printf(b, "CSRFPreventionToken: %s", rq->csrf_token) || buf_append(b, "", 1);
	}
	for (size_t i = 0; i < n; i++)
		v[i] = b->data + off[i];
	v[n] = NULL;
	return r ? -ENOMEM : 0;
}

static void copy_reply(struct peer_reply *rp, struct router_reply *out)
{
	out->status = rp->status;
	out->body = rp->body;
	out->body_len = rp->body_len;
	rp->body = NULL;
	if (rp->status >= 300 && rp->reason[0])
		out->reason = strdup(rp->reason);
}

static int do_forward(struct app *app, const struct peer_target *t,
		      const struct router_request *rq, const struct peer_body_src *src,
		      struct router_reply *out, char *err, size_t errlen)
{
	struct buf url = BUF_INIT, hb = BUF_INIT;
	const char *headers[4];
	struct peer_reply rp;
	char *esc = curl_easy_escape(NULL, rq->path, 0), full[8192];
	int r = esc ? forward_headers(rq, &hb, headers) : -ENOMEM, ws = 0;
	char werr[128];

	/* The router saw the path percent-decoded: encode it again, keeping '/'. */
	for (char *p = esc; r == 0 && *p; p++) {
		if (strncmp(p, "%2F", 3) == 0) {
			r = buf_append(&url, "/", 1);
			p += 2;
		} else {
			r = buf_append(&url, p, 1);
		}
	}
	if (r == 0 && rq->query && rq->query[0])
		r = buf_printf(&url, "?%s", rq->query);
	if (r == 0) {
		snprintf(full, sizeof(full), "/api2/json%s", url.data ? url.data : "");
		/* A console websocket: relayed to the member's (peer_ws.c). */
		ws = rq->conn && strcmp(rq->method, "GET") == 0 &&
		     ws_request_check(rq->conn, werr, sizeof(werr)) == 0;
		if (ws)
			r = peer_ws_forward(app, t, full, rq, out, err, errlen);
		else
			r = https_request(t, rq->method, full, headers, rq->content_type, rq->body,
					  rq->body_len, src, &rp, err, errlen);
	}
	if (r == 0 && !ws) {
		copy_reply(&rp, out);
		peer_reply_free(&rp);
	}
	curl_free(esc);
	buf_free(&url);
	buf_free(&hb);
	return r;
}

void peer_forward_stream(struct app *app, const char *node, const struct router_request *rq,
			 const struct peer_body_src *src, struct router_reply *out)
{
	char err[512] = "";
	struct peer_info pi;
	struct peer_target t;
	int r = target_of(app, node, &pi, &t, err, sizeof(err));

	if (r == 0)
		r = do_forward(app, &t, rq, src, out, err, sizeof(err));
	if (r == CR_ENOTFOUND)
		reply_text(out, 500, err);
	else if (r < 0)
		reply_text(out, 595, err);
}

int peer_forward(struct app *app, const struct router_request *rq, struct router_reply *out)
{
	char node[CLUSTER_NODE_MAX];

	if (!app->cluster || peer_path_node(rq->path, node, sizeof(node)) < 0 ||
	    strcmp(node, app->cfg.node) == 0 || !cluster_is_member(app->cluster, NULL, 0))
		return 0;
	peer_forward_stream(app, node, rq, NULL, out);
	return 1;
}

