/* UDP datagrams and TCP request/reply streams for SWIM over real sockets. */
#include "cluster/transport_udp.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define FRAME_MAX (SWIM_PP_MAX_FRAME + 64)
#define RX_BATCH 64

enum conn_state { C_CONNECTING, C_WRITING, C_READ_LEN, C_READ_BODY, C_DONE };

struct conn {
	int fd;
	bool outgoing;
	uint8_t state;
	uint64_t token;
	uint64_t deadline;
	struct swim_addr peer;
	struct buf out;
	size_t out_off;
	uint8_t len_buf[4];
	size_t got;
	uint32_t want;
	uint8_t *in;
};

struct swim_udp {
	int udp_fd, tcp_fd;
	int family; /* AF_INET or AF_INET6 */
	struct swim_addr local;
	struct swim *swim;
	struct conn *conns[SWIM_UDP_MAX_CONNS];
	size_t nconns;
	uint64_t rng;
	uint8_t *rx;
};

/* ---- addresses ---- */

static socklen_t to_sockaddr(const struct swim_udp *u, const struct swim_addr *a,
			     struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (u->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (a->family != 4)
			return 0;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a->ip, 4);
		sin->sin_port = htons(a->port);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(a->port);
	if (a->family == 6) {
		memcpy(&sin6->sin6_addr, a->ip, 16);
	} else { /* v4-mapped */
		sin6->sin6_addr.s6_addr[10] = 0xff;
		sin6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&sin6->sin6_addr.s6_addr[12], a->ip, 4);
	}
	return sizeof(*sin6);
}

static void from_sockaddr(const struct sockaddr_storage *ss, struct swim_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		a->family = 4;
		memcpy(a->ip, &sin->sin_addr, 4);
		a->port = ntohs(sin->sin_port);
		return;
	}
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	a->port = ntohs(sin6->sin6_port);
	if (memcmp(sin6->sin6_addr.s6_addr, mapped, 12) == 0) {
		a->family = 4;
		memcpy(a->ip, &sin6->sin6_addr.s6_addr[12], 4);
	} else {
		a->family = 6;
		memcpy(a->ip, &sin6->sin6_addr, 16);
	}
}

/* ---- sockets ---- */

static int open_socket(struct swim_udp *u, int type)
{
	int fd = socket(u->family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, zero = 0;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (u->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	return fd;
}

static int bind_to(int fd, const struct swim_udp *u, const struct swim_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len = to_sockaddr(u, a, &ss);

	return bind(fd, (struct sockaddr *)&ss, len) < 0 ? -errno : 0;
}

static int bind_both(struct swim_udp *u, const struct swim_addr *want)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct swim_addr a = *want;
	int rc, bufsz = 2 << 20; /* memberlist's 2 MiB receive buffer */

	if ((u->udp_fd = open_socket(u, SOCK_DGRAM)) < 0)
		return u->udp_fd;
	if ((rc = bind_to(u->udp_fd, u, &a)) < 0)
		return rc;
	setsockopt(u->udp_fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	if (getsockname(u->udp_fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	from_sockaddr(&ss, &a);
	a.family = want->family;
	memcpy(a.ip, want->ip, sizeof(a.ip));
	if ((u->tcp_fd = open_socket(u, SOCK_STREAM)) < 0)
		return u->tcp_fd;
	if ((rc = bind_to(u->tcp_fd, u, &a)) < 0)
		return rc;
	if (listen(u->tcp_fd, 128) < 0)
		return -errno;
	u->local = a;
	return 0;
}

struct swim_udp *swim_udp_new(const char *listen_addr, char *err, size_t errlen)
{
	struct swim_addr want;
	struct swim_udp *u;
	int rc = -ENOMEM;

	if (swim_addr_parse_bind(listen_addr, &want) < 0) {
		snprintf(err, errlen, "bad gossip address '%s' (want ADDR:PORT)", listen_addr);
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u || !(u->rx = malloc(65536)))
		goto fail;
	u->udp_fd = u->tcp_fd = -1;
	u->family = want.family == 6 ? AF_INET6 : AF_INET;
	if (getrandom(&u->rng, sizeof(u->rng), 0) != sizeof(u->rng))
		u->rng = util_now_ns();
	/* Port 0: the kernel's UDP port may be taken for TCP; try a few. */
	for (int tries = 0; tries < 8; tries++) {
		rc = bind_both(u, &want);
		if (rc == 0 || want.port != 0 || rc != -EADDRINUSE)
			break;
		close(u->udp_fd);
		close(u->tcp_fd);
		u->udp_fd = u->tcp_fd = -1;
	}
	if (rc == 0)
		return u;
fail:
	snprintf(err, errlen, "gossip listen on %s: %s", listen_addr, strerror(-rc));
	swim_udp_free(u);
	return NULL;
}

static void conn_free(struct conn *c)
{
	close(c->fd);
	buf_free(&c->out);
	free(c->in);
	free(c);
}

void swim_udp_free(struct swim_udp *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->nconns; i++)
		conn_free(u->conns[i]);
	if (u->udp_fd >= 0)
		close(u->udp_fd);
	if (u->tcp_fd >= 0)
		close(u->tcp_fd);
	free(u->rx);
	free(u);
}

void swim_udp_bind(struct swim_udp *u, struct swim *s)
{
	u->swim = s;
}

void swim_udp_local_addr(const struct swim_udp *u, struct swim_addr *out)
{
	*out = u->local;
}

/* ---- transport ops ---- */

static int op_send_udp(void *ctx, const struct swim_addr *to, const uint8_t *buf, size_t len)
{
	struct swim_udp *u = ctx;
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(u, to, &ss);

	if (!sl)
		return -EAFNOSUPPORT;
	if (sendto(u->udp_fd, buf, len, 0, (struct sockaddr *)&ss, sl) < 0)
		return -errno;
	return 0;
}

static struct conn *conn_new(struct swim_udp *u, int fd, bool outgoing)
{
	struct conn *c;

	if (u->nconns == SWIM_UDP_MAX_CONNS || !(c = calloc(1, sizeof(*c))))
		return NULL;
	c->fd = fd;
	c->outgoing = outgoing;
	c->deadline = util_now_ms() + SWIM_UDP_STREAM_TIMEOUT_MS;
	u->conns[u->nconns++] = c;
	return c;
}

static int frame(struct buf *out, const uint8_t *buf, size_t len)
{
	uint8_t hdr[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			   (uint8_t)len };
	int rc = buf_append(out, hdr, 4);

	/* An empty reply frame is the header alone (BUF may be NULL). */
	return rc || len == 0 ? rc : buf_append(out, buf, len);
}

/* Streams leave from the listen address like the datagrams do, so a peer
 * (and a firewall) sees one address per node, even among 127.0.0.x. */
static void bind_source(int fd, const struct swim_udp *u)
{
	struct swim_addr src = u->local;
	uint8_t any[16] = { 0 };

	if (memcmp(src.ip, any, sizeof(any)) == 0)
		return;
	src.port = 0;
	bind_to(fd, u, &src);
}

static int op_stream_request(void *ctx, const struct swim_addr *to, const uint8_t *buf,
			     size_t len, uint64_t token)
{
	struct swim_udp *u = ctx;
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(u, to, &ss);
	struct conn *c;
	int fd;

	if (!sl)
		return -EAFNOSUPPORT;
	if ((fd = socket(u->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	bind_source(fd, u);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	if (!(c = conn_new(u, fd, true))) {
		close(fd);
		return -EAGAIN;
	}
	c->state = C_CONNECTING;
	c->token = token;
	c->peer = *to;
	if (frame(&c->out, buf, len) < 0)
		c->state = C_DONE; /* reported as a failure on the next poll */
	return 0;
}

static uint64_t op_now(void *ctx)
{
	(void)ctx;
	return util_now_ms();
}

static uint64_t op_random(void *ctx)
{
	struct swim_udp *u = ctx;

	return swim_splitmix64(&u->rng);
}

static const struct swim_transport_ops udp_ops = {
	.send_udp = op_send_udp,
	.stream_request = op_stream_request,
	.now_ms = op_now,
	.random = op_random,
};

struct swim_transport swim_udp_transport(struct swim_udp *u)
{
	struct swim_transport t = { &udp_ops, u };

	return t;
}

/* ---- input ---- */

static void read_datagrams(struct swim_udp *u)
{
	struct sockaddr_storage ss;
	struct swim_addr from;

	for (int i = 0; i < RX_BATCH; i++) {
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(u->udp_fd, u->rx, 65536, 0, (struct sockaddr *)&ss, &sl);

		if (n < 0)
			return;
		from_sockaddr(&ss, &from);
		if (u->swim)
			swim_on_packet(u->swim, &from, u->rx, (size_t)n);
	}
}

static void accept_conns(struct swim_udp *u)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct conn *c;
	int fd;

	while ((fd = accept4(u->tcp_fd, (struct sockaddr *)&ss, &sl,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (!(c = conn_new(u, fd, false))) {
			close(fd);
			return;
		}
		c->state = C_READ_LEN;
		from_sockaddr(&ss, &c->peer);
		sl = sizeof(ss);
	}
}

/* One request fully read: answer it (incoming) or hand the reply over. */
static void conn_message(struct swim_udp *u, struct conn *c)
{
	struct buf reply = BUF_INIT;

	if (c->outgoing) {
		if (u->swim)
			swim_on_stream_reply(u->swim, c->token, c->in ? c->in : c->len_buf, c->want);
		c->token = 0;
		c->state = C_DONE;
		return;
	}
	c->state = C_DONE;
	if (!u->swim || swim_on_stream_request(u->swim, &c->peer, c->in, c->want, &reply) < 0 ||
	    frame(&c->out, (const uint8_t *)reply.data, reply.len) < 0)
		goto free_reply;
	c->out_off = 0;
	c->state = C_WRITING;
free_reply:
	buf_free(&reply);
}

static int conn_read(struct swim_udp *u, struct conn *c)
{
	size_t need = c->state == C_READ_LEN ? 4 : c->want;
	uint8_t *dst = c->state == C_READ_LEN ? c->len_buf : c->in;
	ssize_t n = read(c->fd, dst + c->got, need - c->got);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return -EPIPE;
	if (n < 0 || (c->got += (size_t)n) < need)
		return 0;
	c->got = 0;
	if (c->state == C_READ_LEN) {
		c->want = (uint32_t)c->len_buf[0] << 24 | (uint32_t)c->len_buf[1] << 16 |
			  (uint32_t)c->len_buf[2] << 8 | c->len_buf[3];
		if (c->want > FRAME_MAX || (c->want == 0 && !c->outgoing))
			return -EMSGSIZE;
		if (c->want && !(c->in = malloc(c->want)))
			return -ENOMEM;
		c->state = C_READ_BODY;
		if (c->want)
			return 0;
	}
	conn_message(u, c);
	return 0;
}

static int conn_write(struct conn *c)
{
	ssize_t n = write(c->fd, c->out.data + c->out_off, c->out.len - c->out_off);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
	c->out_off += (size_t)n;
	if (c->out_off == c->out.len)
		c->state = c->outgoing ? C_READ_LEN : C_DONE;
	return 0;
}

static int conn_io(struct swim_udp *u, struct conn *c, short revents)
{
	int err = 0;
	socklen_t sl = sizeof(err);

	if (c->state == C_CONNECTING) {
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return 0;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0 || err)
			return -ECONNREFUSED;
		c->state = C_WRITING;
	}
	if (c->state == C_WRITING && (revents & (POLLOUT | POLLERR | POLLHUP)))
		return conn_write(c);
	if ((c->state == C_READ_LEN || c->state == C_READ_BODY) && (revents & (POLLIN | POLLHUP | POLLERR)))
		return conn_read(u, c);
	return 0;
}

/* Closes finished and failed connections; a failed request is reported. */
static void conn_close(struct swim_udp *u, size_t i)
{
	struct conn *c = u->conns[i];

	u->conns[i] = u->conns[--u->nconns];
	if (c->outgoing && c->token && u->swim)
		swim_on_stream_reply(u->swim, c->token, NULL, 0);
	conn_free(c);
}

static short conn_events(const struct conn *c)
{
	return c->state == C_CONNECTING || c->state == C_WRITING ? POLLOUT : POLLIN;
}

static void handle(struct swim_udp *u, struct pollfd *pfd, size_t nconns)
{
	uint64_t now = util_now_ms();

	if (pfd[0].revents & POLLIN)
		read_datagrams(u);
	if (pfd[1].revents & POLLIN)
		accept_conns(u);
	/* Connections opened by the callbacks above sit past NCONNS and wait
	 * for the next poll. */
	for (size_t i = 0; i < nconns; i++) {
		struct conn *c = u->conns[i];

		if (c->state != C_DONE && conn_io(u, c, pfd[3 + i].revents) < 0)
			c->state = C_DONE;
	}
	for (size_t i = 0; i < u->nconns;) {
		struct conn *c = u->conns[i];

		if (c->state == C_DONE || now >= c->deadline)
			conn_close(u, i);
		else
			i++;
	}
}

int swim_udp_poll(struct swim_udp *u, int timeout_ms, int extra_fd, pthread_mutex_t *lock)
{
	struct pollfd pfd[3 + SWIM_UDP_MAX_CONNS];
	size_t n = u->nconns;

	pfd[0] = (struct pollfd){ u->udp_fd, POLLIN, 0 };
	pfd[1] = (struct pollfd){ u->tcp_fd, POLLIN, 0 };
	pfd[2] = (struct pollfd){ extra_fd, POLLIN, 0 };
	for (size_t i = 0; i < n; i++) {
		pfd[3 + i] = (struct pollfd){ u->conns[i]->fd, conn_events(u->conns[i]), 0 };
		if (u->conns[i]->state == C_DONE)
			timeout_ms = 0;
	}
	if (poll(pfd, 3 + n, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	if (lock)
		pthread_mutex_lock(lock);
	handle(u, pfd, n);
	if (lock)
		pthread_mutex_unlock(lock);
	return 0;
}
