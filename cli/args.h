/* Command-line words for corral: splits argv into positionals, the options a
 * verb knows and free "--key value" API parameters, and encodes parameters as
 * application/x-www-form-urlencoded text (body or query string).  Pure. */
#ifndef CORRAL_CLI_ARGS_H
#define CORRAL_CLI_ARGS_H

#include <stddef.h>

#include "common/buf.h"

#define ARGS_MAX_POS 8
#define ARGS_MAX_PARAMS 128

/* An option a verb understands; a NULL name ends a list. */
struct opt_spec {
	const char *name;  /* without the leading "--" */
	int takes_value;   /* 0: a flag ("--password-stdin") */
};

struct param {
	const char *key;   /* points into argv or the spec; KEYLEN bytes long */
	size_t keylen;
	const char *value; /* points into argv */
};

struct args {
	const char *pos[ARGS_MAX_POS];
	size_t npos;
	/* Known options in argv order; a flag has value "1". */
	struct param opts[ARGS_MAX_PARAMS];
	size_t nopts;
	/* Everything else spelled "--key value" or "--key=value". */
	struct param params[ARGS_MAX_PARAMS];
	size_t nparams;
};

/* Parses ARGV[0..ARGC).  "--" ends option parsing.  Returns 0, or -EINVAL
 * with the reason in ERR (missing value, too many words). */
int args_parse(int argc, char **argv, const struct opt_spec *known, struct args *out, char *err,
	       size_t errlen);
/* The last value given for option NAME, or NULL. */
const char *args_opt(const struct args *a, const char *name);
/* Appends "k=v&k2=v2" with every byte outside [A-Za-z0-9._~-] percent-encoded.
 * A repeated key is repeated, which Proxmox reads as an array.  0 or -ENOMEM. */
int args_encode(const struct param *p, size_t n, struct buf *out);
/* Percent-encodes S for use in a URL path (keeps '/' and the characters
 * Proxmox paths use raw: ':' '@' '!').  0 or -ENOMEM. */
int args_encode_path(const char *s, struct buf *out);

#endif
