/* Connecting and authenticating corral: host resolution, the stored session
 * (~/.config/corral/session.json), `corral login`, and printing API errors. */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/conf.h"
#include "common/util.h"

#define SESSION_FILE "session.json"
#define KNOWN_HOSTS_FILE "known_hosts"
#define TICKET_LIFETIME 7200 /* Proxmox tickets live 2 h */
#define TICKET_RENEW 3600    /* renew like proxmoxer does, after an hour */

int cli_fail(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("corral: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "host" or "host:port" from CORRAL_HOST. */
static void host_from_env(struct cli *c, const char *env)
{
	const char *colon = strrchr(env, ':');
	uint64_t port;

	util_strlcpy(c->host, env, sizeof(c->host));
	if (colon && colon == strchr(env, ':') && util_parse_u64(colon + 1, &port) == 0 &&
	    port > 0 && port < 65536) {
		c->host[colon - env] = '\0';
		c->port = (unsigned)port;
	}
}

/* --host, CORRAL_HOST, the session's host, loopback; --port likewise. */
static int resolve_host(struct cli *c, const cJSON *session)
{
	const char *host = args_opt(&c->args, "host"), *port = args_opt(&c->args, "port");
	const char *env = getenv("CORRAL_HOST");
	const cJSON *sport = cJSON_GetObjectItemCaseSensitive(session, "port");
	uint64_t p;

	c->port = CLI_DEFAULT_PORT;
	if (host)
		util_strlcpy(c->host, host, sizeof(c->host));
	else if (env && *env)
		host_from_env(c, env);
	else if (json_str(session, "host")) {
		util_strlcpy(c->host, json_str(session, "host"), sizeof(c->host));
		if (cJSON_IsNumber(sport))
			c->port = (unsigned)sport->valueint;
	} else
		util_strlcpy(c->host, "127.0.0.1", sizeof(c->host));
	if (port && (util_parse_u64(port, &p) < 0 || p == 0 || p > 65535))
		return cli_fail(EXIT_USAGE, "invalid port '%s'", port);
	if (port)
		c->port = (unsigned)p;
	return EXIT_OK;
}

static int ask_accept(const char *hostport, const char *fp, void *arg)
{
	char prompt[512];

	(void)arg;
	if (!tty_available())
		return 0;
	fprintf(stderr, "The certificate of %s is not known yet.\nSHA-256 fingerprint: %s\n",
		hostport, fp);
	snprintf(prompt, sizeof(prompt), "Trust it and remember it? [y/N] ");
	return tty_confirm(prompt);
}

static int open_client(struct cli *c)
{
	char known[1024], err[1024];
	const char *fp = args_opt(&c->args, "fingerprint");
	struct client_opts o = {
		.host = c->host,
		.port = c->port,
		.fingerprint = fp ? fp : getenv("CORRAL_FINGERPRINT"),
		.known_hosts = conf_path(KNOWN_HOSTS_FILE, 1, known, sizeof(known)) == 0 ? known
											 : NULL,
		.accept = ask_accept,
		.timeout_s = 120,
	};

	if (client_new(&o, &c->client, err, sizeof(err)) < 0)
		return cli_fail(o.fingerprint ? EXIT_USAGE : EXIT_CONN, "%s", err);
	return EXIT_OK;
}

/* "corral: 400 Parameter verification failed." plus one line per errors[].
 * Proxmox sends the message as the reason phrase and, newer versions, in the
 * body; the body wins because an HTTP layer may only send standard phrases. */
static void print_api_error(const struct client_resp *r)
{
	const char *message = json_str(r->body, "message");
	const char *reason = message && *message ? message : r->reason;
	const cJSON *errors = cJSON_GetObjectItemCaseSensitive(r->body, "errors"), *e;
	const cJSON *list = cJSON_IsObject(errors) ? errors : NULL;
	int len = reason ? (int)strcspn(reason, "\n") : 0;

	fprintf(stderr, "corral: %ld %.*s\n", r->status, len, reason ? reason : "");
	cJSON_ArrayForEach(e, list) {
		const char *msg = cJSON_IsString(e) ? e->valuestring : "";

		fprintf(stderr, "  %s: %.*s\n", e->string, (int)strcspn(msg, "\n"), msg);
	}
}

int cli_call(struct cli *c, const char *method, const char *path, const struct param *p,
	     size_t n, cJSON **body)
{
	struct client_resp resp;
	char err[1024];
	int r = client_call(c->client, method, path, p, n, &resp, err, sizeof(err));

	*body = NULL;
	if (r < 0)
		return cli_fail(EXIT_CONN, "%s", err);
	if (resp.status >= 200 && resp.status < 300) {
		*body = resp.body;
		return EXIT_OK;
	}
	print_api_error(&resp);
	client_resp_free(&resp);
	return resp.status == 401 ? EXIT_AUTH : EXIT_API;
}

int cli_with_params(const struct cli *c, struct param *p, const struct param *extra,
		    size_t n_extra, size_t *n)
{
	if (c->args.nparams + n_extra > CLI_PARAMS_MAX)
		return cli_fail(EXIT_USAGE, "too many parameters");
	memcpy(p, c->args.params, c->args.nparams * sizeof(p[0]));
	memcpy(p + c->args.nparams, extra, n_extra * sizeof(p[0]));
	*n = c->args.nparams + n_extra;
	return EXIT_OK;
}

int cli_print(struct cli *c, const cJSON *body)
{
	struct buf out = BUF_INIT;
	int r = fmt_render_cols(cJSON_GetObjectItemCaseSensitive(body, "data"), c->fmt, c->columns,
				&out);

	if (r == 0 && out.len)
		fwrite(out.data, 1, out.len, stdout);
	buf_free(&out);
	if (r < 0)
		return cli_fail(EXIT_API, "out of memory");
	return fflush(stdout) == 0 ? EXIT_OK : cli_fail(EXIT_API, "cannot write output");
}

/* POST /access/ticket; on success *DATA is the answer's data (caller deletes). */
static int request_ticket(struct cli *c, const char *user, const char *realm, const char *password,
			  cJSON **data)
{
	struct param p[3] = {
		{ "username", 8, user },
		{ "password", 8, password },
		{ "realm", 5, realm },
	};
	cJSON *body;
	int r = cli_call(c, "POST", "/access/ticket", p, realm ? 3 : 2, &body);

	*data = NULL;
	if (r != EXIT_OK)
		return r;
	*data = cJSON_DetachItemFromObjectCaseSensitive(body, "data");
	cJSON_Delete(body);
	if (!json_str(*data, "ticket") || !json_str(*data, "CSRFPreventionToken"))
		return cli_fail(EXIT_AUTH, "login answer carries no ticket");
	return EXIT_OK;
}

static int save_session(struct cli *c, const cJSON *data)
{
	cJSON *s = cJSON_CreateObject();
	int r = -ENOMEM;

	if (s && cJSON_AddStringToObject(s, "host", c->host) &&
	    cJSON_AddNumberToObject(s, "port", c->port) &&
	    cJSON_AddStringToObject(s, "username", json_str(data, "username") ?: "") &&
	    cJSON_AddStringToObject(s, "ticket", json_str(data, "ticket")) &&
	    cJSON_AddStringToObject(s, "CSRFPreventionToken",
				    json_str(data, "CSRFPreventionToken")) &&
	    cJSON_AddNumberToObject(s, "time", (double)time(NULL)))
		r = conf_save_json(SESSION_FILE, s);
	cJSON_Delete(s);
	return r < 0 ? cli_fail(EXIT_USAGE, "cannot save the session: %s", strerror(-r)) : EXIT_OK;
}

static int use_ticket(struct cli *c, const cJSON *data)
{
	if (client_set_ticket(c->client, json_str(data, "ticket"),
			      json_str(data, "CSRFPreventionToken")) < 0)
		return cli_fail(EXIT_API, "out of memory");
	return EXIT_OK;
}

static int session_matches(const struct cli *c, const cJSON *s)
{
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(s, "port");
	const char *host = json_str(s, "host");

	return host && strcmp(host, c->host) == 0 && cJSON_IsNumber(port) &&
	       (unsigned)port->valueint == c->port && json_str(s, "ticket") &&
	       json_str(s, "CSRFPreventionToken");
}

/* A ticket older than an hour is traded for a fresh one (password = ticket). */
static int use_session(struct cli *c, const cJSON *s)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "time");
	double age = cJSON_IsNumber(t) ? (double)time(NULL) - t->valuedouble : TICKET_LIFETIME;
	cJSON *data;
	int r;

	if (age >= TICKET_LIFETIME)
		return cli_fail(EXIT_AUTH, "the session for %s has expired: run `corral login`",
				c->host);
	r = use_ticket(c, s);
	if (r != EXIT_OK || age < TICKET_RENEW)
		return r;
	r = request_ticket(c, json_str(s, "username") ?: "", NULL, json_str(s, "ticket"), &data);
	if (r == EXIT_OK)
		r = save_session(c, data);
	if (r == EXIT_OK)
		r = use_ticket(c, data);
	cJSON_Delete(data);
	return r;
}

static int login_from_env(struct cli *c, const char *password)
{
	const char *user = getenv("CORRAL_USER");
	cJSON *data;
	int r = request_ticket(c, user && *user ? user : CLI_DEFAULT_USER, NULL, password, &data);

	if (r == EXIT_OK)
		r = use_ticket(c, data);
	cJSON_Delete(data);
	return r;
}

static int authenticate(struct cli *c, const cJSON *session)
{
	const char *token = getenv("CORRAL_API_TOKEN"), *password = getenv("CORRAL_PASSWORD");

	if (token && *token)
		return client_set_token(c->client, token) < 0 ? cli_fail(EXIT_API, "out of memory")
							       : EXIT_OK;
	if (session_matches(c, session))
		return use_session(c, session);
	if (password && *password)
		return login_from_env(c, password);
	return cli_fail(EXIT_AUTH, "not logged in to %s:%u: run `corral login` or set "
			"CORRAL_API_TOKEN", c->host, c->port);
}

int cli_connect(struct cli *c, int need_auth)
{
	cJSON *session = NULL;
	int r;

	if (conf_load_json(SESSION_FILE, &session) < 0)
		fprintf(stderr, "corral: ignoring an unreadable %s\n", SESSION_FILE);
	r = resolve_host(c, session);
	if (r == EXIT_OK)
		r = open_client(c);
	if (r == EXIT_OK && need_auth)
		r = authenticate(c, session);
	cJSON_Delete(session);
	return r;
}

static int read_password(struct cli *c, const char *user, char *out, size_t n)
{
	const char *env = getenv("CORRAL_PASSWORD");
	char prompt[300];

	if (args_opt(&c->args, "password-stdin"))
		return read_line(stdin, out, n) == 0
			       ? EXIT_OK
			       : cli_fail(EXIT_USAGE, "no password on standard input");
	if (env && *env)
		return util_strlcpy(out, env, n) == 0 ? EXIT_OK
						      : cli_fail(EXIT_USAGE, "password too long");
	snprintf(prompt, sizeof(prompt), "Password for %s: ", user);
	if (!tty_available() || tty_read_secret(prompt, out, n) < 0)
		return cli_fail(EXIT_USAGE, "no terminal to ask the password: use "
			       "--password-stdin or CORRAL_PASSWORD");
	return EXIT_OK;
}

/* Settles trust in the certificate before a password is typed. */
static int probe_certificate(struct cli *c)
{
	cJSON *body;
	int r = cli_call(c, "GET", "/access/domains", NULL, 0, &body);

	cJSON_Delete(body);
	return r == EXIT_CONN ? r : EXIT_OK;
}

int cmd_login(struct cli *c)
{
	const char *user = args_opt(&c->args, "user"), *realm = args_opt(&c->args, "realm");
	const char *env_user = getenv("CORRAL_USER");
	char password[1024];
	cJSON *data = NULL;
	int r;

	if (!user)
		user = env_user && *env_user ? env_user : CLI_DEFAULT_USER;
	if (c->args.npos > 0)
		return cli_fail(EXIT_USAGE, "login takes no argument ('%s')", c->args.pos[0]);
	r = cli_connect(c, 0);
	if (r == EXIT_OK && !args_opt(&c->args, "password-stdin") && !getenv("CORRAL_PASSWORD"))
		r = probe_certificate(c);
	if (r == EXIT_OK)
		r = read_password(c, user, password, sizeof(password));
	if (r == EXIT_OK)
		r = request_ticket(c, user, realm, password, &data);
	if (r == EXIT_OK)
		r = save_session(c, data);
	if (r == EXIT_OK)
		fprintf(stderr, "corral: logged in to %s:%u as %s\n", c->host, c->port,
			json_str(data, "username") ?: user);
	explicit_bzero(password, sizeof(password));
	cJSON_Delete(data);
	return r;
}
