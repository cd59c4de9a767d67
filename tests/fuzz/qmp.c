/* libFuzzer target for hv/qmp.c: arbitrary bytes, fed in chunks whose size
 * comes from the first byte, must never crash or leak the parser. */
#include <stddef.h>
#include <stdint.h>

#include "hv/qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmp_parser *p = qmp_parser_new();
	size_t chunk = size ? (size_t)data[0] % 64 + 1 : 1;
	struct qmp_msg m;
	char err[128];

	if (!p)
		return 0;
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		int r;

		if (qmp_parser_feed(p, data + off, n) < 0)
			break;
		while ((r = qmp_parser_next(p, &m, err, sizeof(err))) != 0) {
			if (r > 0) {
				(void)qmp_event_kind(m.event ? m.event : "");
				qmp_msg_free(&m);
			}
		}
	}
	qmp_parser_free(p);
	return 0;
}
