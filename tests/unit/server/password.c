/* Tests for server/password.c: scrypt hashes and the shared base64 helpers. */
#include "common/err.h"
#include "server/auth_int.h"
#include "server/password.h"
#include "tests/unit/test.h"

#include <errno.h>

static void test_round_trip(void)
{
	char h[PASSWORD_HASH_MAX];

	CHECK_INT(password_hash_cost("correct horse", 10, 8, 1, h, sizeof(h)), 0);
	CHECK(strncmp(h, "$scrypt$ln=10,r=8,p=1$", 22) == 0);
	CHECK_INT(password_verify("correct horse", h), 0);
	CHECK_INT(password_verify("correct horsf", h), CR_EAUTH);
	CHECK_INT(password_verify("", h), CR_EAUTH);
}

static void test_default_cost(void)
{
	char h[PASSWORD_HASH_MAX];

	CHECK_INT(password_hash("s3cret-pw", h, sizeof(h)), 0);
	CHECK(strncmp(h, "$scrypt$ln=15,r=8,p=1$", 22) == 0);
	CHECK_INT(password_verify("s3cret-pw", h), 0);
}

static void test_salted(void)
{
	char a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];

	CHECK_INT(password_hash_cost("same", 4, 1, 1, a, sizeof(a)), 0);
	CHECK_INT(password_hash_cost("same", 4, 1, 1, b, sizeof(b)), 0);
	CHECK(strcmp(a, b) != 0);
	CHECK_INT(password_verify("same", a), 0);
	CHECK_INT(password_verify("same", b), 0);
}

static void test_malformed_and_limits(void)
{
	char h[PASSWORD_HASH_MAX], bad[PASSWORD_HASH_MAX + 8];

	CHECK_INT(password_verify("x", ""), CR_EAUTH);
	CHECK_INT(password_verify("x", "plaintext"), CR_EAUTH);
	CHECK_INT(password_verify("x", NULL), CR_EAUTH);
	/* A forged cost must not make a login allocate gigabytes. */
	CHECK_INT(password_verify("x", "$scrypt$ln=30,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
				       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
		  CR_EAUTH);
	CHECK_INT(password_hash_cost("x", 40, 8, 1, h, sizeof(h)), -EINVAL);
	CHECK_INT(password_hash_cost("x", 4, 1, 1, h, 20), -ERANGE);
	/* Trailing garbage after the key is refused. */
	CHECK_INT(password_hash_cost("x", 4, 1, 1, h, sizeof(h)), 0);
	snprintf(bad, sizeof(bad), "%s$", h);
	CHECK_INT(password_verify("x", bad), CR_EAUTH);
}

static void test_base64(void)
{
	unsigned char out[16];
	char text[32];

	CHECK_INT(auth_b64_encode((const unsigned char *)"ab", 2, 1, text, sizeof(text)), 4);
	CHECK_STR(text, "YWI=");
	CHECK_INT(auth_b64_encode((const unsigned char *)"ab", 2, 0, text, sizeof(text)), 3);
	CHECK_STR(text, "YWI");
	CHECK_INT(auth_b64_decode("YWI=", out, sizeof(out)), 2);
	CHECK_INT(auth_b64_decode("YWI", out, sizeof(out)), 2);
	CHECK(memcmp(out, "ab", 2) == 0);
	CHECK_INT(auth_b64_decode("Y!I", out, sizeof(out)), -EINVAL);
	CHECK_INT(auth_b64_decode("YWJjZGVmZ2hpamtsbW5vcHFy", out, 4), -ERANGE);
	CHECK(auth_str_equal("abc", "abc"));
	CHECK(!auth_str_equal("abc", "abd"));
	CHECK(!auth_str_equal("abc", "abcd"));
}

static const struct test_case tests[] = {
	{ "round trip and wrong password", test_round_trip },
	{ "default cost", test_default_cost },
	{ "fresh salt per hash", test_salted },
	{ "malformed hashes and limits", test_malformed_and_limits },
	{ "base64 and constant-time compare", test_base64 },
};

TEST_MAIN(tests)
