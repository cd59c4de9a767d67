/* libFuzzer target for the access parsers: ACL paths and lists, user,
 * group and token ids, privilege lists (acl.c), base64 (password.c), and
 * ticket and CSRF token verification (auth.c) with a key made once.
 * Byte 0 picks the parser; the rest is its NUL-terminated input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/acl.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/auth_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct app app;
static char keydir[] = "/tmp/corral-fuzz-access-XXXXXX";

static void remove_keys(void)
{
	static const char *const files[] = { "authkey.key", "authkey.pub", "csrf.key" };
	char path[sizeof(keydir) + 16];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", keydir, files[i]);
		unlink(path);
	}
	rmdir(keydir);
}

/* Key material in a private temp dir, made on the first input. */
static struct auth *fuzz_auth(void)
{
	char err[256];

	if (app.auth)
		return app.auth;
	if (!mkdtemp(keydir))
		abort();
	atexit(remove_keys);
	if (auth_new(&app, keydir, &app.auth, err, sizeof(err)) < 0)
		abort();
	return app.auth;
}

static int count_item(const char *item, void *ctx)
{
	(*(size_t *)ctx) += strlen(item) ? 1 : 0;
	return 0;
}

static void run_acl(const char *s)
{
	char norm[ACL_PATH_MAX], user[ACL_ID_MAX], sub[ACL_ID_MAX], bad[64];
	acl_privs privs;
	size_t n = 0;
	char *text;

	if (acl_normalize_path(s, norm, sizeof(norm)) == 0 && (norm[0] != '/' || strstr(norm, "//")))
		abort();
	if (acl_normalize_path(s, norm, sizeof(norm)) == 0)
		acl_path_allowed(norm);
	acl_valid_userid(s);
	acl_valid_groupid(s);
	if (acl_split_tokenid(s, user, sub) == 0 && (acl_valid_userid(user) || !sub[0]))
		abort();
	acl_split_list(s, count_item, &n);
	if (acl_parse_privs(s, &privs, bad, sizeof(bad)) == 0 && (privs & ~acl_privs_all()))
		abort();
	text = acl_privs_text(privs);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char out[1024];
	char user[128], *s;

	if (size < 1 || size > 4096)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0:
		run_acl(s);
		break;
	case 1:
		auth_b64_decode(s, out, sizeof(out));
		break;
	case 2:
		if (auth_ticket_verify(fuzz_auth(), s, 1700000000, user, sizeof(user)) == 0)
			abort(); /* nothing forges a signature */
		break;
	case 3:
		auth_csrf_verify(fuzz_auth(), "root@pam", s, 1700000000);
		break;
	}
	free(s);
	return 0;
}
