/* Tests for cluster/swim_proto.c: round trips, truncation at every length,
 * versions, caps and the compound packet budget. */
#include "cluster/swim_proto.h"
#include "tests/unit/test.h"

#include <errno.h>
#include <stdlib.h>

static struct swim_msg sample(uint8_t type)
{
	static const uint8_t data[] = "node record";
	struct swim_msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.seq = 0xdeadbeef;
	m.incarnation = 77;
	m.want_nack = type == SWIM_MSG_PING_REQ;
	swim_name_set(&m.node, "pve-target");
	swim_name_set(&m.from, "pve-source");
	swim_addr_parse("10.1.2.3:7946", &m.addr);
	swim_addr_parse("[fe80::1]:7000", &m.src);
	swim_name_set(&m.state.node, "pve-target");
	m.state.version = 1ULL << 40;
	m.state.len = sizeof(data);
	m.state.data = data;
	return m;
}

static void test_roundtrip_every_type(void)
{
	static const uint8_t types[] = { SWIM_MSG_PING, SWIM_MSG_PING_REQ, SWIM_MSG_ACK,
					 SWIM_MSG_NACK, SWIM_MSG_SUSPECT, SWIM_MSG_ALIVE,
					 SWIM_MSG_DEAD, SWIM_MSG_STATE };
	uint8_t buf[2048];

	for (size_t i = 0; i < sizeof(types); i++) {
		struct swim_msg m = sample(types[i]), d;
		int n = swim_msg_encode(&m, buf, sizeof(buf));

		CHECK(n > 1);
		CHECK_INT(swim_msg_decode(buf, (size_t)n, &d), 0);
		CHECK_INT(d.type, types[i]);
		/* Every strict prefix and one extra byte are refused. */
		for (int cut = 0; cut < n; cut++)
			CHECK_INT(swim_msg_decode(buf, (size_t)cut, &d), -EBADMSG);
		CHECK_INT(swim_msg_decode(buf, (size_t)n + 1, &d), -EBADMSG);
		/* A buffer one byte short is refused by the encoder. */
		CHECK_INT(swim_msg_encode(&m, buf, (size_t)n - 1), -ENOSPC);
	}
}

static void test_fields_survive(void)
{
	uint8_t buf[2048];
	struct swim_msg m = sample(SWIM_MSG_PING_REQ), d;
	int n = swim_msg_encode(&m, buf, sizeof(buf));

	CHECK_INT(swim_msg_decode(buf, (size_t)n, &d), 0);
	CHECK(d.seq == 0xdeadbeef);
	CHECK_INT(d.want_nack, 1);
	CHECK_STR(d.node.s, "pve-target");
	CHECK_STR(d.from.s, "pve-source");
	CHECK(swim_addr_eq(&d.addr, &m.addr));
	CHECK(swim_addr_eq(&d.src, &m.src));
	m = sample(SWIM_MSG_STATE);
	n = swim_msg_encode(&m, buf, sizeof(buf));
	CHECK_INT(swim_msg_decode(buf, (size_t)n, &d), 0);
	CHECK(d.state.version == 1ULL << 40);
	CHECK_INT(d.state.len, m.state.len);
	CHECK(memcmp(d.state.data, m.state.data, m.state.len) == 0);
}

static void test_bad_fields_refused(void)
{
	uint8_t buf[4096], big[SWIM_STATE_MAX + 1] = { 0 };
	struct swim_msg m = sample(SWIM_MSG_STATE), d;
	int n;

	m.state.len = sizeof(big);
	m.state.data = big;
	CHECK_INT(swim_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = sample(SWIM_MSG_ALIVE);
	m.addr.family = 5;
	CHECK_INT(swim_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = sample(SWIM_MSG_ALIVE);
	n = swim_msg_encode(&m, buf, sizeof(buf));
	buf[5] = 0; /* name length 0 */
	CHECK_INT(swim_msg_decode(buf, (size_t)n, &d), -EBADMSG);
	buf[5] = 200; /* name longer than SWIM_NAME_MAX */
	CHECK_INT(swim_msg_decode(buf, (size_t)n, &d), -EBADMSG);
	buf[0] = 99; /* unknown type */
	CHECK_INT(swim_msg_decode(buf, (size_t)n, &d), -EBADMSG);
	m.type = SWIM_MSG_COMPOUND;
	CHECK_INT(swim_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
}

static void test_compound_budget(void)
{
	uint8_t pkt[SWIM_PACKET_MAX - 29];
	struct swim_writer w;
	struct swim_reader r;
	struct swim_msg m = sample(SWIM_MSG_SUSPECT), d;
	size_t len;
	int added = 0, seen = 0, rc;

	swim_writer_init(&w, pkt, sizeof(pkt));
	CHECK_INT(swim_writer_finish(&w), 0);
	while (swim_writer_add_msg(&w, &m) == 0)
		added++;
	len = swim_writer_finish(&w);
	CHECK(len <= sizeof(pkt));
	CHECK(added > 10);
	CHECK_INT(swim_reader_init(&r, pkt, len), 0);
	while ((rc = swim_reader_next(&r, &d)) == 1)
		seen++;
	CHECK_INT(rc, 0);
	CHECK_INT(seen, added);
	/* Trailing garbage, a lying count and a wrong version are refused. */
	CHECK_INT(swim_reader_init(&r, pkt, len - 1), 0);
	while ((rc = swim_reader_next(&r, &d)) == 1)
		;
	CHECK_INT(rc, -EBADMSG);
	pkt[2]++;
	CHECK_INT(swim_reader_init(&r, pkt, len), 0);
	while ((rc = swim_reader_next(&r, &d)) == 1)
		;
	CHECK_INT(rc, -EBADMSG);
	pkt[0] = 2;
	CHECK_INT(swim_reader_init(&r, pkt, len), -EPROTONOSUPPORT);
}

static void test_compound_count_cap(void)
{
	static uint8_t pkt[8192];
	struct swim_writer w;
	struct swim_msg m = sample(SWIM_MSG_ACK);
	int added = 0;

	swim_writer_init(&w, pkt, sizeof(pkt));
	while (swim_writer_add_msg(&w, &m) == 0)
		added++;
	CHECK_INT(added, SWIM_COMPOUND_MAX);
}

static void test_pushpull(void)
{
	struct buf out = BUF_INIT;
	struct swim_pp_builder b;
	struct swim_pp_reader r;
	struct swim_pp_entry e = { .incarnation = 3, .status = SWIM_SUSPECT, .state_version = 9 };
	struct swim_state_rec rec = { .version = 5, .len = 3, .data = (const uint8_t *)"abc" };
	int n = 0, rc;

	swim_name_set(&e.node, "n1");
	swim_addr_parse("127.0.0.1:1", &e.addr);
	swim_name_set(&rec.node, "n1");
	CHECK_INT(swim_pp_begin(&b, &out, SWIM_PP_REPLY, 1, "me"), 0);
	for (int i = 0; i < 100; i++)
		CHECK_INT(swim_pp_add_entry(&b, &e), 0);
	CHECK_INT(swim_pp_begin_records(&b), 0);
	CHECK_INT(swim_pp_add_record(&b, &rec), 0);
	CHECK_INT(swim_pp_end(&b), 0);
	CHECK_INT(swim_pp_open(&r, (uint8_t *)out.data, out.len), 0);
	CHECK_INT(r.kind, SWIM_PP_REPLY);
	CHECK_INT(r.join, 1);
	CHECK_STR(r.sender.s, "me");
	while ((rc = swim_pp_next_entry(&r, &e)) == 1)
		n++;
	CHECK_INT(rc, 0);
	CHECK_INT(n, 100);
	CHECK_INT(swim_pp_next_record(&r, &rec), 1);
	CHECK(rec.version == 5 && rec.len == 3 && memcmp(rec.data, "abc", 3) == 0);
	CHECK_INT(swim_pp_next_record(&r, &rec), 0);
	/* A count larger than the bytes can hold is refused before any loop. */
	CHECK_INT(swim_pp_open(&r, (uint8_t *)out.data, 10), -EBADMSG);
	buf_free(&out);
}

static void test_addr_parse(void)
{
	struct swim_addr a;
	char s[64];

	CHECK_INT(swim_addr_parse("0.0.0.0:7946", &a), 0);
	CHECK_INT(a.family, 4);
	CHECK_INT(a.port, 7946);
	CHECK_INT(swim_addr_parse("[::1]:7946", &a), 0);
	CHECK_INT(a.family, 6);
	swim_addr_format(&a, s, sizeof(s));
	CHECK_STR(s, "[::1]:7946");
	CHECK_INT(swim_addr_parse("::1:7946", &a), -EINVAL);
	CHECK_INT(swim_addr_parse("1.2.3.4", &a), -EINVAL);
	CHECK_INT(swim_addr_parse("1.2.3.4:0", &a), -EINVAL);
	CHECK_INT(swim_addr_parse("1.2.3.4:65536", &a), -EINVAL);
	CHECK_INT(swim_addr_parse("host:1", &a), -EINVAL);
}

static const struct test_case tests[] = {
	{ "roundtrip_every_type", test_roundtrip_every_type },
	{ "fields_survive", test_fields_survive },
	{ "bad_fields_refused", test_bad_fields_refused },
	{ "compound_budget", test_compound_budget },
	{ "compound_count_cap", test_compound_count_cap },
	{ "pushpull", test_pushpull },
	{ "addr_parse", test_addr_parse },
};

TEST_MAIN(tests)
