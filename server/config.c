/* corrald's settings (see config.h): one const table of options serves the
 * flags, the configuration file and --help. */
#include "server/config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#define CONFIG_FILE_MAX (64 * 1024)

typedef int (*config_setter)(struct app_config *c, const char *v, char *err, size_t n);

struct config_option {
	const char *name; /* --name and "name:" in the file */
	config_setter set;
	const char *arg;
	const char *help;
};

static int set_path(char *dst, const char *v, char *err, size_t n)
{
	if (!*v || util_strlcpy(dst, v, APP_PATH_MAX) < 0) {
		snprintf(err, n, "invalid path '%.100s'", v);
		return -EINVAL;
	}
	return 0;
}

static int set_data_dir(struct app_config *c, const char *v, char *err, size_t n)
{
	return set_path(c->data_dir, v, err, n);
}

static int set_run_dir(struct app_config *c, const char *v, char *err, size_t n)
{
	return set_path(c->run_dir, v, err, n);
}

static int set_log_dir(struct app_config *c, const char *v, char *err, size_t n)
{
	return set_path(c->log_dir, v, err, n);
}

static int set_webui_dir(struct app_config *c, const char *v, char *err, size_t n)
{
	return set_path(c->webui_dir, v, err, n);
}

static int set_listen(struct app_config *c, const char *v, char *err, size_t n)
{
	if (config_parse_listen(v, c->listen_addr, sizeof(c->listen_addr), &c->listen_port) == 0)
		return 0;
	snprintf(err, n, "invalid listen address '%.100s' (want ADDR:PORT)", v);
	return -EINVAL;
}

static int set_gossip_listen(struct app_config *c, const char *v, char *err, size_t n)
{
	char addr[64];
	uint16_t port;

	if (strlen(v) < sizeof(c->gossip_listen) &&
	    config_parse_listen(v, addr, sizeof(addr), &port) == 0) {
		snprintf(c->gossip_listen, sizeof(c->gossip_listen), "%s", v);
		return 0;
	}
	snprintf(err, n, "invalid gossip address '%.100s' (want ADDR:PORT)", v);
	return -EINVAL;
}

static int set_node(struct app_config *c, const char *v, char *err, size_t n)
{
	size_t len = strlen(v);
	int ok = len > 0 && len < sizeof(c->node);

	for (size_t i = 0; ok && i < len; i++)
		ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		     (v[i] >= '0' && v[i] <= '9') || (v[i] == '-' && i && i + 1 < len);
	if (!ok) {
		snprintf(err, n, "invalid node name '%.100s'", v);
		return -EINVAL;
	}
	memcpy(c->node, v, len + 1);
	return 0;
}

static int set_log_level(struct app_config *c, const char *v, char *err, size_t n)
{
	enum log_level l;

	if (log_parse_level(v, &l) < 0) {
		snprintf(err, n, "invalid log level '%.100s' (error, warn, info, debug)", v);
		return -EINVAL;
	}
	c->log_level = (int)l;
	return 0;
}

static int set_count(unsigned *dst, const char *v, const char *what, char *err, size_t n)
{
	uint64_t x;

	if (util_parse_u64(v, &x) < 0 || x < 1 || x > 256) {
		snprintf(err, n, "invalid %s '%.100s' (1..256)", what, v);
		return -EINVAL;
	}
	*dst = (unsigned)x;
	return 0;
}

static int set_http_threads(struct app_config *c, const char *v, char *err, size_t n)
{
	return set_count(&c->http_threads, v, "thread count", err, n);
}

static int set_http_idle_timeout(struct app_config *c, const char *v, char *err, size_t n)
{
	uint64_t x;

	if (util_parse_u64(v, &x) < 0 || x < 1 || x > 3600) {
		snprintf(err, n, "invalid idle timeout '%.100s' (1..3600 s)", v);
		return -EINVAL;
	}
	c->http_idle_timeout = (unsigned)x;
	return 0;
}

static int set_task_workers(struct app_config *c, const char *v, char *err, size_t n)
{
	return set_count(&c->task_workers, v, "worker count", err, n);
}

static int set_console_max(struct app_config *c, const char *v, char *err, size_t n)
{
	return set_count(&c->console_max, v, "console count", err, n);
}

static const struct config_option options[] = {
	{ "data-dir", set_data_dir, "DIR", "node data: LMDB, certificates (" CONFIG_DEFAULT_DATA_DIR ")" },
	{ "listen", set_listen, "ADDR:PORT", "HTTPS address (" CONFIG_DEFAULT_LISTEN ", [::]:8006)" },
	{ "gossip-listen", set_gossip_listen, "ADDR:PORT", "cluster gossip, UDP and TCP (" CONFIG_DEFAULT_GOSSIP ")" },
	{ "node", set_node, "NAME", "node name (the short host name)" },
	{ "run-dir", set_run_dir, "DIR", "sockets and pidfiles (DATA/run)" },
	{ "log-dir", set_log_dir, "DIR", "task logs go to LOG/tasks (DATA)" },
	{ "log-level", set_log_level, "LEVEL", "error, warn, info or debug (info)" },
	{ "webui-dir", set_webui_dir, "DIR", "web UI files (webui/ beside the build, else " CONFIG_DEFAULT_WEBUI_DIR ")" },
	{ "http-threads", set_http_threads, "N", "HTTP worker threads (one per CPU)" },
	{ "http-idle-timeout", set_http_idle_timeout, "S", "seconds a silent connection is kept (30)" },
	{ "task-workers", set_task_workers, "N", "task worker threads (4)" },
	{ "console-max", set_console_max, "N", "console websockets open at once (64)" },
};

static const struct config_option *find_option(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(options); i++)
		if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
			return &options[i];
	return NULL;
}

int config_set(struct app_config *cfg, const char *key, const char *value, char *err,
	       size_t errlen)
{
	const struct config_option *o = find_option(key, strlen(key));

	if (!o) {
		snprintf(err, errlen, "unknown setting '%.100s'", key);
		return -EINVAL;
	}
	return o->set(cfg, value, err, errlen);
}

int config_parse_listen(const char *s, char *addr, size_t addrlen, uint16_t *port)
{
	const char *colon, *host = s;
	size_t hlen;
	uint64_t p;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		host = s + 1;
		hlen = (size_t)(end - host);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL; /* a bare IPv6 address needs brackets */
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= addrlen || util_parse_u64(colon + 1, &p) < 0 || p > 65535)
		return -EINVAL;
	memcpy(addr, host, hlen);
	addr[hlen] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static int parse_line(struct app_config *cfg, char *line, int lineno, char *err, size_t errlen)
{
	char *key = trim(line), *colon, why[256];

	if (!*key || *key == '#')
		return 0;
	colon = strchr(key, ':');
	if (!colon) {
		snprintf(err, errlen, "line %d: expected 'key: value'", lineno);
		return -EINVAL;
	}
	*colon = '\0';
	if (config_set(cfg, trim(key), trim(colon + 1), why, sizeof(why)) < 0) {
		snprintf(err, errlen, "line %d: %s", lineno, why);
		return -EINVAL;
	}
	return 0;
}

int config_parse_text(struct app_config *cfg, const char *text, char *err, size_t errlen)
{
	char *copy = strdup(text), *save = NULL, *line, *p;
	int lineno = 0, rc = copy ? 0 : -ENOMEM;

	/* strtok_r would merge empty lines and miscount; split by hand. */
	for (p = copy; rc == 0 && p && *p; p = save) {
		save = strchr(p, '\n');
		if (save)
			*save++ = '\0';
		line = p;
		rc = parse_line(cfg, line, ++lineno, err, errlen);
	}
	free(copy);
	return rc;
}

/* webui/ of the source tree the binary was built in (bin/corrald or
 * build/<dir>/bin/corrald), else the packaged location. */
static void default_webui_dir(char *out, size_t n)
{
	char dir[APP_PATH_MAX - 32], probe[APP_PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", dir, sizeof(dir) - 1);

	snprintf(out, n, "%s", CONFIG_DEFAULT_WEBUI_DIR);
	if (len <= 0)
		return;
	dir[len] = '\0';
	for (int up = 0; up < 4; up++) {
		char *slash = strrchr(dir, '/');

		if (!slash || slash == dir)
			return;
		*slash = '\0';
		snprintf(probe, sizeof(probe), "%s/webui/index.html", dir);
		if (access(probe, R_OK) == 0) {
			snprintf(out, n, "%s/webui", dir);
			return;
		}
	}
}

void config_defaults(struct app_config *cfg)
{
	char host[256] = "localhost";

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", CONFIG_DEFAULT_DATA_DIR);
	snprintf(cfg->config_file, sizeof(cfg->config_file), "%s", CONFIG_DEFAULT_FILE);
	config_parse_listen(CONFIG_DEFAULT_LISTEN, cfg->listen_addr, sizeof(cfg->listen_addr),
			    &cfg->listen_port);
	if (gethostname(host, sizeof(host) - 1) == 0)
		host[strcspn(host, ".")] = '\0';
	snprintf(cfg->node, sizeof(cfg->node), "%.*s", (int)sizeof(cfg->node) - 1,
		 host[0] ? host : "localhost");
	snprintf(cfg->gossip_listen, sizeof(cfg->gossip_listen), "%s", CONFIG_DEFAULT_GOSSIP);
	cfg->log_level = LOG_INFO;
	cfg->task_workers = 4;
	default_webui_dir(cfg->webui_dir, sizeof(cfg->webui_dir));
}

void config_finish(struct app_config *cfg)
{
	if (!cfg->run_dir[0])
		snprintf(cfg->run_dir, sizeof(cfg->run_dir), "%.*s/run", APP_PATH_MAX - 8,
			 cfg->data_dir);
	if (!cfg->log_dir[0])
		snprintf(cfg->log_dir, sizeof(cfg->log_dir), "%s", cfg->data_dir);
}

/* "--name=value" or "--name value": the option and its value, or an error. */
static int split_flag(int argc, char **argv, int *i, const char **name, size_t *nlen,
		      const char **value, char *err, size_t errlen)
{
	const char *a = argv[*i], *eq;

	if (strncmp(a, "--", 2) != 0) {
		snprintf(err, errlen, "unexpected argument '%.100s'", a);
		return -EINVAL;
	}
	*name = a + 2;
	eq = strchr(*name, '=');
	*nlen = eq ? (size_t)(eq - *name) : strlen(*name);
	*value = eq ? eq + 1 : NULL;
	if (!find_option(*name, *nlen) && !(*nlen == 6 && strncmp(*name, "config", 6) == 0))
		return 0; /* --help, --version, or unknown: the caller tells */
	if (!eq) {
		if (*i + 1 >= argc) {
			snprintf(err, errlen, "--%.*s needs a value", (int)*nlen, *name);
			return -EINVAL;
		}
		*value = argv[++*i];
	}
	return 0;
}

/* Pass 1 (APPLY=0): --help, --version, --config, unknown flags.
 * Pass 2 (APPLY=1): every setting, after the file. */
static int scan_flags(struct app_config *cfg, int argc, char **argv, int apply, int *explicit_cfg,
		      char *err, size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *name, *value;
		const struct config_option *o;
		size_t nlen;
		int rc = split_flag(argc, argv, &i, &name, &nlen, &value, err, errlen);

		if (rc < 0)
			return rc;
		if (nlen == 4 && strncmp(name, "help", 4) == 0)
			return CONFIG_HELP;
		if (nlen == 7 && strncmp(name, "version", 7) == 0)
			return CONFIG_VERSION;
		if (nlen == 6 && strncmp(name, "config", 6) == 0) {
			*explicit_cfg = 1;
			if (set_path(cfg->config_file, value, err, errlen) < 0)
				return -EINVAL;
			continue;
		}
		o = find_option(name, nlen);
		if (!o) {
			snprintf(err, errlen, "unknown option '--%.*s'", (int)nlen, name);
			return -EINVAL;
		}
		if (apply && (rc = o->set(cfg, value, err, errlen)) < 0)
			return rc;
	}
	return CONFIG_RUN;
}

static int load_file(struct app_config *cfg, int explicit_cfg, char *err, size_t errlen)
{
	char *text = NULL, why[256];
	size_t len;
	int rc = util_read_file(cfg->config_file, CONFIG_FILE_MAX, &text, &len);

	if (rc == -ENOENT && !explicit_cfg)
		return 0;
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", cfg->config_file, strerror(-rc));
		return rc;
	}
	rc = config_parse_text(cfg, text, why, sizeof(why));
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", cfg->config_file, why);
	free(text);
	return rc;
}

int config_load(struct app_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	int explicit_cfg = 0, rc;

	config_defaults(cfg);
	rc = scan_flags(cfg, argc, argv, 0, &explicit_cfg, err, errlen);
	if (rc != CONFIG_RUN)
		return rc;
	if ((rc = load_file(cfg, explicit_cfg, err, errlen)) < 0)
		return rc;
	if ((rc = scan_flags(cfg, argc, argv, 1, &explicit_cfg, err, errlen)) < 0)
		return rc;
	config_finish(cfg);
	return CONFIG_RUN;
}

void config_usage(FILE *out, const char *prog)
{
	fprintf(out, "usage: %s [options]\n\n", prog);
	for (size_t i = 0; i < ARRAY_SIZE(options); i++)
		fprintf(out, "  --%s %-10s %s\n", options[i].name, options[i].arg, options[i].help);
	fprintf(out, "  --config %-12s settings file, 'key: value' lines (" CONFIG_DEFAULT_FILE ")\n",
		"FILE");
	fprintf(out, "  --help                 this text\n  --version              print the version\n");
}
