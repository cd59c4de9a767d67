/* corral's API verbs: `api get|create|set|delete`, `version`, `nodes`,
 * `tasks`, `task log|wait|status`. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

struct api_verb {
	const char *name;
	const char *method;
};

/* pvesh's verbs and the HTTP methods they stand for. */
static const struct api_verb api_verbs[] = {
	{ "get", "GET" },
	{ "create", "POST" },
	{ "set", "PUT" },
	{ "delete", "DELETE" },
};

/* What `corral nodes` and `corral tasks` show as text (api shows every key). */
static const char *const node_columns[] = {
	"node", "status", "cpu", "maxcpu", "mem", "maxmem", "disk", "maxdisk", "uptime", NULL,
};
static const char *const task_columns[] = {
	"starttime", "endtime", "type", "id", "user", "status", "upid", NULL,
};

static int call_and_print(struct cli *c, const char *method, const char *path,
			  const struct param *p, size_t n)
{
	cJSON *body = NULL;
	int r = cli_connect(c, 1);

	if (r == EXIT_OK)
		r = cli_call(c, method, path, p, n, &body);
	if (r == EXIT_OK)
		r = cli_print(c, body);
	cJSON_Delete(body);
	return r;
}

int cmd_api(struct cli *c)
{
	const struct api_verb *v = NULL;

	if (c->args.npos != 2)
		return cli_fail(EXIT_USAGE, "usage: corral api get|create|set|delete PATH "
			       "[--key value ...]");
	for (size_t i = 0; i < ARRAY_SIZE(api_verbs); i++)
		if (strcmp(c->args.pos[0], api_verbs[i].name) == 0)
			v = &api_verbs[i];
	if (!v)
		return cli_fail(EXIT_USAGE, "unknown api verb '%s' (get, create, set, delete)",
				c->args.pos[0]);
	if (c->args.pos[1][0] != '/')
		return cli_fail(EXIT_USAGE, "PATH must start with '/' (e.g. /nodes)");
	return call_and_print(c, v->method, c->args.pos[1], c->args.params, c->args.nparams);
}

static int no_words(const struct cli *c, const char *verb)
{
	if (c->args.npos == 0)
		return EXIT_OK;
	return cli_fail(EXIT_USAGE, "%s takes no argument ('%s')", verb, c->args.pos[0]);
}

int cmd_version(struct cli *c)
{
	int r = no_words(c, "version");

	return r == EXIT_OK ? call_and_print(c, "GET", "/version", NULL, 0) : r;
}

int cmd_nodes(struct cli *c)
{
	int r = no_words(c, "nodes");

	c->columns = node_columns;
	return r == EXIT_OK ? call_and_print(c, "GET", "/nodes", NULL, 0) : r;
}

int cli_pick_node(struct cli *c, char *node, size_t n)
{
	const char *opt = args_opt(&c->args, "node");
	cJSON *body, *first;
	int r;

	if (opt)
		return util_strlcpy(node, opt, n) == 0 ? EXIT_OK
						       : cli_fail(EXIT_USAGE, "node name too long");
	r = cli_call(c, "GET", "/nodes", NULL, 0, &body);
	if (r != EXIT_OK)
		return r;
	first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(body, "data"), 0);
	first = cJSON_GetObjectItemCaseSensitive(first, "node");
	r = cJSON_IsString(first) ? util_strlcpy(node, first->valuestring, n) : -ENOENT;
	cJSON_Delete(body);
	return r == 0 ? EXIT_OK : cli_fail(EXIT_API, "no node found; pass --node");
}

int cmd_tasks(struct cli *c)
{
	char node[128], path[256];
	cJSON *body;
	int r = no_words(c, "tasks");

	c->columns = task_columns;
	if (r == EXIT_OK)
		r = cli_connect(c, 1);
	if (r == EXIT_OK)
		r = cli_pick_node(c, node, sizeof(node));
	if (r != EXIT_OK)
		return r;
	snprintf(path, sizeof(path), "/nodes/%s/tasks", node);
	r = cli_call(c, "GET", path, c->args.params, c->args.nparams, &body);
	if (r == EXIT_OK)
		r = cli_print(c, body);
	cJSON_Delete(body);
	return r;
}
