/* Websocket sessions and their bridge threads (see ws_bridge.h).  A session
 * is referenced by the HTTP request that created it (until its completion)
 * and by its bridge thread; the hub lock guards both counts. */
#include "server/ws_bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "server/auth_int.h"
#include "server/ws.h"

/* A peer that takes no data for this long is given up (a stuck browser must
 * not hold a bridge thread forever). */
#define WS_SEND_TIMEOUT_S 30
#define WS_IO_CHUNK 65536

struct ws_hub {
	pthread_mutex_t lock;
	pthread_cond_t idle;     /* signalled when a bridge ends */
	unsigned max, count, bridges;
	int stopping;
	int stop_fd;             /* eventfd, readable once the hub shuts down */
};

struct ws_session {
	struct ws_hub *hub;
	unsigned refs;
	enum ws_bridge_mode mode;
	int fd;                  /* the VM's socket */
	int sock;                /* the upgraded connection, -1 before */
	struct MHD_UpgradeResponseHandle *urh;
	uint8_t *extra;          /* bytes MHD read past the request */
	size_t extra_len;
	char accept[WS_ACCEPT_LEN + 1];
	const char *protocol;    /* static string or NULL */
	char label[256];
	char auth_line[WS_TERM_AUTH_MAX];
	int authed;
	struct ws_reader reader;
	struct ws_term term;
};

/* --- the hub --- */

int ws_hub_new(unsigned max, struct ws_hub **out)
{
	struct ws_hub *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->max = max ? max : WS_HUB_DEFAULT_MAX;
	h->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->stop_fd < 0) {
		free(h);
		return -errno;
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->idle, NULL);
	*out = h;
	return 0;
}

void ws_hub_shutdown(struct ws_hub *h)
{
	uint64_t one = 1;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	if (!h->stopping) {
		h->stopping = 1;
		if (write(h->stop_fd, &one, sizeof(one)) < 0)
			log_warn("websocket: cannot signal the bridges: %s", strerror(errno));
	}
	while (h->bridges)
		pthread_cond_wait(&h->idle, &h->lock);
	pthread_mutex_unlock(&h->lock);
}

void ws_hub_free(struct ws_hub *h)
{
	if (!h)
		return;
	ws_hub_shutdown(h);
	close(h->stop_fd);
	pthread_cond_destroy(&h->idle);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

unsigned ws_hub_count(struct ws_hub *h)
{
	unsigned n;

	pthread_mutex_lock(&h->lock);
	n = h->count;
	pthread_mutex_unlock(&h->lock);
	return n;
}

/* --- sessions --- */

static const char *conn_header(void *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

int ws_request_check(void *conn, char *err, size_t errlen)
{
	struct ws_handshake hs = {
		.method = "GET",
		.upgrade = conn_header(conn, MHD_HTTP_HEADER_UPGRADE),
		.connection = conn_header(conn, MHD_HTTP_HEADER_CONNECTION),
		.version = conn_header(conn, "Sec-WebSocket-Version"),
		.key = conn_header(conn, "Sec-WebSocket-Key"),
		.protocols = conn_header(conn, "Sec-WebSocket-Protocol"),
	};

	return ws_handshake_check(&hs, err, errlen);
}

/* Frees S (hub lock held). */
static void session_free_locked(struct ws_session *s)
{
	s->hub->count--;
	close(s->fd);
	ws_reader_free(&s->reader);
	free(s->extra);
	free(s);
}

static void session_put_locked(struct ws_session *s)
{
	if (--s->refs == 0)
		session_free_locked(s);
}

void ws_session_put(struct ws_session *s)
{
	struct ws_hub *h;

	if (!s)
		return;
	h = s->hub;
	pthread_mutex_lock(&h->lock);
	session_put_locked(s);
	pthread_mutex_unlock(&h->lock);
}

static int session_fill(struct ws_session *s, void *conn, const struct ws_session_opts *o)
{
	const char *key = conn_header(conn, "Sec-WebSocket-Key");

	if (!key || ws_accept_key(key, s->accept) < 0)
		return -EINVAL;
	s->protocol = ws_pick_protocol(conn_header(conn, "Sec-WebSocket-Protocol"));
	s->mode = o->mode;
	util_strlcpy(s->label, o->label ? o->label : "console", sizeof(s->label));
	if (o->mode == WS_BRIDGE_TERM &&
	    (size_t)snprintf(s->auth_line, sizeof(s->auth_line), "%s:%s", o->auth_user,
			     o->auth_ticket) >= sizeof(s->auth_line))
		return -EINVAL;
	s->authed = o->mode != WS_BRIDGE_TERM;
	ws_reader_init(&s->reader, 0);
	ws_term_init(&s->term);
	return 0;
}

int ws_session_new(struct ws_hub *h, void *conn, int fd, const struct ws_session_opts *o,
		   struct ws_session **out)
{
	struct ws_session *s = calloc(1, sizeof(*s));
	int rc = -ENOMEM;

	if (!s)
		goto fail_close;
	s->hub = h;
	s->fd = fd;
	s->sock = -1;
	s->refs = 1;
	pthread_mutex_lock(&h->lock);
	rc = h->stopping || h->count >= h->max ? -EAGAIN : 0;
	if (rc == 0)
		h->count++;
	pthread_mutex_unlock(&h->lock);
	if (rc < 0)
		goto fail_free;
	if ((rc = session_fill(s, conn, o)) < 0) {
		ws_session_put(s);
		return rc;
	}
	*out = s;
	return 0;
fail_free:
	free(s);
fail_close:
	close(fd);
	return rc;
}

/* --- the bridge --- */

static int send_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Header and payload in one call: one segment (and one TLS record) per frame. */
static int send_frame(struct ws_session *s, int opcode, const uint8_t *data, size_t n)
{
	uint8_t hdr[WS_MAX_HEADER];
	struct iovec iov[2] = { { hdr, ws_frame_header(hdr, opcode, n) }, { (void *)data, n } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = n ? 2 : 1 };
	ssize_t w;

	do
		w = sendmsg(s->sock, &msg, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -EIO;
	if ((size_t)w < iov[0].iov_len) { /* a short write: finish piecewise */
		if (send_all(s->sock, hdr + w, iov[0].iov_len - (size_t)w) < 0)
			return -EIO;
		w = (ssize_t)iov[0].iov_len;
	}
	w -= (ssize_t)iov[0].iov_len;
	return (size_t)w < n ? send_all(s->sock, data + w, n - (size_t)w) : 0;
}

static void send_close(struct ws_session *s, unsigned code, const char *reason)
{
	uint8_t payload[125];

	send_frame(s, WS_OP_CLOSE, payload, ws_close_payload(payload, code, reason));
}

/* The client's first termproxy line must be the session's user and ticket. */
static int term_auth(void *ctx, const char *line)
{
	struct ws_session *s = ctx;
	static const uint8_t ok[] = "OK";

	if (!auth_str_equal(line, s->auth_line))
		return -EACCES;
	s->authed = 1;
	return send_frame(s, WS_OP_BINARY, ok, 2);
}

static int term_data(void *ctx, const uint8_t *data, size_t n)
{
	struct ws_session *s = ctx;

	return send_all(s->fd, data, n);
}

/* A serial line has no window size; the terminal simply wraps. */
static int term_resize(void *ctx, unsigned cols, unsigned rows)
{
	(void)ctx;
	(void)cols;
	(void)rows;
	return 0;
}

static int term_ping(void *ctx)
{
	(void)ctx;
	return 0;
}

static const struct ws_term_ops term_ops = {
	.auth = term_auth,
	.data = term_data,
	.resize = term_resize,
	.ping = term_ping,
};

/* Returns 0 to go on, 1 when the client closed, negative on failure. */
static int on_message(void *ctx, int opcode, const uint8_t *data, size_t n)
{
	struct ws_session *s = ctx;
	uint8_t echo[125];

	switch (opcode) {
	case WS_OP_PING:
		return send_frame(s, WS_OP_PONG, data, n);
	case WS_OP_PONG:
		return 0;
	case WS_OP_CLOSE:
		memcpy(echo, data, n < 2 ? n : 2);
		send_frame(s, WS_OP_CLOSE, echo, n < 2 ? 0 : 2);
		return 1;
	default:
		if (s->mode == WS_BRIDGE_RAW)
			return send_all(s->fd, data, n);
		return ws_term_feed(&s->term, data, n, &term_ops, s);
	}
}

/* Bytes from the client; returns 0 to go on, else the bridge ends. */
static int from_client(struct ws_session *s, const uint8_t *buf, size_t n)
{
	int rc = ws_reader_feed(&s->reader, buf, n, on_message, s);

	if (rc == -WS_CLOSE_PROTOCOL || rc == -WS_CLOSE_TOO_BIG)
		send_close(s, (unsigned)-rc, rc == -WS_CLOSE_TOO_BIG ? "message too big" : "protocol error");
	else if (rc == -EPROTO || rc == -EACCES)
		send_close(s, WS_CLOSE_PROTOCOL, rc == -EACCES ? "authentication failed" : "bad termproxy data");
	return rc;
}

static int pump_client(struct ws_session *s, uint8_t *buf)
{
	ssize_t n = recv(s->sock, buf, WS_IO_CHUNK, 0);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return -EIO;
	return from_client(s, buf, (size_t)n);
}

static int pump_console(struct ws_session *s, uint8_t *buf)
{
	ssize_t n = read(s->fd, buf, WS_IO_CHUNK);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		send_close(s, WS_CLOSE_GOING_AWAY, "console closed");
		return -EIO;
	}
	return send_frame(s, WS_OP_BINARY, buf, (size_t)n);
}

static void bridge_loop(struct ws_session *s, uint8_t *buf)
{
	int rc = s->extra_len ? from_client(s, s->extra, s->extra_len) : 0;

	while (rc == 0) {
		struct pollfd p[3] = {
			{ .fd = s->sock, .events = POLLIN },
			{ .fd = s->hub->stop_fd, .events = POLLIN },
			{ .fd = s->authed ? s->fd : -1, .events = POLLIN },
		};

		if (poll(p, 3, -1) < 0) {
			rc = errno == EINTR ? 0 : -errno;
			continue;
		}
		if (p[1].revents) {
			send_close(s, WS_CLOSE_GOING_AWAY, "server shutting down");
			break;
		}
		if (p[0].revents)
			rc = pump_client(s, buf);
		if (rc == 0 && p[2].revents)
			rc = pump_console(s, buf);
	}
}

static void set_blocking(int fd)
{
	struct timeval tv = { .tv_sec = WS_SEND_TIMEOUT_S };
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void *bridge_main(void *arg)
{
	struct ws_session *s = arg;
	struct ws_hub *h = s->hub;
	uint8_t *buf = malloc(WS_IO_CHUNK);

	log_info("console: %s connected", s->label);
	/* libmicrohttpd may leave the socket corked from the 101 response:
	 * console keystrokes must not wait for a full segment. */
	MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CORK_OFF);
	set_blocking(s->sock);
	set_blocking(s->fd);
	if (buf)
		bridge_loop(s, buf);
	free(buf);
	log_info("console: %s closed", s->label);
	MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
	pthread_mutex_lock(&h->lock);
	session_put_locked(s);
	h->bridges--;
	pthread_cond_broadcast(&h->idle);
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* Starts the bridge thread (hub lock held); 0 or a negative code. */
static int bridge_start_locked(struct ws_session *s)
{
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (s->hub->stopping)
		return -ESHUTDOWN;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	s->refs++;
	rc = pthread_create(&t, &attr, bridge_main, s);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		s->refs--;
		return -rc;
	}
	s->hub->bridges++;
	return 0;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *req_cls, const char *extra_in,
		       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct ws_session *s = cls;
	struct ws_hub *h = s->hub;
	int rc = -ENOMEM;

	(void)conn;
	(void)req_cls;
	s->sock = sock;
	s->urh = urh;
	if (extra_in_size && (s->extra = malloc(extra_in_size))) {
		memcpy(s->extra, extra_in, extra_in_size);
		s->extra_len = extra_in_size;
	}
	pthread_mutex_lock(&h->lock);
	if (!extra_in_size || s->extra)
		rc = bridge_start_locked(s);
	pthread_mutex_unlock(&h->lock);
	if (rc < 0) {
		log_warn("console: %s: cannot start the bridge: %s", s->label, strerror(-rc));
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
	}
}

struct MHD_Response *ws_session_response(struct ws_session *s)
{
	struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgrade, s);

	if (!r)
		return NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(r, "Sec-WebSocket-Accept", s->accept);
	if (s->protocol)
		MHD_add_response_header(r, "Sec-WebSocket-Protocol", s->protocol);
	return r;
}
