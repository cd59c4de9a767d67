/* Tests for cli/pin.c: fingerprint notation, comparison and known_hosts. */
#include "cli/pin.h"
#include "common/buf.h"
#include "tests/unit/test.h"

#include <errno.h>

#define FP_A "18:05:55:89:3B:8C:85:75:90:96:DB:D6:E9:1A:0D:51:42:D0:53:B6:A1:FD:79:2A:07:67:D6:AE:43:7E:4C:02"
#define FP_B "00:05:55:89:3B:8C:85:75:90:96:DB:D6:E9:1A:0D:51:42:D0:53:B6:A1:FD:79:2A:07:67:D6:AE:43:7E:4C:02"

static void test_normalize(void)
{
	char out[PIN_FP_LEN];

	CHECK_INT(pin_normalize("1805558 93b8c85759096dbd6e91a0d5142d053b6a1fd792a0767d6ae437e4c02", out),
		  -EINVAL);
	CHECK_INT(pin_normalize("180555893b8c85759096dbd6e91a0d5142d053b6a1fd792a0767d6ae437e4c02", out),
		  0);
	CHECK_STR(out, FP_A);
	CHECK_INT(pin_normalize("SHA256:" FP_A, out), 0);
	CHECK_STR(out, FP_A);
	CHECK_INT(pin_normalize(FP_A ":00", out), -EINVAL);
	CHECK_INT(pin_normalize("18:05", out), -EINVAL);
	CHECK_INT(pin_normalize(":" FP_A, out), -EINVAL);
	CHECK_INT(pin_normalize("", out), -EINVAL);
	CHECK_INT(pin_normalize("1:805558", out), -EINVAL);
}

static void test_equal(void)
{
	CHECK(pin_equal(FP_A, "180555893B8C85759096DBD6E91A0D5142D053B6A1FD792A0767D6AE437E4C02"));
	CHECK(pin_equal("sha256:" FP_A, FP_A));
	CHECK(!pin_equal(FP_A, FP_B));
	CHECK(!pin_equal("garbage", "garbage"));
}

static void test_der(void)
{
	/* SHA-256("abc") is a fixed vector; any bytes stand in for a certificate. */
	char out[PIN_FP_LEN];

	CHECK_INT(pin_fingerprint_der((const unsigned char *)"abc", 3, out), 0);
	CHECK_STR(out, "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:"
		       "B4:10:FF:61:F2:00:15:AD");
	CHECK_INT(pin_fingerprint_der(NULL, 0, out), -EINVAL);
}

static void test_lookup(void)
{
	const char *text = "# corral known hosts\n"
			   "10.0.0.1:8006 " FP_B "\n"
			   "\n"
			   "127.0.0.1:8006 " FP_A "\n"
			   "127.0.0.1:80060 " FP_B;
	char out[PIN_FP_LEN];

	CHECK_INT(pin_lookup(text, "127.0.0.1:8006", out), 0);
	CHECK_STR(out, FP_A);
	CHECK_INT(pin_lookup(text, "127.0.0.1:80060", out), 0);
	CHECK_STR(out, FP_B);
	CHECK_INT(pin_lookup(text, "127.0.0.1:800", out), -ENOENT);
	CHECK_INT(pin_lookup(text, "#", out), -ENOENT);
	CHECK_INT(pin_lookup(NULL, "127.0.0.1:8006", out), -ENOENT);
	CHECK_INT(pin_lookup("127.0.0.1:8006 nothex\n", "127.0.0.1:8006", out), -ENOENT);
}

static void test_update(void)
{
	struct buf out = BUF_INIT;

	CHECK_INT(pin_update(NULL, "h:1", FP_A, &out), 0);
	CHECK_STR(out.data, "h:1 " FP_A "\n");
	buf_reset(&out);
	CHECK_INT(pin_update("# c\nh:1 " FP_A "\ng:2 " FP_A "\nh:1 " FP_A "\n", "h:1",
			     "sha256:" FP_B, &out), 0);
	CHECK_STR(out.data, "# c\nh:1 " FP_B "\ng:2 " FP_A "\n");
	buf_reset(&out);
	CHECK_INT(pin_update("g:2 " FP_A, "h:1", FP_B, &out), 0);
	CHECK_STR(out.data, "g:2 " FP_A "\nh:1 " FP_B "\n");
	CHECK_INT(pin_update(NULL, "bad host", FP_A, &out), -EINVAL);
	CHECK_INT(pin_update(NULL, "h:1", "zz", &out), -EINVAL);
	buf_free(&out);
}

static const struct test_case tests[] = {
	{ "normalize fingerprints", test_normalize },
	{ "compare fingerprints", test_equal },
	{ "fingerprint of DER bytes", test_der },
	{ "known_hosts lookup", test_lookup },
	{ "known_hosts update", test_update },
};

TEST_MAIN(tests)
