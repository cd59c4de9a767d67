/* Tests for server/cluster_rec.c: node records, hybrid logical clocks, join
 * parameter checks and the cluster state file. */
#include "server/cluster_rec.h"
#include "tests/unit/test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FP "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"

static void test_record_round_trip(void)
{
	struct cluster_rec r = { .load = 1.25, .mem = 1ULL << 33, .maxmem = 1ULL << 34, .cpus = 8,
				 .uptime = 99, .inv_epoch = 1764100000, .inv_ver = 42,
				 .vm_count = 500, .acc_hlc = 0xFFFFFFFFFFFF1234ULL,
				 .joined = 1764100000123ULL, .time = 7 },
			  back;
	char text[1024];
	int len;

	strcpy(r.cluster, "prod");
	strcpy(r.api, "[fe80::1]:8006");
	strcpy(r.fp, FP);
	strcpy(r.version, "0.1.0");
	len = cluster_rec_encode(&r, text, sizeof(text));
	CHECK(len > 0 && len < 400);
	CHECK_INT(cluster_rec_decode(text, (size_t)len, &back), 0);
	CHECK_STR(back.cluster, "prod");
	CHECK_STR(back.api, "[fe80::1]:8006");
	CHECK_STR(back.fp, FP);
	CHECK(back.load > 1.24 && back.load < 1.26);
	CHECK(back.mem == r.mem && back.maxmem == r.maxmem);
	CHECK_INT(back.cpus, 8);
	CHECK(back.inv_epoch == r.inv_epoch && back.inv_ver == 42);
	CHECK_INT(back.vm_count, 500);
	CHECK(back.joined == r.joined);
	/* 64-bit clocks survive (they travel as text, not as doubles). */
	CHECK(back.acc_hlc == r.acc_hlc);
}

static void test_record_rejects(void)
{
	struct cluster_rec r;
	char small[16];

	memset(&r, 0, sizeof(r));
	CHECK_INT(cluster_rec_decode("[1,2]", 5, &r), -EBADMSG);
	CHECK_INT(cluster_rec_decode("{\"a\":", 5, &r), -EBADMSG);
	CHECK_INT(cluster_rec_encode(&r, small, sizeof(small)), -ENOSPC);
	/* Unknown or missing fields are fine: a newer node may add some. */
	CHECK_INT(cluster_rec_decode("{\"zz\":1,\"n\":4}", 14, &r), 0);
	CHECK_INT(r.cpus, 4);
}

static void test_hlc(void)
{
	uint64_t st = 0, a, b, c;

	a = cluster_hlc_tick(&st, 1000);
	CHECK(a == CLUSTER_HLC(1000, 0));
	b = cluster_hlc_tick(&st, 1000); /* same millisecond: counter */
	CHECK(b == a + 1);
	c = cluster_hlc_tick(&st, 900); /* wall clock stepped back: never goes back */
	CHECK(c > b);
	/* A remote stamp ahead of us pulls the clock forward. */
	c = cluster_hlc_recv(&st, CLUSTER_HLC(5000, 7), 1000);
	CHECK(c == CLUSTER_HLC(5000, 8));
	CHECK(cluster_hlc_tick(&st, 1000) > c);
	CHECK(CLUSTER_HLC_MS(c) == 5000);
	/* Wall clock far ahead wins over old remote stamps. */
	CHECK(cluster_hlc_recv(&st, CLUSTER_HLC(10, 0), 9000) == CLUSTER_HLC(9000, 0));
}

static void test_hostport(void)
{
	char h[80];
	uint16_t p;

	CHECK_INT(cluster_parse_hostport("10.0.0.1", 8006, h, sizeof(h), &p), 0);
	CHECK_STR(h, "10.0.0.1");
	CHECK_INT(p, 8006);
	CHECK_INT(cluster_parse_hostport("node1.example:443", 8006, h, sizeof(h), &p), 0);
	CHECK_STR(h, "node1.example");
	CHECK_INT(p, 443);
	CHECK_INT(cluster_parse_hostport("[fe80::1]:9000", 8006, h, sizeof(h), &p), 0);
	CHECK_STR(h, "fe80::1");
	CHECK_INT(p, 9000);
	CHECK_INT(cluster_parse_hostport("fe80::2", 8006, h, sizeof(h), &p), 0);
	CHECK_STR(h, "fe80::2");
	CHECK_INT(p, 8006);
	CHECK_INT(cluster_parse_hostport("", 8006, h, sizeof(h), &p), -EINVAL);
	CHECK_INT(cluster_parse_hostport("a:0", 8006, h, sizeof(h), &p), -EINVAL);
	CHECK_INT(cluster_parse_hostport("a:65536", 8006, h, sizeof(h), &p), -EINVAL);
	CHECK_INT(cluster_parse_hostport("a:+1", 8006, h, sizeof(h), &p), -EINVAL);
	CHECK_INT(cluster_parse_hostport("bad host", 8006, h, sizeof(h), &p), -EINVAL);
	CHECK_INT(cluster_parse_hostport("a/b", 8006, h, sizeof(h), &p), -EINVAL);
	CHECK_INT(cluster_parse_hostport("[::1", 8006, h, sizeof(h), &p), -EINVAL);
	CHECK_INT(cluster_parse_hostport("[::1]x", 8006, h, sizeof(h), &p), -EINVAL);
	CHECK_INT(cluster_parse_hostport("h;rm -rf /", 8006, h, sizeof(h), &p), -EINVAL);
}

static void test_names_and_fingerprints(void)
{
	char fp[CLUSTER_FP_LEN];

	CHECK(cluster_name_valid("prod-1"));
	CHECK(cluster_name_valid("a"));
	CHECK(!cluster_name_valid(""));
	CHECK(!cluster_name_valid("-lead"));
	CHECK(!cluster_name_valid("sixteen-chars-xx"));
	CHECK(!cluster_name_valid("under_score"));
	CHECK_INT(cluster_fp_normalize(FP, fp), 0);
	CHECK_STR(fp, FP);
	CHECK_INT(cluster_fp_normalize("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
				       fp),
		  0);
	CHECK_STR(fp, FP);
	CHECK_INT(cluster_fp_normalize("AB:CD", fp), -EINVAL);
	CHECK_INT(cluster_fp_normalize(FP ":00", fp), -EINVAL);
	CHECK_INT(cluster_fp_normalize("zz", fp), -EINVAL);
	CHECK_INT(cluster_fp_normalize("A:BCD", fp), -EINVAL);
}

static void test_key_hex(void)
{
	uint8_t key[32], back[32];
	char hex[CLUSTER_KEY_HEX];

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 7 + 3);
	cluster_key_to_hex(key, hex);
	CHECK_INT((int)strlen(hex), 64);
	CHECK_INT(cluster_key_from_hex(hex, back), 0);
	CHECK(memcmp(key, back, 32) == 0);
	hex[5] = 'g';
	CHECK_INT(cluster_key_from_hex(hex, back), -EINVAL);
	CHECK_INT(cluster_key_from_hex("00", back), -EINVAL);
}

static void test_state_round_trip(void)
{
	struct cluster_state *st = calloc(1, sizeof(*st)), *back = calloc(1, sizeof(*back));
	struct cluster_state_node n = { .name = "n2", .api = "10.0.0.2:8006",
					.gossip = "10.0.0.2:7946", .fp = FP };
	char err[128];
	cJSON *j;
	char *text;

	strcpy(st->name, "prod");
	memset(st->key_hex, 'a', 64);
	CHECK_INT(cluster_state_put_node(st, &n), 0);
	strcpy(n.name, "n1");
	CHECK_INT(cluster_state_put_node(st, &n), 0);
	strcpy(n.api, "10.0.0.9:8006");
	CHECK_INT(cluster_state_put_node(st, &n), 0); /* update in place */
	CHECK_INT((int)st->n_nodes, 2);
	cluster_state_set_removed(st, "n7", 1700000000000ull);
	cluster_state_set_removed(st, "n8", 1);
	cluster_state_set_removed(st, "n7", 1700000000001ull); /* once, the later time */
	cluster_state_set_removed(st, "n8", 0);
	st->joined = 1690000000000ull;
	j = cluster_state_to_json(st);
	text = cJSON_Print(j);
	CHECK_INT(cluster_state_parse(text, back, err, sizeof(err)), 0);
	CHECK_STR(back->name, "prod");
	CHECK_INT((int)back->n_nodes, 2);
	CHECK_STR(cluster_state_find(back, "n1")->api, "10.0.0.9:8006");
	CHECK_INT((int)back->n_removed, 1);
	CHECK(cluster_state_removed_at(back, "n7") == 1700000000001ull);
	CHECK(cluster_state_removed_at(back, "n8") == 0);
	CHECK(back->joined == 1690000000000ull);
	CHECK_INT(cluster_state_del_node(back, "n2"), 0);
	CHECK_INT(cluster_state_del_node(back, "n2"), -ENOENT);
	CHECK(cluster_state_find(back, "n2") == NULL);
	CHECK_STR(back->nodes[0].name, "n1");
	free(text);
	cJSON_Delete(j);
	free(st);
	free(back);
}

static void test_removed_list_bounded(void)
{
	struct cluster_state *st = calloc(1, sizeof(*st));
	char name[16];

	for (int i = 0; i < CLUSTER_REMOVED_MAX + 5; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		cluster_state_set_removed(st, name, (uint64_t)i + 1);
	}
	/* The oldest removals are forgotten first. */
	CHECK_INT((int)st->n_removed, CLUSTER_REMOVED_MAX);
	CHECK(!cluster_state_removed_at(st, "n4") && cluster_state_removed_at(st, "n5") == 6);
	CHECK(cluster_state_removed_at(st, name) == CLUSTER_REMOVED_MAX + 5);
	free(st);
}

static void test_key_rotation(void)
{
	struct cluster_state *st = calloc(1, sizeof(*st)), *back = calloc(1, sizeof(*back));
	char k1[65], k2[65], err[128], *text;
	cJSON *j;

	strcpy(st->name, "prod");
	memset(k1, 'a', 64);
	memset(k2, 'b', 64);
	k1[64] = k2[64] = '\0';
	strcpy(st->key_hex, k1);
	CHECK_INT(cluster_state_key_use(st, k2), -ENOENT);
	CHECK_INT(cluster_state_key_install(st, "B"), -EINVAL);
	k2[0] = 'B'; /* any case */
	CHECK_INT(cluster_state_key_install(st, k2), 0);
	CHECK_INT(cluster_state_key_install(st, k2), 0);
	CHECK_INT((int)st->n_keys, 1);
	CHECK_INT(cluster_state_key_install(st, k1), 0); /* the primary */
	CHECK_INT((int)st->n_keys, 1);
	j = cluster_state_to_json(st);
	text = cJSON_PrintUnformatted(j);
	CHECK_INT(cluster_state_parse(text, back, err, sizeof(err)), 0);
	CHECK_INT((int)back->n_keys, 1);
	free(text);
	cJSON_Delete(j);
	CHECK_INT(cluster_state_key_use(back, k2), 0);
	CHECK(back->key_hex[0] == 'b' && back->keys[0][0] == 'a');
	CHECK_INT(cluster_state_key_remove(back, k2), -EBUSY);
	CHECK_INT(cluster_state_key_remove(back, k1), 0);
	CHECK_INT(cluster_state_key_remove(back, k1), -ENOENT);
	CHECK_INT((int)back->n_keys, 0);
	for (int i = 0; i < CLUSTER_KEYS_MAX; i++) {
		memset(k1, '1' + i, 64);
		CHECK_INT(cluster_state_key_install(back, k1), 0);
	}
	CHECK_INT(cluster_state_key_install(back, st->key_hex), -ENOSPC);
	CHECK_INT(cluster_state_parse("{\"name\":\"x\",\"key\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"keys\":[\"zz\"]}",
				      back, err, sizeof(err)), -EBADMSG);
	free(st);
	free(back);
}

static void test_state_rejects(void)
{
	struct cluster_state *st = calloc(1, sizeof(*st));
	char err[128];

	CHECK_INT(cluster_state_parse("[]", st, err, sizeof(err)), -EBADMSG);
	CHECK_INT(cluster_state_parse("{\"name\":\"x\",\"key\":\"00\"}", st, err, sizeof(err)),
		  -EBADMSG);
	CHECK_INT(cluster_state_parse("{\"name\":\"-x\",\"key\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
				      st, err, sizeof(err)),
		  -EBADMSG);
	CHECK_INT(cluster_state_parse("{\"name\":\"x\",\"key\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
				      "\"nodes\":{\"n\":{\"api\":\"bad host\",\"gossip\":\"1.2.3.4\"}}}",
				      st, err, sizeof(err)),
		  -EBADMSG);
	free(st);
}

static const struct test_case tests[] = {
	{ "record round trip", test_record_round_trip },
	{ "record rejects", test_record_rejects },
	{ "hybrid logical clock", test_hlc },
	{ "host:port parsing", test_hostport },
	{ "cluster names and fingerprints", test_names_and_fingerprints },
	{ "gossip key hex", test_key_hex },
	{ "state round trip", test_state_round_trip },
	{ "removed list bounded", test_removed_list_bounded },
	{ "key rotation", test_key_rotation },
	{ "state rejects", test_state_rejects },
};

TEST_MAIN(tests)
