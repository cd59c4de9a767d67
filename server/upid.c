/* The UPID codec: Proxmox's task identifier
 * "UPID:node:PID:PSTART:STARTTIME:type:id:user:" as pure string functions.
 * Parsing is strict because UPIDs arrive in request paths and name log files. */
#include "server/tasks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define UPID_PREFIX "UPID:"
/* pstart counts clock ticks since boot: 9 hex digits last ~20 years of uptime. */
#define PSTART_MAX 0xFFFFFFFFFULL

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Node names are host names: [A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])? */
static int node_ok(const char *s, size_t len)
{
	if (len == 0 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

/* type, id and user: no ':', no white space or control bytes, and no '/'
 * since the whole UPID is a file name. */
static int word_ok(const char *s, size_t len, int may_be_empty)
{
	if (len == 0)
		return may_be_empty;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == 0x7f || c == ':' || c == '/')
			return 0;
	}
	return 1;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1; /* lowercase is refused: Corral and Proxmox always print uppercase */
}

static int parse_hex(const char *s, size_t len, size_t min, size_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len < min || len > max)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int d = hex_digit(s[i]);
		if (d < 0)
			return -EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

static int copy_field(char *dst, size_t n, const char *s, size_t len)
{
	if (len >= n)
		return -EINVAL;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

/* Splits the text after "UPID:" at ':' into exactly 7 fields, the last one
 * followed by the trailing ':' and nothing else. */
static int split_fields(const char *s, const char *field[7], size_t len[7])
{
	for (int i = 0; i < 7; i++) {
		const char *colon = strchr(s, ':');
		if (!colon)
			return -EINVAL;
		field[i] = s;
		len[i] = (size_t)(colon - s);
		s = colon + 1;
	}
	return *s == '\0' ? 0 : -EINVAL;
}

static int parse_numbers(const char *const f[7], const size_t len[7], struct upid *u)
{
	uint64_t pid, start;

	if (parse_hex(f[1], len[1], 8, 8, &pid) || parse_hex(f[2], len[2], 8, 9, &u->pstart) ||
	    parse_hex(f[3], len[3], 8, 8, &start))
		return -EINVAL;
	u->pid = (uint32_t)pid;
	u->starttime = (uint32_t)start;
	return 0;
}

int upid_parse(const char *s, struct upid *out)
{
	const char *f[7];
	size_t len[7];
	struct upid u;

	if (!s || strncmp(s, UPID_PREFIX, strlen(UPID_PREFIX)) != 0 || strlen(s) >= UPID_MAX ||
	    split_fields(s + strlen(UPID_PREFIX), f, len))
		return -EINVAL;
	memset(&u, 0, sizeof(u));
	if (!node_ok(f[0], len[0]) || !word_ok(f[4], len[4], 0) || !word_ok(f[5], len[5], 1) ||
	    !word_ok(f[6], len[6], 0) || parse_numbers(f, len, &u))
		return -EINVAL;
	if (copy_field(u.node, sizeof(u.node), f[0], len[0]) ||
	    copy_field(u.type, sizeof(u.type), f[4], len[4]) ||
	    copy_field(u.id, sizeof(u.id), f[5], len[5]) ||
	    copy_field(u.user, sizeof(u.user), f[6], len[6]))
		return -EINVAL;
	*out = u;
	return 0;
}

static int upid_valid(const struct upid *u)
{
	return node_ok(u->node, strnlen(u->node, sizeof(u->node))) &&
	       word_ok(u->type, strnlen(u->type, sizeof(u->type)), 0) &&
	       word_ok(u->id, strnlen(u->id, sizeof(u->id)), 1) &&
	       word_ok(u->user, strnlen(u->user, sizeof(u->user)), 0) &&
	       memchr(u->node, '\0', sizeof(u->node)) && memchr(u->type, '\0', sizeof(u->type)) &&
	       memchr(u->id, '\0', sizeof(u->id)) && memchr(u->user, '\0', sizeof(u->user)) &&
	       u->pstart <= PSTART_MAX;
}

int upid_format(const struct upid *u, char *out, size_t n)
{
	int len;

	if (!upid_valid(u))
		return -EINVAL;
	len = snprintf(out, n, UPID_PREFIX "%s:%08" PRIX32 ":%08" PRIX64 ":%08" PRIX32 ":%s:%s:%s:",
		       u->node, u->pid, u->pstart, u->starttime, u->type, u->id, u->user);
	if (len < 0 || (size_t)len >= n || (size_t)len >= UPID_MAX)
		return -EINVAL;
	return 0;
}
