/* Tests for server/sdnotify.c with a real datagram socket. */
#include "server/sdnotify.h"
#include "tests/unit/test.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void test_sends_state(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[64];
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", test_tmpdir());
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	setenv("NOTIFY_SOCKET", sa.sun_path, 1);
	CHECK_INT(sdnotify("READY=1"), 0);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	CHECK_INT(n, 7);
	buf[n > 0 ? n : 0] = '\0';
	CHECK_STR(buf, "READY=1");
	close(fd);
}

static void test_no_socket_is_fine(void)
{
	unsetenv("NOTIFY_SOCKET");
	CHECK_INT(sdnotify("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative", 1);
	CHECK(sdnotify("READY=1") < 0);
	unsetenv("NOTIFY_SOCKET");
}

static const struct test_case tests[] = {
	{ "sends the state", test_sends_state },
	{ "no socket is fine", test_no_socket_is_fine },
};

TEST_MAIN(tests)
