/* corral storage list|status|content|upload|alloc|free: friendly verbs over
 * /nodes/{node}/storage, like Proxmox's pvesm.  Task verbs (upload, free)
 * wait for their task and exit with its result. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

enum st_kind {
	ST_LIST,    /* storage list: GET .../storage */
	ST_STATUS,  /* storage status S: GET .../storage/S/status */
	ST_CONTENT, /* storage content S: GET .../storage/S/content */
	ST_UPLOAD,  /* storage upload S FILE: multipart POST .../upload, then wait */
	ST_ALLOC,   /* storage alloc S VMID NAME SIZE: POST .../content */
	ST_FREE,    /* storage free VOLID: DELETE .../content/VOLID, then wait */
};

struct st_verb {
	const char *name;
	enum st_kind kind;
	size_t words; /* positionals after the verb */
	const char *usage;
};

static const struct st_verb st_verbs[] = {
    {"list", ST_LIST, 0, "storage list [--node N] [--content C] [--enabled 1]"},
    {"status", ST_STATUS, 1, "storage status STORAGE [--node N]"},
    {"content", ST_CONTENT, 1, "storage content STORAGE [--content C] [--vmid V]"},
    {"upload", ST_UPLOAD, 2,
     "storage upload STORAGE FILE [--content iso|import] [--filename NAME] "
     "[--checksum X --checksum-algorithm A]"},
    {"alloc", ST_ALLOC, 4, "storage alloc STORAGE VMID FILENAME SIZE [--format qcow2|raw]"},
    {"free", ST_FREE, 1, "storage free VOLID [--node N]"},
};

static const char *const list_columns[] = {
    "storage", "type", "content", "active", "enabled", "total", "used", "avail", NULL,
};
static const char *const content_columns[] = {
    "volid", "content", "format", "size", "vmid", NULL,
};

/* "iso" for .iso and .img files, else "import" (disk images), unless --content. */
static const char *guess_content(const char *file)
{
	const char *dot = strrchr(file, '.');

	return dot && (strcmp(dot, ".iso") == 0 || strcmp(dot, ".img") == 0) ? "iso" : "import";
}

static int has_param(const struct cli *c, const char *key)
{
	for (size_t i = 0; i < c->args.nparams; i++)
		if (c->args.params[i].keylen == strlen(key) &&
		    strncmp(c->args.params[i].key, key, c->args.params[i].keylen) == 0)
			return 1;
	return 0;
}

static int upload(struct cli *c, const char *base)
{
	const char *file = c->args.pos[2], *slash = strrchr(file, '/');
	struct param p[CLI_PARAMS_MAX], extra[1] = {{"content", 7, guess_content(file)}};
	const char *name = slash ? slash + 1 : file;
	char path[512];
	cJSON *body = NULL;
	size_t n = 0;
	int r = cli_with_params(c, p, extra, has_param(c, "content") ? 0 : 1, &n);

	for (size_t i = 0; i < c->args.nparams; i++)
		if (c->args.params[i].keylen == 8 &&
		    strncmp(c->args.params[i].key, "filename", 8) == 0)
			name = c->args.params[i].value;
	if (r != EXIT_OK)
		return r;
	snprintf(path, sizeof(path), "%s/%s/upload", base, c->args.pos[1]);
	client_set_upload(c->client, "filename", file, name);
	r = cli_call(c, "POST", path, p, n, &body);
	if (r == EXIT_OK)
		r = cli_task_answer(c, body);
	cJSON_Delete(body);
	return r;
}

static int alloc(struct cli *c, const char *base)
{
	struct param p[CLI_PARAMS_MAX], extra[3] = {
						 {"vmid", 4, c->args.pos[2]},
						 {"filename", 8, c->args.pos[3]},
						 {"size", 4, c->args.pos[4]},
					     };
	char path[512];
	cJSON *body = NULL;
	size_t n = 0;
	int r = cli_with_params(c, p, extra, 3, &n);

	if (r != EXIT_OK)
		return r;
	snprintf(path, sizeof(path), "%s/%s/content", base, c->args.pos[1]);
	r = cli_call(c, "POST", path, p, n, &body);
	if (r == EXIT_OK)
		r = cli_print(c, body);
	cJSON_Delete(body);
	return r;
}

/* GET verbs and free: PATH, then print the answer or wait for its task. */
static int simple(struct cli *c, const struct st_verb *v, const char *base)
{
	const char *arg = c->args.npos > 1 ? c->args.pos[1] : "";
	const char *method = v->kind == ST_FREE ? "DELETE" : "GET";
	char path[512], storage[128];
	cJSON *body = NULL;
	int r;

	snprintf(storage, sizeof(storage), "%.*s", (int)strcspn(arg, ":"), arg);
	if (v->kind == ST_LIST)
		snprintf(path, sizeof(path), "%s", base);
	else if (v->kind == ST_FREE)
		snprintf(path, sizeof(path), "%s/%s/content/%s", base, storage, arg);
	else
		snprintf(path, sizeof(path), "%s/%s/%s", base, arg,
			 v->kind == ST_STATUS ? "status" : "content");
	c->columns = v->kind == ST_LIST	     ? list_columns
		     : v->kind == ST_CONTENT ? content_columns
					     : NULL;
	r = cli_call(c, method, path, c->args.params, c->args.nparams, &body);
	if (r == EXIT_OK)
		r = v->kind == ST_FREE ? cli_task_answer(c, body) : cli_print(c, body);
	cJSON_Delete(body);
	return r;
}

static const struct st_verb *find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(st_verbs); i++)
		if (strcmp(st_verbs[i].name, name) == 0)
			return &st_verbs[i];
	return NULL;
}

int cmd_storage(struct cli *c)
{
	const struct st_verb *v = c->args.npos ? find(c->args.pos[0]) : NULL;
	char node[128], base[256];
	int r;

	if (!v)
		return cli_fail(EXIT_USAGE,
				"usage: corral storage list|status|content|upload|alloc|"
				"free ...");
	if (c->args.npos != v->words + 1)
		return cli_fail(EXIT_USAGE, "usage: corral %s", v->usage);
	if (v->kind == ST_FREE && !strchr(c->args.pos[1], ':'))
		return cli_fail(EXIT_USAGE, "'%s' is not a volume id (STORAGE:VOLUME)",
				c->args.pos[1]);
	r = cli_connect(c, 1);
	if (r == EXIT_OK)
		r = cli_pick_node(c, node, sizeof(node));
	if (r != EXIT_OK)
		return r;
	snprintf(base, sizeof(base), "/nodes/%s/storage", node);
	if (v->kind == ST_UPLOAD)
		return upload(c, base);
	if (v->kind == ST_ALLOC)
		return alloc(c, base);
	return simple(c, v, base);
}
