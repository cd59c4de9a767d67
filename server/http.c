/* libmicrohttpd glue (see http.h).  Each request gets a context on the first
 * access-handler call and is answered on a later one: answering on the first
 * call makes MHD close the connection after every response.  Failed
 * authentications are suspended and resumed by a timer thread, so a storm of
 * bad logins never holds a pool thread. */
#include "server/http.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "server/app.h"
#include "server/router.h"
#include "server/static.h"
#include "server/upload.h"
#include "server/ws_bridge.h"

#define HTTP_IDLE_TIMEOUT 30      /* s without traffic on a connection */
#define HTTP_REQUEST_TIMEOUT_MS 60000 /* a slow body upload is cut here */
/* Per connection: headers + read buffer.  MHD clears the pool for every
 * request, so its size is paid by every API call: at 64 KiB corrald served
 * 26-28k authenticated requests/s against 38k at 16 KiB (bench/http.sh).
 * A 64 KiB pool reads a 16 KiB TLS record of an upload in one pass, but
 * uploads still reach their goal with 16 KiB (bench/upload.sh). */
#define HTTP_MEMORY_LIMIT (16 * 1024)
#define HTTP_CONNECTION_LIMIT 4096
#define HTTP_STOP_GRACE_MS 10000  /* in-flight requests get this long at shutdown */
/* TLS 1.2 and 1.3 only (clients like the bpg provider insist on 1.3). */
#define HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

static const struct static_mount debian_mounts[] = {
	{ "/novnc/", "/usr/share/novnc" },
	{ "/xterm/", "/usr/share/javascript/xterm" },
	{ "/chartjs/", "/usr/share/javascript/chart.js" },
};

static const char *const security_headers[][2] = {
	{ "Server", "corrald" },
	{ "Strict-Transport-Security", "max-age=31536000" },
	{ "X-Content-Type-Options", "nosniff" },
	{ "X-Frame-Options", "SAMEORIGIN" },
	{ "Referrer-Policy", "same-origin" },
};

static const char html_csp[] =
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
	"form-action 'self'; frame-ancestors 'self'";

struct hreq;

struct http {
	struct app *app;
	struct MHD_Daemon *daemon;
	struct static_files *files;
	int listen_fd;
	uint16_t port;
	size_t body_limit;
	unsigned auth_delay_ms;
	atomic_int in_flight;
	atomic_int starting;
	/* The delay queue: failed authentications waiting to be answered. */
	pthread_t delay_thread;
	pthread_mutex_t delay_lock;
	pthread_cond_t delay_cond;
	struct hreq *delay_head, *delay_tail;
	int delay_stop;
	int delay_started;
};

/* One request, from its request line to its completion. */
struct hreq {
	struct http *h;
	char *query;      /* raw query string, or NULL */
	struct buf body;
	uint64_t start_ms;
	int started;      /* the first access-handler call was seen */
	int too_big;
	int delayed;      /* REPLY waits for the end of the auth delay */
	struct router_reply reply;
	struct upload *upload; /* a streamed upload body (upload.h), or NULL */
	struct MHD_Connection *conn;
	uint64_t due_ms;
	struct hreq *next;
};

/* --- the delay queue --- */

/* R's connection is suspended; once the queue is stopped it is resumed at
 * once (answered without the delay) so that none stays behind. */
static void delay_push(struct http *h, struct hreq *r)
{
	pthread_mutex_lock(&h->delay_lock);
	if (h->delay_stop || !h->delay_started) {
		pthread_mutex_unlock(&h->delay_lock);
		MHD_resume_connection(r->conn);
		return;
	}
	r->next = NULL;
	if (h->delay_tail)
		h->delay_tail->next = r;
	else
		h->delay_head = r;
	h->delay_tail = r;
	pthread_cond_signal(&h->delay_cond);
	pthread_mutex_unlock(&h->delay_lock);
}

/* Waits (lock held) until the head is due or the queue is told to flush. */
static struct hreq *delay_wait_due(struct http *h)
{
	for (;;) {
		struct hreq *r = h->delay_head;
		uint64_t now = util_now_ms();
		struct timespec ts;

		if (r && (h->delay_stop || r->due_ms <= now)) {
			h->delay_head = r->next;
			if (!h->delay_head)
				h->delay_tail = NULL;
			return r;
		}
		if (!r && h->delay_stop)
			return NULL;
		if (!r) {
			pthread_cond_wait(&h->delay_cond, &h->delay_lock);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)((r->due_ms - now) / 1000);
		ts.tv_nsec += (long)((r->due_ms - now) % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->delay_cond, &h->delay_lock, &ts);
	}
}

static void *delay_main(void *arg)
{
	struct http *h = arg;
	struct hreq *r;

	pthread_mutex_lock(&h->delay_lock);
	while ((r = delay_wait_due(h))) {
		pthread_mutex_unlock(&h->delay_lock);
		MHD_resume_connection(r->conn);
		pthread_mutex_lock(&h->delay_lock);
	}
	pthread_mutex_unlock(&h->delay_lock);
	return NULL;
}

/* Answers every waiting request now and ends the thread. */
static void delay_stop(struct http *h)
{
	if (!h->delay_started)
		return;
	pthread_mutex_lock(&h->delay_lock);
	h->delay_stop = 1;
	pthread_cond_signal(&h->delay_cond);
	pthread_mutex_unlock(&h->delay_lock);
	pthread_join(h->delay_thread, NULL);
}

/* --- responses --- */

/* Proxmox sends the error message as the reason phrase, and clients show
 * it.  libmicrohttpd 0.9.75 has no API for one: it asks
 * MHD_get_reason_phrase_for() (through its PLT) while writing the status
 * line, on the thread that queued the response, right after the access
 * handler returns.  Defining the function here interposes it: a phrase
 * queued on this thread for this status is used once, anything else gets
 * libmicrohttpd's own. */
struct pending_reason {
	unsigned code;
	char phrase[256];
};

static _Thread_local struct pending_reason pending_reason;
static _Thread_local char reason_used[256];

static void reason_set(unsigned code, const char *phrase)
{
	size_t n = 0;

	pending_reason.code = phrase && *phrase ? code : 0;
	for (const char *p = phrase; p && *p && n + 1 < sizeof(pending_reason.phrase); p++)
		pending_reason.phrase[n++] = ((unsigned char)*p < 0x20 || *p == 0x7f) ? ' ' : *p;
	pending_reason.phrase[n] = '\0';
}

static const char *(*mhd_reason_for)(unsigned);

/* Finds libmicrohttpd's own function once, before any worker thread runs. */
static void reason_init(void)
{
	*(void **)&mhd_reason_for = dlsym(RTLD_NEXT, "MHD_get_reason_phrase_for");
}

static const char *real_reason(unsigned code)
{
	return mhd_reason_for ? mhd_reason_for(code) : "Unknown";
}

const char *MHD_get_reason_phrase_for(unsigned int code)
{
	if (pending_reason.code != code || !pending_reason.code)
		return real_reason(code);
	memcpy(reason_used, pending_reason.phrase, sizeof(reason_used));
	pending_reason.code = 0;
	return reason_used;
}

size_t MHD_get_reason_phrase_len_for(unsigned int code)
{
	if (pending_reason.code == code && code)
		return strlen(pending_reason.phrase);
	return strlen(real_reason(code));
}

static void add_common_headers(struct MHD_Response *resp)
{
	for (size_t i = 0; i < ARRAY_SIZE(security_headers); i++)
		MHD_add_response_header(resp, security_headers[i][0], security_headers[i][1]);
}

static enum MHD_Result queue_reason(struct MHD_Connection *conn, unsigned status,
				    struct MHD_Response *resp, const char *reason)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	add_common_headers(resp);
	reason_set(status, reason);
	ret = MHD_queue_response(conn, status, resp);
	if (ret != MHD_YES)
		reason_set(0, NULL); /* no status line will ask for it */
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status,
			     struct MHD_Response *resp)
{
	return queue_reason(conn, status, resp, NULL);
}

static enum MHD_Result queue_text(struct MHD_Connection *conn, unsigned status,
				  const char *type, const char *text)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);

	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	return queue(conn, status, resp);
}

/* Sends a router reply; the body moves into MHD. */
static enum MHD_Result queue_reply(struct MHD_Connection *conn, struct router_reply *rp)
{
	struct MHD_Response *resp;
	size_t len = rp->body_len;
	char *body = rp->body;

	rp->body = NULL;
	resp = MHD_create_response_from_buffer(len, body ? body : (void *)(uintptr_t)"",
					       body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	if (body)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"application/json;charset=UTF-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "max-age=0");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_PRAGMA, "no-cache");
	if (rp->set_cookie)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, rp->set_cookie);
	return queue_reason(conn, (unsigned)rp->status, resp, rp->reason);
}

/* --- requests --- */

static const char *header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static void peer_text(struct MHD_Connection *conn, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, n, "-");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)n);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
			  (socklen_t)n);
}

/* "/api2/json/nodes" -> "/nodes"; NULL when not an API path. */
static const char *api_path(const char *url)
{
	static const char *const prefixes[] = { "/api2/json", "/api2/extjs" };

	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		size_t n = strlen(prefixes[i]);

		if (strncmp(url, prefixes[i], n) == 0 && (url[n] == '/' || url[n] == '\0'))
			return url[n] ? url + n : "/";
	}
	return NULL;
}

/* The router's view of request R (PEER: INET6_ADDRSTRLEN bytes). */
static struct router_request request_of(struct MHD_Connection *conn, struct hreq *r,
					const char *path, const char *method, char *peer)
{
	struct router_request rq = {
		.method = method,
		.path = path,
		.query = r->query,
		.content_type = header(conn, MHD_HTTP_HEADER_CONTENT_TYPE),
		.body = r->body.data,
		.body_len = r->body.len,
		.cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "PVEAuthCookie"),
		.authorization = header(conn, MHD_HTTP_HEADER_AUTHORIZATION),
		.csrf_token = header(conn, "CSRFPreventionToken"),
		.peer = peer,
		.conn = conn,
	};

	peer_text(conn, peer, INET6_ADDRSTRLEN);
	return rq;
}

static enum MHD_Result answer_api(struct http *h, struct MHD_Connection *conn, struct hreq *r,
				  const char *path, const char *method)
{
	char peer[INET6_ADDRSTRLEN];
	struct router_request rq = request_of(conn, r, path, method, peer);

	router_handle(h->app, &rq, &r->reply);
	if (r->reply.upgrade) /* a console websocket: the session stays with the reply */
		return queue(conn, MHD_HTTP_SWITCHING_PROTOCOLS, ws_session_response(r->reply.upgrade));
	if (!r->reply.delay)
		return queue_reply(conn, &r->reply);
	/* Answer a failed authentication only AUTH_DELAY after the request came. */
	r->delayed = 1;
	r->conn = conn;
	r->due_ms = r->start_ms + h->auth_delay_ms;
	MHD_suspend_connection(conn);
	delay_push(h, r);
	return MHD_YES;
}

static enum MHD_Result answer_static(struct http *h, struct MHD_Connection *conn,
				     const char *url)
{
	const struct static_file *f;
	struct MHD_Response *resp;
	int rc = static_lookup(h->files, url, &f), gz;

	if (rc == -EINVAL)
		return queue_text(conn, MHD_HTTP_FORBIDDEN, "text/plain", "forbidden\n");
	if (rc < 0)
		return queue_text(conn, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
	if (static_etag_match(header(conn, MHD_HTTP_HEADER_IF_NONE_MATCH), f->etag)) {
		resp = MHD_create_response_from_buffer(0, (void *)(uintptr_t)"", MHD_RESPMEM_PERSISTENT);
		if (resp)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, f->etag);
		return queue(conn, MHD_HTTP_NOT_MODIFIED, resp);
	}
	gz = f->gz && static_accepts_gzip(header(conn, MHD_HTTP_HEADER_ACCEPT_ENCODING));
	resp = MHD_create_response_from_buffer(gz ? f->gz_len : f->len,
					       (void *)(uintptr_t)(gz ? f->gz : f->data),
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, f->content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, f->etag);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	if (f->gz)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	if (gz)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	if (f->is_html)
		MHD_add_response_header(resp, "Content-Security-Policy", html_csp);
	return queue(conn, MHD_HTTP_OK, resp);
}

static enum MHD_Result answer_too_big(struct MHD_Connection *conn)
{
	static const char body[] = "{\"data\":null,\"message\":\"request entity too large\"}";
	struct router_reply rp = { .status = MHD_HTTP_CONTENT_TOO_LARGE };

	rp.body = strdup(body);
	rp.body_len = rp.body ? strlen(rp.body) : 0;
	return queue_reply(conn, &rp);
}

static enum MHD_Result answer(struct http *h, struct MHD_Connection *conn, struct hreq *r,
			      const char *url, const char *method)
{
	const char *path = api_path(url);

	if (r->too_big)
		return answer_too_big(conn);
	if (path)
		return answer_api(h, conn, r, path, method);
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return answer_static(h, conn, url);
	return queue_text(conn, MHD_HTTP_NOT_IMPLEMENTED, "text/plain", "not implemented\n");
}

/* An upload route streams its body to upload.c instead of collecting it;
 * it is authorized now, before any of the body is read. */
static enum MHD_Result start_upload(struct http *h, struct MHD_Connection *conn, struct hreq *r,
				    const char *path, const char *method)
{
	char peer[INET6_ADDRSTRLEN];
	struct router_request rq = request_of(conn, r, path, method, peer);

	if (upload_begin(h->app, &rq, &r->upload, &r->reply) < 0)
		return queue_reply(conn, &r->reply);
	return MHD_YES;
}

/* First call: checks the announced body size.  A 413 here closes the
 * connection, which is right: the body is not read. */
static enum MHD_Result on_first_call(struct http *h, struct MHD_Connection *conn, struct hreq *r,
				     const char *url, const char *method)
{
	const char *cl = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *path = api_path(url);
	uint64_t len;

	r->started = 1;
	if (path && upload_is_route(method, path))
		return start_upload(h, conn, r, path, method);
	if (cl && util_parse_u64(cl, &len) == 0 && len > h->body_limit)
		return answer_too_big(conn);
	return MHD_YES;
}

static enum MHD_Result on_body(struct http *h, struct hreq *r, const char *data, size_t *size)
{
	if (r->upload) { /* streamed: no overall deadline, the idle timeout applies */
		upload_feed(r->upload, data, *size);
		*size = 0;
		return MHD_YES;
	}
	if (util_now_ms() - r->start_ms > HTTP_REQUEST_TIMEOUT_MS)
		return MHD_NO; /* a client this slow is cut off */
	if (!r->too_big && r->body.len + *size > h->body_limit) {
		r->too_big = 1;
		buf_free(&r->body);
	}
	if (!r->too_big && buf_append(&r->body, data, *size) < 0)
		return MHD_NO;
	*size = 0;
	return MHD_YES;
}

static struct hreq *hreq_new(struct http *h, const char *uri)
{
	struct hreq *r = calloc(1, sizeof(*r));
	const char *q = uri ? strchr(uri, '?') : NULL;

	if (!r)
		return NULL;
	r->h = h;
	r->start_ms = util_now_ms();
	r->query = q ? strdup(q + 1) : NULL;
	atomic_fetch_add(&h->in_flight, 1);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_size, void **ctx)
{
	struct http *h = cls;
	struct hreq *r = *ctx;

	(void)version;
	if (!r && !(r = *ctx = hreq_new(h, NULL)))
		return MHD_NO;
	if (!r->started)
		return on_first_call(h, conn, r, url, method);
	if (*upload_size)
		return on_body(h, r, upload_data, upload_size);
	if (r->delayed)
		return queue_reply(conn, &r->reply);
	if (r->upload) {
		upload_finish(r->upload, &r->reply);
		return queue_reply(conn, &r->reply);
	}
	return answer(h, conn, r, url, method);
}

/* Called with the raw request line's URI: the one place the undecoded query
 * string is seen.  The context returned becomes the request's *ctx. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)conn;
	return hreq_new(cls, uri);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **ctx,
			 enum MHD_RequestTerminationCode toe)
{
	struct http *h = cls;
	struct hreq *r = *ctx;

	(void)conn;
	(void)toe;
	if (!r)
		return;
	buf_free(&r->body);
	upload_free(r->upload); /* a partial upload's file goes with it */
	router_reply_clear(&r->reply);
	free(r->query);
	free(r);
	*ctx = NULL;
	atomic_fetch_sub(&h->in_flight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http *h = cls;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	/* After start-up MHD mostly reports clients that went away mid-TLS. */
	log_msg(atomic_load(&h->starting) ? LOG_ERROR : LOG_DEBUG, "http: %s", msg);
}

/* --- start and stop --- */

static int parse_addr(const char *addr, uint16_t port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

static int bound_port(int fd, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	*port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

/* The listening socket is ours, so a busy port is reported plainly; an
 * IPv6 wildcard takes IPv4 too. */
static int open_listener(struct http *h, const char *addr, uint16_t port, char *err,
			 size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, zero = 0, fd, rc;

	if (parse_addr(addr, port, &ss, &len) < 0) {
		snprintf(err, errlen, "invalid listen address '%s'", addr);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Inherited by accepted sockets: without it a response written as
	 * several TLS records waits for the client's delayed ACK (~40 ms). */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 1024) < 0 ||
	    (rc = bound_port(fd, &h->port)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot listen on %s port %u: %s", addr, port, strerror(errno));
		close(fd);
		return rc;
	}
	h->listen_fd = fd;
	return 0;
}

static unsigned default_threads(unsigned asked)
{
	long n = asked ? (long)asked : sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

static int start_daemon(struct http *h, const struct http_options *opt, char *err,
			size_t errlen)
{
	unsigned threads = default_threads(opt->threads);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem ops[] = {
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, h },
		{ MHD_OPTION_LISTEN_SOCKET, h->listen_fd, NULL },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)(uintptr_t)opt->key_pem },
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)(uintptr_t)opt->cert_pem },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)(uintptr_t)HTTP_TLS_PRIORITIES },
		{ MHD_OPTION_CONNECTION_TIMEOUT, opt->idle_timeout ? opt->idle_timeout : HTTP_IDLE_TIMEOUT, NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_MEMORY_LIMIT, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, HTTP_CONNECTION_LIMIT, NULL },
		{ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, h },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h },
		{ threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};

	atomic_store(&h->starting, 1);
	h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, ops,
				     MHD_OPTION_END);
	atomic_store(&h->starting, 0);
	if (!h->daemon) {
		snprintf(err, errlen, "cannot start the HTTPS server (TLS key or certificate?)");
		return -EINVAL;
	}
	log_debug("http: %u threads", threads);
	return 0;
}

static int http_init(struct http *h, struct app *app, const struct http_options *opt)
{
	h->app = app;
	h->listen_fd = -1;
	h->body_limit = opt->body_limit ? opt->body_limit : HTTP_BODY_LIMIT;
	h->auth_delay_ms = opt->auth_delay_ms ? opt->auth_delay_ms : HTTP_AUTH_DELAY_MS;
	reason_init();
	pthread_mutex_init(&h->delay_lock, NULL);
	pthread_cond_init(&h->delay_cond, NULL);
	if (pthread_create(&h->delay_thread, NULL, delay_main, h) != 0)
		return -EAGAIN;
	h->delay_started = 1;
	return 0;
}

int http_start(struct app *app, const struct http_options *opt, struct http **out, char *err,
	       size_t errlen)
{
	struct http *h = calloc(1, sizeof(*h));
	int rc;

	if (!h)
		return -ENOMEM;
	if ((rc = http_init(h, app, opt)) < 0) {
		snprintf(err, errlen, "cannot start the delay thread");
		goto fail;
	}
	rc = static_new(opt->webui_dir, debian_mounts, ARRAY_SIZE(debian_mounts), &h->files, err,
			errlen);
	if (rc < 0) {
		/* The API works without the UI files; say why the pages are missing. */
		log_warn("%s", err);
		rc = static_new(NULL, debian_mounts, ARRAY_SIZE(debian_mounts), &h->files, err, errlen);
	}
	if (rc < 0)
		goto fail;
	if ((rc = open_listener(h, opt->listen_addr, opt->port, err, errlen)) < 0)
		goto fail;
	if ((rc = start_daemon(h, opt, err, errlen)) < 0)
		goto fail;
	*out = h;
	return 0;
fail:
	http_stop(h);
	return rc;
}

uint16_t http_port(const struct http *h)
{
	return h->port;
}

static void wait_in_flight(struct http *h)
{
	uint64_t until = util_now_ms() + HTTP_STOP_GRACE_MS;

	while (atomic_load(&h->in_flight) > 0 && util_now_ms() < until)
		usleep(10000);
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	if (h->daemon) {
		MHD_socket fd = MHD_quiesce_daemon(h->daemon);

		if (fd != MHD_INVALID_SOCKET)
			h->listen_fd = fd; /* ours to close now */
	}
	delay_stop(h);
	if (h->daemon) {
		wait_in_flight(h);
		MHD_stop_daemon(h->daemon);
	}
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	static_free(h->files);
	pthread_cond_destroy(&h->delay_cond);
	pthread_mutex_destroy(&h->delay_lock);
	free(h);
}
