/* Tests for server/upload_writer.c: bytes put in pieces of every size land
 * in the file in order, the digest matches a one-shot hash, chunks written
 * back behind stay intact, a write error (a full device) is reported, and a
 * writer freed mid-way stops cleanly. */
#include "server/upload_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/test.h"

#define DATA_LEN ((9u << 20) + 12345) /* crosses several 1 MiB buffers and a partial one */

static unsigned char *make_data(void)
{
	unsigned char *d = malloc(DATA_LEN);
	unsigned x = 12345;

	for (size_t i = 0; d && i < DATA_LEN; i++) {
		x = x * 1103515245u + 12345u;
		d[i] = (unsigned char)(x >> 16);
	}
	return d;
}

static int tmp_file(char *path, size_t n)
{
	snprintf(path, n, "/tmp/corral-uw-XXXXXX");
	return mkstemp(path);
}

static void one_shot_digest(const char *algo, const unsigned char *d, size_t n, char *hex)
{
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	CHECK(EVP_Digest(d, n, dig, &len, EVP_get_digestbyname(algo), NULL) == 1);
	upload_digest_hex(dig, len, hex, 2 * EVP_MAX_MD_SIZE + 1);
}

/* Puts DATA in pieces of STEP bytes and compares the file and the digest. */
static void put_in_steps(const unsigned char *data, size_t step, const char *algo)
{
	char path[64], hex[2 * EVP_MAX_MD_SIZE + 1] = "", want[sizeof(hex)];
	unsigned char *back = malloc(DATA_LEN);
	struct upload_writer *w;
	int fd = tmp_file(path, sizeof(path));

	CHECK(fd >= 0 && back);
	CHECK_INT(upload_writer_new(fd, algo, &w), 0);
	for (size_t off = 0; off < DATA_LEN; off += step)
		CHECK_INT(upload_writer_put(w, data + off, off + step > DATA_LEN ? DATA_LEN - off : step),
			  0);
	CHECK_INT(upload_writer_finish(w, hex, sizeof(hex)), 0);
	upload_writer_free(w);
	CHECK(pread(fd, back, DATA_LEN, 0) == (ssize_t)DATA_LEN);
	CHECK(memcmp(back, data, DATA_LEN) == 0);
	CHECK(lseek(fd, 0, SEEK_END) == (off_t)DATA_LEN);
	if (algo) {
		one_shot_digest(algo, data, DATA_LEN, want);
		CHECK_STR(hex, want);
	}
	close(fd);
	unlink(path);
	free(back);
}

static void test_every_step(void)
{
	static const size_t steps[] = {1u << 20, 16384, 13400, 4093, (1u << 20) + 7, 3u << 20,
				       DATA_LEN};
	unsigned char *data = make_data();

	CHECK(data != NULL);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		put_in_steps(data, steps[i], i % 2 ? "sha256" : NULL);
	put_in_steps(data, 65536, "md5");
	put_in_steps(data, 65536, "sha512");
	free(data);
}

static void test_empty(void)
{
	char path[64], hex[2 * EVP_MAX_MD_SIZE + 1];
	struct upload_writer *w;
	struct stat st;
	int fd = tmp_file(path, sizeof(path));

	CHECK(fd >= 0);
	CHECK_INT(upload_writer_new(fd, "sha1", &w), 0);
	CHECK_INT(upload_writer_finish(w, hex, sizeof(hex)), 0);
	upload_writer_free(w);
	CHECK_STR(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	CHECK(fstat(fd, &st) == 0 && st.st_size == 0);
	close(fd);
	unlink(path);
}

static void test_unknown_algo(void)
{
	struct upload_writer *w = (struct upload_writer *)&w;

	CHECK_INT(upload_writer_new(1, "no-such-digest", &w), -EINVAL);
	CHECK(w == NULL);
	upload_writer_free(NULL);
}

/* /dev/full fails every write with ENOSPC: the error comes back from put
 * (once a buffer reached the thread) or at the latest from finish. */
static void test_write_error(void)
{
	unsigned char *data = make_data();
	struct upload_writer *w;
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC), r = 0;

	CHECK(fd >= 0 && data);
	CHECK_INT(upload_writer_new(fd, NULL, &w), 0);
	for (size_t off = 0; off < DATA_LEN && r == 0; off += 65536)
		r = upload_writer_put(w, data + off, off + 65536 > DATA_LEN ? DATA_LEN - off : 65536);
	CHECK_INT(r, -ENOSPC);
	CHECK_INT(upload_writer_finish(w, NULL, 0), -ENOSPC);
	upload_writer_free(w);
	close(fd);
	free(data);
}

/* A client gone mid-body: the writer is freed with buffers still queued. */
static void test_free_midway(void)
{
	unsigned char *data = make_data();
	char path[64];
	struct upload_writer *w;
	int fd = tmp_file(path, sizeof(path));

	CHECK(fd >= 0 && data);
	CHECK_INT(upload_writer_new(fd, "sha256", &w), 0);
	CHECK_INT(upload_writer_put(w, data, DATA_LEN / 2), 0);
	upload_writer_free(w);
	CHECK(lseek(fd, 0, SEEK_END) <= (off_t)(DATA_LEN / 2));
	close(fd);
	unlink(path);
	free(data);
}

#define REPEATS 24 /* DATA_LEN * 24: past the 160 MiB window, two settles */

/* Puts DATA REPEATS times into FD in 64 KiB pieces; the digest into HEX. */
static void put_repeated(int fd, const unsigned char *data, char *hex, size_t n)
{
	struct upload_writer *w;

	CHECK_INT(upload_writer_new(fd, "sha256", &w), 0);
	for (unsigned k = 0; k < REPEATS; k++)
		for (size_t off = 0; off < DATA_LEN; off += 65536)
			CHECK_INT(upload_writer_put(w, data + off,
						    off + 65536 > DATA_LEN ? DATA_LEN - off : 65536),
				  0);
	CHECK_INT(upload_writer_finish(w, hex, n), 0);
	upload_writer_free(w);
}

/* Past the first chunks the writer waits for their writeback and drops
 * them from the page cache: the bytes read back are still the ones put. */
static void test_settled_chunks(void)
{
	unsigned char *data = make_data(), *back = malloc(DATA_LEN), dig[EVP_MAX_MD_SIZE];
	char path[64], hex[2 * EVP_MAX_MD_SIZE + 1] = "", want[sizeof(hex)];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned len = 0;
	int fd = tmp_file(path, sizeof(path));

	CHECK(fd >= 0 && data && back && md);
	put_repeated(fd, data, hex, sizeof(hex));
	CHECK(lseek(fd, 0, SEEK_END) == (off_t)DATA_LEN * REPEATS);
	CHECK(EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1);
	for (unsigned k = 0; k < REPEATS; k++) {
		CHECK(pread(fd, back, DATA_LEN, (off_t)DATA_LEN * k) == (ssize_t)DATA_LEN);
		CHECK(memcmp(back, data, DATA_LEN) == 0);
		CHECK(EVP_DigestUpdate(md, data, DATA_LEN) == 1);
	}
	CHECK(EVP_DigestFinal_ex(md, dig, &len) == 1);
	upload_digest_hex(dig, len, want, sizeof(want));
	CHECK_STR(hex, want);
	EVP_MD_CTX_free(md);
	close(fd);
	unlink(path);
	free(back);
	free(data);
}

/* Writeback does not apply to a device or a pipe (ESPIPE): not an error. */
static void test_not_a_file(void)
{
	unsigned char *data = make_data();
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	CHECK(fd >= 0 && data);
	put_repeated(fd, data, hex, sizeof(hex));
	close(fd);
	free(data);
}

static const struct test_case tests[] = {
    {"bytes in every piece size, in order, with digests", test_every_step},
    {"an empty file", test_empty},
    {"an unknown digest", test_unknown_algo},
    {"a write error is reported", test_write_error},
    {"freed mid-way", test_free_midway},
    {"chunks written back and dropped behind stay intact", test_settled_chunks},
    {"a device (no writeback to wait for)", test_not_a_file},
};

TEST_MAIN(tests)
