/* corral cluster create|join|status|nodes|leave|delnode: the cluster verbs
 * of Proxmox's pvecm over /cluster/config and /cluster/status, and key for
 * Corral's gossip key rotation (/cluster/config/keys).  join asks
 * the member's administrator password on standard input (or takes
 * CORRAL_JOIN_PASSWORD). */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

enum cl_kind { CL_CREATE, CL_JOIN, CL_STATUS, CL_NODES, CL_LEAVE, CL_DELNODE, CL_KEY };

struct cl_verb {
	const char *name;
	enum cl_kind kind;
	size_t words; /* positionals after the verb */
	const char *usage;
};

static const struct cl_verb cl_verbs[] = {
	{ "create", CL_CREATE, 1, "cluster create NAME [--link0 ADDR[:PORT]]" },
	{ "join", CL_JOIN, 2,
	  "cluster join HOST[:PORT] FINGERPRINT [--username U] [--link0 ADDR[:PORT]]" },
	{ "status", CL_STATUS, 0, "cluster status" },
	{ "nodes", CL_NODES, 0, "cluster nodes" },
	{ "leave", CL_LEAVE, 0, "cluster leave [--node N]" },
	{ "delnode", CL_DELNODE, 1, "cluster delnode NODE" },
	{ "key", CL_KEY, 2, "cluster key install|use|remove HEXKEY" },
};

/* The method of /cluster/config/keys for each key action. */
static const struct {
	const char *action, *method;
} key_actions[] = {
	{ "install", "POST" },
	{ "use", "PUT" },
	{ "remove", "DELETE" },
};

static const char *const status_columns[] = {
	"type", "name", "nodeid", "ip", "local", "online", NULL,
};
static const char *const nodes_columns[] = { "node", "nodeid", "ring0_addr", NULL };

static int call(struct cli *c, const char *method, const char *path, const struct param *p,
		size_t n)
{
	cJSON *body = NULL;
	int r = cli_call(c, method, path, p, n, &body);

	if (r == EXIT_OK)
		r = cli_print(c, body);
	cJSON_Delete(body);
	return r;
}

/* CORRAL_JOIN_PASSWORD, else one line of standard input. */
static int read_password(char *out, size_t n)
{
	const char *env = getenv("CORRAL_JOIN_PASSWORD");

	if (env)
		return util_strlcpy(out, env, n) < 0 ? -ERANGE : 0;
	fprintf(stderr, "password of the member's administrator: ");
	if (!fgets(out, (int)n, stdin))
		return -EIO;
	out[strcspn(out, "\r\n")] = '\0';
	return out[0] ? 0 : -EINVAL;
}

static int join(struct cli *c)
{
	char password[256];
	struct param p[CLI_PARAMS_MAX], extra[3] = {
		{ "hostname", 8, c->args.pos[1] },
		{ "fingerprint", 11, c->args.pos[2] },
		{ "password", 8, password },
	};
	size_t n = 0;
	int r;

	if (read_password(password, sizeof(password)) < 0)
		return cli_fail(EXIT_USAGE, "no password (CORRAL_JOIN_PASSWORD or standard input)");
	r = cli_with_params(c, p, extra, 3, &n);
	if (r == EXIT_OK)
		r = call(c, "POST", "/cluster/config/join", p, n);
	memset(password, 0, sizeof(password));
	return r;
}

static int create(struct cli *c)
{
	struct param p[CLI_PARAMS_MAX], extra[1] = { { "clustername", 11, c->args.pos[1] } };
	size_t n = 0;
	int r = cli_with_params(c, p, extra, 1, &n);

	return r == EXIT_OK ? call(c, "POST", "/cluster/config", p, n) : r;
}

static int delnode(struct cli *c, const char *node)
{
	char path[256];

	snprintf(path, sizeof(path), "/cluster/config/nodes/%s", node);
	return call(c, "DELETE", path, NULL, 0);
}

static int key(struct cli *c)
{
	struct param p[1] = { { "key", 3, c->args.pos[2] } };

	for (size_t i = 0; i < ARRAY_SIZE(key_actions); i++)
		if (strcmp(c->args.pos[1], key_actions[i].action) == 0)
			return call(c, key_actions[i].method, "/cluster/config/keys", p, 1);
	return cli_fail(EXIT_USAGE, "usage: corral cluster key install|use|remove HEXKEY");
}

static int run(struct cli *c, const struct cl_verb *v)
{
	char node[128];
	int r;

	switch (v->kind) {
	case CL_CREATE:
		return create(c);
	case CL_JOIN:
		return join(c);
	case CL_STATUS:
		c->columns = status_columns;
		return call(c, "GET", "/cluster/status", NULL, 0);
	case CL_NODES:
		c->columns = nodes_columns;
		return call(c, "GET", "/cluster/config/nodes", NULL, 0);
	case CL_LEAVE:
		r = cli_pick_node(c, node, sizeof(node));
		return r == EXIT_OK ? delnode(c, node) : r;
	case CL_DELNODE:
		return delnode(c, c->args.pos[1]);
	case CL_KEY:
		return key(c);
	}
	return EXIT_USAGE;
}

int cmd_cluster(struct cli *c)
{
	const struct cl_verb *v = NULL;
	int r;

	for (size_t i = 0; c->args.npos && i < ARRAY_SIZE(cl_verbs); i++)
		if (strcmp(c->args.pos[0], cl_verbs[i].name) == 0)
			v = &cl_verbs[i];
	if (!v)
		return cli_fail(EXIT_USAGE, "usage: corral cluster create|join|status|nodes|leave|"
			       "delnode|key ...");
	if (c->args.npos != v->words + 1)
		return cli_fail(EXIT_USAGE, "usage: corral %s", v->usage);
	r = cli_connect(c, 1);
	return r == EXIT_OK ? run(c, v) : r;
}
