/* Tests for cluster/keyring.c: sealing, rotation, labels and drop counters. */
#include "cluster/keyring.h"
#include "tests/unit/test.h"

#include <errno.h>

static void key_of(uint8_t *k, uint8_t v)
{
	memset(k, v, KEYRING_KEY_LEN);
}

static void test_roundtrip(void)
{
	struct keyring *kr = keyring_new();
	uint8_t k[KEYRING_KEY_LEN], sealed[256], plain[256];
	const char *msg = "ping from pve1";
	int n;

	key_of(k, 1);
	CHECK_INT(keyring_seal(kr, (const uint8_t *)msg, strlen(msg), sealed, sizeof(sealed)), -ENOKEY);
	CHECK_INT(keyring_install(kr, k), 0);
	n = keyring_seal(kr, (const uint8_t *)msg, strlen(msg), sealed, sizeof(sealed));
	CHECK_INT(n, (int)strlen(msg) + KEYRING_OVERHEAD);
	CHECK_INT(keyring_open(kr, sealed, (size_t)n, plain, sizeof(plain)), (int)strlen(msg));
	CHECK(memcmp(plain, msg, strlen(msg)) == 0);
	CHECK_INT(keyring_seal(kr, (const uint8_t *)msg, strlen(msg), sealed, strlen(msg) + 28), -ENOSPC);
	keyring_free(kr);
}

static void test_wrong_key_and_tamper_counted(void)
{
	struct keyring *a = keyring_new(), *b = keyring_new();
	uint8_t k[KEYRING_KEY_LEN], sealed[128], plain[128];
	struct keyring_stats st;
	int n;

	key_of(k, 1);
	keyring_install(a, k);
	key_of(k, 2);
	keyring_install(b, k);
	n = keyring_seal(a, (const uint8_t *)"hello", 5, sealed, sizeof(sealed));
	CHECK_INT(keyring_open(b, sealed, (size_t)n, plain, sizeof(plain)), -EBADMSG);
	sealed[n - 1] ^= 1;
	CHECK_INT(keyring_open(a, sealed, (size_t)n, plain, sizeof(plain)), -EBADMSG);
	CHECK_INT(keyring_open(a, sealed, 10, plain, sizeof(plain)), -EBADMSG);
	keyring_get_stats(b, &st);
	CHECK_INT(st.drop_auth, 1);
	keyring_get_stats(a, &st);
	CHECK_INT(st.drop_auth, 1);
	CHECK_INT(st.drop_format, 1);
	CHECK_INT(st.sealed, 1);
	keyring_free(a);
	keyring_free(b);
}

static void test_rotation(void)
{
	struct keyring *a = keyring_new(), *b = keyring_new();
	uint8_t k1[KEYRING_KEY_LEN], k2[KEYRING_KEY_LEN], sealed[128], plain[128];
	int n;

	key_of(k1, 1);
	key_of(k2, 2);
	keyring_install(a, k1);
	keyring_install(b, k1);
	/* Install everywhere first, then switch the primary, then remove the old key. */
	CHECK_INT(keyring_install(a, k2), 0);
	CHECK_INT(keyring_install(b, k2), 0);
	CHECK_INT(keyring_install(b, k2), 0);
	CHECK_INT(keyring_count(b), 2);
	CHECK_INT(keyring_use(a, k2), 0);
	n = keyring_seal(a, (const uint8_t *)"x", 1, sealed, sizeof(sealed));
	CHECK_INT(keyring_open(b, sealed, (size_t)n, plain, sizeof(plain)), 1);
	CHECK_INT(keyring_remove(a, k2), -EBUSY);
	CHECK_INT(keyring_remove(a, k1), 0);
	CHECK_INT(keyring_remove(a, k1), -ENOENT);
	CHECK_INT(keyring_use(a, k1), -ENOENT);
	n = keyring_seal(b, (const uint8_t *)"y", 1, sealed, sizeof(sealed));
	/* b still seals with k1: a no longer reads it. */
	CHECK_INT(keyring_open(a, sealed, (size_t)n, plain, sizeof(plain)), -EBADMSG);
	keyring_free(a);
	keyring_free(b);
}

static void test_label_is_bound(void)
{
	struct keyring *a = keyring_new(), *b = keyring_new();
	uint8_t k[KEYRING_KEY_LEN], sealed[128], plain[128];
	int n;

	key_of(k, 3);
	keyring_install(a, k);
	keyring_install(b, k);
	CHECK_INT(keyring_set_label(a, "cluster-a"), 0);
	n = keyring_seal(a, (const uint8_t *)"z", 1, sealed, sizeof(sealed));
	CHECK_INT(keyring_open(b, sealed, (size_t)n, plain, sizeof(plain)), -EBADMSG);
	keyring_set_label(b, "cluster-a");
	CHECK_INT(keyring_open(b, sealed, (size_t)n, plain, sizeof(plain)), 1);
	keyring_free(a);
	keyring_free(b);
}

static const struct test_case tests[] = {
	{ "roundtrip", test_roundtrip },
	{ "wrong_key_and_tamper_counted", test_wrong_key_and_tamper_counted },
	{ "rotation", test_rotation },
	{ "label_is_bound", test_label_is_bound },
};

TEST_MAIN(tests)
