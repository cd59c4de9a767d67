/* Tests for server/config.c: defaults, the settings file, flags winning over
 * it, and the errors for bad input. */
#include "common/log.h"
#include "common/util.h"
#include "server/config.h"
#include "tests/unit/test.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void test_listen(void)
{
	char addr[64];
	uint16_t port = 0;

	CHECK_INT(config_parse_listen("0.0.0.0:8006", addr, sizeof(addr), &port), 0);
	CHECK_STR(addr, "0.0.0.0");
	CHECK_INT(port, 8006);
	CHECK_INT(config_parse_listen("[::]:8007", addr, sizeof(addr), &port), 0);
	CHECK_STR(addr, "::");
	CHECK_INT(port, 8007);
	CHECK_INT(config_parse_listen("[fe80::1]:443", addr, sizeof(addr), &port), 0);
	CHECK_STR(addr, "fe80::1");
	CHECK_INT(config_parse_listen("::1:8006", addr, sizeof(addr), &port), -EINVAL);
	CHECK_INT(config_parse_listen("127.0.0.1", addr, sizeof(addr), &port), -EINVAL);
	CHECK_INT(config_parse_listen("127.0.0.1:70000", addr, sizeof(addr), &port), -EINVAL);
	CHECK_INT(config_parse_listen(":8006", addr, sizeof(addr), &port), -EINVAL);
	CHECK_INT(config_parse_listen("[::1]8006", addr, sizeof(addr), &port), -EINVAL);
}

static void test_defaults(void)
{
	struct app_config c;

	config_defaults(&c);
	config_finish(&c);
	CHECK_STR(c.data_dir, CONFIG_DEFAULT_DATA_DIR);
	CHECK_STR(c.listen_addr, "0.0.0.0");
	CHECK_INT(c.listen_port, 8006);
	CHECK_STR(c.run_dir, CONFIG_DEFAULT_DATA_DIR "/run");
	CHECK_STR(c.log_dir, CONFIG_DEFAULT_DATA_DIR);
	CHECK(c.node[0] != '\0' && strchr(c.node, '.') == NULL);
	CHECK_INT(c.log_level, LOG_INFO);
}

static void test_text(void)
{
	struct app_config c;
	char err[256];

	config_defaults(&c);
	CHECK_INT(config_parse_text(&c, "# node settings\n\ndata-dir: /srv/corral\n"
				     "listen:[::]:9000\r\n  node :  n1 \nlog-level: debug\n"
				     "http-threads: 3\nhttp-idle-timeout: 5\n",
				     err, sizeof(err)),
		  0);
	config_finish(&c);
	CHECK_STR(c.data_dir, "/srv/corral");
	CHECK_STR(c.run_dir, "/srv/corral/run");
	CHECK_STR(c.listen_addr, "::");
	CHECK_INT(c.listen_port, 9000);
	CHECK_STR(c.node, "n1");
	CHECK_INT(c.log_level, LOG_DEBUG);
	CHECK_INT(c.http_threads, 3);
	CHECK_INT(c.http_idle_timeout, 5);
	CHECK_INT(config_parse_text(&c, "data-dir: /a\nbogus: 1\n", err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "line 2: unknown setting 'bogus'");
	CHECK_INT(config_parse_text(&c, "no colon here\n", err, sizeof(err)), -EINVAL);
	CHECK_INT(config_parse_text(&c, "node: bad_name\n", err, sizeof(err)), -EINVAL);
	CHECK_INT(config_parse_text(&c, "http-threads: 0\n", err, sizeof(err)), -EINVAL);
	CHECK_INT(config_parse_text(&c, "http-idle-timeout: 0\n", err, sizeof(err)), -EINVAL);
	CHECK_INT(config_parse_text(&c, "log-level: loud\n", err, sizeof(err)), -EINVAL);
}

static int load(struct app_config *c, char **argv, char *err, size_t n)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	return config_load(c, argc, argv, err, n);
}

static void test_flags_win_over_file(void)
{
	char file[512], err[256];
	const char *text = "data-dir: /from/file\nnode: filenode\nlisten: 127.0.0.1:1234\n";
	struct app_config c;

	snprintf(file, sizeof(file), "%s/corral.conf", test_tmpdir());
	CHECK_INT(util_write_file_atomic(file, text, strlen(text), 0644), 0);
	{
		char *argv[] = { "corrald", "--config", file, "--node=flagnode", "--log-dir", "/logs",
				 NULL };

		CHECK_INT(load(&c, argv, err, sizeof(err)), CONFIG_RUN);
	}
	CHECK_STR(c.data_dir, "/from/file");
	CHECK_STR(c.node, "flagnode");
	CHECK_STR(c.listen_addr, "127.0.0.1");
	CHECK_INT(c.listen_port, 1234);
	CHECK_STR(c.log_dir, "/logs");
	CHECK_STR(c.run_dir, "/from/file/run");
}

static void test_flag_errors(void)
{
	char missing[512], err[256];
	struct app_config c;

	snprintf(missing, sizeof(missing), "%s/absent.conf", test_tmpdir());
	{
		char *argv[] = { "corrald", "--config", missing, NULL };

		CHECK(load(&c, argv, err, sizeof(err)) < 0); /* an explicit file must exist */
	}
	{
		char *argv[] = { "corrald", "--frobnicate", "1", NULL };

		CHECK(load(&c, argv, err, sizeof(err)) < 0);
		CHECK_STR(err, "unknown option '--frobnicate'");
	}
	{
		char *argv[] = { "corrald", "--data-dir", NULL };

		CHECK(load(&c, argv, err, sizeof(err)) < 0);
	}
	{
		char *argv[] = { "corrald", "stray", NULL };

		CHECK(load(&c, argv, err, sizeof(err)) < 0);
	}
	{
		char *argv[] = { "corrald", "--listen", "nonsense", NULL };

		CHECK(load(&c, argv, err, sizeof(err)) < 0);
	}
}

static void test_help_and_version(void)
{
	char err[256];
	struct app_config c;
	char *help[] = { "corrald", "--data-dir", "/x", "--help", NULL };
	char *version[] = { "corrald", "--version", NULL };

	CHECK_INT(load(&c, help, err, sizeof(err)), CONFIG_HELP);
	CHECK_INT(load(&c, version, err, sizeof(err)), CONFIG_VERSION);
}

static const struct test_case tests[] = {
	{ "listen", test_listen },
	{ "defaults", test_defaults },
	{ "text", test_text },
	{ "flags_win_over_file", test_flags_win_over_file },
	{ "flag_errors", test_flag_errors },
	{ "help_and_version", test_help_and_version },
};

TEST_MAIN(tests)
