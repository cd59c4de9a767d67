/* libFuzzer target for server/upid.c: any bytes through upid_parse(); an
 * accepted UPID must format back and parse to the same fields. */
#include "server/tasks.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const struct upid *a, const struct upid *b)
{
	return strcmp(a->node, b->node) == 0 && a->pid == b->pid && a->pstart == b->pstart &&
	       a->starttime == b->starttime && strcmp(a->type, b->type) == 0 &&
	       strcmp(a->id, b->id) == 0 && strcmp(a->user, b->user) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), out[UPID_MAX];
	struct upid u, back;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (upid_parse(s, &u) == 0) {
		if (upid_format(&u, out, sizeof(out)) != 0 || upid_parse(out, &back) != 0 ||
		    !same(&u, &back))
			abort();
		/* Shortest hex widths: the canonical form is never longer. */
		if (strlen(out) > strlen(s))
			abort();
	}
	free(s);
	return 0;
}
