/* libFuzzer target for the qcow2 open path (storage/): the input is an image
 * file (a temp file: the library resolves the image's real path, which a memfd
 * lacks).  It is opened read-only without its backing chain, a few ranges are
 * read and their block status asked, check walks every table, and the
 * snapshots and bitmaps are listed.  Nothing may crash, leak or hang,
 * whatever the header and tables say. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/image.h"
#include "storage/qcow2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define READ_LEN 4096u

static void read_some(struct img *img, uint8_t *buf)
{
	uint64_t vs = img_virtual_size(img);
	const uint64_t offs[] = { 0, vs / 2, vs > READ_LEN ? vs - READ_LEN : 0, 65536 * 3 + 511 };
	struct img_extent ext;

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		uint64_t off = offs[i], len = READ_LEN;

		if (off >= vs)
			continue;
		if (len > vs - off)
			len = vs - off;
		(void)img_pread(img, buf, len, off);
		(void)img_block_status(img, off, len, IMG_BS_FOLLOW_BACKING, &ext);
	}
}

static void check_all(struct img *img)
{
	struct qcow2 *q = img_qcow2(img);
	struct qcow2_check_result res;
	struct qcow2_snapshot_info *snaps;
	struct qcow2_bitmap_info *bitmaps;
	size_t n;
	char err[256];

	if (!q)
		return;
	(void)qcow2_check(q, 0, &res, NULL, NULL, err, sizeof(err));
	if (qcow2_snapshot_list(q, &snaps, &n) == 0)
		qcow2_snapshot_list_free(snaps, n);
	if (qcow2_bitmap_list(q, &bitmaps, &n) == 0)
		qcow2_bitmap_list_free(bitmaps, n);
}

/* One scratch file per process, rewritten for every input and removed at exit. */
static char scratch[64];

static void scratch_remove(void)
{
	unlink(scratch);
	*strrchr(scratch, '/') = '\0';
	rmdir(scratch);
}

static const char *scratch_path(void)
{
	char dir[] = "/tmp/qcow2_open.XXXXXX";

	if (scratch[0])
		return scratch;
	if (!mkdtemp(dir))
		return NULL;
	snprintf(scratch, sizeof(scratch), "%s/img.qcow2", dir);
	atexit(scratch_remove);
	return scratch;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct img_open_opts opts = { .flags = IMG_OPEN_NO_BACKING | IMG_OPEN_SHARED | IMG_OPEN_CHECK,
				      .format = "qcow2",
				      .l2_cache_bytes = 65536,
				      .refcount_cache_bytes = 65536 };
	static uint8_t buf[READ_LEN];
	const char *path = scratch_path();
	struct img_info info;
	struct img *img;
	char err[256];
	int fd = path ? open(path, O_RDWR | O_CREAT | O_TRUNC, 0600) : -1;

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size && img_open(&img, path, &opts, err, sizeof(err)) == 0) {
		(void)img_get_info(img, &info);
		read_some(img, buf);
		check_all(img);
		img_close(img);
	}
	close(fd);
	return 0;
}
