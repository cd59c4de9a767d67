/* corral-img: the image tool over the storage library, with qemu-img's
 * command syntax and output so users' habits and scripts carry over.
 * A thin main(): parse options, call storage/image.h and storage/qcow2.h, print. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/propstr.h"
#include "common/util.h"
#include "storage/image.h"
#include "storage/qcow2.h"

#define PROG "corral-img"
#define ERRLEN 512
#define COPY_CHUNK (2u << 20) /* convert/compare buffer: one 2 MiB cluster at most */

/* qemu-img's exit codes for check (IMG: "0 clean, 1 internal, 2 corrupt, 3 leaks") */
enum { CHECK_OK = 0, CHECK_FAIL = 1, CHECK_CORRUPT = 2, CHECK_LEAKS = 3, CHECK_UNSUPPORTED = 63 };

enum out_fmt { OUT_HUMAN, OUT_JSON };

/* ---- messages ------------------------------------------------------------------ */

static void perr(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr(const char *file, const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	if (file)
		fprintf(stderr, "%s: ", file);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The library's detail line when it wrote one, else the code's message. */
static const char *why(int rc, const char *err)
{
	return err && err[0] ? err : err_str(rc);
}

/* qemu's size_to_str(): three significant digits in the largest binary unit
 * that keeps the number under 1000 ("196 KiB", "1.26 MiB"). */
static void size_str(uint64_t v, char *out, size_t n)
{
	static const char *const units[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
	int e = 0, i;

	frexp((double)v / (1000.0 / 1024.0), &e);
	i = e > 0 ? (e - 1) / 10 : 0;
	if (i > 6)
		i = 6;
	snprintf(out, n, "%0.3g %sB", (double)v / (double)(1ull << (i * 10)), units[i]);
}

static int parse_size_arg(const char *s, uint64_t *out)
{
	if (util_parse_size(s, 1, out) < 0 || *out > INT64_MAX) {
		perr(NULL, "Invalid image size specified. You may use k, M, G, T, P or E suffixes for "
			   "kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.");
		return -EINVAL;
	}
	return 0;
}

static int parse_output(const char *s, enum out_fmt *out)
{
	if (!strcmp(s, "human"))
		*out = OUT_HUMAN;
	else if (!strcmp(s, "json"))
		*out = OUT_JSON;
	else {
		perr(NULL, "--output must be used with human or json as argument.");
		return -EINVAL;
	}
	return 0;
}

/* ---- paths ---------------------------------------------------------------------- */

/* QEMU's path_combine(): a relative backing name is taken relative to the
 * directory of the image naming it, as written (not canonicalized). */
static void path_combine(const char *base, const char *name, char *out, size_t n)
{
	const char *slash = strrchr(base, '/');

	if (name[0] == '/' || !slash)
		snprintf(out, n, "%s", name);
	else
		snprintf(out, n, "%.*s%s", (int)(slash - base + 1), base, name);
}

/* The canonical directory of PATH's file (PATH itself need not exist). */
static int dir_of(const char *path, char *out, size_t n)
{
	char tmp[PATH_MAX], *slash;

	snprintf(tmp, sizeof(tmp), "%s", path);
	slash = strrchr(tmp, '/');
	if (!slash)
		snprintf(tmp, sizeof(tmp), ".");
	else if (slash == tmp)
		tmp[1] = '\0';
	else
		*slash = '\0';
	if (!realpath(tmp, out))
		return -errno;
	(void)n;
	return 0;
}

/* ---- opening --------------------------------------------------------------------- */

struct opener {
	const char *fmt;     /* -f */
	unsigned flags;      /* IMG_OPEN_* */
	const char *const *allowed_dirs;
	const struct img_io_ops *io;
	void *io_ctx;
};

static int open_img(struct img **out, const char *path, const struct opener *o)
{
	struct img_open_opts opts = { 0 };
	char err[ERRLEN] = "";
	int rc;

	opts.flags = o->flags;
	opts.format = o->fmt;
	opts.allowed_dirs = o->allowed_dirs;
	opts.io = o->io;
	opts.io_ctx = o->io_ctx;
	rc = img_open(out, path, &opts, err, sizeof(err));
	if (rc < 0)
		perr(path, "Could not open image: %s", why(rc, err));
	return rc;
}

static struct qcow2 *need_qcow2(struct img *img, const char *path, const char *what)
{
	struct qcow2 *q = img_qcow2(img);

	if (!q)
		perr(path, "%s is only supported for qcow2 images", what);
	return q;
}

static int close_img(struct img *img, const char *path)
{
	int rc = img_close(img);

	if (rc < 0)
		perr(path, "Error while closing the image: %s", err_str(rc));
	return rc;
}

/* Options every command shares: -f FMT and -U/--force-share.  Returns 1 when
 * C was one of them, -1 for -h or an option getopt rejected, 0 otherwise. */
static int common_opt(int c, struct opener *o)
{
	if (c == 'f')
		o->fmt = optarg;
	else if (c == 'U')
		o->flags |= IMG_OPEN_SHARED;
	else
		return c == 'h' || c == '?' ? -1 : 0;
	return 1;
}

/* The positional arguments left after the options must be exactly N. */
static int want_args(int argc, int n, const char *what)
{
	if (argc - optind == n)
		return 0;
	perr(NULL, "Expecting %s", what);
	return -EINVAL;
}

/* ---- -o option strings --------------------------------------------------------------- */

#define OPT_CLUSTER 0x1u
#define OPT_PREALLOC 0x2u
#define OPT_LAZY 0x4u
#define OPT_EXTL2 0x8u
#define OPT_COMPAT 0x10u
#define OPT_REFBITS 0x20u
#define OPT_COMPRESS 0x40u
#define OPT_BACKING 0x80u
#define OPT_BACKFMT 0x100u
#define OPT_SIZE 0x200u

struct img_opts {
	unsigned given; /* OPT_* */
	struct img_create_opts c;
	char backing[PATH_MAX];
	char backing_fmt[32];
};

struct opt_def {
	const char *name;
	unsigned bit;
	int (*set)(struct img_opts *o, const char *v);
};

static int set_bool(int *dst, const char *v)
{
	int b = propstr_bool(v);

	if (b < 0)
		return -EINVAL;
	*dst = b;
	return 0;
}

static int opt_cluster(struct img_opts *o, const char *v)
{
	uint64_t n;

	if (util_parse_size(v, 1, &n) < 0 || n > (2u << 20))
		return -EINVAL;
	o->c.cluster_size = (uint32_t)n;
	return 0;
}

static int parse_prealloc(const char *v, enum img_prealloc *out)
{
	static const char *const names[] = { "off", "metadata", "falloc", "full" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(v, names[i])) {
			*out = (enum img_prealloc)i;
			return 0;
		}
	return -EINVAL;
}

static int opt_prealloc(struct img_opts *o, const char *v)
{
	return parse_prealloc(v, &o->c.prealloc);
}

static int opt_lazy(struct img_opts *o, const char *v)
{
	return set_bool(&o->c.lazy_refcounts, v);
}

static int opt_extl2(struct img_opts *o, const char *v)
{
	return set_bool(&o->c.extended_l2, v);
}

static int opt_compat(struct img_opts *o, const char *v)
{
	if (!strcmp(v, "0.10") || !strcmp(v, "v2"))
		o->c.compat = 2;
	else if (!strcmp(v, "1.1") || !strcmp(v, "v3"))
		o->c.compat = 3;
	else
		return -EINVAL;
	return 0;
}

static int opt_refbits(struct img_opts *o, const char *v)
{
	uint64_t n;

	if (util_parse_u64(v, &n) < 0 || n == 0 || n > 64 || (n & (n - 1)))
		return -EINVAL;
	o->c.refcount_bits = (unsigned)n;
	return 0;
}

static int opt_compress(struct img_opts *o, const char *v)
{
	if (!strcmp(v, "zlib"))
		o->c.compression_type = IMG_COMPRESS_ZLIB;
	else if (!strcmp(v, "zstd"))
		o->c.compression_type = IMG_COMPRESS_ZSTD;
	else
		return -EINVAL;
	return 0;
}

static int opt_backing(struct img_opts *o, const char *v)
{
	return util_strlcpy(o->backing, v, sizeof(o->backing)) < 0 ? -EINVAL : 0;
}

static int opt_backfmt(struct img_opts *o, const char *v)
{
	return util_strlcpy(o->backing_fmt, v, sizeof(o->backing_fmt)) < 0 ? -EINVAL : 0;
}

static int opt_size(struct img_opts *o, const char *v)
{
	return util_parse_size(v, 1, &o->c.size);
}

static const struct opt_def opt_defs[] = {
	{ "cluster_size", OPT_CLUSTER, opt_cluster },
	{ "preallocation", OPT_PREALLOC, opt_prealloc },
	{ "lazy_refcounts", OPT_LAZY, opt_lazy },
	{ "extended_l2", OPT_EXTL2, opt_extl2 },
	{ "compat", OPT_COMPAT, opt_compat },
	{ "refcount_bits", OPT_REFBITS, opt_refbits },
	{ "compression_type", OPT_COMPRESS, opt_compress },
	{ "backing_file", OPT_BACKING, opt_backing },
	{ "backing_fmt", OPT_BACKFMT, opt_backfmt },
	{ "size", OPT_SIZE, opt_size },
};

static const struct opt_def *opt_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(opt_defs); i++)
		if (!strcmp(opt_defs[i].name, name))
			return &opt_defs[i];
	return NULL;
}

/* Applies "k=v,k=v" (the -o arguments joined with commas) to O; only the
 * options in ALLOWED are accepted. */
static int parse_o(const char *s, unsigned allowed, struct img_opts *o)
{
	struct propstr p;
	char err[ERRLEN] = "";
	int rc = propstr_parse(s, NULL, &p, err, sizeof(err));

	if (rc < 0) {
		perr(NULL, "Invalid options: %s", why(rc, err));
		return rc;
	}
	for (size_t i = 0; i < p.n && rc == 0; i++) {
		const struct opt_def *d = opt_find(p.items[i].key);

		if (!d || !(d->bit & allowed)) {
			perr(NULL, "Invalid parameter '%s'", p.items[i].key);
			rc = -EINVAL;
		} else if (d->set(o, p.items[i].value) < 0) {
			perr(NULL, "Parameter '%s' does not accept value '%s'", d->name, p.items[i].value);
			rc = -EINVAL;
		} else
			o->given |= d->bit;
	}
	propstr_free(&p);
	return rc;
}

/* qemu-img accepts -o several times; the lists are concatenated. */
static int add_o(char *acc, size_t n, const char *arg)
{
	size_t len = strlen(acc);

	if (len + strlen(arg) + 2 > n) {
		perr(NULL, "Option list too long");
		return -E2BIG;
	}
	snprintf(acc + len, n - len, "%s%s", len ? "," : "", arg);
	return 0;
}

static int parse_fmt(const char *s, enum img_format *out)
{
	if (!strcmp(s, "qcow2"))
		*out = IMG_FMT_QCOW2;
	else if (!strcmp(s, "raw"))
		*out = IMG_FMT_RAW;
	else {
		perr(NULL, "Unknown file format '%s'", s);
		return -EINVAL;
	}
	return 0;
}

/* ---- JSON writer (qemu's pretty layout: 4-space indent, "key": value) ------------- */

struct jw {
	int depth;
	int first; /* no member written yet at this depth */
};

static void jw_indent(const struct jw *j)
{
	for (int i = 0; i < j->depth; i++)
		fputs("    ", stdout);
}

static void jw_str_raw(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* Starts a member: separator, newline, indent and the key (KEY NULL in arrays). */
static void jw_key(struct jw *j, const char *key)
{
	if (j->depth > 0)
		fputs(j->first ? "\n" : ",\n", stdout);
	j->first = 0;
	jw_indent(j);
	if (key) {
		jw_str_raw(key);
		fputs(": ", stdout);
	}
}

static void jw_open(struct jw *j, const char *key, char bracket)
{
	jw_key(j, key);
	putchar(bracket);
	j->depth++;
	j->first = 1;
}

static void jw_close(struct jw *j, char bracket)
{
	j->depth--;
	putchar('\n');
	jw_indent(j);
	putchar(bracket);
	j->first = 0;
	if (j->depth == 0)
		putchar('\n');
}

static void jw_int(struct jw *j, const char *key, int64_t v)
{
	jw_key(j, key);
	printf("%" PRId64, v);
}

static void jw_bool(struct jw *j, const char *key, int v)
{
	jw_key(j, key);
	fputs(v ? "true" : "false", stdout);
}

static void jw_str(struct jw *j, const char *key, const char *v)
{
	jw_key(j, key);
	jw_str_raw(v);
}

/* ---- info -------------------------------------------------------------------------- */

struct layer {
	struct img *img;
	char name[PATH_MAX]; /* the file name as qemu-img would show it */
	struct img_info info;
	struct qcow2_snapshot_info *snaps;
	size_t nsnaps;
	struct qcow2_bitmap_info *bitmaps;
	size_t nbitmaps;
};

static int layer_load(struct layer *l, struct img *img, const char *name)
{
	struct qcow2 *q = img_qcow2(img);
	int rc;

	memset(l, 0, sizeof(*l));
	l->img = img;
	snprintf(l->name, sizeof(l->name), "%s", name);
	rc = img_get_info(img, &l->info);
	if (rc < 0) {
		perr(name, "Could not read image information: %s", img_last_error(img));
		return rc;
	}
	rc = q ? qcow2_snapshot_list(q, &l->snaps, &l->nsnaps) : 0;
	if (rc < 0)
		perr(name, "Could not list snapshots: %s", img_last_error(img));
	if (rc == 0 && q && (rc = qcow2_bitmap_list(q, &l->bitmaps, &l->nbitmaps)) < 0)
		perr(name, "Could not list bitmaps: %s", img_last_error(img));
	return rc;
}

static void layer_full_backing(const struct layer *l, char *out, size_t n)
{
	path_combine(l->name, l->info.backing_file, out, n);
}

static const char *compat_str(int version)
{
	return version == 2 ? "0.10" : "1.1";
}

static const char *compress_str(enum img_compression c)
{
	return c == IMG_COMPRESS_ZSTD ? "zstd" : "zlib";
}

static void json_snapshot(struct jw *j, const struct qcow2_snapshot_info *s)
{
	jw_open(j, NULL, '{');
	if (s->icount != -1)
		jw_int(j, "icount", s->icount);
	jw_int(j, "vm-clock-nsec", (int64_t)(s->vm_clock_nsec % 1000000000u));
	jw_str(j, "name", s->name);
	jw_int(j, "date-sec", s->date_sec);
	jw_int(j, "date-nsec", s->date_nsec);
	jw_int(j, "vm-clock-sec", (int64_t)(s->vm_clock_nsec / 1000000000u));
	jw_str(j, "id", s->id);
	jw_int(j, "vm-state-size", (int64_t)s->vm_state_size);
	jw_close(j, '}');
}

static void json_bitmaps(struct jw *j, const struct layer *l)
{
	jw_open(j, "bitmaps", '[');
	for (size_t i = 0; i < l->nbitmaps; i++) {
		jw_open(j, NULL, '{');
		jw_open(j, "flags", '[');
		if (l->bitmaps[i].in_use)
			jw_str(j, NULL, "in-use");
		if (l->bitmaps[i].autoload)
			jw_str(j, NULL, "auto");
		jw_close(j, ']');
		jw_str(j, "name", l->bitmaps[i].name);
		jw_int(j, "granularity", (int64_t)l->bitmaps[i].granularity);
		jw_close(j, '}');
	}
	jw_close(j, ']');
}

static void json_format_specific(struct jw *j, const struct layer *l)
{
	const struct img_info *in = &l->info;

	jw_open(j, "format-specific", '{');
	jw_str(j, "type", "qcow2");
	jw_open(j, "data", '{');
	jw_str(j, "compat", compat_str(in->version));
	jw_str(j, "compression-type", compress_str(in->compression_type));
	if (in->version >= 3)
		jw_bool(j, "lazy-refcounts", in->lazy_refcounts);
	if (l->nbitmaps)
		json_bitmaps(j, l);
	jw_int(j, "refcount-bits", in->refcount_bits);
	if (in->version >= 3) {
		jw_bool(j, "corrupt", in->corrupt);
		jw_bool(j, "extended-l2", in->extended_l2);
	}
	jw_close(j, '}');
	jw_close(j, '}');
}

/* Keys in the order QEMU 7.2's QDict emits them (hash-bucket order). */
static void json_layer(struct jw *j, const struct layer *l)
{
	const struct img_info *in = &l->info;
	char full[PATH_MAX];

	jw_open(j, NULL, '{');
	if (in->backing_file[0] && in->backing_format[0])
		jw_str(j, "backing-filename-format", in->backing_format);
	if (l->nsnaps) {
		jw_open(j, "snapshots", '[');
		for (size_t i = 0; i < l->nsnaps; i++)
			json_snapshot(j, &l->snaps[i]);
		jw_close(j, ']');
	}
	jw_int(j, "virtual-size", (int64_t)in->virtual_size);
	jw_str(j, "filename", l->name);
	if (in->format == IMG_FMT_QCOW2)
		jw_int(j, "cluster-size", in->cluster_size);
	jw_str(j, "format", in->format == IMG_FMT_QCOW2 ? "qcow2" : "raw");
	jw_int(j, "actual-size", (int64_t)in->actual_size);
	if (in->format == IMG_FMT_QCOW2)
		json_format_specific(j, l);
	if (in->backing_file[0]) {
		layer_full_backing(l, full, sizeof(full));
		jw_str(j, "full-backing-filename", full);
		jw_str(j, "backing-filename", in->backing_file);
	}
	jw_bool(j, "dirty-flag", in->dirty);
	jw_close(j, '}');
}

static void human_snapshot_header(void)
{
	printf("%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK", "ICOUNT");
}

static void human_snapshot(const struct qcow2_snapshot_info *s)
{
	char vmsize[32], date[32], clock[48], icount[24] = "";
	time_t t = (time_t)s->date_sec;
	struct tm tm;
	uint64_t ms = s->vm_clock_nsec / 1000000u;

	size_str(s->vm_state_size, vmsize, sizeof(vmsize));
	localtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(clock, sizeof(clock), "%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%03" PRIu64,
		 ms / 3600000u, ms / 60000u % 60u, ms / 1000u % 60u, ms % 1000u);
	if (s->icount != -1)
		snprintf(icount, sizeof(icount), "%" PRId64, s->icount);
	printf("%-9s %-16s %8s%20s%13s%11s\n", s->id, s->name, vmsize, date, clock, icount);
}

static void human_snapshots(const struct layer *l)
{
	human_snapshot_header();
	for (size_t i = 0; i < l->nsnaps; i++)
		human_snapshot(&l->snaps[i]);
}

static void human_bitmaps(const struct layer *l)
{
	printf("    bitmaps:\n");
	for (size_t i = 0; i < l->nbitmaps; i++) {
		int k = 0;

		printf("        [%zu]:\n            flags:\n", i);
		if (l->bitmaps[i].in_use)
			printf("                [%d]: in-use\n", k++);
		if (l->bitmaps[i].autoload)
			printf("                [%d]: auto\n", k++);
		printf("            name: %s\n            granularity: %" PRIu64 "\n", l->bitmaps[i].name,
		       l->bitmaps[i].granularity);
	}
}

static void human_format_specific(const struct layer *l)
{
	const struct img_info *in = &l->info;

	printf("Format specific information:\n");
	printf("    compat: %s\n", compat_str(in->version));
	printf("    compression type: %s\n", compress_str(in->compression_type));
	if (in->version >= 3)
		printf("    lazy refcounts: %s\n", in->lazy_refcounts ? "true" : "false");
	if (l->nbitmaps)
		human_bitmaps(l);
	printf("    refcount bits: %u\n", in->refcount_bits);
	if (in->version >= 3) {
		printf("    corrupt: %s\n", in->corrupt ? "true" : "false");
		printf("    extended l2: %s\n", in->extended_l2 ? "true" : "false");
	}
}

static void human_layer(const struct layer *l)
{
	const struct img_info *in = &l->info;
	char vs[32], ds[32], full[PATH_MAX];

	size_str(in->virtual_size, vs, sizeof(vs));
	size_str(in->actual_size, ds, sizeof(ds));
	printf("image: %s\nfile format: %s\n", l->name, in->format == IMG_FMT_QCOW2 ? "qcow2" : "raw");
	printf("virtual size: %s (%" PRIu64 " bytes)\ndisk size: %s\n", vs, in->virtual_size, ds);
	if (in->cluster_size)
		printf("cluster_size: %u\n", in->cluster_size);
	if (in->dirty)
		printf("dirty flag: yes\n");
	if (in->backing_file[0]) {
		layer_full_backing(l, full, sizeof(full));
		if (strcmp(full, in->backing_file))
			printf("backing file: %s (actual path: %s)\n", in->backing_file, full);
		else
			printf("backing file: %s\n", in->backing_file);
		if (in->backing_format[0])
			printf("backing file format: %s\n", in->backing_format);
	}
	if (l->nsnaps) {
		printf("Snapshot list:\n");
		human_snapshots(l);
	}
	if (in->format == IMG_FMT_QCOW2)
		human_format_specific(l);
}

/* Loads the layers of an open chain, top first; the names follow QEMU's
 * path_combine from the top image's name. */
static int load_chain(struct img *top, const char *name, int whole, struct layer *ls, size_t max,
		      size_t *n)
{
	struct img *cur = top;
	char next[PATH_MAX];
	int rc = 0;

	snprintf(next, sizeof(next), "%s", name);
	for (*n = 0; cur && *n < max; cur = whole ? img_backing(cur) : NULL) {
		rc = layer_load(&ls[*n], cur, next);
		if (rc < 0)
			break;
		layer_full_backing(&ls[*n], next, sizeof(next));
		(*n)++;
	}
	return rc;
}

static void free_layers(struct layer *ls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		qcow2_snapshot_list_free(ls[i].snaps, ls[i].nsnaps);
		qcow2_bitmap_list_free(ls[i].bitmaps, ls[i].nbitmaps);
	}
}

static int cmd_info(int argc, char **argv)
{
	static const struct option lo[] = { { "output", 1, NULL, 'O' }, { "backing-chain", 0, NULL, 'B' },
					    { "force-share", 0, NULL, 'U' }, { NULL, 0, NULL, 0 } };
	struct opener o = { .flags = IMG_OPEN_NO_BACKING };
	enum out_fmt out = OUT_HUMAN;
	struct layer ls[IMG_DEFAULT_MAX_DEPTH + 1];
	struct jw j = { 0, 1 };
	struct img *img;
	size_t n = 0;
	int c, chain = 0, rc;

	while ((c = getopt_long(argc, argv, "f:hU", lo, NULL)) != -1) {
		if (common_opt(c, &o) < 0 || (c == 'O' && parse_output(optarg, &out) < 0))
			return 1;
		chain |= c == 'B';
	}
	if (want_args(argc, 1, "one image file name") < 0)
		return 1;
	if (chain)
		o.flags &= ~IMG_OPEN_NO_BACKING;
	if (open_img(&img, argv[optind], &o) < 0)
		return 1;
	rc = load_chain(img, argv[optind], chain, ls, ARRAY_SIZE(ls), &n);
	if (rc == 0 && chain && out == OUT_JSON)
		jw_open(&j, NULL, '[');
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (out == OUT_JSON)
			json_layer(&j, &ls[i]);
		else {
			if (i)
				putchar('\n');
			human_layer(&ls[i]);
		}
	}
	if (rc == 0 && chain && out == OUT_JSON)
		jw_close(&j, ']');
	free_layers(ls, n);
	img_close(img);
	return rc < 0;
}

/* ---- create ------------------------------------------------------------------------- */

#define CREATE_OPTS_QCOW2                                                                    \
	(OPT_CLUSTER | OPT_PREALLOC | OPT_LAZY | OPT_EXTL2 | OPT_COMPAT | OPT_REFBITS | OPT_COMPRESS | \
	 OPT_BACKING | OPT_BACKFMT | OPT_SIZE)
#define CREATE_OPTS_RAW (OPT_PREALLOC | OPT_SIZE)

static const char *const prealloc_names[] = { "off", "metadata", "falloc", "full" };

static void print_formatting(const char *path, const struct img_opts *o)
{
	const struct img_create_opts *c = &o->c;

	printf("Formatting '%s', fmt=%s ", path, c->format == IMG_FMT_QCOW2 ? "qcow2" : "raw");
	if (c->format == IMG_FMT_RAW) {
		printf("size=%" PRIu64, c->size);
		if (o->given & OPT_PREALLOC)
			printf(" preallocation=%s", prealloc_names[c->prealloc]);
		putchar('\n');
		return;
	}
	printf("cluster_size=%u extended_l2=%s ", c->cluster_size ? c->cluster_size : 65536u,
	       c->extended_l2 ? "on" : "off");
	if (o->given & OPT_PREALLOC)
		printf("preallocation=%s ", prealloc_names[c->prealloc]);
	printf("compression_type=%s size=%" PRIu64 " ", compress_str(c->compression_type), c->size);
	if (c->backing_file)
		printf("backing_file=%s ", c->backing_file);
	if (c->backing_format)
		printf("backing_fmt=%s ", c->backing_format);
	if (o->given & OPT_COMPAT)
		printf("compat=%s ", compat_str(c->compat));
	printf("lazy_refcounts=%s refcount_bits=%u\n", c->lazy_refcounts ? "on" : "off",
	       c->refcount_bits ? c->refcount_bits : 16u);
}

/* The virtual size of the backing file named by an image about to be created at PATH. */
static int backing_size(const char *path, const struct img_opts *o, uint64_t *out)
{
	struct opener op = { .flags = IMG_OPEN_NO_BACKING | IMG_OPEN_SHARED };
	char full[PATH_MAX];
	struct img *b;

	op.fmt = o->backing_fmt[0] ? o->backing_fmt : NULL;
	path_combine(path, o->backing, full, sizeof(full));
	if (open_img(&b, full, &op) < 0)
		return -ENOENT;
	*out = img_virtual_size(b);
	img_close(b);
	return 0;
}

/* Fills O from "-f FMT -o OPTS -b B -F BF" and an optional SIZE argument. */
static int create_prepare(const char *path, const char *fmt, const char *ostr, const char *size,
			  int unsafe, struct img_opts *o)
{
	if (parse_fmt(fmt, &o->c.format) < 0)
		return -EINVAL;
	if (ostr[0] && parse_o(ostr, o->c.format == IMG_FMT_QCOW2 ? CREATE_OPTS_QCOW2 : CREATE_OPTS_RAW, o) < 0)
		return -EINVAL;
	if (size && parse_size_arg(size, &o->c.size) < 0)
		return -EINVAL;
	if (o->backing[0]) {
		o->c.backing_file = o->backing;
		o->c.no_backing_open = unsafe;
	}
	if (o->backing_fmt[0])
		o->c.backing_format = o->backing_fmt;
	if (!size && !(o->given & OPT_SIZE) && o->backing[0] && !unsafe &&
	    backing_size(path, o, &o->c.size) < 0)
		return -ENOENT;
	if (!o->c.size && !size && !(o->given & OPT_SIZE)) {
		perr(path, "Image creation needs a size parameter");
		return -EINVAL;
	}
	return 0;
}

static int do_create(const char *path, const struct img_opts *o, int quiet)
{
	char err[ERRLEN] = "";
	int rc;

	if (!quiet)
		print_formatting(path, o);
	rc = img_create(path, &o->c, err, sizeof(err));
	if (rc < 0)
		perr(path, "%s", why(rc, err));
	return rc;
}

static int cmd_create(int argc, char **argv)
{
	struct img_opts o = { 0 };
	char ostr[4096] = "";
	const char *fmt = "raw";
	int c, quiet = 0, unsafe = 0;

	while ((c = getopt_long(argc, argv, "f:o:b:F:uqh", NULL, NULL)) != -1) {
		if (c == 'f')
			fmt = optarg;
		else if (c == 'o' && add_o(ostr, sizeof(ostr), optarg) < 0)
			return 1;
		else if (c == 'b')
			snprintf(o.backing, sizeof(o.backing), "%s", optarg);
		else if (c == 'F')
			snprintf(o.backing_fmt, sizeof(o.backing_fmt), "%s", optarg);
		else if (c == 'u')
			unsafe = 1;
		else if (c == 'q')
			quiet = 1;
		else if (c == 'h' || c == '?')
			return 1;
	}
	if (optind >= argc || argc - optind > 2) {
		perr(NULL, "Expecting image file name and optional size");
		return 1;
	}
	if (create_prepare(argv[optind], fmt, ostr, optind + 1 < argc ? argv[optind + 1] : NULL, unsafe,
			   &o) < 0)
		return 1;
	return do_create(argv[optind], &o, quiet) < 0;
}

/* ---- check ------------------------------------------------------------------------------ */

static void report_line(void *opaque, const char *line)
{
	(void)opaque;
	fprintf(stderr, "%s\n", line);
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void check_human(const struct qcow2_check_result *r)
{
	if (!r->corruptions && !r->leaks && !r->check_errors)
		printf("No errors were found on the image.\n");
	if (r->corruptions)
		printf("\n%" PRId64 " errors were found on the image.\n"
		       "Data may be corrupted, or further writes to the image may corrupt it.\n",
		       r->corruptions);
	if (r->leaks)
		printf("\n%" PRId64 " leaked clusters were found on the image.\n"
		       "This means waste of disk space, but no harm to data.\n",
		       r->leaks);
	if (r->check_errors)
		printf("\n%" PRId64 " internal errors have occurred during the check.\n", r->check_errors);
	if (r->total_clusters && r->allocated_clusters)
		printf("%" PRIu64 "/%" PRIu64 " = %0.2f%% allocated, %0.2f%% fragmented, %0.2f%% compressed clusters\n",
		       r->allocated_clusters, r->total_clusters, pct(r->allocated_clusters, r->total_clusters),
		       pct(r->fragmented_clusters, r->allocated_clusters),
		       pct(r->compressed_clusters, r->allocated_clusters));
	if (r->image_end_offset)
		printf("Image end offset: %" PRIu64 "\n", r->image_end_offset);
}

static void jw_int_nz(struct jw *j, const char *key, int64_t v)
{
	if (v)
		jw_int(j, key, v);
}

/* Keys in QEMU 7.2's order; optional ones only when non-zero, as qemu-img. */
static void check_json(const char *path, const struct qcow2_check_result *r)
{
	struct jw j = { 0, 1 };

	jw_open(&j, NULL, '{');
	jw_int_nz(&j, "image-end-offset", (int64_t)r->image_end_offset);
	jw_int_nz(&j, "compressed-clusters", (int64_t)r->compressed_clusters);
	jw_int_nz(&j, "total-clusters", (int64_t)r->total_clusters);
	jw_int_nz(&j, "corruptions", r->corruptions);
	jw_int_nz(&j, "corruptions-fixed", r->corruptions_fixed);
	jw_int(&j, "check-errors", r->check_errors);
	jw_int_nz(&j, "leaks", r->leaks);
	jw_int_nz(&j, "leaks-fixed", r->leaks_fixed);
	jw_int_nz(&j, "allocated-clusters", (int64_t)r->allocated_clusters);
	jw_str(&j, "filename", path);
	jw_str(&j, "format", "qcow2");
	jw_int_nz(&j, "fragmented-clusters", (int64_t)r->fragmented_clusters);
	jw_close(&j, '}');
}

static int check_exit(const struct qcow2_check_result *r)
{
	if (r->check_errors)
		return CHECK_FAIL;
	if (r->corruptions)
		return CHECK_CORRUPT;
	return r->leaks ? CHECK_LEAKS : CHECK_OK;
}

/* Runs the check (and repair); after a repair, checks again as qemu-img does
 * and keeps the *_fixed counts of the first pass. */
static int check_run(struct qcow2 *q, const char *path, unsigned repair, enum out_fmt out,
		     struct qcow2_check_result *r)
{
	char err[ERRLEN] = "";
	int64_t cf, lf;
	int rc = qcow2_check(q, repair, r, report_line, NULL, err, sizeof(err));

	if (rc < 0 || !(r->corruptions_fixed || r->leaks_fixed))
		goto out;
	cf = r->corruptions_fixed;
	lf = r->leaks_fixed;
	if (out == OUT_HUMAN)
		printf("The following inconsistencies were found and repaired:\n\n"
		       "    %" PRId64 " leaked clusters\n    %" PRId64 " corruptions\n\n"
		       "Double checking the fixed image now...\n",
		       lf, cf);
	rc = qcow2_check(q, 0, r, report_line, NULL, err, sizeof(err));
	r->corruptions_fixed = cf;
	r->leaks_fixed = lf;
out:
	if (rc < 0)
		perr(path, "Check failed: %s", why(rc, err));
	return rc;
}

static int check_opts(int argc, char **argv, struct opener *o, unsigned *repair, enum out_fmt *out,
		      int *quiet)
{
	static const struct option lo[] = { { "output", 1, NULL, 'O' }, { "repair", 1, NULL, 'r' },
					    { "force-share", 0, NULL, 'U' }, { NULL, 0, NULL, 0 } };
	int c;

	while ((c = getopt_long(argc, argv, "f:r:T:qUh", lo, NULL)) != -1) {
		if (common_opt(c, o) < 0 || (c == 'O' && parse_output(optarg, out) < 0))
			return -EINVAL;
		else if (c == 'r' && !strcmp(optarg, "leaks"))
			*repair = QCOW2_REPAIR_LEAKS;
		else if (c == 'r' && !strcmp(optarg, "all"))
			*repair = QCOW2_REPAIR_LEAKS | QCOW2_REPAIR_ERRORS;
		else if (c == 'r') {
			perr(NULL, "Unknown option value for -r (expecting 'leaks' or 'all'): %s", optarg);
			return -EINVAL;
		} else if (c == 'q')
			*quiet = 1;
	}
	return want_args(argc, 1, "one image file name");
}

static int cmd_check(int argc, char **argv)
{
	struct opener o = { .flags = IMG_OPEN_CHECK | IMG_OPEN_NO_BACKING };
	struct qcow2_check_result r = { 0 };
	enum out_fmt out = OUT_HUMAN;
	unsigned repair = 0;
	struct img *img;
	struct qcow2 *q;
	const char *path;
	int quiet = 0, rc = CHECK_FAIL;

	if (check_opts(argc, argv, &o, &repair, &out, &quiet) < 0)
		return CHECK_FAIL;
	path = argv[optind];
	if (repair)
		o.flags |= IMG_OPEN_RDWR;
	if (open_img(&img, path, &o) < 0)
		return CHECK_FAIL;
	q = img_qcow2(img);
	if (!q) {
		perr(path, "This image format does not support checks");
		rc = CHECK_UNSUPPORTED;
	} else if (check_run(q, path, repair, out, &r) == 0) {
		if (out == OUT_JSON)
			check_json(path, &r);
		else if (!quiet)
			check_human(&r);
		rc = check_exit(&r);
	}
	if (img_close(img) < 0 && rc == CHECK_OK)
		rc = CHECK_FAIL;
	return rc;
}

/* ---- cache modes (-t/-T) ------------------------------------------------------------------------------------- */

/* qemu-img's cache modes over the library's I/O ops: "none"/"directsync" send
 * aligned data I/O through a second, O_DIRECT descriptor of the same file
 * (everything else, metadata and odd sizes, through the library's own one;
 * Linux keeps the two coherent); "unsafe" drops flushes, as qemu-img convert
 * does by default; "writeback"/"writethrough" are the plain POSIX ops. */
#define DIO_ALIGN 4096u
#define DIO_MAX_FILES 8

/* bench -d: O_DIRECT data writes go on behind the caller, up to DEPTH at
 * a time, as qemu-img bench keeps DEPTH requests in flight.  Each request
 * is copied into one of DEPTH slots whose buffer stays for the next one
 * (a fresh buffer per request would cost a page fault per 4 KiB and an
 * munmap per request, more CPU than the writes themselves), unless its
 * data lies in the caller's STABLE buffer, unchanged until the end; a request
 * waits for any in-flight one it overlaps, so writes to the same bytes
 * land in the order they were made.  Any other request (reads, buffered
 * writes, flushes, size changes) first waits for all of them, so the
 * library sees the file as if they were synchronous; a failed one fails
 * that next request. */
#define WB_MAX_THREADS 64

enum { WB_FREE, WB_FILLING, WB_QUEUED, WB_BUSY };

struct wb_slot {
	int fd, state;
	void *buf;        /* CAP bytes, 4K-aligned; kept while the slot is free */
	size_t cap, len;
	uint64_t off;
	const void *data; /* LEN bytes written: BUF, or the caller's stable buffer */
};

struct write_behind {
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	pthread_t th[WB_MAX_THREADS];
	unsigned nth;
	const unsigned char *stable; /* STABLE_LEN bytes the caller never changes while writing */
	size_t stable_len;
	struct wb_slot *slot; /* DEPTH slots */
	size_t *ring;         /* numbers of the queued slots, oldest first */
	size_t depth, head, queued, busy;
	int err, stop;
};

/* Direct writes past a file's end grow it GROW_CHUNK at a time by
 * fallocate, as QEMU's preallocate filter does: ext4 serialises direct
 * writes that extend a file (each one journals the new size), so writes
 * behind would otherwise run one by one.  END is the size the library
 * sees (the highest byte written, truncated or allocated); closing
 * truncates the file back to it. */
#define GROW_CHUNK (16ull << 20)

struct dio_file {
	int fd, dfd;
	bool sized, no_grow; /* SIZED: END and GROWN are known */
	uint64_t end, grown;
};

struct cache_io {
	int direct, no_flush;
	struct dio_file map[DIO_MAX_FILES];
	size_t n;
	struct write_behind *wb; /* NULL: every write is synchronous */
};

static int wb_drain(struct write_behind *w);

static int cache_parse(const char *mode, struct cache_io *c)
{
	static const struct {
		const char *name;
		int direct, no_flush;
	} modes[] = {
		{ "none", 1, 0 },      { "directsync", 1, 0 },   { "unsafe", 0, 1 },
		{ "writeback", 0, 0 }, { "writethrough", 0, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
		if (!strcmp(mode, modes[i].name)) {
			c->direct = modes[i].direct;
			c->no_flush = modes[i].no_flush;
			return 0;
		}
	perr(NULL, "Invalid cache option: %s", mode);
	return -EINVAL;
}

static struct dio_file *dio_find(struct cache_io *c, int fd)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->map[i].fd == fd)
			return &c->map[i];
	return NULL;
}

static int dio_fd(struct cache_io *c, int fd)
{
	struct dio_file *f = dio_find(c, fd);
	char path[64];
	int fl;

	if (f)
		return f->dfd;
	fl = fcntl(fd, F_GETFL);
	if (c->n == DIO_MAX_FILES || fl < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	c->map[c->n] = (struct dio_file){ .fd = fd };
	c->map[c->n].dfd = open(path, (fl & O_ACCMODE) | O_DIRECT | O_CLOEXEC);
	return c->map[c->n++].dfd;
}

/* Records that the file's size as the library sees it reaches at least END. */
static void dio_note_end(struct cache_io *c, int fd, uint64_t end)
{
	struct dio_file *f = dio_find(c, fd);

	if (f && f->sized && end > f->end)
		f->end = end;
	if (f && f->sized && end > f->grown)
		f->grown = end;
}

/* Before a direct write up to END: the file already reaches past END
 * (grown ahead), or grows to END rounded up to GROW_CHUNK.  Writes in
 * flight all end below the old size, so nothing needs to wait. */
static void dio_grow(struct cache_io *c, int fd, uint64_t end)
{
	struct dio_file *f = dio_find(c, fd);
	struct stat st;
	uint64_t to;

	if (!f || f->no_grow || (f->sized && end <= f->grown))
		return;
	if (!f->sized) {
		if (fstat(fd, &st) < 0) {
			f->no_grow = true;
			return;
		}
		f->end = f->grown = (uint64_t)st.st_size;
		f->sized = true;
		if (end <= f->grown)
			return;
	}
	to = (end + GROW_CHUNK - 1) / GROW_CHUNK * GROW_CHUNK;
	if (fallocate(fd, 0, (off_t)f->grown, (off_t)(to - f->grown)) < 0)
		f->no_grow = true; /* growing ahead is only an optimisation */
	else
		f->grown = to;
}

/* The O_DIRECT descriptor for this request, or -1 to use the library's own. */
static int dio_pick(struct cache_io *c, int fd, const void *buf, size_t len, uint64_t off)
{
	if (!c->direct || ((uintptr_t)buf | len | off) % DIO_ALIGN)
		return -1;
	return dio_fd(c, fd);
}

static int dio_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
	int dfd = dio_pick(ctx, fd, buf, len, off), r = wb_drain(((struct cache_io *)ctx)->wb);
	size_t done = 0;

	if (r < 0)
		return r;
	if (dfd < 0)
		return img_io_posix()->pread(NULL, fd, buf, len, off);
	while (done < len) {
		ssize_t r = pread(dfd, (char *)buf + done, len - done, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	memset((char *)buf + done, 0, len - done); /* past EOF reads as zeros */
	return 0;
}

static int direct_write(int dfd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pwrite(dfd, (const char *)buf + done, len - done, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		done += (size_t)r;
	}
	return 0;
}

static void *wb_main(void *arg)
{
	struct write_behind *w = arg;
	struct wb_slot *sl;
	int r;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->queued && !w->stop)
			pthread_cond_wait(&w->work, &w->mu);
		if (!w->queued)
			break;
		sl = &w->slot[w->ring[w->head]];
		w->head = (w->head + 1) % w->depth;
		w->queued--;
		w->busy++;
		sl->state = WB_BUSY;
		pthread_mutex_unlock(&w->mu);
		r = direct_write(sl->fd, sl->data, sl->len, sl->off);
		pthread_mutex_lock(&w->mu);
		if (r < 0 && !w->err)
			w->err = r;
		sl->state = WB_FREE;
		w->busy--;
		pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Waits until no write is queued or running; the first failure, once. */
static int wb_drain(struct write_behind *w)
{
	int r;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	while (w->queued || w->busy)
		pthread_cond_wait(&w->idle, &w->mu);
	r = w->err;
	w->err = 0;
	pthread_mutex_unlock(&w->mu);
	return r;
}

/* With the lock held: a free slot, or NULL while DEPTH are in flight or a
 * write in flight overlaps [OFF, OFF+LEN) of DFD. */
static struct wb_slot *wb_slot_for(struct write_behind *w, int dfd, size_t len, uint64_t off)
{
	struct wb_slot *free_slot = NULL;

	for (size_t i = 0; i < w->depth; i++) {
		struct wb_slot *sl = &w->slot[i];

		if (sl->state == WB_FREE) {
			if (!free_slot || (sl->cap >= len && free_slot->cap < len))
				free_slot = sl;
		} else if (sl->fd == dfd && sl->off < off + len && off < sl->off + sl->len) {
			return NULL;
		}
	}
	return free_slot;
}

/* Fills the slot (reserved: WB_FILLING, so unlocked) with a copy of BUF,
 * or points it at BUF when that lies in the stable buffer. */
static int wb_fill(const struct write_behind *w, struct wb_slot *sl, const void *buf)
{
	const unsigned char *p = buf;
	void *nb;

	if (w->stable && p >= w->stable && sl->len <= w->stable_len &&
	    (size_t)(p - w->stable) <= w->stable_len - sl->len) {
		sl->data = buf;
		return 0;
	}
	if (sl->cap < sl->len) {
		if (posix_memalign(&nb, DIO_ALIGN, sl->len))
			return -ENOMEM;
		free(sl->buf);
		sl->buf = nb;
		sl->cap = sl->len;
	}
	memcpy(sl->buf, buf, sl->len);
	sl->data = sl->buf;
	return 0;
}

/* Queues the request (waits while DEPTH are in flight or one of them
 * overlaps it). */
static int wb_submit(struct write_behind *w, int dfd, const void *buf, size_t len, uint64_t off)
{
	struct wb_slot *sl;

	pthread_mutex_lock(&w->mu);
	while (!(sl = wb_slot_for(w, dfd, len, off)))
		pthread_cond_wait(&w->idle, &w->mu);
	*sl = (struct wb_slot){ dfd, WB_FILLING, sl->buf, sl->cap, len, off, NULL };
	pthread_mutex_unlock(&w->mu);
	if (wb_fill(w, sl, buf) < 0) {
		pthread_mutex_lock(&w->mu);
		sl->state = WB_FREE;
		pthread_cond_broadcast(&w->idle);
		pthread_mutex_unlock(&w->mu);
		return -ENOMEM;
	}
	pthread_mutex_lock(&w->mu);
	sl->state = WB_QUEUED;
	w->ring[(w->head + w->queued++) % w->depth] = (size_t)(sl - w->slot);
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

static void wb_stop(struct write_behind *w)
{
	if (!w)
		return;
	wb_drain(w);
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->nth; i++)
		pthread_join(w->th[i], NULL);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->idle);
	pthread_mutex_destroy(&w->mu);
	for (size_t i = 0; w->slot && i < w->depth; i++)
		free(w->slot[i].buf);
	free(w->slot);
	free(w->ring);
	free(w);
}

/* DEPTH writes in flight on up to WB_MAX_THREADS threads; NULL when DEPTH
 * is 1 or no thread starts (then writes stay synchronous).  Data inside
 * STABLE (STABLE_LEN bytes, unchanged until wb_stop) is written uncopied. */
static struct write_behind *wb_start(size_t depth, const void *stable, size_t stable_len)
{
	struct write_behind *w = depth > 1 ? calloc(1, sizeof(*w)) : NULL;

	if (!w)
		return NULL;
	w->depth = depth;
	w->stable = stable;
	w->stable_len = stable_len;
	w->slot = calloc(depth, sizeof(*w->slot));
	w->ring = calloc(depth, sizeof(*w->ring));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->idle, NULL);
	while (w->slot && w->ring && w->nth < WB_MAX_THREADS && w->nth < depth &&
	       pthread_create(&w->th[w->nth], NULL, wb_main, w) == 0)
		w->nth++;
	if (!w->nth) {
		wb_stop(w);
		return NULL;
	}
	return w;
}

static int dio_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
	struct cache_io *c = ctx;
	int dfd = dio_pick(ctx, fd, buf, len, off), r;

	if (dfd >= 0)
		dio_grow(c, fd, off + len);
	dio_note_end(c, fd, off + len);
	if (dfd >= 0 && c->wb)
		return wb_submit(c->wb, dfd, buf, len, off);
	r = wb_drain(c->wb);
	if (r < 0)
		return r;
	if (dfd < 0)
		return img_io_posix()->pwrite(NULL, fd, buf, len, off);
	return direct_write(dfd, buf, len, off);
}

static int dio_flush(void *ctx, int fd)
{
	const struct cache_io *c = ctx;
	int r = wb_drain(c->wb);

	return r < 0 ? r : c->no_flush ? 0 : img_io_posix()->flush(NULL, fd);
}

static int dio_truncate(void *ctx, int fd, uint64_t len)
{
	struct dio_file *f = dio_find(ctx, fd);
	int r = wb_drain(((struct cache_io *)ctx)->wb);

	if (r == 0)
		r = img_io_posix()->truncate(NULL, fd, len);
	if (r == 0 && f && f->sized)
		f->end = f->grown = len;
	return r;
}

static int dio_punch(void *ctx, int fd, uint64_t off, uint64_t len)
{
	int r = wb_drain(((struct cache_io *)ctx)->wb);

	return r < 0 ? r : img_io_posix()->punch(NULL, fd, off, len);
}

static int dio_falloc(void *ctx, int fd, uint64_t off, uint64_t len)
{
	int r = wb_drain(((struct cache_io *)ctx)->wb);

	if (r == 0)
		r = img_io_posix()->falloc(NULL, fd, off, len);
	if (r == 0)
		dio_note_end(ctx, fd, off + len);
	return r;
}

static int dio_size(void *ctx, int fd, uint64_t *out)
{
	const struct dio_file *f = dio_find(ctx, fd);
	int r = wb_drain(((struct cache_io *)ctx)->wb);

	if (r == 0 && f && f->sized)
		*out = f->end;
	return r < 0 || (f && f->sized) ? r : img_io_posix()->size(NULL, fd, out);
}

static const struct img_io_ops cache_ops = {
	dio_pread, dio_pwrite, dio_flush, dio_truncate, dio_punch, dio_falloc, dio_size,
};

static void cache_use(struct cache_io *c, struct opener *o)
{
	o->io = &cache_ops;
	o->io_ctx = c;
}

static void cache_close(struct cache_io *c)
{
	wb_stop(c->wb);
	c->wb = NULL;
	for (size_t i = 0; i < c->n; i++) {
		const struct dio_file *f = &c->map[i];

		if (f->dfd >= 0 && f->sized && f->grown > f->end && ftruncate(f->dfd, (off_t)f->end) == 0 &&
		    !c->no_flush)
			fdatasync(f->dfd);
		if (f->dfd >= 0)
			close(f->dfd);
	}
	c->n = 0;
}

/* ---- convert ----------------------------------------------------------------------------- */

#define UNIT 512u                       /* classification granule: one sector */
#define UNITS (COPY_CHUNK / UNIT)

enum { U_SKIP = 0, U_ZERO = 1, U_DATA = 2 }; /* ordered: the strongest wins a shared unit */

struct zpool;

struct conv {
	struct img *src, *dst;
	struct qcow2 *dq;       /* set with -c */
	const char *dst_path;
	uint64_t size;
	uint32_t cluster;       /* target allocation granule (512 for raw) */
	uint64_t sparse;        /* -S: minimum zero run to leave unwritten; 0 = off */
	int backed;             /* -B: unallocated source ranges stay with the target's backing */
	int write_zeroes;       /* target does not read as zeros (-n, -B) */
	int progress;
	int last_pct;
	unsigned char *buf;     /* the window being written: COPY_CHUNK bytes */
	unsigned char *cls;     /* and its UNITS classes */
	unsigned char *comp;    /* -c: the window's clusters compressed, same offsets */
	long clen[UNITS];       /* -c: compressed size per cluster (see Z_NO_DATA) */
	struct zpool *zp;       /* -c: the threads compressing */
	enum img_compression ztype; /* -c: the target's compression type */
};

static int all_zero(const unsigned char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

static void mark(unsigned char *cls, uint64_t from, uint64_t to, unsigned char v)
{
	for (uint64_t u = from / UNIT; u < (to + UNIT - 1) / UNIT; u++)
		if (cls[u] < v)
			cls[u] = v;
}

#define SLOTS 3 /* windows read ahead of the writer */

struct window {
	uint64_t w, len;
	int rc;
	int ready;           /* filled by the reader, not yet written */
	unsigned char *buf;  /* COPY_CHUNK bytes, 4K-aligned */
	unsigned char cls[UNITS];
};

/* Classifies the source window into win->cls and reads its data into win->buf.
 * With BACKED (-B) only the top layer counts; the rest stays with the backing.
 * Only data is read: the buffer under zero and skipped units is left as it
 * was (the writer fills zeros where it needs them: conv_fill_zeros). */
static int scan_window(struct img *src, int backed, struct window *win)
{
	unsigned bsf = backed ? 0 : IMG_BS_FOLLOW_BACKING;
	uint64_t pos = win->w, end = win->w + win->len;
	struct img_extent e;
	int rc = 0;

	memset(win->cls, U_SKIP, sizeof(win->cls));
	while (pos < end && rc == 0) {
		rc = img_block_status(src, pos, end - pos, bsf, &e);
		if (rc < 0 || e.length == 0)
			return rc < 0 ? rc : CR_EINTERNAL;
		if ((e.flags & IMG_BS_ZERO) || (backed && !(e.flags & IMG_BS_ALLOCATED))) {
			if (e.flags & IMG_BS_ZERO)
				mark(win->cls, pos - win->w, pos - win->w + e.length, U_ZERO);
		} else {
			mark(win->cls, pos - win->w, pos - win->w + e.length, U_DATA);
			rc = img_pread(src, win->buf + (pos - win->w), e.length, pos);
		}
		pos += e.length;
	}
	return rc;
}

/* The source is read on its own thread, SLOTS windows ahead of the writer: the
 * source and the target are distinct handles, which the library allows to be
 * used from different threads. */
struct reader {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct img *src;
	uint64_t size;
	int backed, stop;
	struct window win[SLOTS];
};

/* Waits until WIN is free (returns 0) or the writer gave up (-ECANCELED). */
static int reader_wait_free(struct reader *r, struct window *win)
{
	int stop;

	pthread_mutex_lock(&r->mu);
	while (win->ready && !r->stop)
		pthread_cond_wait(&r->cond, &r->mu);
	stop = r->stop;
	pthread_mutex_unlock(&r->mu);
	return stop ? -ECANCELED : 0;
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	uint64_t k = 0;

	for (uint64_t w = 0; w < r->size; w += COPY_CHUNK, k++) {
		struct window *win = &r->win[k % SLOTS];

		if (reader_wait_free(r, win) < 0)
			break;
		win->w = w;
		win->len = r->size - w < COPY_CHUNK ? r->size - w : COPY_CHUNK;
		win->rc = scan_window(r->src, r->backed, win);
		pthread_mutex_lock(&r->mu);
		win->ready = 1;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->mu);
		if (win->rc < 0)
			break;
	}
	return NULL;
}

/* The K-th window, once read. */
static struct window *reader_take(struct reader *r, uint64_t k)
{
	struct window *win = &r->win[k % SLOTS];

	pthread_mutex_lock(&r->mu);
	while (!win->ready)
		pthread_cond_wait(&r->cond, &r->mu);
	pthread_mutex_unlock(&r->mu);
	return win;
}

static void reader_give_back(struct reader *r, struct window *win)
{
	pthread_mutex_lock(&r->mu);
	win->ready = 0;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
}

static int reader_start(struct reader *r)
{
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cond, NULL);
	for (size_t i = 0; i < SLOTS; i++)
		if (posix_memalign((void **)&r->win[i].buf, 4096, COPY_CHUNK))
			return -ENOMEM;
	return -pthread_create(&r->thread, NULL, reader_main, r);
}

/* Stops the reader (if running) and frees the windows. */
static void reader_finish(struct reader *r, int started)
{
	if (started) {
		pthread_mutex_lock(&r->mu);
		r->stop = 1;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->thread, NULL);
	}
	for (size_t i = 0; i < SLOTS; i++)
		free(r->win[i].buf);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mu);
}

/* Whether every data unit of [off, off+n) of the window (LEN bytes) holds
 * only zeros; the other units are not read (their bytes are not filled). */
static int conv_data_zero(const struct conv *cv, uint64_t off, uint64_t n, uint64_t len)
{
	uint64_t u = off / UNIT, end = (off + n + UNIT - 1) / UNIT;

	while (u < end) {
		uint64_t run = u;

		while (run < end && cv->cls[run] == U_DATA)
			run++;
		if (run > u && !all_zero(cv->buf + u * UNIT, (run * UNIT > len ? len : run * UNIT) - u * UNIT))
			return 0;
		u = run > u ? run : u + 1;
	}
	return 1;
}

/* -S: data granules that hold only zeros are treated as zero ranges. */
static void conv_sparsify(struct conv *cv, uint64_t len)
{
	uint64_t g = cv->sparse;

	if (!g)
		return;
	for (uint64_t off = 0; off < len; off += g) {
		uint64_t n = off + g > len ? len - off : g;

		if (conv_data_zero(cv, off, n, len))
			for (uint64_t u = off / UNIT; u < (off + n + UNIT - 1) / UNIT; u++)
				if (cv->cls[u] == U_DATA)
					cv->cls[u] = U_ZERO;
	}
}

/* Zeros in the buffer under the zero units of [from, to) of the window
 * (LEN bytes), which the reader left unfilled, before they are written as
 * data. */
static void conv_fill_zeros(struct conv *cv, uint64_t from, uint64_t to, uint64_t len)
{
	if (to > len)
		to = len;
	for (uint64_t u = from / UNIT; u < (to + UNIT - 1) / UNIT; u++)
		if (cv->cls[u] == U_ZERO)
			memset(cv->buf + u * UNIT, 0, (u * UNIT + UNIT > len ? len : u * UNIT + UNIT) - u * UNIT);
}

/* Without -B a cluster holding any data is written whole (its zero parts
 * included): one write per cluster instead of a copy-on-write per piece. */
static void conv_widen(struct conv *cv, uint64_t len)
{
	uint64_t per = cv->cluster / UNIT, nu = (len + UNIT - 1) / UNIT;

	if (cv->backed || per <= 1)
		return;
	for (uint64_t c = 0; c < nu; c += per) {
		int data = 0;

		for (uint64_t u = c; u < c + per && u < nu; u++)
			data |= cv->cls[u] == U_DATA;
		if (data)
			conv_fill_zeros(cv, c * UNIT, (c + per) * UNIT, len);
		for (uint64_t u = c; data && u < c + per && u < nu; u++)
			cv->cls[u] = U_DATA;
	}
}

static int conv_emit(struct conv *cv, uint64_t w, uint64_t off, uint64_t n, unsigned char v)
{
	if (v == U_DATA)
		return img_pwrite(cv->dst, cv->buf + off, n, w + off);
	if (v == U_ZERO && cv->write_zeroes)
		return img_pwrite_zeroes(cv->dst, w + off, n, IMG_ZERO_MAY_UNMAP);
	return 0;
}

/* Writes the runs of equal class found in [from, to) of the window at W. */
static int conv_write_runs(struct conv *cv, uint64_t w, uint64_t from, uint64_t to)
{
	uint64_t start = from / UNIT, nu = (to + UNIT - 1) / UNIT;
	int rc = 0;

	for (uint64_t u = start + 1; u <= nu && rc == 0; u++) {
		if (u < nu && cv->cls[u] == cv->cls[start])
			continue;
		rc = conv_emit(cv, w, start * UNIT, (u * UNIT > to ? to : u * UNIT) - start * UNIT,
			       cv->cls[start]);
		start = u;
	}
	return rc;
}

/* -c: a small pool of threads, the writer among them, compresses the window's
 * clusters, each thread taking the next cluster nobody took; the writer links
 * them in order, each as soon as it is compressed.  While a window is out,
 * buf and cls are only read; a thread writes only its own cluster's clen[]
 * entry and its cluster's part of comp, and the lock orders both before the
 * writer reads them. */
#define Z_NO_DATA LONG_MIN /* the cluster holds no data: not compressed */
#define Z_MAX_THREADS 16 /* -m allows 16 */
#define Z_MAX_CLUSTERS (COPY_CHUNK / UNIT)

struct zpool {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	pthread_t th[Z_MAX_THREADS];
	unsigned nth;         /* helper threads running */
	struct conv *cv;
	uint64_t len, nc;     /* the window out: its length and its clusters */
	uint64_t next, busy;  /* next cluster to take; clusters being compressed */
	int stop;
	struct qcow2_zctx *wz; /* the writer's compressor (each helper has its own) */
	unsigned char ok[Z_MAX_CLUSTERS]; /* cluster compressed (or nothing to compress) */
};

/* With the lock held: takes the next cluster and compresses it unlocked
 * with ZC (NULL: a compressor made for this cluster). */
static void zpool_take_one(struct zpool *p, struct qcow2_zctx *zc)
{
	struct conv *cv = p->cv;
	uint64_t c = p->next++, off = c * cv->cluster;
	uint64_t n = p->len - off < cv->cluster ? p->len - off : cv->cluster;

	if (cv->clen[c] != Z_NO_DATA) {
		p->busy++;
		pthread_mutex_unlock(&p->mu);
		cv->clen[c] = zc ? qcow2_zctx_compress(zc, cv->cluster, cv->buf + off, n, cv->comp + off)
				 : qcow2_compress_cluster(cv->ztype, cv->cluster, cv->buf + off, n, cv->comp + off);
		pthread_mutex_lock(&p->mu);
		p->busy--;
	}
	p->ok[c] = 1;
	pthread_cond_broadcast(&p->done);
}

static void *zpool_main(void *arg)
{
	struct zpool *p = arg;
	struct qcow2_zctx *zc = qcow2_zctx_new(p->cv->ztype);

	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		if (p->next < p->nc)
			zpool_take_one(p, zc);
		else
			pthread_cond_wait(&p->work, &p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	qcow2_zctx_free(zc);
	return NULL;
}

/* Hands the window in cv->buf (LEN bytes, NC clusters) to the pool. */
static void zpool_publish(struct zpool *p, uint64_t len, uint64_t nc)
{
	pthread_mutex_lock(&p->mu);
	p->len = len;
	p->nc = nc;
	p->next = 0;
	memset(p->ok, 0, nc);
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
}

/* Returns once cluster C is compressed, compressing others meanwhile. */
static void zpool_wait(struct zpool *p, uint64_t c)
{
	pthread_mutex_lock(&p->mu);
	while (!p->ok[c]) {
		if (p->next < p->nc)
			zpool_take_one(p, p->wz);
		else
			pthread_cond_wait(&p->done, &p->mu);
	}
	pthread_mutex_unlock(&p->mu);
}

/* Takes the window back: nothing more is taken, what is under way finishes. */
static void zpool_retire(struct zpool *p)
{
	pthread_mutex_lock(&p->mu);
	p->next = p->nc;
	while (p->busy)
		pthread_cond_wait(&p->done, &p->mu);
	p->nc = p->next = 0;
	pthread_mutex_unlock(&p->mu);
}

/* THREADS compressing in all, the caller included; NULL without memory. */
static struct zpool *zpool_new(struct conv *cv, unsigned threads)
{
	struct zpool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cv = cv;
	p->wz = qcow2_zctx_new(cv->ztype);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	/* a helper that cannot start leaves its share to the others */
	while (p->nth + 1 < threads && pthread_create(&p->th[p->nth], NULL, zpool_main, p) == 0)
		p->nth++;
	return p;
}

static void zpool_free(struct zpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	qcow2_zctx_free(p->wz);
	free(p);
}

/* Before compressing cluster C of the window at W: a cluster without data is
 * written as its zero runs; parts of a data cluster left to the backing file
 * (-B) are read through the target so the compressed cluster keeps them. */
static int conv_prepare_cluster(struct conv *cv, uint64_t w, uint64_t c, uint64_t len)
{
	uint64_t off = c * cv->cluster, n = len - off < cv->cluster ? len - off : cv->cluster;
	uint64_t first = off / UNIT, last = (off + n + UNIT - 1) / UNIT;
	int data = 0, rc = 0;

	for (uint64_t u = first; u < last; u++)
		data |= cv->cls[u] == U_DATA;
	cv->clen[c] = data ? 0 : Z_NO_DATA;
	if (!data)
		return conv_write_runs(cv, w, off, off + n);
	conv_fill_zeros(cv, off, off + n, len); /* compressed whole */
	for (uint64_t u = first; u < last && rc == 0; u++)
		if (cv->cls[u] == U_SKIP)
			rc = img_pread(cv->dst, cv->buf + u * UNIT, u * UNIT + UNIT > len ? len - u * UNIT : UNIT,
				       w + u * UNIT);
	return rc;
}

static int conv_link_cluster(struct conv *cv, uint64_t w, uint64_t c, uint64_t len)
{
	uint64_t off = c * cv->cluster, n = len - off < cv->cluster ? len - off : cv->cluster;
	long z = cv->clen[c];

	if (z == Z_NO_DATA)
		return 0;
	if (z < 0)
		return (int)z;
	if (z == 0) /* does not shrink: stored as it is */
		return img_pwrite(cv->dst, cv->buf + off, n, w + off);
	return qcow2_write_precompressed(cv->dq, w + off, cv->comp + off, (size_t)z);
}

static int conv_write_compressed(struct conv *cv, uint64_t w, uint64_t len)
{
	uint64_t nc = (len + cv->cluster - 1) / cv->cluster;
	int rc = 0;

	for (uint64_t c = 0; c < nc && rc == 0; c++)
		rc = conv_prepare_cluster(cv, w, c, len);
	if (rc < 0)
		return rc;
	zpool_publish(cv->zp, len, nc);
	for (uint64_t c = 0; c < nc && rc == 0; c++) {
		zpool_wait(cv->zp, c);
		rc = conv_link_cluster(cv, w, c, len);
	}
	zpool_retire(cv->zp);
	return rc;
}

/* qemu-img -p: "    (12.00/100%)\r", redrawn whenever the whole percent changes. */
static void progress_show(int *last, uint64_t done, uint64_t total)
{
	int p = total ? (int)(done * 100 / total) : 100;

	if (p == *last)
		return;
	*last = p;
	printf("    (%3.2f/100%%)\r", total ? 100.0 * (double)done / (double)total : 100.0);
	fflush(stdout);
}

static int progress_cb(void *opaque, uint64_t done, uint64_t total)
{
	progress_show(opaque, done, total);
	return 0;
}

static void progress_end(int enabled)
{
	if (enabled)
		printf("    (100.00/100%%)\r\n");
	fflush(stdout);
}

static int conv_write_window(struct conv *cv, struct window *win)
{
	cv->buf = win->buf;
	cv->cls = win->cls;
	conv_sparsify(cv, win->len);
	if (cv->dq)
		return conv_write_compressed(cv, win->w, win->len);
	conv_widen(cv, win->len);
	return conv_write_runs(cv, win->w, 0, win->len);
}

static int conv_run(struct conv *cv, const char *src_path)
{
	struct reader r = { .src = cv->src, .size = cv->size, .backed = cv->backed };
	int rc = reader_start(&r), started = rc == 0;
	uint64_t k = 0;

	if (!started)
		perr(src_path, "cannot start reading: %s", err_str(rc));
	if (cv->progress && started)
		progress_show(&cv->last_pct, 0, 1);
	for (uint64_t w = 0; w < cv->size && rc == 0; w += COPY_CHUNK, k++) {
		struct window *win = reader_take(&r, k);

		if ((rc = win->rc) < 0) {
			perr(src_path, "error while reading at byte %" PRIu64 ": %s", w, img_last_error(cv->src));
			break;
		}
		if ((rc = conv_write_window(cv, win)) < 0)
			perr(cv->dst_path, "error while writing at byte %" PRIu64 ": %s", w, img_last_error(cv->dst));
		reader_give_back(&r, win);
		if (cv->progress)
			progress_show(&cv->last_pct, w + win->len, cv->size);
	}
	reader_finish(&r, started);
	return rc;
}

struct conv_args {
	struct opener src;
	struct cache_io scache, tcache; /* -T, -t */
	const char *out_fmt, *backing, *backing_fmt, *snapshot;
	char ostr[4096];
	int compress, progress, existing, target_zero, quiet;
	uint64_t sparse;
	unsigned inflight; /* -m */
};

/* -m N: requests in flight, 1..16 as qemu-img allows. */
static int conv_inflight(const char *v, unsigned *out)
{
	uint64_t n;

	if (util_parse_u64(v, &n) < 0 || n < 1 || n > 16) {
		perr(NULL, "Invalid number of coroutines. Allowed number of coroutines is between 1 and 16");
		return -EINVAL;
	}
	*out = (unsigned)n;
	return 0;
}

static int conv_parse(int argc, char **argv, struct conv_args *a)
{
	static const struct option lo[] = { { "target-is-zero", 0, NULL, 'Z' },
					    { "force-share", 0, NULL, 'U' }, { NULL, 0, NULL, 0 } };
	int c;

	while ((c = getopt_long(argc, argv, "f:O:co:pS:nB:F:Wm:t:T:qUhr:Cl:", lo, NULL)) != -1) {
		if (common_opt(c, &a->src) < 0)
			return -EINVAL;
		if (c == 'O')
			a->out_fmt = optarg;
		else if (c == 'l')
			a->snapshot = optarg;
		else if (c == 'c')
			a->compress = 1;
		else if (c == 'o' && add_o(a->ostr, sizeof(a->ostr), optarg) < 0)
			return -EINVAL;
		else if (c == 'p')
			a->progress = 1;
		else if (c == 'S' && (util_parse_size(optarg, 1, &a->sparse) < 0 || a->sparse % UNIT ||
				      a->sparse > COPY_CHUNK)) {
			perr(NULL, "Invalid buffer size for sparse output specified. Valid sizes are "
				   "multiples of 512 up to 2M");
			return -EINVAL;
		} else if (c == 'n')
			a->existing = 1;
		else if (c == 'B')
			a->backing = optarg;
		else if (c == 'F')
			a->backing_fmt = optarg;
		else if (c == 'Z')
			a->target_zero = 1;
		else if ((c == 't' && cache_parse(optarg, &a->tcache) < 0) ||
			 (c == 'T' && cache_parse(optarg, &a->scache) < 0))
			return -EINVAL;
		else if (c == 'q')
			a->quiet = 1;
		else if (c == 'm' && conv_inflight(optarg, &a->inflight) < 0)
			return -EINVAL;
	}
	return want_args(argc, 2, "one source and one target file name");
}

/* -l "snapshot.id=ID,snapshot.name=NAME" (either part): *id and *name
 * point into BUF.  0, or -EINVAL after telling why. */
static int snapshot_param(char *buf, const char *param, const char **id, const char **name)
{
	char *save = NULL;

	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strncmp(t, "snapshot.id=", 12))
			*id = t + 12;
		else if (!strncmp(t, "snapshot.name=", 14))
			*name = t + 14;
		else {
			perr(NULL, "Failed in parsing snapshot param '%s'", param);
			return -EINVAL;
		}
	}
	return 0;
}

/* -l PARAM: the source shows that internal snapshot.  A bare PARAM is an
 * id, or else a name (as qemu-img). */
static int conv_load_snapshot(struct img *src, const char *param)
{
	struct qcow2 *q = img_qcow2(src);
	const char *id = NULL, *name = NULL;
	char buf[1024], err[ERRLEN] = "";
	int rc;

	if (!q) {
		perr(NULL, "Failed to load snapshot: Block format 'raw' does not support temporarily "
			   "loading internal snapshots");
		return -EINVAL;
	}
	if (strncmp(param, "snapshot.", 9)) {
		rc = qcow2_snapshot_load_tmp(q, param, NULL, err, sizeof(err));
		if (rc == CR_ENOTFOUND)
			rc = qcow2_snapshot_load_tmp(q, NULL, param, err, sizeof(err));
	} else if (snprintf(buf, sizeof(buf), "%s", param) >= (int)sizeof(buf) ||
		   snapshot_param(buf, param, &id, &name) < 0) {
		return -EINVAL;
	} else {
		rc = qcow2_snapshot_load_tmp(q, id, name, err, sizeof(err));
	}
	if (rc < 0)
		perr(NULL, "Failed to load snapshot: %s", why(rc, err));
	return rc;
}

/* Creates the target (unless -n) like the source: same virtual size.  It
 * is flushed only if -t asks for flushes: by default ("unsafe", as
 * qemu-img convert) no byte of the target is synced, the new header
 * neither (each fdatasync of a fresh file commits the journal, tens of
 * milliseconds on a busy disk). */
static int conv_create(const char *dst, const struct conv_args *a, uint64_t size)
{
	struct cache_io plain = { .no_flush = a->tcache.no_flush };
	struct img_opts o = { 0 };

	if (parse_fmt(a->out_fmt, &o.c.format) < 0)
		return -EINVAL;
	if (a->ostr[0] &&
	    parse_o(a->ostr, o.c.format == IMG_FMT_QCOW2 ? CREATE_OPTS_QCOW2 : CREATE_OPTS_RAW, &o) < 0)
		return -EINVAL;
	o.c.size = size;
	if (a->backing)
		snprintf(o.backing, sizeof(o.backing), "%s", a->backing);
	if (a->backing_fmt)
		snprintf(o.backing_fmt, sizeof(o.backing_fmt), "%s", a->backing_fmt);
	if (o.backing[0])
		o.c.backing_file = o.backing;
	if (o.backing_fmt[0])
		o.c.backing_format = o.backing_fmt;
	o.c.io = &cache_ops;
	o.c.io_ctx = &plain;
	return do_create(dst, &o, 1);
}

/* Opens the target read-write; its backing file (named by the user with -B or
 * -o backing_file) may live in another directory than the target. */
static int conv_open_target(struct img **out, const char *dst, const char *fmt, struct cache_io *cache)
{
	struct opener o = { .flags = IMG_OPEN_RDWR, .fmt = fmt };
	struct cache_io plain = { .no_flush = cache->no_flush }; /* the probe flushes as -t says */
	char tdir[PATH_MAX], bdir[PATH_MAX], full[PATH_MAX];
	const char *dirs[3] = { tdir, NULL, NULL };
	struct img_info in;
	struct img *probe;
	int rc;

	o.flags |= IMG_OPEN_NO_BACKING;
	cache_use(&plain, &o);
	if (open_img(&probe, dst, &o) < 0)
		return -EIO;
	rc = img_get_info(probe, &in);
	img_close(probe);
	o.flags &= ~IMG_OPEN_NO_BACKING;
	cache_use(cache, &o);
	if (rc == 0 && in.backing_file[0] && dir_of(dst, tdir, sizeof(tdir)) == 0) {
		path_combine(dst, in.backing_file, full, sizeof(full));
		if (dir_of(full, bdir, sizeof(bdir)) == 0)
			dirs[1] = bdir;
		o.allowed_dirs = dirs;
	}
	return open_img(out, dst, &o);
}

/* Threads for -c: as many as -m lets requests be in flight (8 unless
 * told), as qemu-img compresses each of its -m requests on a thread of its
 * pool; on a busy machine fewer threads than qemu-img's would get a smaller
 * share of the CPUs for the same work. */
static unsigned zthreads(unsigned inflight)
{
	return inflight < Z_MAX_THREADS ? inflight : Z_MAX_THREADS;
}

static int conv_setup(struct conv *cv, struct conv_args *a, const char *dst)
{
	struct img_info in;
	int rc;

	cv->size = img_virtual_size(cv->src);
	if (!a->existing && conv_create(dst, a, cv->size) < 0)
		return -EIO;
	if (conv_open_target(&cv->dst, dst, a->out_fmt, &a->tcache) < 0)
		return -EIO;
	rc = img_get_info(cv->dst, &in);
	if (rc < 0)
		return rc;
	cv->cluster = in.cluster_size ? in.cluster_size : UNIT;
	cv->backed = in.backing_file[0] != '\0' && !a->existing;
	cv->write_zeroes = (a->existing && !a->target_zero) || in.backing_file[0];
	if (a->compress && !(cv->dq = need_qcow2(cv->dst, dst, "Compression")))
		return -EINVAL;
	if (a->compress && posix_memalign((void **)&cv->comp, 4096, COPY_CHUNK))
		return -ENOMEM;
	if (cv->dq)
		cv->ztype = qcow2_compression(cv->dq);
	if (a->compress && !(cv->zp = zpool_new(cv, zthreads(a->inflight))))
		return -ENOMEM;
	if (img_virtual_size(cv->dst) < cv->size) {
		perr(dst, "Target image is smaller than the source");
		return -EINVAL;
	}
	return 0;
}

static int cmd_convert(int argc, char **argv)
{
	struct conv_args a = { .out_fmt = "raw", .sparse = 4096, .inflight = 8, .tcache = { .no_flush = 1 } };
	struct conv *cv;
	int rc = -EINVAL;

	if (conv_parse(argc, argv, &a) < 0)
		return 1;
	if (a.compress && a.existing) {
		perr(NULL, "-c cannot be combined with -n (compressed clusters go to a fresh target)");
		return 1;
	}
	cv = calloc(1, sizeof(*cv));
	if (!cv) {
		perr(NULL, "%s", strerror(ENOMEM));
		return 1;
	}
	cv->dst_path = argv[optind + 1];
	cv->sparse = a.sparse;
	cv->progress = a.progress && !a.quiet;
	cv->last_pct = -1;
	cache_use(&a.scache, &a.src);
	if (open_img(&cv->src, argv[optind], &a.src) < 0)
		goto free_conv;
	if (a.snapshot && conv_load_snapshot(cv->src, a.snapshot) < 0)
		goto close_src;
	if (conv_setup(cv, &a, cv->dst_path) == 0)
		rc = conv_run(cv, argv[optind]);
	if (cv->dst && close_img(cv->dst, cv->dst_path) < 0)
		rc = -EIO;
	progress_end(cv->progress && rc == 0);
close_src:
	img_close(cv->src);
free_conv:
	cache_close(&a.scache);
	cache_close(&a.tcache);
	zpool_free(cv->zp);
	free(cv->comp);
	free(cv);
	return rc < 0;
}

/* ---- snapshot ------------------------------------------------------------------------------ */

static int snap_list(struct img *img, const char *path)
{
	struct layer l;
	int rc = layer_load(&l, img, path);

	if (rc == 0 && l.nsnaps) {
		printf("Snapshot list:\n");
		human_snapshots(&l);
	}
	free_layers(&l, rc == 0);
	return rc;
}

static int snap_change(struct qcow2 *q, int action, const char *name, const char *path)
{
	static const struct {
		int action;
		int (*fn)(struct qcow2 *, const char *, char *, size_t);
		const char *verb;
	} ops[] = {
		{ 'c', qcow2_snapshot_create, "create" },
		{ 'a', qcow2_snapshot_apply, "apply" },
		{ 'd', qcow2_snapshot_delete, "delete" },
	};
	char err[ERRLEN] = "";
	int rc = -EINVAL;

	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		if (ops[i].action != action)
			continue;
		rc = ops[i].fn(q, name, err, sizeof(err));
		if (rc < 0)
			perr(path, "Could not %s snapshot '%s': %s", ops[i].verb, name, why(rc, err));
	}
	return rc;
}

static int cmd_snapshot(int argc, char **argv)
{
	static const struct option lo[] = { { "force-share", 0, NULL, 'U' }, { NULL, 0, NULL, 0 } };
	struct opener o = { .flags = IMG_OPEN_NO_BACKING };
	const char *name = NULL;
	struct img *img;
	struct qcow2 *q;
	int c, action = 0, rc = -EINVAL;

	while ((c = getopt_long(argc, argv, "la:c:d:f:qUh", lo, NULL)) != -1) {
		if (c == 'l' || c == 'a' || c == 'c' || c == 'd') {
			if (action) {
				perr(NULL, "Cannot mix '-l', '-a', '-c', '-d'");
				return 1;
			}
			action = c;
			name = optarg;
		} else if (common_opt(c, &o) < 0)
			return 1;
	}
	if (optind != argc - 1 || !action) {
		perr(NULL, "Expecting one of -l, -a, -c, -d and one image file name");
		return 1;
	}
	if (action != 'l')
		o.flags |= IMG_OPEN_RDWR;
	if (open_img(&img, argv[optind], &o) < 0)
		return 1;
	if ((q = need_qcow2(img, argv[optind], "Snapshots")))
		rc = action == 'l' ? snap_list(img, argv[optind]) : snap_change(q, action, name, argv[optind]);
	if (close_img(img, argv[optind]) < 0)
		rc = -EIO;
	return rc < 0;
}

/* ---- resize ---------------------------------------------------------------------------------- */

static int resize_target(const char *arg, uint64_t cur, uint64_t *out)
{
	uint64_t n;
	int rel = arg[0] == '+' || arg[0] == '-';

	if (parse_size_arg(arg + rel, &n) < 0)
		return -EINVAL;
	if (!rel)
		*out = n;
	else if (arg[0] == '+')
		*out = cur + n;
	else if (n > cur) {
		perr(NULL, "New image size must be positive");
		return -EINVAL;
	} else
		*out = cur - n;
	return 0;
}

static int resize_apply(struct img *img, const char *path, const char *arg, unsigned flags,
			enum img_prealloc pre)
{
	char err[ERRLEN] = "";
	uint64_t cur = img_virtual_size(img), want;
	int rc;

	if (resize_target(arg, cur, &want) < 0)
		return -EINVAL;
	if (want < cur && !(flags & IMG_RESIZE_SHRINK)) {
		perr(NULL, "Use the --shrink option to perform a shrink operation.");
		fprintf(stderr, PROG ": warning: Shrinking an image will delete all data beyond the shrunken "
				"image's end. Before performing such an operation, make sure there is no "
				"important data there.\n");
		return -EINVAL;
	}
	rc = img_resize(img, want, flags, pre, err, sizeof(err));
	if (rc < 0)
		perr(path, "Error resizing image: %s", why(rc, err));
	return rc;
}

static int cmd_resize(int argc, char **argv)
{
	static const struct option lo[] = { { "shrink", 0, NULL, 'S' }, { "preallocation", 1, NULL, 'P' },
					    { NULL, 0, NULL, 0 } };
	struct opener o = { .flags = IMG_OPEN_RDWR | IMG_OPEN_NO_BACKING };
	enum img_prealloc pre = IMG_PREALLOC_OFF;
	unsigned flags = 0;
	const char *size;
	struct img *img;
	int c, quiet = 0, rc;

	if (argc < 3) {
		perr(NULL, "Expecting image file name and size");
		return 1;
	}
	size = argv[--argc]; /* taken first so that "-1G" is not read as an option */
	while ((c = getopt_long(argc, argv, "f:qh", lo, NULL)) != -1) {
		if (c == 'f')
			o.fmt = optarg;
		else if (c == 'q')
			quiet = 1;
		else if (c == 'S')
			flags |= IMG_RESIZE_SHRINK;
		else if (c == 'P' && parse_prealloc(optarg, &pre) < 0) {
			perr(NULL, "Invalid preallocation mode '%s'", optarg);
			return 1;
		} else if (c == 'h' || c == '?')
			return 1;
	}
	if (optind != argc - 1) {
		perr(NULL, "Expecting image file name and size");
		return 1;
	}
	if (open_img(&img, argv[optind], &o) < 0)
		return 1;
	rc = resize_apply(img, argv[optind], size, flags, pre);
	if (close_img(img, argv[optind]) < 0)
		rc = -EIO;
	if (rc == 0 && !quiet)
		printf("Image resized.\n");
	return rc < 0;
}

/* ---- commit and rebase ------------------------------------------------------------------------ */

/* The layer of IMG's backing chain that is the file BASE, or NULL. */
static struct img *commit_base(struct img *img, const char *path, const char *base)
{
	struct img_info in;
	char cur[PATH_MAX], full[PATH_MAX], a[PATH_MAX], b[PATH_MAX];

	if (!realpath(base, b) || snprintf(cur, sizeof(cur), "%s", path) >= (int)sizeof(cur))
		return NULL;
	for (; img; img = img_backing(img)) {
		if (img_get_info(img, &in) < 0 || !in.backing_file[0])
			return NULL;
		path_combine(cur, in.backing_file, full, sizeof(full));
		if (realpath(full, a) && !strcmp(a, b))
			return img_backing(img);
		snprintf(cur, sizeof(cur), "%s", full);
	}
	return NULL;
}

static int cmd_commit(int argc, char **argv)
{
	struct opener o = { .flags = IMG_OPEN_RDWR };
	const char *base = NULL;
	char err[ERRLEN] = "";
	int c, keep = 0, quiet = 0, prog = 0, last = -1, rc = -EINVAL;
	struct img *img, *layer = NULL;
	struct qcow2 *q;

	while ((c = getopt_long(argc, argv, "f:b:dpqt:r:h", NULL, NULL)) != -1) {
		if (c == 'f')
			o.fmt = optarg;
		else if (c == 'b')
			base = optarg;
		else if (c == 'd')
			keep = 1;
		else if (c == 'p')
			prog = 1;
		else if (c == 'q')
			quiet = 1;
		else if (c == 'h' || c == '?')
			return 1;
	}
	if (optind != argc - 1) {
		perr(NULL, "Expecting one image file name");
		return 1;
	}
	prog = prog && !quiet;
	if (open_img(&img, argv[optind], &o) < 0)
		return 1;
	if (base && !(layer = commit_base(img, argv[optind], base)))
		perr(argv[optind], "Did not find '%s' in the backing chain of '%s'", base, argv[optind]);
	else if ((q = need_qcow2(img, argv[optind], "Commit"))) {
		/* -b implies -d: the layers between stay as they are, the top valid */
		rc = qcow2_commit(q, layer, keep || base ? QCOW2_COMMIT_KEEP : 0, prog ? progress_cb : NULL, &last,
				  err, sizeof(err));
		if (rc < 0)
			perr(argv[optind], "Commit failed: %s", why(rc, err));
	}
	if (close_img(img, argv[optind]) < 0)
		rc = -EIO;
	progress_end(prog && rc == 0);
	if (rc == 0 && !quiet)
		printf("Image committed.\n");
	return rc < 0;
}

struct rebase_args {
	struct opener o;
	const char *backing, *fmt;
	int unsafe, prog;
};

static int rebase_parse(int argc, char **argv, struct rebase_args *a)
{
	static const struct option lo[] = { { "force-share", 0, NULL, 'U' }, { NULL, 0, NULL, 0 } };
	int c, quiet = 0;

	while ((c = getopt_long(argc, argv, "f:b:F:upqt:T:Uh", lo, NULL)) != -1) {
		if (common_opt(c, &a->o) < 0)
			return -EINVAL;
		if (c == 'b')
			a->backing = optarg;
		else if (c == 'F')
			a->fmt = optarg;
		else if (c == 'u')
			a->unsafe = 1;
		else if (c == 'p')
			a->prog = 1;
		else if (c == 'q')
			quiet = 1;
	}
	a->prog = a->prog && !quiet;
	if (optind != argc - 1 || !a->backing) {
		perr(NULL, "Expecting -b BACKING (\"\" for none) and one image file name");
		return -EINVAL;
	}
	return 0;
}

static int cmd_rebase(int argc, char **argv)
{
	struct rebase_args a = { .o = { .flags = IMG_OPEN_RDWR } };
	char err[ERRLEN] = "", idir[PATH_MAX], bdir[PATH_MAX], full[PATH_MAX];
	const char *dirs[3] = { idir, NULL, NULL };
	int last = -1, rc = -EINVAL;
	struct img *img;
	struct qcow2 *q;

	if (rebase_parse(argc, argv, &a) < 0)
		return 1;
	if (a.unsafe)
		a.o.flags |= IMG_OPEN_NO_BACKING;
	if (dir_of(argv[optind], idir, sizeof(idir)) < 0 || open_img(&img, argv[optind], &a.o) < 0)
		return 1;
	path_combine(argv[optind], a.backing, full, sizeof(full));
	if (a.backing[0] && dir_of(full, bdir, sizeof(bdir)) == 0)
		dirs[1] = bdir; /* the user named this file */
	if ((q = need_qcow2(img, argv[optind], "Rebase"))) {
		rc = qcow2_rebase(q, a.backing, a.fmt, a.unsafe ? QCOW2_REBASE_UNSAFE : 0, dirs,
				  a.prog ? progress_cb : NULL, &last, err, sizeof(err));
		if (rc < 0)
			perr(argv[optind], "Could not change the backing file to '%s': %s", a.backing,
			     why(rc, err));
	}
	if (close_img(img, argv[optind]) < 0)
		rc = -EIO;
	progress_end(a.prog && rc == 0);
	return rc < 0;
}

/* ---- map ----------------------------------------------------------------------------------------- */

struct map_entry {
	uint64_t start, length, offset;
	unsigned depth;
	int present, zero, data, has_offset;
};

struct map_state {
	enum out_fmt out;
	int printed;
	struct layer *ls;
	size_t nls;
};

static int map_mergeable(const struct map_entry *a, const struct map_entry *b)
{
	return a->depth == b->depth && a->present == b->present && a->zero == b->zero &&
	       a->data == b->data && a->has_offset == b->has_offset &&
	       (!a->has_offset || a->offset + a->length == b->offset);
}

static int map_print(struct map_state *m, const struct map_entry *e)
{
	if (m->out == OUT_JSON) {
		printf("%s{ \"start\": %" PRIu64 ", \"length\": %" PRIu64 ", \"depth\": %u, \"present\": %s, "
		       "\"zero\": %s, \"data\": %s",
		       m->printed ? ",\n" : "[", e->start, e->length, e->depth, e->present ? "true" : "false",
		       e->zero ? "true" : "false", e->data ? "true" : "false");
		if (e->has_offset)
			printf(", \"offset\": %" PRIu64, e->offset);
		putchar('}');
		m->printed = 1;
		return 0;
	}
	if (e->data && !e->has_offset) {
		perr(m->ls[0].name, "File contains external, encrypted or compressed clusters.");
		return -ENOTSUP;
	}
	if (e->data && !e->zero)
		printf("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n", e->start, e->length, e->offset,
		       m->ls[e->depth < m->nls ? e->depth : m->nls - 1].name);
	return 0;
}

static void map_from_extent(const struct img_extent *x, struct map_entry *e)
{
	e->start = x->start;
	e->length = x->length;
	e->depth = x->depth;
	e->present = !!(x->flags & IMG_BS_PRESENT);
	e->zero = !!(x->flags & IMG_BS_ZERO);
	e->data = !!(x->flags & IMG_BS_DATA);
	e->has_offset = x->offset != IMG_BS_NO_OFFSET;
	e->offset = e->has_offset ? x->offset : 0;
}

static int map_walk(struct img *img, struct map_state *m, uint64_t start, uint64_t end)
{
	struct map_entry cur = { 0 }, next;
	struct img_extent x;
	int rc = 0, have = 0;

	for (uint64_t off = start; off < end && rc == 0; off += x.length) {
		rc = img_block_status(img, off, end - off, IMG_BS_FOLLOW_BACKING, &x);
		if (rc < 0 || x.length == 0) {
			perr(m->ls[0].name, "Could not read the block status at %" PRIu64 ": %s", off,
			     img_last_error(img));
			return rc < 0 ? rc : CR_EINTERNAL;
		}
		map_from_extent(&x, &next);
		if (have && map_mergeable(&cur, &next)) {
			cur.length += next.length;
			continue;
		}
		if (have)
			rc = map_print(m, &cur);
		cur = next;
		have = 1;
	}
	if (have && rc == 0)
		rc = map_print(m, &cur);
	return rc;
}

static int cmd_map(int argc, char **argv)
{
	static const struct option lo[] = { { "output", 1, NULL, 'O' }, { "force-share", 0, NULL, 'U' },
					    { "start-offset", 1, NULL, 's' }, { "max-length", 1, NULL, 'l' },
					    { NULL, 0, NULL, 0 } };
	struct layer ls[IMG_DEFAULT_MAX_DEPTH + 1];
	struct map_state m = { .out = OUT_HUMAN, .ls = ls };
	struct opener o = { 0 };
	uint64_t start = 0, maxlen = UINT64_MAX, end;
	struct img *img;
	int c, rc;

	while ((c = getopt_long(argc, argv, "f:hU", lo, NULL)) != -1)
		if (common_opt(c, &o) < 0 || (c == 'O' && parse_output(optarg, &m.out) < 0) ||
		    (c == 's' && parse_size_arg(optarg, &start) < 0) ||
		    (c == 'l' && parse_size_arg(optarg, &maxlen) < 0))
			return 1;
	if (want_args(argc, 1, "one image file name") < 0)
		return 1;
	if (open_img(&img, argv[optind], &o) < 0)
		return 1;
	rc = load_chain(img, argv[optind], 1, ls, ARRAY_SIZE(ls), &m.nls);
	end = img_virtual_size(img);
	if (maxlen < end - (start < end ? start : end))
		end = start + maxlen;
	if (rc == 0 && m.out == OUT_HUMAN)
		printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
	if (rc == 0)
		rc = map_walk(img, &m, start, end);
	if (m.out == OUT_JSON && rc == 0)
		printf(m.printed ? "]\n" : "[]\n");
	free_layers(ls, m.nls);
	img_close(img);
	return rc < 0;
}

/* ---- measure ----------------------------------------------------------------------------------------- */

/* Bytes of whole CLUSTERs that hold data in IMG, as qemu-img measure counts them. */
static int data_clusters(struct img *img, uint64_t cluster, uint64_t *bytes)
{
	uint64_t size = img_virtual_size(img), counted = UINT64_MAX, n = 0;
	struct img_extent x;

	for (uint64_t off = 0; off < size; off += x.length) {
		int rc = img_block_status(img, off, size - off, IMG_BS_FOLLOW_BACKING, &x);

		if (rc < 0 || x.length == 0)
			return rc < 0 ? rc : CR_EINTERNAL;
		if ((x.flags & IMG_BS_ZERO) || !(x.flags & IMG_BS_DATA))
			continue;
		for (uint64_t c = off / cluster; c <= (off + x.length - 1) / cluster; c++)
			if (c != counted) {
				n++;
				counted = c;
			}
	}
	*bytes = n * cluster;
	return 0;
}

struct measure_args {
	struct opener src;
	const char *out_fmt, *file;
	char ostr[4096];
	uint64_t size;
	int has_size;
	int bitmaps; /* the source can hold bitmaps (qcow2): qemu-img then reports their size */
	enum out_fmt out;
};

static int measure_parse(int argc, char **argv, struct measure_args *a)
{
	static const struct option lo[] = { { "output", 1, NULL, 'J' }, { "size", 1, NULL, 'z' },
					    { "force-share", 0, NULL, 'U' }, { NULL, 0, NULL, 0 } };
	int c;

	while ((c = getopt_long(argc, argv, "f:O:o:l:hU", lo, NULL)) != -1) {
		if (common_opt(c, &a->src) < 0)
			return -EINVAL;
		if (c == 'O')
			a->out_fmt = optarg;
		else if (c == 'o' && add_o(a->ostr, sizeof(a->ostr), optarg) < 0)
			return -EINVAL;
		else if ((c == 'J' && parse_output(optarg, &a->out) < 0) ||
			 (c == 'z' && parse_size_arg(optarg, &a->size) < 0))
			return -EINVAL;
		else if (c == 'z')
			a->has_size = 1;
	}
	a->file = optind < argc ? argv[optind] : NULL;
	if (optind < argc - 1 || !!a->file == a->has_size) {
		perr(NULL, "Either --size N or one filename must be specified.");
		return -EINVAL;
	}
	return 0;
}

static void measure_print(const struct measure_args *a, const struct qcow2_measure *m)
{
	struct jw j = { 0, 1 };

	if (a->out == OUT_HUMAN) {
		printf("required size: %" PRIu64 "\nfully allocated size: %" PRIu64 "\n", m->required,
		       m->fully_allocated);
		if (a->bitmaps)
			printf("bitmaps size: 0\n");
		return;
	}
	jw_open(&j, NULL, '{');
	if (a->bitmaps)
		jw_int(&j, "bitmaps", 0);
	jw_int(&j, "required", (int64_t)m->required);
	jw_int(&j, "fully-allocated", (int64_t)m->fully_allocated);
	jw_close(&j, '}');
}

static int measure_compute(struct measure_args *a, struct img_opts *o, struct qcow2_measure *m)
{
	uint64_t data = 0, vsize = a->size, cluster = o->c.cluster_size ? o->c.cluster_size : 65536u;
	struct img *img = NULL;
	int rc = 0;

	if (a->file) {
		if (open_img(&img, a->file, &a->src) < 0)
			return -EIO;
		vsize = img_virtual_size(img);
		a->bitmaps = o->c.format == IMG_FMT_QCOW2 && img_get_format(img) == IMG_FMT_QCOW2;
		rc = data_clusters(img, o->c.format == IMG_FMT_QCOW2 ? cluster : UNIT, &data);
		if (rc < 0)
			perr(a->file, "Could not read the block status: %s", img_last_error(img));
		img_close(img);
	}
	if (rc < 0)
		return rc;
	if (o->c.format == IMG_FMT_RAW) {
		m->required = a->file ? data : vsize;
		m->fully_allocated = vsize;
		return 0;
	}
	rc = qcow2_measure_size(&o->c, vsize, data, m);
	if (rc < 0)
		perr(a->file, "Could not measure: %s", err_str(rc));
	return rc;
}

static int cmd_measure(int argc, char **argv)
{
	struct measure_args a = { .out_fmt = "raw", .out = OUT_HUMAN };
	struct qcow2_measure m = { 0 };
	struct img_opts o = { 0 };

	if (measure_parse(argc, argv, &a) < 0 || parse_fmt(a.out_fmt, &o.c.format) < 0)
		return 1;
	if (a.ostr[0] &&
	    parse_o(a.ostr, o.c.format == IMG_FMT_QCOW2 ? CREATE_OPTS_QCOW2 : CREATE_OPTS_RAW, &o) < 0)
		return 1;
	if (measure_compute(&a, &o, &m) < 0)
		return 1;
	measure_print(&a, &m);
	return 0;
}

/* ---- compare --------------------------------------------------------------------------------------------- */

enum { CMP_SAME = 0, CMP_DIFFER = 1, CMP_ERROR = 2 };

struct cmp {
	struct img *a, *b;
	const char *pa, *pb;
	unsigned char *ba, *bb; /* COPY_CHUNK each */
	int strict, quiet;
};

/* Index of the first differing byte, or N. */
static size_t first_diff(const unsigned char *a, const unsigned char *b, size_t n)
{
	size_t i = 0;

	while (n - i >= 4096 && !memcmp(a + i, b + i, 4096))
		i += 4096;
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

static int cmp_mismatch(const struct cmp *c, uint64_t off)
{
	if (!c->quiet)
		printf("Content mismatch at offset %" PRIu64 "!\n", off & ~(uint64_t)(UNIT - 1));
	return CMP_DIFFER;
}

static int cmp_read(struct img *img, const char *path, unsigned char *buf, uint64_t n, uint64_t off)
{
	int rc = img_pread(img, buf, n, off);

	if (rc < 0)
		perr(path, "error while reading at byte %" PRIu64 ": %s", off, img_last_error(img));
	return rc;
}

/* Compares [off, off+n) (n <= COPY_CHUNK) where at least one side has data. */
static int cmp_range(struct cmp *c, uint64_t off, uint64_t n, int a_zero, int b_zero)
{
	size_t d;

	if (a_zero)
		memset(c->ba, 0, n);
	else if (cmp_read(c->a, c->pa, c->ba, n, off) < 0)
		return CMP_ERROR;
	if (b_zero)
		memset(c->bb, 0, n);
	else if (cmp_read(c->b, c->pb, c->bb, n, off) < 0)
		return CMP_ERROR;
	d = first_diff(c->ba, c->bb, n);
	return d < n ? cmp_mismatch(c, off + d) : CMP_SAME;
}

static int cmp_status(struct img *img, const char *path, uint64_t off, uint64_t n, struct img_extent *x)
{
	int rc = img_block_status(img, off, n, IMG_BS_FOLLOW_BACKING, x);

	if (rc < 0 || x->length == 0) {
		perr(path, "Could not read the block status at %" PRIu64 ": %s", off, img_last_error(img));
		return -EIO;
	}
	return 0;
}

static int cmp_common(struct cmp *c, uint64_t size)
{
	struct img_extent xa, xb;
	uint64_t n;
	int rc = CMP_SAME;

	for (uint64_t off = 0; off < size && rc == CMP_SAME; off += n) {
		n = size - off < COPY_CHUNK ? size - off : COPY_CHUNK;
		if (cmp_status(c->a, c->pa, off, n, &xa) < 0 || cmp_status(c->b, c->pb, off, n, &xb) < 0)
			return CMP_ERROR;
		n = xa.length < xb.length ? xa.length : xb.length;
		if (c->strict && (xa.flags & IMG_BS_PRESENT) != (xb.flags & IMG_BS_PRESENT)) {
			if (!c->quiet)
				printf("Strict mode: Offset %" PRIu64 " block status mismatch!\n", off);
			return CMP_DIFFER;
		}
		if (!((xa.flags & IMG_BS_ZERO) && (xb.flags & IMG_BS_ZERO)))
			rc = cmp_range(c, off, n, !!(xa.flags & IMG_BS_ZERO), !!(xb.flags & IMG_BS_ZERO));
	}
	return rc;
}

/* The part of the longer image past the shorter one must read as zeros. */
static int cmp_tail(struct cmp *c, struct img *img, const char *path, uint64_t from)
{
	uint64_t size = img_virtual_size(img), n;
	struct img_extent x;

	for (uint64_t off = from; off < size; off += n) {
		n = size - off < COPY_CHUNK ? size - off : COPY_CHUNK;
		if (cmp_status(img, path, off, n, &x) < 0)
			return CMP_ERROR;
		n = x.length;
		if (x.flags & IMG_BS_ZERO)
			continue;
		if (cmp_read(img, path, c->ba, n, off) < 0)
			return CMP_ERROR;
		for (uint64_t i = 0; i < n; i++)
			if (c->ba[i])
				return cmp_mismatch(c, off + i);
	}
	return CMP_SAME;
}

static int cmp_run(struct cmp *c)
{
	uint64_t sa = img_virtual_size(c->a), sb = img_virtual_size(c->b);
	int rc;

	if (sa != sb && c->strict) {
		if (!c->quiet)
			printf("Strict mode: Image size mismatch!\n");
		return CMP_DIFFER;
	}
	if (sa != sb && !c->quiet)
		printf("Warning: Image size mismatch!\n");
	rc = cmp_common(c, sa < sb ? sa : sb);
	if (rc == CMP_SAME && sa != sb)
		rc = sa > sb ? cmp_tail(c, c->a, c->pa, sb) : cmp_tail(c, c->b, c->pb, sa);
	if (rc == CMP_SAME && !c->quiet)
		printf("Images are identical.\n");
	return rc;
}

static int cmd_compare(int argc, char **argv)
{
	static const struct option lo[] = { { "force-share", 0, NULL, 'U' }, { NULL, 0, NULL, 0 } };
	struct opener oa = { 0 }, ob = { 0 };
	struct cmp c = { 0 };
	int ch, rc = CMP_ERROR;

	while ((ch = getopt_long(argc, argv, "f:F:spqT:Uh", lo, NULL)) != -1) {
		if (ch == 'f')
			oa.fmt = optarg;
		else if (ch == 'F')
			ob.fmt = optarg;
		else if (ch == 's')
			c.strict = 1;
		else if (ch == 'q')
			c.quiet = 1;
		else if (ch == 'U')
			oa.flags = ob.flags = IMG_OPEN_SHARED;
		else if (ch == 'h' || ch == '?')
			return CMP_ERROR;
	}
	if (optind != argc - 2) {
		perr(NULL, "Expecting two image file names");
		return CMP_ERROR;
	}
	c.pa = argv[optind];
	c.pb = argv[optind + 1];
	if (!ob.fmt)
		ob.fmt = oa.fmt;
	c.ba = malloc(COPY_CHUNK);
	c.bb = malloc(COPY_CHUNK);
	if (c.ba && c.bb && open_img(&c.a, c.pa, &oa) == 0) {
		if (open_img(&c.b, c.pb, &ob) == 0) {
			rc = cmp_run(&c);
			img_close(c.b);
		}
		img_close(c.a);
	}
	free(c.ba);
	free(c.bb);
	return rc;
}

/* ---- amend ------------------------------------------------------------------------------------------------- */

#define AMEND_OPTS (OPT_LAZY | OPT_COMPAT | OPT_REFBITS | OPT_BACKING | OPT_BACKFMT | OPT_SIZE)

static void amend_fill(const struct img_opts *io, struct qcow2_amend_opts *a)
{
	static const struct {
		unsigned opt, amend;
	} map[] = {
		{ OPT_LAZY, QCOW2_AMEND_LAZY_REFCOUNTS }, { OPT_COMPAT, QCOW2_AMEND_COMPAT },
		{ OPT_REFBITS, QCOW2_AMEND_REFCOUNT_BITS }, { OPT_BACKING, QCOW2_AMEND_BACKING },
		{ OPT_BACKFMT, QCOW2_AMEND_BACKING },     { OPT_SIZE, QCOW2_AMEND_SIZE },
	};

	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (io->given & map[i].opt)
			a->mask |= map[i].amend;
	a->lazy_refcounts = io->c.lazy_refcounts;
	a->compat = io->c.compat;
	a->refcount_bits = io->c.refcount_bits;
	a->backing_file = io->backing;
	a->backing_format = io->backing_fmt[0] ? io->backing_fmt : NULL;
	a->size = io->c.size;
}

static int cmd_amend(int argc, char **argv)
{
	static const struct option lo[] = { { "force", 0, NULL, 'F' }, { NULL, 0, NULL, 0 } };
	struct opener o = { .flags = IMG_OPEN_RDWR | IMG_OPEN_NO_BACKING };
	struct qcow2_amend_opts am = { 0 };
	struct img_opts io = { 0 };
	char ostr[4096] = "", err[ERRLEN] = "";
	struct img *img;
	struct qcow2 *q;
	int c, rc = -EINVAL;

	while ((c = getopt_long(argc, argv, "f:o:pqt:h", lo, NULL)) != -1) {
		if (c == 'f')
			o.fmt = optarg;
		else if (c == 'o' && add_o(ostr, sizeof(ostr), optarg) < 0)
			return 1;
		else if (c == 'h' || c == '?')
			return 1;
	}
	if (optind != argc - 1 || !ostr[0]) {
		perr(NULL, "Expecting -o OPTIONS and one image file name");
		return 1;
	}
	if (parse_o(ostr, AMEND_OPTS, &io) < 0 || open_img(&img, argv[optind], &o) < 0)
		return 1;
	amend_fill(&io, &am);
	if ((q = need_qcow2(img, argv[optind], "Amend"))) {
		rc = qcow2_amend(q, &am, err, sizeof(err));
		if (rc < 0)
			perr(argv[optind], "Error while amending options: %s", why(rc, err));
	}
	if (close_img(img, argv[optind]) < 0)
		rc = -EIO;
	return rc < 0;
}

/* ---- bench ------------------------------------------------------------------------------------------------ */

struct bench_args {
	struct opener o;
	uint64_t count, depth, bufsize, step, offset, flush_every;
	int write, pattern, quiet;
	struct cache_io cache;
};

/* A count, a size with suffix (SIZE), or with HEX also 0x... (--pattern=0xab). */
static int bench_num(const char *s, int size, int hex, uint64_t *out)
{
	char *end;
	int rc;

	if (hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		errno = 0;
		*out = strtoull(s + 2, &end, 16);
		rc = errno || end == s + 2 || *end ? -EINVAL : 0;
	} else
		rc = size ? util_parse_size(s, 1, out) : util_parse_u64(s, out);

	if (rc < 0)
		perr(NULL, "Invalid number: '%s'", s);
	return rc;
}

static int bench_opt(struct bench_args *a, int c)
{
	uint64_t v = 0;

	if (strchr("cdsSoip", c) && bench_num(optarg, c == 's' || c == 'S' || c == 'o', c == 'p', &v) < 0)
		return -EINVAL;
	switch (c) {
	case 'c': a->count = v; break;
	case 'd': a->depth = v; break;
	case 's': a->bufsize = v; break;
	case 'S': a->step = v; break;
	case 'o': a->offset = v; break;
	case 'i': a->flush_every = v; break;
	case 'p': a->pattern = (int)(v & 0xff); break;
	case 'f': a->o.fmt = optarg; break;
	case 'w': a->write = 1; break;
	case 'q': a->quiet = 1; break;
	case 'U': a->o.flags |= IMG_OPEN_SHARED; break;
	case 't': return cache_parse(optarg, &a->cache);
	case 'n': case 'N': break; /* native AIO, --no-drain: -d threads stand in for AIO */
	default: return -EINVAL;
	}
	return 0;
}

static int bench_parse(int argc, char **argv, struct bench_args *a)
{
	static const struct option lo[] = { { "flush-interval", 1, NULL, 'i' }, { "no-drain", 0, NULL, 'N' },
					    { "pattern", 1, NULL, 'p' }, { "force-share", 0, NULL, 'U' },
					    { NULL, 0, NULL, 0 } };
	int c;

	while ((c = getopt_long(argc, argv, "c:d:f:no:qs:S:t:wUh", lo, NULL)) != -1)
		if (bench_opt(a, c) < 0)
			return -EINVAL;
	if (optind != argc - 1 || !a->count || !a->bufsize || a->bufsize > (64u << 20)) {
		perr(NULL, "Expecting one image file name (and -c, -s greater than zero)");
		return -EINVAL;
	}
	if (!a->step)
		a->step = a->bufsize;
	return 0;
}

/* Offsets advance by the step modulo the image size, as the qemu-img we
 * measure against (7.2) does, so both tools write the same clusters; where
 * a request would cross the end (qemu-img 7.2 fails it), it starts at 0. */
static int bench_loop(struct img *img, const struct bench_args *a, void *buf)
{
	uint64_t size = img_virtual_size(img), off = a->offset;
	int rc = 0;

	for (uint64_t i = 0; i < a->count && rc == 0; i++) {
		rc = a->write ? img_pwrite(img, buf, a->bufsize, off) : img_pread(img, buf, a->bufsize, off);
		if (rc == 0 && a->flush_every && (i + 1) % a->flush_every == 0)
			rc = img_flush(img);
		off = (off + a->step) % size;
		if (off > size - a->bufsize)
			off = 0;
	}
	return rc;
}

static int cmd_bench(int argc, char **argv)
{
	struct bench_args a = { .count = 75000, .depth = 64, .bufsize = 4096 };
	uint64_t t0;
	struct img *img;
	void *buf;
	int rc;

	if (bench_parse(argc, argv, &a) < 0)
		return 1;
	if (a.write)
		a.o.flags |= IMG_OPEN_RDWR;
	if (posix_memalign(&buf, DIO_ALIGN, a.bufsize)) {
		perr(NULL, "%s", strerror(ENOMEM));
		return 1;
	}
	memset(buf, a.pattern, a.bufsize); /* unchanged from here on: writes behind use it uncopied */
	if (a.write && a.cache.direct)
		a.cache.wb = wb_start((size_t)a.depth, buf, a.bufsize);
	cache_use(&a.cache, &a.o);
	rc = open_img(&img, argv[optind], &a.o);
	if (rc == 0 && img_virtual_size(img) < a.offset + a.bufsize) {
		perr(argv[optind], "The image is too small for the requested offset and size");
		rc = -EINVAL;
	}
	if (rc == 0 && !a.quiet) {
		printf("Sending %" PRIu64 " %s requests, %" PRIu64 " bytes each, %" PRIu64
		       " in parallel (starting at offset %" PRIu64 ", step size %" PRIu64 ")\n",
		       a.count, a.write ? "write" : "read", a.bufsize, a.depth, a.offset, a.step);
		if (a.flush_every)
			printf("Sending flush every %" PRIu64 " requests\n", a.flush_every);
	}
	t0 = util_now_ns();
	if (rc == 0 && (rc = bench_loop(img, &a, buf)) < 0)
		perr(argv[optind], "Failed request: %s", img_last_error(img));
	if (img && close_img(img, argv[optind]) < 0)
		rc = -EIO;
	if (rc == 0 && !a.quiet)
		printf("Run completed in %3.3f seconds.\n", (double)(util_now_ns() - t0) / 1e9);
	cache_close(&a.cache);
	free(buf);
	return rc < 0;
}

/* ---- main ----------------------------------------------------------------------------------------------------- */

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *synopsis;
};

static const struct command commands[] = {
	{ "amend", cmd_amend, "amend [-f fmt] [-q] -o options filename" },
	{ "bench", cmd_bench,
	  "bench [-c count] [-d depth] [-f fmt] [--flush-interval=N] [-o offset] [--pattern=N] [-q] "
	  "[-s size] [-S step] [-t cache] [-w] [-U] filename" },
	{ "check", cmd_check, "check [-f fmt] [--output=ofmt] [-r [leaks | all]] [-U] [-q] filename" },
	{ "commit", cmd_commit, "commit [-f fmt] [-b base] [-d] [-p] [-q] filename" },
	{ "compare", cmd_compare, "compare [-f fmt] [-F fmt] [-s] [-q] [-U] filename1 filename2" },
	{ "convert", cmd_convert,
	  "convert [-c] [-f fmt] [-O output_fmt] [-o options] [-l snapshot_param] [-S sparse_size] [-n] [-B backing] "
	  "[-p] [-q] [-U] filename output_filename" },
	{ "create", cmd_create, "create [-f fmt] [-o options] [-b backing [-F backing_fmt]] [-u] [-q] filename [size]" },
	{ "info", cmd_info, "info [-f fmt] [--output=ofmt] [--backing-chain] [-U] filename" },
	{ "map", cmd_map, "map [-f fmt] [--output=ofmt] [--start-offset=N] [--max-length=N] [-U] filename" },
	{ "measure", cmd_measure, "measure [--output=ofmt] [-O output_fmt] [-o options] [--size N | [-f fmt] filename]" },
	{ "rebase", cmd_rebase, "rebase [-f fmt] [-u] [-p] [-q] [-U] -b backing [-F backing_fmt] filename" },
	{ "resize", cmd_resize, "resize [-f fmt] [-q] [--shrink] [--preallocation=mode] filename [+ | -]size" },
	{ "snapshot", cmd_snapshot, "snapshot [-l | -a snapshot | -c snapshot | -d snapshot] [-U] [-q] filename" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " [--version | --help] command [command options]\n\nCommand syntax:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %s\n", commands[i].synopsis);
	fprintf(f, "\nThe syntax and output follow qemu-img; -U opens an image without taking locks.\n");
}

/* "corral-img CMD ... -h|--help" prints CMD's synopsis, as qemu-img does. */
static int wants_help(int argc, char **argv)
{
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf(PROG " version 1.0 (qemu-img 7.2 compatible syntax)\n");
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i].name)) {
			optind = 1;
			return wants_help(argc, argv) ? printf("usage: " PROG " %s\n", commands[i].synopsis) < 0
						      : commands[i].run(argc - 1, argv + 1);
		}
	perr(NULL, "Command not found: %s", argv[1]);
	return 1;
}
