/* libFuzzer target for server/api_qemu_snapshot_tree.c.  Byte 0 picks:
 * resize's size argument (NUL-cut text, the current size from the next 8
 * bytes: an accepted size is sector-aligned and never below it), or a
 * script of tree operations (add, remove, roll back to a snapshot named by
 * a byte) whose parent links must stay inside the tree and acyclic. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/api_qemu_snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run_size(const uint8_t *d, size_t n)
{
	uint64_t cur = 0, out;
	char text[64], err[128];

	if (n < 8)
		return;
	memcpy(&cur, d, 8);
	cur &= (1ull << 62) - 1;
	n = n - 8 < sizeof(text) - 1 ? n - 8 : sizeof(text) - 1;
	memcpy(text, d + 8, n);
	text[n] = '\0';
	if (qsnap_parse_size(text, cur, &out, err, sizeof(err)) == 0 && (out % 512 || out < cur))
		abort();
}

/* Every parent names an existing snapshot and following parents ends. */
static void check_tree(const cJSON *snaps)
{
	const cJSON *it;
	const char *p = qsnap_parent(snaps);
	int steps = 0;

	for (; p[0]; steps++) {
		const cJSON *s = qsnap_get(snaps, p);

		if (!s || steps > 64)
			abort();
		p = cJSON_GetStringValue(cJSON_GetObjectItem(s, "parent"));
		p = p ? p : "";
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(snaps, "list"))
	{
		const char *q = cJSON_GetStringValue(cJSON_GetObjectItem(it, "parent"));

		if (q && !qsnap_get(snaps, q))
			abort();
	}
}

static void run_tree(const uint8_t *d, size_t n)
{
	struct vmconf *c = vmconf_new();
	cJSON *snaps = NULL, *l;
	char name[8];

	vmconf_set(c, "memory", "512");
	for (size_t i = 0; i + 1 < n && i < 128; i += 2) {
		snprintf(name, sizeof(name), "s%u", d[i + 1] % 16);
		if (d[i] % 3 == 0)
			qsnap_add(&snaps, name, c, (time_t)i, NULL, NULL);
		else if (d[i] % 3 == 1 && snaps)
			qsnap_remove(snaps, name);
		else if (snaps)
			qsnap_set_current(snaps, name);
		if (snaps)
			check_tree(snaps);
	}
	l = qsnap_list(snaps, "d", 0);
	if (!l || cJSON_GetArraySize(l) < 1)
		abort();
	cJSON_Delete(l);
	cJSON_Delete(snaps);
	vmconf_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		run_size(data + 1, size - 1);
	else
		run_tree(data + 1, size - 1);
	return 0;
}
