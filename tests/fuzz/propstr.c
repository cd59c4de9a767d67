/* libFuzzer target for common/propstr.c: byte 0 chooses the default key
 * (none, "file", "model"), the rest is a property string.  Parsed items
 * have valid keys, no duplicates, and every key is found again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/propstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const default_keys[] = { NULL, "file", "model" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct propstr p;
	char err[256], *s;

	if (size < 1)
		return 0;
	s = strndup((const char *)data + 1, size - 1);
	if (!s)
		return 0;
	if (propstr_parse(s, default_keys[data[0] % 3], &p, err, sizeof(err)) == 0) {
		if (p.n > PROPSTR_MAX_ITEMS)
			abort();
		for (size_t i = 0; i < p.n; i++) {
			if (propstr_get(&p, p.items[i].key) != p.items[i].value)
				abort();
			(void)propstr_bool(p.items[i].value);
		}
		propstr_free(&p);
	}
	free(s);
	return 0;
}
