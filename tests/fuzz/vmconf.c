/* libFuzzer target for hv/vmconf*.c: arbitrary config text is parsed,
 * every key checked (and its typed view taken), and the canonical text must
 * survive a round trip unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hv/vmconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_keys(const struct vmconf *c)
{
	char err[512], *canon;
	struct vmconf_drive d;
	struct vmconf_net n;

	for (size_t i = 0; i < vmconf_count(c); i++) {
		const char *k = vmconf_key_at(c, i), *v = vmconf_value_at(c, i);

		if (vmconf_check(k, v, &canon, err, sizeof(err)) == 0)
			free(canon);
		if (vmconf_drive_parse(k, v, &d, err, sizeof(err)) == 0)
			free(vmconf_drive_format(&d));
		if (vmconf_net_parse(k, v, &n, err, sizeof(err)) == 0)
			free(vmconf_net_format(&n));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[256], keys[16][16];
	struct vmconf *c = NULL, *back = NULL;
	struct vmconf_errors errs = { .n = 0 };
	char *t1, *t2;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (vmconf_from_text(text, &c, err, sizeof(err)) == 0) {
		check_keys(c);
		vmconf_validate(c, &errs);
		vmconf_boot_order(c, keys, 16);
		t1 = vmconf_to_text(c);
		if (t1 && vmconf_from_text(t1, &back, err, sizeof(err)) == 0) {
			t2 = vmconf_to_text(back);
			if (t2 && strcmp(t1, t2) != 0)
				abort(); /* the canonical text must be a fixed point */
			free(t2);
			vmconf_free(back);
		}
		free(t1);
		vmconf_free(c);
	}
	free(text);
	return 0;
}
