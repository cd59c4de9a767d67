/* corral's command context and its verbs.  main.c dispatches argv through the
 * verb table to the cmd_* functions, which return a process exit status. */
#ifndef CORRAL_CLI_CLI_H
#define CORRAL_CLI_CLI_H

#include <cjson/cJSON.h>

#include "cli/args.h"
#include "cli/client.h"
#include "cli/format.h"

/* Exit statuses, documented in `corral --help`. */
enum cli_exit {
	EXIT_OK = 0,
	EXIT_API = 1,   /* the API answered with an error */
	EXIT_USAGE = 2, /* bad command line */
	EXIT_CONN = 3,  /* connection or TLS failure, untrusted/changed certificate */
	EXIT_AUTH = 4,  /* not logged in, bad credentials, expired ticket (HTTP 401) */
};

#define CLI_DEFAULT_PORT 8006
#define CLI_DEFAULT_USER "admin@pve"

struct cli {
	struct args args;      /* the words after the verb */
	enum fmt_kind fmt;
	const char *const *columns; /* text table columns of a friendly verb, or NULL */
	char host[256];
	unsigned port;
	struct client *client; /* set by cli_connect */
};

/* Opens the connection (host, port, pin from the options, CORRAL_HOST or the
 * session) and sets up authentication: CORRAL_API_TOKEN, the stored session
 * (renewed when older than an hour) or a login with CORRAL_PASSWORD.  With
 * NEED_AUTH unset no credentials are attached.  Returns an exit status. */
int cli_connect(struct cli *c, int need_auth);
/* Calls the API; on success *BODY is the whole JSON answer (caller deletes)
 * and EXIT_OK is returned.  Errors are printed; their exit status returned. */
int cli_call(struct cli *c, const char *method, const char *path, const struct param *p,
	     size_t n, cJSON **body);
/* Room for the free parameters plus the positionals a verb turns into
 * parameters. */
#define CLI_PARAMS_MAX (ARGS_MAX_PARAMS + 4)
/* The free parameters followed by the N_EXTRA of EXTRA, into P (room for
 * CLI_PARAMS_MAX), their count into N.  Returns an exit status. */
int cli_with_params(const struct cli *c, struct param *p, const struct param *extra,
		    size_t n_extra, size_t *n);
/* Prints the "data" of BODY in the chosen output format. */
int cli_print(struct cli *c, const cJSON *body);
/* Prints "corral: MSG" to stderr and returns STATUS. */
int cli_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --node, or the first node /nodes lists (the one we talk to when
 * standalone), into NODE.  Needs cli_connect first.  Returns an exit status. */
int cli_pick_node(struct cli *c, char *node, size_t n);
/* Polls task UPID until it stops, prints its exit status; EXIT_OK when it
 * ended OK (or with warnings), EXIT_API otherwise. */
int cli_task_wait(struct cli *c, const char *upid);
/* Waits for the task whose UPID is the "data" of an API answer BODY (the
 * UPID goes to stderr in text output); as cli_task_wait. */
int cli_task_answer(struct cli *c, const cJSON *body);

/* The node named in a UPID ("UPID:node:..."); 0 or -EINVAL.  Pure. */
int cli_upid_node(const char *upid, char *node, size_t n);

int cmd_login(struct cli *c);
int cmd_api(struct cli *c);
int cmd_version(struct cli *c);
int cmd_nodes(struct cli *c);
int cmd_tasks(struct cli *c);
int cmd_task(struct cli *c);
int cmd_vm(struct cli *c);
int cmd_storage(struct cli *c);
int cmd_cluster(struct cli *c);
int cmd_pool(struct cli *c);

#endif
