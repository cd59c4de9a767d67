/* corral pool list|show|create|set|delete: friendly verbs over /pools (the
 * resource pools of the cluster, like `pveum pool`). */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "common/util.h"

enum pool_kind {
	PL_LIST,   /* pool list: GET /pools */
	PL_SHOW,   /* pool show POOL: the members of GET /pools/POOL */
	PL_CREATE, /* pool create POOL [--comment C]: POST /pools */
	PL_SET,    /* pool set POOL [--vms L] [--storage L] [--delete 1] ...: PUT /pools */
	PL_DELETE, /* pool delete POOL: DELETE /pools */
};

struct pool_verb {
	const char *name;
	enum pool_kind kind;
	const char *method;
	size_t words; /* positionals after the verb */
	const char *usage;
};

static const struct pool_verb pool_verbs[] = {
    {"list", PL_LIST, "GET", 0, "pool list"},
    {"show", PL_SHOW, "GET", 1, "pool show POOL [--type qemu|storage]"},
    {"create", PL_CREATE, "POST", 1, "pool create POOL [--comment C]"},
    {"set", PL_SET, "PUT", 1,
     "pool set POOL [--comment C] [--vms 100,101] [--storage S] [--delete 1] "
     "[--allow-move 1]"},
    {"delete", PL_DELETE, "DELETE", 1, "pool delete POOL"},
};

static const char *const list_columns[] = {"poolid", "comment", NULL};
static const char *const member_columns[] = {"id", "type", "node", "name", "status", NULL};

/* Proxmox's pool id characters; anything else never reaches a URL. */
static int valid_pool(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(".-_", *s)))
			return 0;
	return 1;
}

static const struct pool_verb *find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(pool_verbs); i++)
		if (strcmp(pool_verbs[i].name, name) == 0)
			return &pool_verbs[i];
	return NULL;
}

/* show: the members array of the answer, printed as a table. */
static int print_members(struct cli *c, cJSON *body)
{
	cJSON *data = cJSON_GetObjectItemCaseSensitive(body, "data");
	cJSON *members = cJSON_DetachItemFromObjectCaseSensitive(data, "members");
	cJSON *out = cJSON_CreateObject();
	int r = EXIT_API;

	if (out && members && cJSON_AddItemToObject(out, "data", members)) {
		members = NULL;
		c->columns = member_columns;
		r = cli_print(c, out);
	}
	cJSON_Delete(members);
	cJSON_Delete(out);
	return r;
}

static int run(struct cli *c, const struct pool_verb *v)
{
	struct param p[CLI_PARAMS_MAX], extra[1];
	char path[256];
	cJSON *body = NULL;
	size_t n = 0;
	int r;

	snprintf(path, sizeof(path), "/pools%s%s", v->kind == PL_SHOW ? "/" : "",
		 v->kind == PL_SHOW ? c->args.pos[1] : "");
	extra[0] = (struct param){"poolid", 6, v->words ? c->args.pos[1] : ""};
	r = cli_with_params(c, p, extra, v->words && v->kind != PL_SHOW ? 1 : 0, &n);
	if (r == EXIT_OK)
		r = cli_call(c, v->method, path, p, n, &body);
	c->columns = v->kind == PL_LIST ? list_columns : NULL;
	if (r == EXIT_OK)
		r = v->kind == PL_SHOW ? print_members(c, body) : cli_print(c, body);
	cJSON_Delete(body);
	return r;
}

int cmd_pool(struct cli *c)
{
	const struct pool_verb *v = c->args.npos ? find(c->args.pos[0]) : NULL;
	int r;

	if (!v)
		return cli_fail(EXIT_USAGE, "usage: corral pool list|show|create|set|delete ...");
	if (c->args.npos != v->words + 1)
		return cli_fail(EXIT_USAGE, "usage: corral %s", v->usage);
	if (v->words && !valid_pool(c->args.pos[1]))
		return cli_fail(EXIT_USAGE, "'%s' is not a pool name", c->args.pos[1]);
	r = cli_connect(c, 1);
	return r == EXIT_OK ? run(c, v) : r;
}
