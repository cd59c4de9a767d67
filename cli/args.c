/* Command-line words and form encoding for corral (see args.h). */
#include "cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct opt_spec *find_opt(const struct opt_spec *known, const char *name, size_t len)
{
	for (; known && known->name; known++)
		if (strlen(known->name) == len && strncmp(known->name, name, len) == 0)
			return known;
	return NULL;
}

static int add_pair(struct param *list, size_t *n, const char *key, size_t keylen,
		    const char *value, char *err, size_t errlen)
{
	if (*n >= ARGS_MAX_PARAMS) {
		snprintf(err, errlen, "too many options (at most %d)", ARGS_MAX_PARAMS);
		return -EINVAL;
	}
	list[*n].key = key;
	list[*n].keylen = keylen;
	list[*n].value = value;
	(*n)++;
	return 0;
}

/* Handles argv[*i], which starts with "--"; may consume the next word. */
static int parse_option(int argc, char **argv, int *i, const struct opt_spec *known,
			struct args *out, char *err, size_t errlen)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct opt_spec *o = find_opt(known, name, len);
	const char *value = eq ? eq + 1 : NULL;

	if (len == 0) {
		snprintf(err, errlen, "empty option name in '%s'", argv[*i]);
		return -EINVAL;
	}
	if (o && !o->takes_value) {
		if (eq) {
			snprintf(err, errlen, "option --%s takes no value", o->name);
			return -EINVAL;
		}
		return add_pair(out->opts, &out->nopts, o->name, len, "1", err, errlen);
	}
	if (!value) {
		if (*i + 1 >= argc) {
			snprintf(err, errlen, "option --%.*s needs a value", (int)len, name);
			return -EINVAL;
		}
		value = argv[++*i];
	}
	if (o)
		return add_pair(out->opts, &out->nopts, o->name, len, value, err, errlen);
	return add_pair(out->params, &out->nparams, name, len, value, err, errlen);
}

int args_parse(int argc, char **argv, const struct opt_spec *known, struct args *out, char *err,
	       size_t errlen)
{
	int only_pos = 0;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < argc; i++) {
		int r;

		if (!only_pos && strcmp(argv[i], "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (!only_pos && strncmp(argv[i], "--", 2) == 0) {
			r = parse_option(argc, argv, &i, known, out, err, errlen);
			if (r < 0)
				return r;
			continue;
		}
		if (out->npos >= ARGS_MAX_POS) {
			snprintf(err, errlen, "unexpected argument '%s'", argv[i]);
			return -EINVAL;
		}
		out->pos[out->npos++] = argv[i];
	}
	return 0;
}

const char *args_opt(const struct args *a, const char *name)
{
	const char *v = NULL;

	for (size_t i = 0; i < a->nopts; i++)
		if (strcmp(a->opts[i].key, name) == 0)
			v = a->opts[i].value;
	return v;
}

static int encode(const char *s, size_t len, const char *keep, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const char *end = s + len; s < end; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
		int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || (c && strchr("-._~", c)) ||
			    (c && strchr(keep, c));
		int r = plain ? buf_append(out, s, 1) : buf_append(out, esc, 3);

		if (r < 0)
			return r;
	}
	return 0;
}

int args_encode(const struct param *p, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		int r = 0;

		if (i > 0)
			r = buf_append(out, "&", 1);
		if (!r)
			r = encode(p[i].key, p[i].keylen, "", out);
		if (!r)
			r = buf_append(out, "=", 1);
		if (!r)
			r = encode(p[i].value, strlen(p[i].value), "", out);
		if (r < 0)
			return r;
	}
	/* An empty list still leaves a valid (empty) string behind. */
	return buf_append(out, "", 0);
}

int args_encode_path(const char *s, struct buf *out)
{
	int r = encode(s, strlen(s), "/:@!", out);

	return r < 0 ? r : buf_append(out, "", 0);
}
