/* Handler-side helpers for responses and parameters, and the rendering of a
 * response as Proxmox's JSON envelope (HS Formatter/Standard.pm). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "server/resp.h"
#include "server/router.h"
#include "server/ws_bridge.h"

static void set_message(struct resp *r, const char *fmt, va_list ap)
{
	char *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	free(r->message);
	r->message = msg;
}

int resp_error(struct resp *r, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_message(r, fmt, ap);
	va_end(ap);
	r->status = err_http_status(code);
	return code;
}

int resp_param_error(struct resp *r, const char *param, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!r->errors)
		r->errors = cJSON_CreateObject();
	if (r->errors && msg && !cJSON_GetObjectItemCaseSensitive(r->errors, param))
		cJSON_AddStringToObject(r->errors, param, msg);
	free(msg);
	free(r->message);
	r->message = strdup(err_str(CR_EINVAL_PARAM));
	r->status = err_http_status(CR_EINVAL_PARAM);
	return CR_EINVAL_PARAM;
}

void resp_clear(struct resp *r)
{
	cJSON_Delete(r->data);
	cJSON_Delete(r->errors);
	free(r->message);
	free(r->set_cookie);
	ws_session_put(r->upgrade);
	memset(r, 0, sizeof(*r));
	r->total = -1;
}

const char *req_str(const struct req *r, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->params, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int64_t req_int(const struct req *r, const char *name, int64_t dflt)
{
	const char *s = req_str(r, name);
	int64_t v;

	return s && util_parse_i64(s, &v) == 0 ? v : dflt;
}

int req_bool(const struct req *r, const char *name, int dflt)
{
	const char *s = req_str(r, name);

	if (s && strcmp(s, "1") == 0)
		return 1;
	if (s && strcmp(s, "0") == 0)
		return 0;
	return dflt;
}

/* The reason phrase: the message's first line. */
static char *first_line(const char *msg)
{
	size_t n = strcspn(msg, "\r\n");

	return strndup(msg, n);
}

static char *render_body(struct resp *r, int failed, const char *msg)
{
	cJSON *root = cJSON_CreateObject();
	char *text;

	if (!root)
		return NULL;
	cJSON_AddItemToObject(root, "data", (!failed && r->data) ? r->data : cJSON_CreateNull());
	if (!failed)
		r->data = NULL; /* now owned by ROOT */
	if (!failed && r->total >= 0)
		cJSON_AddNumberToObject(root, "total", (double)r->total);
	if (failed && msg)
		cJSON_AddStringToObject(root, "message", msg);
	if (failed && r->errors && cJSON_GetArraySize(r->errors) > 0) {
		cJSON_AddItemToObject(root, "errors", r->errors);
		r->errors = NULL;
	}
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

void resp_render(struct resp *r, int rc, struct router_reply *out)
{
	int failed = rc != 0 || r->status >= 400;
	const char *msg = r->message ? r->message : (rc ? err_str(rc) : NULL);

	out->status = r->status ? r->status : (rc ? err_http_status(rc) : 200);
	out->reason = failed && msg ? first_line(msg) : NULL;
	out->body = render_body(r, failed, failed ? msg : NULL);
	out->body_len = out->body ? strlen(out->body) : 0;
	out->set_cookie = r->set_cookie;
	r->set_cookie = NULL;
	out->upgrade = failed ? NULL : r->upgrade;
	if (!failed)
		r->upgrade = NULL;
	out->delay = out->status == 401;
	resp_clear(r);
}

void resp_render_bare(int status, const char *msg, struct router_reply *out)
{
	out->status = status;
	out->reason = strdup(msg);
	out->body = NULL;
	out->body_len = 0;
	out->delay = status == 401;
}

void router_reply_clear(struct router_reply *r)
{
	ws_session_put(r->upgrade);
	free(r->body);
	free(r->reason);
	free(r->set_cookie);
	memset(r, 0, sizeof(*r));
}
