/* QMP framing and classification (see qmp.h): pure, no I/O. */
#include "hv/qmp.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"

struct qmp_parser {
	struct buf in;
	size_t scan;  /* next byte to look at */
	size_t start; /* first byte of the message being scanned */
	int depth;    /* brace/bracket depth outside strings */
	int in_str, esc;
};

struct qmp_parser *qmp_parser_new(void)
{
	return calloc(1, sizeof(struct qmp_parser));
}

void qmp_parser_free(struct qmp_parser *p)
{
	if (!p)
		return;
	buf_free(&p->in);
	free(p);
}

int qmp_parser_feed(struct qmp_parser *p, const void *data, size_t len)
{
	if (p->in.len + len > 2 * (size_t)QMP_MAX_MESSAGE)
		return -EMSGSIZE;
	return buf_append(&p->in, data, len);
}

/* Drops the first N bytes and rewinds the scanner. */
static void consume(struct qmp_parser *p, size_t n)
{
	memmove(p->in.data, p->in.data + n, p->in.len - n);
	p->in.len -= n;
	p->in.data[p->in.len] = '\0';
	p->scan = p->start = 0;
	p->depth = p->in_str = p->esc = 0;
}

static void scan_string_byte(struct qmp_parser *p, char ch)
{
	if (p->esc)
		p->esc = 0;
	else if (ch == '\\')
		p->esc = 1;
	else if (ch == '"')
		p->in_str = 0;
}

/* Advances the scanner: 1 when [start, scan) holds a whole object, 0 when
 * more bytes are needed, -EPROTO on a stray byte between messages. */
static int scan(struct qmp_parser *p)
{
	for (; p->scan < p->in.len; p->scan++) {
		char ch = p->in.data[p->scan];

		if (p->in_str) {
			scan_string_byte(p, ch);
		} else if (p->depth == 0) {
			if (ch == '{') {
				p->start = p->scan;
				p->depth = 1;
			} else if (!strchr(" \t\r\n", ch)) {
				p->scan++;
				return -EPROTO;
			}
		} else if (ch == '"') {
			p->in_str = 1;
		} else if (ch == '{' || ch == '[') {
			p->depth++;
		} else if ((ch == '}' || ch == ']') && --p->depth == 0) {
			p->scan++;
			return 1;
		}
	}
	return 0;
}

static int proto_error(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "QMP protocol error: %s", what);
	return -EPROTO;
}

static void read_id(struct qmp_msg *m)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(m->root, "id");

	if (cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble < 9007199254740992.0 &&
	    floor(id->valuedouble) == id->valuedouble) {
		m->has_id = 1;
		m->id = (uint64_t)id->valuedouble;
	}
}

static int classify_event(struct qmp_msg *m, const cJSON *ev)
{
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(m->root, "timestamp");
	const cJSON *sec = cJSON_GetObjectItemCaseSensitive(ts, "seconds");
	const cJSON *usec = cJSON_GetObjectItemCaseSensitive(ts, "microseconds");

	m->type = QMP_MSG_EVENT;
	m->event = ev->valuestring;
	m->kind = qmp_event_kind(ev->valuestring);
	m->data = cJSON_GetObjectItemCaseSensitive(m->root, "data");
	if (cJSON_IsNumber(sec) && cJSON_IsNumber(usec)) {
		m->ts_sec = (int64_t)sec->valuedouble;
		m->ts_usec = (int64_t)usec->valuedouble;
	}
	return 1;
}

static int classify(struct qmp_msg *m, char *err, size_t errlen)
{
	const cJSON *v;

	if (!cJSON_IsObject(m->root))
		return proto_error(err, errlen, "message is not an object");
	read_id(m);
	if ((v = cJSON_GetObjectItemCaseSensitive(m->root, "QMP")) && cJSON_IsObject(v)) {
		m->type = QMP_MSG_GREETING;
		m->data = v;
		return 1;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(m->root, "event")) && cJSON_IsString(v))
		return classify_event(m, v);
	if ((v = cJSON_GetObjectItemCaseSensitive(m->root, "return"))) {
		m->type = QMP_MSG_RETURN;
		m->data = v;
		return 1;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(m->root, "error")) && cJSON_IsObject(v)) {
		const cJSON *cls = cJSON_GetObjectItemCaseSensitive(v, "class");
		const cJSON *desc = cJSON_GetObjectItemCaseSensitive(v, "desc");

		m->type = QMP_MSG_ERROR;
		m->err_class = cJSON_IsString(cls) ? cls->valuestring : "GenericError";
		m->err_desc = cJSON_IsString(desc) ? desc->valuestring : "";
		return 1;
	}
	return proto_error(err, errlen, "unrecognised message");
}

int qmp_parser_next(struct qmp_parser *p, struct qmp_msg *msg, char *err, size_t errlen)
{
	int r;

	memset(msg, 0, sizeof(*msg));
	r = scan(p);
	if (r == -EPROTO) {
		consume(p, p->scan);
		return proto_error(err, errlen, "data outside a JSON object");
	}
	if (r == 0) {
		if (p->depth && p->in.len - p->start > QMP_MAX_MESSAGE) {
			consume(p, p->in.len);
			return proto_error(err, errlen, "message too large");
		}
		return 0;
	}
	msg->root = cJSON_ParseWithLength(p->in.data + p->start, p->scan - p->start);
	consume(p, p->scan);
	if (!msg->root)
		return proto_error(err, errlen, "invalid JSON");
	r = classify(msg, err, errlen);
	if (r < 0)
		qmp_msg_free(msg);
	return r;
}

void qmp_msg_free(struct qmp_msg *msg)
{
	cJSON_Delete(msg->root);
	memset(msg, 0, sizeof(*msg));
}

static const struct {
	enum qmp_event kind;
	const char *name;
} events[] = {
	{ QMP_EV_SHUTDOWN, "SHUTDOWN" },     { QMP_EV_POWERDOWN, "POWERDOWN" },
	{ QMP_EV_RESET, "RESET" },	     { QMP_EV_STOP, "STOP" },
	{ QMP_EV_RESUME, "RESUME" },	     { QMP_EV_SUSPEND, "SUSPEND" },
	{ QMP_EV_WAKEUP, "WAKEUP" },	     { QMP_EV_GUEST_PANICKED, "GUEST_PANICKED" },
	{ QMP_EV_BLOCK_IO_ERROR, "BLOCK_IO_ERROR" },
};

enum qmp_event qmp_event_kind(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(events); i++)
		if (strcmp(events[i].name, name) == 0)
			return events[i].kind;
	return QMP_EV_OTHER;
}

const char *qmp_event_name(enum qmp_event kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(events); i++)
		if (events[i].kind == kind)
			return events[i].name;
	return "OTHER";
}

char *qmp_encode_command(const char *cmd, const cJSON *args, uint64_t id)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL, *line = NULL;

	if (!o || !cJSON_AddStringToObject(o, "execute", cmd))
		goto out_delete;
	if (args && !cJSON_AddItemToObject(o, "arguments", cJSON_Duplicate(args, 1)))
		goto out_delete;
	if (!cJSON_AddNumberToObject(o, "id", (double)id))
		goto out_delete;
	text = cJSON_PrintUnformatted(o);
	if (text && asprintf(&line, "%s\r\n", text) < 0)
		line = NULL;
	free(text);
out_delete:
	cJSON_Delete(o);
	return line;
}
