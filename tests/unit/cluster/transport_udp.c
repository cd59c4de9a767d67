/* Smoke tests of the real transport (cluster/transport_udp.c) and the gossip
 * thread (cluster/swim_loop.c): encrypted instances on loopback converge,
 * spread records, detect a stopped peer and ignore a wrong-key intruder.
 * Waits poll a condition with a bound; nothing asserts on elapsed time. */
#include "cluster/keyring.h"
#include "cluster/swim_loop.h"
#include "common/util.h"
#include "tests/unit/test.h"

#include <stdio.h>
#include <unistd.h>

#define WAIT_MS 20000

static void fast(struct swim_config *cfg, const char *name, struct keyring *kr)
{
	swim_config_default(cfg);
	cfg->name = name;
	cfg->keyring = kr;
	cfg->probe_interval_ms = 200;
	cfg->probe_timeout_ms = 100;
	cfg->gossip_interval_ms = 50;
	cfg->push_pull_interval_ms = 2000;
}

static struct swim_loop *start(const char *name, struct keyring *kr, const char *listen)
{
	struct swim_config cfg;
	char err[256];
	struct swim_loop *l;

	fast(&cfg, name, kr);
	l = swim_loop_start(&cfg, listen, err, sizeof(err));
	if (!l)
		fprintf(stderr, "swim_loop_start: %s\n", err);
	CHECK(l != NULL);
	return l;
}

static void join(struct swim_loop *l, struct swim_loop *seed)
{
	struct swim_addr a;

	swim_loop_local_addr(seed, &a);
	CHECK_INT(swim_join(swim_loop_lock(l), &a), 0);
	swim_loop_unlock(l);
}

static int status_of(struct swim_loop *l, const char *name)
{
	struct swim_member_info info;
	int st = -1;

	if (swim_member_get(swim_loop_lock(l), name, &info) == 0)
		st = (int)info.status;
	swim_loop_unlock(l);
	return st;
}

static int alive_count(struct swim_loop *l)
{
	struct swim_stats st;

	swim_get_stats(swim_loop_lock(l), &st);
	swim_loop_unlock(l);
	return (int)st.alive;
}

/* Polls COND every 20 ms for at most WAIT_MS; returns its last value. */
#define WAIT_FOR(cond)                                                          \
	({                                                                      \
		uint64_t end_ = util_now_ms() + WAIT_MS;                        \
		int ok_;                                                        \
		while (!(ok_ = (cond)) && util_now_ms() < end_)                 \
			usleep(20000);                                          \
		ok_;                                                            \
	})

static int record_is(struct swim_loop *l, const char *name, const char *want)
{
	struct swim_member_info info;
	int ok = 0;

	if (swim_member_get(swim_loop_lock(l), name, &info) == 0)
		ok = info.state_len == strlen(want) && memcmp(info.state, want, info.state_len) == 0;
	swim_loop_unlock(l);
	return ok;
}

static void test_three_encrypted_on_loopback(void)
{
	uint8_t key[KEYRING_KEY_LEN], other[KEYRING_KEY_LEN];
	struct keyring *kr = keyring_new(), *bad = keyring_new();
	struct swim_loop *a, *b, *c, *x;
	struct keyring_stats ks;

	memset(key, 0x42, sizeof(key));
	memset(other, 0x43, sizeof(other));
	keyring_install(kr, key);
	keyring_install(bad, other);
	a = start("a", kr, "127.0.0.1:0");
	b = start("b", kr, "127.0.0.1:0");
	c = start("c", kr, "127.0.0.1:0");
	x = start("intruder", bad, "127.0.0.1:0");
	join(b, a);
	join(c, b);
	join(x, a);
	CHECK(WAIT_FOR(alive_count(a) == 3 && alive_count(b) == 3 && alive_count(c) == 3));
	CHECK_INT(swim_set_local_state(swim_loop_lock(c), "api=127.0.0.1:8006", 18), 0);
	swim_loop_unlock(c);
	CHECK(WAIT_FOR(record_is(a, "c", "api=127.0.0.1:8006")));
	CHECK_INT(status_of(a, "intruder"), -1);
	keyring_get_stats(kr, &ks);
	CHECK(ks.drop_auth > 0);
	swim_loop_stop(c); /* gone without a word */
	CHECK(WAIT_FOR(status_of(a, "c") == SWIM_DEAD && status_of(b, "c") == SWIM_DEAD));
	swim_leave(swim_loop_lock(b));
	swim_loop_unlock(b);
	CHECK(WAIT_FOR(status_of(a, "b") == SWIM_LEFT));
	swim_loop_stop(x);
	swim_loop_stop(b);
	swim_loop_stop(a);
	keyring_free(kr);
	keyring_free(bad);
}

static void test_ipv6_loopback(void)
{
	struct swim_loop *a = start("v6a", NULL, "[::1]:0"), *b = start("v6b", NULL, "[::1]:0");

	join(b, a);
	CHECK(WAIT_FOR(alive_count(a) == 2 && alive_count(b) == 2));
	swim_loop_stop(b);
	swim_loop_stop(a);
}

static void test_wildcard_needs_advertise(void)
{
	struct swim_config cfg;
	struct swim_loop *l;
	char err[256] = "";

	fast(&cfg, "w", NULL);
	CHECK(swim_loop_start(&cfg, "0.0.0.0:0", err, sizeof(err)) == NULL);
	CHECK(strstr(err, "wildcard") != NULL);
	CHECK(swim_loop_start(&cfg, "127.0.0.1:99999", err, sizeof(err)) == NULL);
	swim_addr_parse("127.0.0.1:7946", &cfg.addr);
	l = swim_loop_start(&cfg, "0.0.0.0:0", err, sizeof(err));
	CHECK(l != NULL);
	swim_loop_stop(l);
}

static const struct test_case tests[] = {
	{ "three_encrypted_on_loopback", test_three_encrypted_on_loopback },
	{ "ipv6_loopback", test_ipv6_loopback },
	{ "wildcard_needs_advertise", test_wildcard_needs_advertise },
};

TEST_MAIN(tests)
