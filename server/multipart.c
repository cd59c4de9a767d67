/* Incremental multipart/form-data parser (see multipart.h).  The body is
 * scanned for the delimiter "\r\n--<boundary>" with memchr on '\r'; since a
 * boundary never holds CR, a partial match at the end of a chunk is just a
 * count of delimiter bytes, replayed as data if the next chunk breaks it. */
#include "server/multipart.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum mp_state { S_PREAMBLE, S_AFTER_BOUNDARY, S_HEADERS, S_BODY, S_DONE };
enum { A_START, A_DASH, A_CR }; /* what follows a delimiter: "--" or CRLF */

struct mp {
	const struct mp_callbacks *cb;
	void *ctx;
	enum mp_state state;
	int after;			 /* A_* while in S_AFTER_BOUNDARY */
	char delim[MP_BOUNDARY_MAX + 5]; /* "\r\n--" + boundary */
	size_t dlen, k;			 /* delimiter length, bytes of it matched */
	char hdr[MP_HEADERS_MAX];
	size_t hlen;
};

/* RFC 2046 bchars, space allowed but not last. */
static int boundary_ok(const char *b, size_t n)
{
	static const char extra[] = "'()+_,-./:=? ";

	if (n == 0 || n > MP_BOUNDARY_MAX || b[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c && strchr(extra, c))))
			return 0;
	}
	return 1;
}

/* The value of parameter NAME in "type; a=1; name=\"v\"" into OUT. */
static int header_param(const char *s, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name), o = 0;

	for (const char *p = strchr(s, ';'); p; p = strchr(p + 1, ';')) {
		const char *v = p + 1;

		while (*v == ' ' || *v == '\t')
			v++;
		if (strncasecmp(v, name, nl) != 0 || v[nl] != '=')
			continue;
		v += nl + 1;
		if (*v == '"') {
			for (v++; *v && *v != '"' && o + 1 < n; v++) {
				if (*v == '\\' && v[1])
					v++;
				out[o++] = *v;
			}
			if (*v != '"') {
				out[0] = '\0';
				return -EINVAL; /* unterminated, or longer than OUT */
			}
		} else {
			for (; *v && *v != ';' && *v != ' ' && *v != '\t' && o + 1 < n; v++)
				out[o++] = *v;
			if (*v && *v != ';' && *v != ' ' && *v != '\t') {
				out[0] = '\0';
				return -EINVAL; /* longer than OUT */
			}
		}
		out[o] = '\0';
		return 0;
	}
	return -ENOENT;
}

int mp_new(const char *content_type, const struct mp_callbacks *cb, void *ctx, struct mp **out,
	   char *err, size_t errlen)
{
	static const char type[] = "multipart/form-data";
	char boundary[MP_BOUNDARY_MAX + 2];
	struct mp *m;

	if (!content_type || strncasecmp(content_type, type, sizeof(type) - 1) != 0 ||
	    header_param(content_type, "boundary", boundary, sizeof(boundary)) < 0 ||
	    !boundary_ok(boundary, strlen(boundary))) {
		snprintf(err, errlen, "expected multipart/form-data with a valid boundary");
		return -EINVAL;
	}
	if (!(m = calloc(1, sizeof(*m))))
		return -ENOMEM;
	m->cb = cb;
	m->ctx = ctx;
	m->dlen = (size_t)snprintf(m->delim, sizeof(m->delim), "\r\n--%s", boundary);
	m->k = 2; /* the body opens with "--boundary": its CRLF counts as seen */
	*out = m;
	return 0;
}

void mp_free(struct mp *m)
{
	free(m);
}

static int emit(struct mp *m, const char *data, size_t len)
{
	if (m->state != S_BODY || len == 0)
		return 0;
	return m->cb->part_data(m->ctx, data, len);
}

/* The delimiter was matched: the open part (if any) ends. */
static int at_delimiter(struct mp *m)
{
	int was_body = m->state == S_BODY;

	m->state = S_AFTER_BOUNDARY;
	m->after = A_START;
	m->k = 0;
	return was_body ? m->cb->part_end(m->ctx) : 0;
}

/* Body or preamble bytes: data up to the delimiter.  *USED gets the bytes
 * consumed. */
static int scan(struct mp *m, const char *data, size_t len, size_t *used)
{
	size_t i = 0, start;
	int r;

	while (m->k > 0 && i < len) {
		if (data[i] == m->delim[m->k]) {
			i++;
			if (++m->k == m->dlen) {
				*used = i;
				return at_delimiter(m);
			}
			continue;
		}
		if ((r = emit(m, m->delim, m->k)) < 0)
			return r;
		m->k = 0;
	}
	for (start = i; i < len;) {
		const char *cr = memchr(data + i, '\r', len - i);
		size_t pos, cmp;

		if (!cr)
			break;
		pos = (size_t)(cr - data);
		cmp = len - pos < m->dlen ? len - pos : m->dlen;
		if (memcmp(cr, m->delim, cmp) == 0) {
			if ((r = emit(m, data + start, pos - start)) < 0)
				return r;
			*used = pos + cmp;
			if (cmp == m->dlen)
				return at_delimiter(m);
			m->k = cmp;
			return 0;
		}
		i = pos + 1;
	}
	*used = len;
	return emit(m, data + start, len - start);
}

/* After a delimiter: "--" closes the body, optional blanks then CRLF open
 * the next part's headers. */
static int after_boundary(struct mp *m, char c, char *err, size_t errlen)
{
	if (m->after == A_START && c == '-')
		m->after = A_DASH;
	else if (m->after == A_DASH && c == '-')
		m->state = S_DONE;
	else if (m->after == A_START && (c == ' ' || c == '\t'))
		return 0;
	else if (m->after == A_START && c == '\r')
		m->after = A_CR;
	else if (m->after == A_CR && c == '\n') {
		m->state = S_HEADERS;
		m->hlen = 0;
	} else {
		snprintf(err, errlen, "malformed multipart body after a boundary");
		return -EINVAL;
	}
	return 0;
}

/* One "Name: value" line of a part's headers into PART. */
static int header_line(const char *line, struct mp_part *part)
{
	const char *v = strchr(line, ':');
	const char *slash;
	int r;

	if (!v)
		return -EINVAL;
	for (v++; *v == ' ' || *v == '\t'; v++)
		;
	if (strncasecmp(line, "Content-Type:", 13) == 0) {
		snprintf(part->content_type, sizeof(part->content_type), "%s", v);
		return 0;
	}
	if (strncasecmp(line, "Content-Disposition:", 20) != 0)
		return 0;
	if (strncasecmp(v, "form-data", 9) != 0 ||
	    header_param(v, "name", part->name, sizeof(part->name)) < 0)
		return -EINVAL;
	r = header_param(v, "filename", part->filename, sizeof(part->filename));
	if (r == -EINVAL)
		return r;
	if (r == 0) {
		part->has_filename = 1;
		/* browsers of old sent the client's full path */
		slash = strrchr(part->filename, '/');
		if (!slash ||
		    (strrchr(part->filename, '\\') && strrchr(part->filename, '\\') > slash))
			slash = strrchr(part->filename, '\\');
		if (slash)
			memmove(part->filename, slash + 1, strlen(slash + 1) + 1);
	}
	return 0;
}

/* The header block in m->hdr is complete (ends in CRLF CRLF, or is CRLF). */
static int headers_done(struct mp *m, char *err, size_t errlen)
{
	struct mp_part part;
	char *line, *save = NULL;

	memset(&part, 0, sizeof(part));
	m->hdr[m->hlen] = '\0';
	for (line = strtok_r(m->hdr, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		if (header_line(line, &part) < 0) {
			snprintf(err, errlen, "malformed multipart part header");
			return -EINVAL;
		}
	}
	if (!part.name[0]) {
		snprintf(err, errlen, "multipart part without a form-data name");
		return -EINVAL;
	}
	m->state = S_BODY;
	m->k = 0;
	return m->cb->part_begin(m->ctx, &part);
}

static int header_byte(struct mp *m, char c, char *err, size_t errlen)
{
	if (m->hlen + 1 >= sizeof(m->hdr)) {
		snprintf(err, errlen, "multipart part headers too long");
		return -EINVAL;
	}
	m->hdr[m->hlen++] = c;
	if ((m->hlen == 2 && memcmp(m->hdr, "\r\n", 2) == 0) ||
	    (m->hlen >= 4 && memcmp(m->hdr + m->hlen - 4, "\r\n\r\n", 4) == 0))
		return headers_done(m, err, errlen);
	return 0;
}

int mp_feed(struct mp *m, const char *data, size_t len, char *err, size_t errlen)
{
	size_t i = 0, used = 0;
	int r = 0;

	while (i < len && r == 0) {
		switch (m->state) {
		case S_PREAMBLE:
		case S_BODY:
			r = scan(m, data + i, len - i, &used);
			i += used;
			break;
		case S_AFTER_BOUNDARY:
			r = after_boundary(m, data[i++], err, errlen);
			break;
		case S_HEADERS:
			r = header_byte(m, data[i++], err, errlen);
			break;
		case S_DONE:
			return 0; /* the epilogue is ignored */
		}
	}
	return r;
}

int mp_finish(struct mp *m, char *err, size_t errlen)
{
	if (m->state == S_DONE)
		return 0;
	snprintf(err, errlen,
		 "truncated upload: the multipart body ended before its closing boundary");
	return -EINVAL;
}
