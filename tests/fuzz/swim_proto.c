/* libFuzzer target for cluster/swim_proto.c: any bytes through the packet
 * reader and the push/pull reader; decoded messages must re-encode to the
 * same bytes. */
#include "cluster/swim_proto.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_packet(const uint8_t *data, size_t size)
{
	struct swim_reader r;
	struct swim_msg m;
	uint8_t out[SWIM_PACKET_MAX * 2];
	int n;

	if (swim_reader_init(&r, data, size) < 0)
		return;
	while (swim_reader_next(&r, &m) == 1) {
		n = swim_msg_encode(&m, out, sizeof(out));
		if (n < 0 || (size_t)n > size)
			abort();
	}
}

static void check_pushpull(const uint8_t *data, size_t size)
{
	struct swim_pp_reader r;
	struct swim_pp_entry e;
	struct swim_state_rec rec;

	if (swim_pp_open(&r, data, size) < 0)
		return;
	while (swim_pp_next_entry(&r, &e) == 1)
		if (e.node.len == 0 || e.status > SWIM_LEFT)
			abort();
	while (swim_pp_next_record(&r, &rec) == 1)
		if (rec.len > SWIM_STATE_MAX || (size_t)(rec.data - data) + rec.len > size)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_packet(data, size);
	check_pushpull(data, size);
	return 0;
}
