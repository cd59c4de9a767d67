/* Persistent dirty bitmaps, read only: the directory QEMU keeps in the
 * bitmaps header extension, listed as qemu-img info lists it.  The engine
 * does not track writes in them; a read-write open clears the autoclear
 * bit, which tells QEMU they are stale.
 *
 *   Extension 0x23852875 (24 bytes)       Directory entry (padded to 8)
 *   +-----+---+---------------------+     +-----+---+-----------------------+
 *   |   0 | 4 | nb_bitmaps          |     |   0 | 8 | bitmap table offset   |
 *   |   4 | 4 | reserved (0)        |     |   8 | 4 | bitmap table entries  |
 *   |   8 | 8 | directory size      |     |  12 | 4 | flags: 0 in-use, 1 auto|
 *   |  16 | 8 | directory offset    |     |  16 | 1 | type (1 dirty bitmap) |
 *   +-----+---+---------------------+     |  17 | 1 | granularity bits      |
 *                                         |  18 | 2 | name size             |
 *                                         |  20 | 4 | extra data size       |
 *                                         |  24 | n | extra data, name      |
 *                                         +-----+---+-----------------------+ */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "storage/qcow2_int.h"

#define EXT_BITMAPS 0x23852875u
#define AUTOCLEAR_BITMAPS 1ull
#define MAX_BITMAPS 65535u
#define MAX_DIR_BYTES (64u << 20)  /* QEMU's directory limit */
#define ENTRY_HEAD 24
#define MIN_GRANULARITY_BITS 9
#define MAX_GRANULARITY_BITS 31

void qcow2_bitmap_list_free(struct qcow2_bitmap_info *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i].name);
	free(list);
}

static const struct qcow2_ext *bitmap_ext(const struct qcow2 *q)
{
	for (size_t i = 0; i < q->n_exts; i++)
		if (q->exts[i].type == EXT_BITMAPS)
			return &q->exts[i];
	return NULL;
}

/* One directory entry at *pos of DIR (LEN bytes) into *out (pure). */
static int parse_entry(const uint8_t *dir, uint64_t len, uint64_t *pos, struct qcow2_bitmap_info *out)
{
	const uint8_t *e = dir + *pos;
	uint64_t name_len, extra, size;

	if (len - *pos < ENTRY_HEAD)
		return CR_EFORMAT;
	name_len = be16_get(e + 18);
	extra = be32_get(e + 20);
	size = qcow2_align_up(ENTRY_HEAD + extra + name_len, 8);
	if (size > len - *pos || !name_len || e[16] != 1 || e[17] < MIN_GRANULARITY_BITS ||
	    e[17] > MAX_GRANULARITY_BITS)
		return CR_EFORMAT;
	out->name = strndup((const char *)e + ENTRY_HEAD + extra, name_len);
	if (!out->name)
		return -ENOMEM;
	out->granularity = 1ull << e[17];
	out->in_use = be32_get(e + 12) & 1;
	out->autoload = (be32_get(e + 12) >> 1) & 1;
	*pos += size;
	return 0;
}

static int parse_directory(const uint8_t *dir, uint64_t len, uint32_t n, struct qcow2_bitmap_info *v)
{
	uint64_t pos = 0;
	int r = 0;

	for (uint32_t i = 0; r == 0 && i < n; i++)
		r = parse_entry(dir, len, &pos, &v[i]);
	return r;
}

static int read_directory(struct qcow2 *q, const uint8_t *ext, uint8_t **dir, uint64_t *len, uint32_t *n)
{
	uint64_t off = be64_get(ext + 16), fsize;
	int r = img_file_size(q->img, &fsize);

	*n = be32_get(ext);
	*len = be64_get(ext + 8);
	if (r < 0)
		return r;
	if (*n > MAX_BITMAPS || *len > MAX_DIR_BYTES || (off & (q->cluster_size - 1)) || off < q->cluster_size ||
	    off > fsize || *len > fsize - off)
		return img_seterr(q->img, CR_EFORMAT, "Bitmap directory invalid");
	*dir = malloc(*len ? *len : 1);
	if (!*dir)
		return -ENOMEM;
	return *len ? img_file_read(q->img, *dir, *len, off) : 0;
}

int qcow2_bitmap_list(struct qcow2 *q, struct qcow2_bitmap_info **out, size_t *n)
{
	const struct qcow2_ext *x = bitmap_ext(q);
	uint8_t *dir = NULL;
	uint64_t len = 0;
	uint32_t nb = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (!x || !(q->autoclear & AUTOCLEAR_BITMAPS))
		return 0; /* none, or stale ones QEMU ignores too */
	if (x->len < 24)
		return img_seterr(q->img, CR_EFORMAT, "Bitmaps extension too short");
	r = read_directory(q, x->data, &dir, &len, &nb);
	if (r == 0 && nb && !(*out = calloc(nb, sizeof(**out))))
		r = -ENOMEM;
	if (r == 0 && nb && (r = parse_directory(dir, len, nb, *out)) != 0)
		r = r == -ENOMEM ? r : img_seterr(q->img, r, "Bitmap directory entry invalid");
	free(dir);
	if (r < 0) {
		qcow2_bitmap_list_free(*out, nb);
		*out = NULL;
		return r;
	}
	*n = nb;
	return 0;
}
