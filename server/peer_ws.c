/* Console websockets for another member's VM: the upgrade request goes over
 * a pinned TLS connection to that member with the caller's credentials, and
 * once it answers 101 the client's websocket is bridged (ws_bridge.c, raw
 * mode) to a socket pair whose other end a relay thread frames to and from
 * the member's websocket. */
#include "server/peer.h"

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "server/app.h"
#include "server/router.h"
#include "server/ws.h"
#include "server/ws_bridge.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 8192
#define RELAY_CHUNK 16384
/* A frame from the member larger than this ends the relay. */
#define RELAY_FRAME_MAX (16u << 20)

struct relay {
	CURL *k;
	int fd;          /* our end of the socket pair */
	uint8_t *in;     /* the member's bytes not yet deframed */
	size_t in_len, in_cap;
};

static int sock_wait(CURL *k, short ev, int ms)
{
	curl_socket_t s = CURL_SOCKET_BAD;
	struct pollfd p;

	curl_easy_getinfo(k, CURLINFO_ACTIVESOCKET, &s);
	if (s == CURL_SOCKET_BAD)
		return -EPIPE;
	p = (struct pollfd){ .fd = (int)s, .events = ev };
	return poll(&p, 1, ms) > 0 ? 0 : -ETIMEDOUT;
}

static int tls_send_all(CURL *k, const void *data, size_t n)
{
	const char *p = data;

	while (n) {
		size_t sent = 0;
		CURLcode cc = curl_easy_send(k, p, n, &sent);

		if (cc == CURLE_AGAIN) {
			if (sock_wait(k, POLLOUT, 10000) < 0)
				return -ETIMEDOUT;
			continue;
		}
		if (cc != CURLE_OK)
			return -EPIPE;
		p += sent;
		n -= sent;
	}
	return 0;
}

static int fd_write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EPIPE;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A client frame (masked, as RFC 6455 requires of clients). */
static int send_frame(CURL *k, int opcode, const uint8_t *data, size_t n)
{
	uint8_t *f = malloc(n + WS_MAX_HEADER);
	size_t h;
	int r;

	if (!f)
		return -ENOMEM;
	h = ws_frame_header(f, opcode, n);
	f[1] |= 0x80;
	if (RAND_bytes(f + h, 4) != 1) {
		free(f);
		return -EIO;
	}
	memcpy(f + h + 4, data, n);
	ws_unmask(f + h + 4, n, f + h, 0);
	r = tls_send_all(k, f, h + 4 + n);
	free(f);
	return r;
}

static int in_append(struct relay *rl, const void *p, size_t n)
{
	if (rl->in_len + n > rl->in_cap) {
		size_t cap = (rl->in_len + n) * 2;
		uint8_t *b = realloc(rl->in, cap);

		if (!b)
			return -ENOMEM;
		rl->in = b;
		rl->in_cap = cap;
	}
	memcpy(rl->in + rl->in_len, p, n);
	rl->in_len += n;
	return 0;
}

/* Passes on every complete frame received.  0, 1 after a close, or <0. */
static int deframe(struct relay *rl)
{
	struct ws_frame f;
	int r = 0;

	while (r == 0 && ws_frame_parse(rl->in, rl->in_len, &f) == 0) {
		uint8_t *data = rl->in + f.header_len;
		size_t n = (size_t)f.len;

		if (f.len > RELAY_FRAME_MAX)
			return -EPROTO;
		if (rl->in_len < f.header_len + n)
			break;
		if (f.masked)
			ws_unmask(data, n, f.mask, 0);
		if (f.opcode == WS_OP_CLOSE)
			r = 1;
		else if (f.opcode == WS_OP_PING)
			r = send_frame(rl->k, WS_OP_PONG, data, n);
		else if (f.opcode != WS_OP_PONG)
			r = fd_write_all(rl->fd, data, n);
		memmove(rl->in, data + n, rl->in_len - f.header_len - n);
		rl->in_len -= f.header_len + n;
	}
	return r;
}

/* Everything the member sent that TLS has decrypted.  0, 1 at its end, <0. */
static int from_member(struct relay *rl)
{
	uint8_t buf[RELAY_CHUNK];

	for (;;) {
		size_t got = 0;
		CURLcode cc = curl_easy_recv(rl->k, buf, sizeof(buf), &got);

		if (cc == CURLE_AGAIN)
			return deframe(rl);
		if (cc != CURLE_OK || got == 0)
			return 1;
		if (in_append(rl, buf, got) < 0)
			return -ENOMEM;
	}
}

static int from_client(struct relay *rl)
{
	uint8_t buf[RELAY_CHUNK];
	ssize_t n = read(rl->fd, buf, sizeof(buf));

	if (n < 0 && errno == EINTR)
		return 0;
	if (n <= 0)
		return 1;
	return send_frame(rl->k, WS_OP_BINARY, buf, (size_t)n);
}

static void relay_free(struct relay *rl)
{
	curl_easy_cleanup(rl->k);
	if (rl->fd >= 0)
		close(rl->fd);
	free(rl->in);
	free(rl);
}

static void *relay_main(void *arg)
{
	struct relay *rl = arg;
	curl_socket_t s = CURL_SOCKET_BAD;
	int r = deframe(rl);

	curl_easy_getinfo(rl->k, CURLINFO_ACTIVESOCKET, &s);
	while (r == 0 && s != CURL_SOCKET_BAD) {
		struct pollfd p[2] = { { .fd = (int)s, .events = POLLIN },
				       { .fd = rl->fd, .events = POLLIN } };

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			r = from_member(rl);
		if (r == 0 && p[1].revents)
			r = from_client(rl);
	}
	relay_free(rl);
	return NULL;
}

/* --- the upgrade request to the member --- */

static int send_upgrade(CURL *k, const struct peer_target *t, const char *path,
			const struct router_request *rq)
{
	uint8_t nonce[16];
	unsigned char key[32];
	char *req;
	int r, n;

	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return -EIO;
	EVP_EncodeBlock(key, nonce, sizeof(nonce));
	n = asprintf(&req,
		     "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\n"
		     "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
		     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Protocol: binary\r\n"
		     "%s%s%s%s%s%s\r\n",
		     path, t->host, t->port, key, rq->cookie ? "Cookie: PVEAuthCookie=" : "",
		     rq->cookie ? rq->cookie : "", rq->cookie ? "\r\n" : "",
		     rq->authorization ? "Authorization: " : "",
		     rq->authorization ? rq->authorization : "", rq->authorization ? "\r\n" : "");
	if (n < 0)
		return -ENOMEM;
	r = tls_send_all(k, req, (size_t)n);
	free(req);
	return r;
}

/* Reads the member's answer head; bytes after it stay in RL->in.  Returns
 * the HTTP status (REASON gets the phrase) or <0. */
static int read_head(struct relay *rl, char *reason, size_t n)
{
	char *end = NULL;
	int status = 0;

	while (!end) {
		uint8_t buf[1024];
		size_t got = 0;
		CURLcode cc = curl_easy_recv(rl->k, buf, sizeof(buf), &got);

		if (cc == CURLE_AGAIN) {
			if (sock_wait(rl->k, POLLIN, 30000) < 0)
				return -ETIMEDOUT;
			continue;
		}
		if (cc != CURLE_OK || got == 0 || rl->in_len + got > HEAD_MAX ||
		    in_append(rl, buf, got) < 0)
			return -EPROTO;
		end = memmem(rl->in, rl->in_len, "\r\n\r\n", 4);
	}
	if (sscanf((char *)rl->in, "HTTP/1.1 %3d", &status) != 1)
		return -EPROTO;
	util_http_reason((char *)rl->in, (size_t)(end - (char *)rl->in), reason, n);
	rl->in_len -= (size_t)(end + 4 - (char *)rl->in);
	memmove(rl->in, end + 4, rl->in_len);
	return status;
}

static void refused(struct router_reply *out, int status, const char *reason)
{
	out->status = status;
	out->reason = strdup(reason[0] ? reason : "websocket refused by the member");
	out->body = strdup("{\"data\":null}");
	out->body_len = out->body ? strlen(out->body) : 0;
}

/* Hands the client's websocket to a relay once the member took its own. */
static int start_bridge(struct app *app, struct relay *rl, const struct router_request *rq,
			struct router_reply *out, char *err, size_t errlen)
{
	struct ws_session_opts o = { .mode = WS_BRIDGE_RAW, .label = "forwarded console" };
	int sp[2], r;
	pthread_t th;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return CR_EINTERNAL;
	}
	rl->fd = sp[1];
	if ((r = ws_session_new(app->ws, rq->conn, sp[0], &o, &out->upgrade)) < 0) {
		snprintf(err, errlen, "too many console connections");
		return CR_EINTERNAL;
	}
	if (pthread_create(&th, NULL, relay_main, rl) != 0) {
		ws_session_put(out->upgrade);
		out->upgrade = NULL;
		snprintf(err, errlen, "cannot start the console relay");
		return CR_EINTERNAL;
	}
	pthread_detach(th);
	return 0;
}

int peer_ws_forward(struct app *app, const struct peer_target *t, const char *url_path,
		    const struct router_request *rq, struct router_reply *out, char *err,
		    size_t errlen)
{
	struct relay *rl = calloc(1, sizeof(*rl));
	char reason[256] = "";
	int r, status;

	if (!rl)
		return -ENOMEM;
	rl->fd = -1;
	if (!(rl->k = peer_tls_connect(t, err, errlen))) {
		free(rl);
		return CR_EPEER;
	}
	if ((r = send_upgrade(rl->k, t, url_path, rq)) < 0 ||
	    (status = read_head(rl, reason, sizeof(reason))) < 0) {
		snprintf(err, errlen, "console of the member: %s", err_str(r < 0 ? r : status));
		relay_free(rl);
		return CR_EPEER;
	}
	if (status != 101) {
		refused(out, status, reason);
		relay_free(rl);
		return 0;
	}
	if ((r = start_bridge(app, rl, rq, out, err, errlen)) < 0)
		relay_free(rl);
	return r;
}
