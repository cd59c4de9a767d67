/* QMP client over a unix socket: greeting, capabilities negotiation,
 * commands by numeric id with a timeout, events to a callback; and the same
 * protocol to the QEMU guest agent (no greeting, a delimited sync first). */
#include "hv/qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"

struct qmp_client {
	int fd;
	pthread_mutex_t lock; /* one command at a time; reads of the socket */
	struct qmp_parser *parser;
	uint64_t next_id;
	qmp_event_fn on_event;
	void *opaque;
	int closed;
	char version[32];
};

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = util_now_ms();

	return now >= deadline ? 0 : (int)(deadline - now);
}

/* Reads what the socket has now.  0, -EAGAIN (nothing), -EPIPE (EOF). */
static int read_some(struct qmp_client *c)
{
	char chunk[8192];
	ssize_t n = read(c->fd, chunk, sizeof(chunk));

	if (n > 0)
		return qmp_parser_feed(c->parser, chunk, (size_t)n);
	if (n == 0) {
		c->closed = 1;
		return -EPIPE;
	}
	return errno == EINTR ? 0 : errno == EAGAIN ? -EAGAIN : -errno;
}

/* Next message before DEADLINE: 0, -ETIMEDOUT, -EPIPE, -EPROTO. */
static int read_message(struct qmp_client *c, uint64_t deadline, struct qmp_msg *m, char *err,
			size_t errlen)
{
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int r = qmp_parser_next(c->parser, m, err, errlen);

		if (r != 0)
			return r < 0 ? r : 0;
		if (c->closed)
			return -EPIPE;
		r = poll(&pfd, 1, remaining_ms(deadline));
		if (r == 0) {
			snprintf(err, errlen, "timeout waiting for QMP reply");
			return -ETIMEDOUT;
		}
		r = r < 0 ? (errno == EINTR ? 0 : -errno) : read_some(c);
		if (r < 0 && r != -EAGAIN) {
			snprintf(err, errlen, "QMP socket: %s", strerror(-r));
			return r;
		}
	}
}

static int write_all(struct qmp_client *c, const char *s, uint64_t deadline)
{
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t n = send(c->fd, s + off, len - off, MSG_NOSIGNAL);
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return errno == EPIPE || errno == ECONNRESET ? -EPIPE : -errno;
		if (poll(&pfd, 1, remaining_ms(deadline)) == 0)
			return -ETIMEDOUT;
	}
	return 0;
}

static void dispatch_event(struct qmp_client *c, const struct qmp_msg *m)
{
	if (m->type == QMP_MSG_EVENT && c->on_event)
		c->on_event(c->opaque, m);
}

static int wait_reply(struct qmp_client *c, uint64_t id, uint64_t deadline, cJSON **ret,
		      char *err, size_t errlen)
{
	for (;;) {
		struct qmp_msg m;
		int r = read_message(c, deadline, &m, err, errlen);

		if (r == -EPROTO)
			continue; /* one bad message does not end the session */
		if (r < 0)
			return r;
		dispatch_event(c, &m);
		if ((m.type == QMP_MSG_RETURN || m.type == QMP_MSG_ERROR) && m.has_id && m.id == id) {
			r = 0;
			if (m.type == QMP_MSG_ERROR) {
				snprintf(err, errlen, "%s: %s", m.err_class, m.err_desc);
				r = CR_EQMP;
			} else if (ret) {
				*ret = cJSON_Duplicate(m.data, 1);
			}
			qmp_msg_free(&m);
			return r;
		}
		qmp_msg_free(&m);
	}
}

/* Events that came in the same read as a reply sit in the parser; the
 * socket will not wake the supervisor for them, so deliver them now. */
static void dispatch_buffered(struct qmp_client *c)
{
	struct qmp_msg m;
	char err[128];
	int r;

	while ((r = qmp_parser_next(c->parser, &m, err, sizeof(err))) != 0) {
		if (r > 0) {
			dispatch_event(c, &m);
			qmp_msg_free(&m);
		}
	}
}

static int execute_locked(struct qmp_client *c, const char *cmd, const cJSON *args,
			  uint64_t deadline, cJSON **ret, char *err, size_t errlen)
{
	uint64_t id = ++c->next_id;
	char *line = qmp_encode_command(cmd, args, id);
	int r;

	if (!line)
		return -ENOMEM;
	r = c->closed ? -EPIPE : write_all(c, line, deadline);
	free(line);
	if (r < 0) {
		snprintf(err, errlen, "sending QMP command %s: %s", cmd, strerror(-r));
		return r;
	}
	r = wait_reply(c, id, deadline, ret, err, errlen);
	dispatch_buffered(c);
	return r;
}

int qmp_client_execute(struct qmp_client *c, const char *cmd, const cJSON *args, int timeout_ms,
		       cJSON **ret, char *err, size_t errlen)
{
	int r;

	if (ret)
		*ret = NULL;
	pthread_mutex_lock(&c->lock);
	r = execute_locked(c, cmd, args, util_now_ms() + (uint64_t)timeout_ms, ret, err, errlen);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int qmp_client_send(struct qmp_client *c, const char *cmd, const cJSON *args, int timeout_ms,
		    char *err, size_t errlen)
{
	char *line;
	int r;

	pthread_mutex_lock(&c->lock);
	line = qmp_encode_command(cmd, args, ++c->next_id);
	r = !line ? -ENOMEM : c->closed ? -EPIPE
		  : write_all(c, line, util_now_ms() + (uint64_t)timeout_ms);
	pthread_mutex_unlock(&c->lock);
	free(line);
	if (r < 0)
		snprintf(err, errlen, "sending %s: %s", cmd, strerror(-r));
	return r;
}

int qmp_client_pump(struct qmp_client *c)
{
	int r;

	pthread_mutex_lock(&c->lock);
	while (!c->closed && read_some(c) == 0)
		;
	dispatch_buffered(c);
	r = c->closed ? -EPIPE : 0;
	pthread_mutex_unlock(&c->lock);
	return r;
}

int qmp_client_fd(const struct qmp_client *c)
{
	return c->fd;
}

static int open_socket(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (util_strlcpy(sa.sun_path, path, sizeof(sa.sun_path)) < 0) {
		snprintf(err, errlen, "QMP socket path too long");
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		snprintf(err, errlen, "connect %s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

/* greeting: {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 22}}}} */
static void read_version(struct qmp_client *c, const cJSON *qmp)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(qmp, "version"), "qemu");
	const cJSON *maj = cJSON_GetObjectItemCaseSensitive(v, "major");
	const cJSON *min = cJSON_GetObjectItemCaseSensitive(v, "minor");
	const cJSON *mic = cJSON_GetObjectItemCaseSensitive(v, "micro");

	if (cJSON_IsNumber(maj) && cJSON_IsNumber(min) && cJSON_IsNumber(mic))
		snprintf(c->version, sizeof(c->version), "%d.%d.%d", maj->valueint,
			 min->valueint, mic->valueint);
}

const char *qmp_client_version(const struct qmp_client *c)
{
	return c->version;
}

static int handshake(struct qmp_client *c, uint64_t deadline, char *err, size_t errlen)
{
	struct qmp_msg m;
	int r = read_message(c, deadline, &m, err, errlen);

	if (r < 0)
		return r;
	if (m.type != QMP_MSG_GREETING) {
		qmp_msg_free(&m);
		snprintf(err, errlen, "QMP protocol error: no greeting");
		return -EPROTO;
	}
	read_version(c, m.data);
	qmp_msg_free(&m);
	return execute_locked(c, "qmp_capabilities", NULL, deadline, NULL, err, errlen);
}

/* A client connected to PATH, before any exchange.  0 or a negative code. */
static int client_open(const char *path, qmp_event_fn on_event, void *opaque,
		       struct qmp_client **out, char *err, size_t errlen)
{
	struct qmp_client *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->on_event = on_event;
	c->opaque = opaque;
	pthread_mutex_init(&c->lock, NULL);
	c->parser = qmp_parser_new();
	c->fd = c->parser ? open_socket(path, err, errlen) : -ENOMEM;
	if (c->fd < 0) {
		r = c->fd;
		c->fd = -1;
		qmp_client_free(c);
		return r;
	}
	*out = c;
	return 0;
}

int qmp_client_connect(const char *path, int timeout_ms, qmp_event_fn on_event, void *opaque,
		       struct qmp_client **out, char *err, size_t errlen)
{
	struct qmp_client *c = NULL;
	int r = client_open(path, on_event, opaque, &c, err, errlen);

	if (r == 0 && (r = handshake(c, util_now_ms() + (uint64_t)timeout_ms, err, errlen)) < 0)
		qmp_client_free(c);
	if (r == 0)
		*out = c;
	return r;
}

/* Drops what the socket holds up to and including the 0xFF byte qemu-ga
 * sends before its answer to guest-sync-delimited; the rest goes to the
 * parser.  0, -ETIMEDOUT, -EPIPE. */
static int skip_to_delimiter(struct qmp_client *c, uint64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		char chunk[4096], *ff;
		ssize_t n;

		if (poll(&pfd, 1, remaining_ms(deadline)) == 0)
			return -ETIMEDOUT;
		n = read(c->fd, chunk, sizeof(chunk));
		if (n == 0)
			return -EPIPE;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (n > 0 && (ff = memchr(chunk, 0xff, (size_t)n)) != NULL)
			return qmp_parser_feed(c->parser, ff + 1, (size_t)(chunk + n - ff - 1));
	}
}

/* guest-sync-delimited with a random id: the answer that carries it is the
 * first one meant for this session. */
static int agent_sync(struct qmp_client *c, uint64_t deadline, char *err, size_t errlen)
{
	uint64_t id = (util_now_ms() * 2654435761u) & 0x7fffffff;
	char line[128];
	struct qmp_msg m;
	int r;

	snprintf(line, sizeof(line),
		 "{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":%llu}}\n",
		 (unsigned long long)id);
	r = write_all(c, line, deadline);
	if (r == 0)
		r = skip_to_delimiter(c, deadline);
	while (r == 0) {
		r = read_message(c, deadline, &m, err, errlen);
		if (r == -EPROTO)
			r = 0;
		else if (r == 0 && m.type == QMP_MSG_RETURN && cJSON_IsNumber(m.data) &&
			 (uint64_t)m.data->valuedouble == id) {
			qmp_msg_free(&m);
			return 0;
		} else if (r == 0)
			qmp_msg_free(&m);
	}
	snprintf(err, errlen, "%s", r == -ETIMEDOUT ? "QEMU guest agent is not running"
						    : "QEMU guest agent: connection lost");
	return r;
}

int qmp_client_connect_agent(const char *path, int timeout_ms, struct qmp_client **out,
			     char *err, size_t errlen)
{
	struct qmp_client *c = NULL;
	int r = client_open(path, NULL, NULL, &c, err, errlen);

	if (r == 0 && (r = agent_sync(c, util_now_ms() + (uint64_t)timeout_ms, err, errlen)) < 0)
		qmp_client_free(c);
	if (r == 0)
		*out = c;
	return r;
}

void qmp_client_free(struct qmp_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	qmp_parser_free(c->parser);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
