/* QEMU Machine Protocol: a pure framing parser (bytes in, classified JSON
 * messages out) and a client over the VM's unix socket.
 *
 * Wire: QEMU sends one JSON object per message, each followed by "\r\n":
 *   {"QMP": {"version": ..., "capabilities": [...]}}          greeting
 *   {"return": <any>, "id": <id>}                              reply
 *   {"error": {"class": "...", "desc": "..."}, "id": <id>}     failed reply
 *   {"event": "SHUTDOWN", "data": {...}, "timestamp": {...}}   event
 * The parser splits on balanced braces outside strings, so it does not rely
 * on the line breaks. */
#ifndef CORRAL_HV_QMP_H
#define CORRAL_HV_QMP_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define QMP_MAX_MESSAGE (4u << 20) /* query-* replies stay far below this */

enum qmp_msg_type {
	QMP_MSG_GREETING,
	QMP_MSG_RETURN,
	QMP_MSG_ERROR,
	QMP_MSG_EVENT,
};

/* Events the supervisor acts on; everything else is QMP_EV_OTHER. */
enum qmp_event {
	QMP_EV_OTHER,
	QMP_EV_SHUTDOWN,
	QMP_EV_POWERDOWN,
	QMP_EV_RESET,
	QMP_EV_STOP,
	QMP_EV_RESUME,
	QMP_EV_SUSPEND,
	QMP_EV_WAKEUP,
	QMP_EV_GUEST_PANICKED,
	QMP_EV_BLOCK_IO_ERROR,
};

struct qmp_msg {
	enum qmp_msg_type type;
	cJSON *root;          /* owned: free with qmp_msg_free() */
	const cJSON *data;    /* return value, event data, greeting body; may be NULL */
	int has_id;
	uint64_t id;          /* numeric ids only: the client sends those */
	const char *event;    /* EVENT: name */
	enum qmp_event kind;  /* EVENT: classified name */
	const char *err_class, *err_desc; /* ERROR */
	int64_t ts_sec, ts_usec;          /* EVENT timestamp, 0 if absent */
};

struct qmp_parser; /* opaque: bytes not yet forming a message */

struct qmp_parser *qmp_parser_new(void);
void qmp_parser_free(struct qmp_parser *p);
/* Appends LEN bytes.  0, -ENOMEM, or -EMSGSIZE when one message would exceed
 * QMP_MAX_MESSAGE. */
int qmp_parser_feed(struct qmp_parser *p, const void *data, size_t len);
/* Takes the next complete message: 1 (MSG filled), 0 (need more bytes), or
 * -EPROTO (ERR says why; the bad message is dropped, parsing can go on). */
int qmp_parser_next(struct qmp_parser *p, struct qmp_msg *msg, char *err, size_t errlen);
void qmp_msg_free(struct qmp_msg *msg);

/* Classifies an event name through a const table. */
enum qmp_event qmp_event_kind(const char *name);
const char *qmp_event_name(enum qmp_event kind);

/* '{"execute":CMD,"arguments":ARGS,"id":ID}\r\n' (ARGS may be NULL, is not
 * consumed).  Caller frees; NULL on -ENOMEM. */
char *qmp_encode_command(const char *cmd, const cJSON *args, uint64_t id);

/* ---- client ----------------------------------------------------------------- */

struct qmp_client;
/* Called for each event, from whichever thread is reading the socket at the
 * time, with the client locked: it must not call back into the client. */
typedef void (*qmp_event_fn)(void *opaque, const struct qmp_msg *ev);

/* Connects to the QMP socket at PATH, reads the greeting and negotiates
 * capabilities, all within TIMEOUT_MS.  0, -ETIMEDOUT, -ECONNREFUSED,
 * -ENOENT, -EPROTO... with ERR. */
int qmp_client_connect(const char *path, int timeout_ms, qmp_event_fn on_event, void *opaque,
		       struct qmp_client **out, char *err, size_t errlen);
/* The same client to the QEMU guest agent behind the unix socket PATH of
 * a VM's agent port: no greeting; a guest-sync-delimited exchange first,
 * within TIMEOUT_MS, skips whatever an earlier client left unread.  A
 * silent agent is -ETIMEDOUT with "QEMU guest agent is not running". */
int qmp_client_connect_agent(const char *path, int timeout_ms, struct qmp_client **out,
			     char *err, size_t errlen);
void qmp_client_free(struct qmp_client *c);
/* Runs CMD with ARGS (may be NULL; not consumed) and waits up to TIMEOUT_MS
 * for its reply; events read meanwhile go to the callback.  On success *RET
 * (if RET) gets the "return" value, which the caller deletes.  A QMP error
 * is CR_EQMP with "class: desc" in ERR; a closed socket -EPIPE. Thread-safe. */
int qmp_client_execute(struct qmp_client *c, const char *cmd, const cJSON *args,
		       int timeout_ms, cJSON **ret, char *err, size_t errlen);
/* Sends CMD without waiting for a reply: the agent's guest-shutdown and
 * guest-suspend-* answer nothing when they succeed. */
int qmp_client_send(struct qmp_client *c, const char *cmd, const cJSON *args, int timeout_ms,
		    char *err, size_t errlen);
/* QEMU's version from the greeting, "7.2.22". */
const char *qmp_client_version(const struct qmp_client *c);
/* The socket, for poll(); readable means events (or EOF) are waiting. */
int qmp_client_fd(const struct qmp_client *c);
/* Reads what is available without blocking and dispatches events.  0, or
 * -EPIPE once QEMU closed the socket. */
int qmp_client_pump(struct qmp_client *c);

#endif
