/* Tests for server/static.c: loading a web UI directory, mounted
 * directories read on first use, refused paths, ETags, gzip and the header
 * helpers. */
#include "common/util.h"
#include "server/static.h"
#include "tests/unit/test.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

static void put(const char *dir, const char *name, const char *text)
{
	char path[700];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK_INT(util_write_file_atomic(path, text, strlen(text), 0644), 0);
}

/* A web UI with a subdirectory, a hidden file and a compressible script,
 * plus a "Debian" directory to mount and a file outside both. */
static void make_tree(char *ui, char *mnt, size_t n)
{
	char sub[600], big[4096];

	snprintf(ui, n, "%s/ui", test_tmpdir());
	snprintf(mnt, n, "%s/novnc", test_tmpdir());
	snprintf(sub, sizeof(sub), "%s/js", ui);
	CHECK_INT(util_mkdir_p(sub, 0755), 0);
	CHECK_INT(util_mkdir_p(mnt, 0755), 0);
	put(ui, "index.html", "<!DOCTYPE html><title>Corral</title>");
	put(ui, ".hidden", "secret");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put(sub, "app.js", big);
	put(mnt, "vnc.html", "<html>vnc</html>");
	put(test_tmpdir(), "outside.txt", "not served");
}

static void test_lookup(void)
{
	char ui[600], mnt[600];
	struct static_mount mounts[] = { { "/novnc/", mnt } };
	const struct static_file *f = NULL, *again = NULL;
	struct static_files *s = NULL;
	char err[256];

	make_tree(ui, mnt, sizeof(ui));
	CHECK_INT(static_new(ui, mounts, 1, &s, err, sizeof(err)), 0);
	CHECK_INT(static_lookup(s, "/", &f), 0);
	CHECK(f && f->is_html && strstr(f->data, "Corral"));
	CHECK_STR(f->content_type, "text/html; charset=utf-8");
	CHECK_INT(strlen(f->etag), 18);
	CHECK_INT(static_lookup(s, "/js/app.js", &f), 0);
	CHECK(f->gz != NULL && f->gz_len < f->len);
	CHECK_INT(static_lookup(s, "/novnc/vnc.html", &f), 0);
	CHECK_INT(static_lookup(s, "/novnc/vnc.html", &again), 0);
	CHECK(f == again); /* loaded once, then kept */
	CHECK_INT(static_lookup(s, "/missing", &f), -ENOENT);
	CHECK_INT(static_lookup(s, "/novnc/", &f), -ENOENT);
	CHECK_INT(static_lookup(s, "/.hidden", &f), -EINVAL);
	CHECK_INT(static_lookup(s, "/novnc/../outside.txt", &f), -EINVAL);
	CHECK_INT(static_lookup(s, "/novnc/./vnc.html", &f), -EINVAL);
	CHECK_INT(static_lookup(s, "relative", &f), -EINVAL);
	static_free(s);
}

static void test_gzip_roundtrip(void)
{
	char ui[600], mnt[600], out[8192];
	const struct static_file *f = NULL;
	struct static_files *s = NULL;
	uLongf out_len = sizeof(out);
	z_stream zs = { 0 };
	char err[256];

	make_tree(ui, mnt, sizeof(ui));
	CHECK_INT(static_new(ui, NULL, 0, &s, err, sizeof(err)), 0);
	CHECK_INT(static_lookup(s, "/js/app.js", &f), 0);
	CHECK_INT(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)f->gz;
	zs.avail_in = (uInt)f->gz_len;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)out_len;
	CHECK_INT(inflate(&zs, Z_FINISH), Z_STREAM_END);
	CHECK_INT(zs.total_out, f->len);
	CHECK(memcmp(out, f->data, f->len) == 0);
	inflateEnd(&zs);
	static_free(s);
}

static void test_helpers(void)
{
	int compress = -1;

	CHECK(static_path_ok("/a/b.js"));
	CHECK(!static_path_ok("/a/../b"));
	CHECK(!static_path_ok("/a\\b"));
	CHECK(!static_path_ok("/a\nb"));
	CHECK_STR(static_content_type("x.PNG", &compress), "image/png");
	CHECK_INT(compress, 0);
	CHECK_STR(static_content_type("x.css", &compress), "text/css; charset=utf-8");
	CHECK_INT(compress, 1);
	CHECK_STR(static_content_type("x", NULL), "application/octet-stream");
	CHECK(static_accepts_gzip("gzip, deflate, br"));
	CHECK(static_accepts_gzip("br;q=1.0, gzip;q=0.8"));
	CHECK(!static_accepts_gzip("gzip;q=0"));
	CHECK(!static_accepts_gzip("deflate"));
	CHECK(!static_accepts_gzip("gzipx"));
	CHECK(!static_accepts_gzip(NULL));
	CHECK(static_etag_match("\"abc\"", "\"abc\""));
	CHECK(static_etag_match("\"x\", W/\"abc\"", "\"abc\""));
	CHECK(static_etag_match("*", "\"abc\""));
	CHECK(!static_etag_match("\"abd\"", "\"abc\""));
	CHECK(!static_etag_match(NULL, "\"abc\""));
}

static void test_missing_dir(void)
{
	struct static_files *s = NULL;
	char dir[600], err[256] = "";

	snprintf(dir, sizeof(dir), "%s/nope", test_tmpdir());
	CHECK_INT(static_new(dir, NULL, 0, &s, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "nope") != NULL);
}

static const struct test_case tests[] = {
	{ "lookup", test_lookup },
	{ "gzip_roundtrip", test_gzip_roundtrip },
	{ "helpers", test_helpers },
	{ "missing_dir", test_missing_dir },
};

TEST_MAIN(tests)
