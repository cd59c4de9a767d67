/* Tests hv/qmp.c framing and hv/qmp_client.c against a scripted QMP server
 * thread on a unix socket, and the guest agent flavour of the client. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/err.h"
#include "hv/qmp.h"
#include "tests/unit/test.h"

static char err[256];

static void test_split_feed(void)
{
	static const char wire[] =
		"{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}\r\n"
		"{\"return\": {\"status\": \"running\", \"s\": \"}{\\\"\"}, \"id\": 7}\r\n"
		"{\"timestamp\": {\"seconds\": 12, \"microseconds\": 34}, \"event\": \"SHUTDOWN\", "
		"\"data\": {\"guest\": true, \"reason\": \"guest-shutdown\"}}\r\n"
		"{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command x has not been found\"}, \"id\": 8}\r\n";
	struct qmp_parser *p = qmp_parser_new();
	struct qmp_msg m[4];
	int got = 0;

	/* byte by byte: framing must not depend on read boundaries */
	for (size_t i = 0; i < sizeof(wire) - 1; i++) {
		CHECK_INT(qmp_parser_feed(p, wire + i, 1), 0);
		while (got < 4 && qmp_parser_next(p, &m[got], err, sizeof(err)) == 1)
			got++;
	}
	CHECK_INT(got, 4);
	if (got == 4) {
		CHECK_INT(m[0].type, QMP_MSG_GREETING);
		CHECK_INT(m[1].type, QMP_MSG_RETURN);
		CHECK_INT(m[1].has_id, 1);
		CHECK_INT(m[1].id, 7);
		CHECK_STR(cJSON_GetObjectItem(m[1].data, "s")->valuestring, "}{\"");
		CHECK_INT(m[2].type, QMP_MSG_EVENT);
		CHECK_STR(m[2].event, "SHUTDOWN");
		CHECK_INT(m[2].kind, QMP_EV_SHUTDOWN);
		CHECK_INT(m[2].ts_sec, 12);
		CHECK_INT(cJSON_IsTrue(cJSON_GetObjectItem(m[2].data, "guest")), 1);
		CHECK_INT(m[3].type, QMP_MSG_ERROR);
		CHECK_STR(m[3].err_class, "CommandNotFound");
		CHECK_INT(m[3].id, 8);
	}
	for (int i = 0; i < got; i++)
		qmp_msg_free(&m[i]);
	qmp_parser_free(p);
}

static void test_bad_input(void)
{
	struct qmp_parser *p = qmp_parser_new();
	struct qmp_msg m;

	qmp_parser_feed(p, "x{\"return\": {}, \"id\": \"str\"}[1]{\"nope\": 1}{\"return\": 1,}{\"event\":\"RESET\"}", 73);
	CHECK_INT(qmp_parser_next(p, &m, err, sizeof(err)), -EPROTO);
	CHECK_STR(err, "QMP protocol error: data outside a JSON object");
	CHECK_INT(qmp_parser_next(p, &m, err, sizeof(err)), 1);
	CHECK_INT(m.type, QMP_MSG_RETURN);
	CHECK_INT(m.has_id, 0); /* string ids are not ours */
	qmp_msg_free(&m);
	CHECK_INT(qmp_parser_next(p, &m, err, sizeof(err)), -EPROTO); /* '[' outside */
	CHECK_INT(qmp_parser_next(p, &m, err, sizeof(err)), -EPROTO); /* '1' */
	CHECK_INT(qmp_parser_next(p, &m, err, sizeof(err)), -EPROTO); /* ']' */
	CHECK_INT(qmp_parser_next(p, &m, err, sizeof(err)), -EPROTO);
	CHECK_STR(err, "QMP protocol error: unrecognised message");
	CHECK_INT(qmp_parser_next(p, &m, err, sizeof(err)), -EPROTO);
	CHECK_STR(err, "QMP protocol error: invalid JSON");
	CHECK_INT(qmp_parser_next(p, &m, err, sizeof(err)), 1);
	CHECK_INT(m.kind, QMP_EV_RESET);
	qmp_msg_free(&m);
	CHECK_INT(qmp_parser_next(p, &m, err, sizeof(err)), 0);
	qmp_parser_free(p);
}

static void test_events_and_encode(void)
{
	char *line;
	cJSON *args = cJSON_CreateObject();

	CHECK_INT(qmp_event_kind("POWERDOWN"), QMP_EV_POWERDOWN);
	CHECK_INT(qmp_event_kind("RTC_CHANGE"), QMP_EV_OTHER);
	CHECK_STR(qmp_event_name(QMP_EV_RESUME), "RESUME");
	cJSON_AddStringToObject(args, "device", "drive-scsi0");
	line = qmp_encode_command("block_resize", args, 42);
	CHECK_STR(line, "{\"execute\":\"block_resize\",\"arguments\":{\"device\":\"drive-scsi0\"},\"id\":42}\r\n");
	free(line);
	line = qmp_encode_command("stop", NULL, 1);
	CHECK_STR(line, "{\"execute\":\"stop\",\"id\":1}\r\n");
	free(line);
	cJSON_Delete(args);
}

/* ---- scripted server -------------------------------------------------------- */

struct fake {
	int listen_fd;
	char path[100];
};

static void send_str(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0)
		perror("fake write");
}

/* Reads one command line and returns its id. */
static int read_cmd(int fd, char *cmd, size_t n)
{
	char line[1024];
	size_t len = 0;
	const char *id;

	while (len < sizeof(line) - 1 && read(fd, line + len, 1) == 1 && line[len] != '\n')
		len++;
	line[len] = '\0';
	snprintf(cmd, n, "%s", line);
	id = strstr(line, "\"id\":");
	return id ? atoi(id + 5) : -1;
}

static void *fake_server(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->listen_fd, NULL, NULL);
	char cmd[1024], reply[512];
	int id;

	send_str(fd, "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 1}}, \"capabilities\": []}}\r\n");
	id = read_cmd(fd, cmd, sizeof(cmd));
	snprintf(reply, sizeof(reply), "{\"return\": {}, \"id\": %d}\r\n", id);
	send_str(fd, reply);
	id = read_cmd(fd, cmd, sizeof(cmd)); /* query-status: an event arrives first */
	snprintf(reply, sizeof(reply),
		 "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n"
		 "{\"return\": {\"status\": \"paused\", \"running\": false}, \"id\": %d}\r\n", id);
	send_str(fd, reply);
	id = read_cmd(fd, cmd, sizeof(cmd)); /* unknown command */
	snprintf(reply, sizeof(reply),
		 "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command bogus has not been found\"}, \"id\": %d}\r\n", id);
	send_str(fd, reply);
	read_cmd(fd, cmd, sizeof(cmd)); /* left unanswered: the client times out */
	send_str(fd, "{\"event\": \"RESUME\"}\r\n");
	read_cmd(fd, cmd, sizeof(cmd)); /* waits for the client to go */
	close(fd);
	return NULL;
}

static void on_event(void *opaque, const struct qmp_msg *ev)
{
	int *seen = opaque;

	seen[ev->kind]++;
}

static void start_fake(struct fake *f, pthread_t *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(f->path, sizeof(f->path), "%s/qmp.sock", test_tmpdir());
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_INT(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_INT(listen(f->listen_fd, 1), 0);
	pthread_create(t, NULL, fake_server, f);
}

static void test_client(void)
{
	struct fake f;
	pthread_t t;
	struct qmp_client *c = NULL;
	cJSON *ret = NULL;
	int seen[16] = { 0 };

	start_fake(&f, &t);
	CHECK_INT(qmp_client_connect(f.path, 2000, on_event, seen, &c, err, sizeof(err)), 0);
	if (c) {
		CHECK_STR(qmp_client_version(c), "7.2.1");
		CHECK_INT(qmp_client_execute(c, "query-status", NULL, 2000, &ret, err, sizeof(err)), 0);
		CHECK_STR(cJSON_GetObjectItem(ret, "status")->valuestring, "paused");
		CHECK_INT(seen[QMP_EV_STOP], 1);
		cJSON_Delete(ret);
		CHECK_INT(qmp_client_execute(c, "bogus", NULL, 2000, NULL, err, sizeof(err)), CR_EQMP);
		CHECK_STR(err, "CommandNotFound: The command bogus has not been found");
		CHECK_INT(qmp_client_execute(c, "stop", NULL, 100, NULL, err, sizeof(err)), -ETIMEDOUT);
		CHECK(qmp_client_fd(c) >= 0);
		while (seen[QMP_EV_RESUME] == 0 && qmp_client_pump(c) == 0)
			usleep(1000);
		CHECK_INT(seen[QMP_EV_RESUME], 1);
		qmp_client_free(c);
	}
	pthread_join(t, NULL);
	close(f.listen_fd);
}

static void test_connect_errors(void)
{
	struct qmp_client *c = NULL;
	char path[256];

	snprintf(path, sizeof(path), "%s/absent.sock", test_tmpdir());
	CHECK_INT(qmp_client_connect(path, 100, NULL, NULL, &c, err, sizeof(err)), -ENOENT);
	CHECK(c == NULL);
}

/* A guest agent: a reply an earlier client left unread, then the 0xFF and
 * the sync answer; one command answered, one (guest-shutdown) not. */
static void *fake_agent(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->listen_fd, NULL, NULL);
	char cmd[1024], reply[256];
	int id = read_cmd(fd, cmd, sizeof(cmd));

	CHECK(strstr(cmd, "\"guest-sync-delimited\"") != NULL);
	snprintf(reply, sizeof(reply), "{\"return\": 77}\n\xff{\"return\": %d}\n", id);
	send_str(fd, reply);
	id = read_cmd(fd, cmd, sizeof(cmd));
	CHECK(strstr(cmd, "\"guest-get-host-name\"") != NULL);
	snprintf(reply, sizeof(reply), "{\"return\": {\"host-name\": \"g1\"}, \"id\": %d}\n", id);
	send_str(fd, reply);
	read_cmd(fd, cmd, sizeof(cmd));
	CHECK(strstr(cmd, "\"guest-shutdown\"") != NULL);
	close(fd);
	/* a second client finds an agent that never answers */
	fd = accept(f->listen_fd, NULL, NULL);
	read_cmd(fd, cmd, sizeof(cmd));
	read_cmd(fd, cmd, sizeof(cmd)); /* until the client goes */
	close(fd);
	return NULL;
}

static void test_agent(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct qmp_client *c = NULL;
	struct fake f;
	cJSON *ret = NULL;
	pthread_t t;

	snprintf(f.path, sizeof(f.path), "%s/qga.sock", test_tmpdir());
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f.path);
	f.listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_INT(bind(f.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_INT(listen(f.listen_fd, 1), 0);
	pthread_create(&t, NULL, fake_agent, &f);
	CHECK_INT(qmp_client_connect_agent(f.path, 2000, &c, err, sizeof(err)), 0);
	if (c) {
		CHECK_INT(qmp_client_execute(c, "guest-get-host-name", NULL, 2000, &ret, err,
					     sizeof(err)), 0);
		CHECK_STR(cJSON_GetObjectItem(ret, "host-name")->valuestring, "g1");
		cJSON_Delete(ret);
		CHECK_INT(qmp_client_send(c, "guest-shutdown", NULL, 2000, err, sizeof(err)), 0);
		qmp_client_free(c);
	}
	c = NULL;
	CHECK_INT(qmp_client_connect_agent(f.path, 200, &c, err, sizeof(err)), -ETIMEDOUT);
	CHECK_STR(err, "QEMU guest agent is not running");
	CHECK(c == NULL);
	pthread_join(t, NULL);
	close(f.listen_fd);
}

static const struct test_case tests[] = {
	{ "split_feed", test_split_feed },
	{ "bad_input", test_bad_input },
	{ "events_and_encode", test_events_and_encode },
	{ "client", test_client },
	{ "connect_errors", test_connect_errors },
	{ "agent", test_agent },
};

TEST_MAIN(tests)
