/* Static files in memory (see static.h): a hash table of loaded files, the
 * web UI filled at start, mounted Debian directories filled on first use
 * under a write lock. */
#include "server/static.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

#include "common/util.h"

#define STATIC_BUCKETS 256
#define STATIC_MAX_FILE (32u << 20) /* noVNC's largest file is far below */
#define STATIC_MAX_DEPTH 8
#define STATIC_MAX_MOUNTS 8
/* Below this size gzip's header eats the gain. */
#define STATIC_GZIP_MIN 256

struct entry {
	struct entry *next;
	char *path; /* URL path */
	char *data;
	char *gz;
	struct static_file f;
};

struct static_files {
	pthread_rwlock_t lock;
	struct entry *buckets[STATIC_BUCKETS];
	struct static_mount mounts[STATIC_MAX_MOUNTS];
	size_t n_mounts;
};

static const struct {
	const char *ext;
	const char *type;
	int compress;
} content_types[] = {
	{ "html", "text/html; charset=utf-8", 1 },
	{ "htm", "text/html; charset=utf-8", 1 },
	{ "js", "application/javascript; charset=utf-8", 1 },
	{ "mjs", "application/javascript; charset=utf-8", 1 },
	{ "css", "text/css; charset=utf-8", 1 },
	{ "json", "application/json", 1 },
	{ "map", "application/json", 1 },
	{ "svg", "image/svg+xml", 1 },
	{ "txt", "text/plain; charset=utf-8", 1 },
	{ "ico", "image/x-icon", 1 },
	{ "png", "image/png", 0 },
	{ "gif", "image/gif", 0 },
	{ "jpg", "image/jpeg", 0 },
	{ "jpeg", "image/jpeg", 0 },
	{ "webp", "image/webp", 0 },
	{ "woff", "font/woff", 0 },
	{ "woff2", "font/woff2", 0 },
	{ "ttf", "font/ttf", 1 },
	{ "wasm", "application/wasm", 1 },
	{ "oga", "audio/ogg", 0 },
	{ "mp3", "audio/mpeg", 0 },
};

const char *static_content_type(const char *name, int *compressible)
{
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < ARRAY_SIZE(content_types); i++) {
		if (strcasecmp(dot + 1, content_types[i].ext) == 0) {
			if (compressible)
				*compressible = content_types[i].compress;
			return content_types[i].type;
		}
	}
	if (compressible)
		*compressible = 0;
	return "application/octet-stream";
}

int static_path_ok(const char *path)
{
	const char *seg = path;

	if (path[0] != '/')
		return 0;
	for (const char *p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
			return 0;
	while ((seg = strchr(seg, '/'))) {
		seg++;
		if (seg[0] == '.') /* "..", "." and hidden names alike */
			return 0;
	}
	return 1;
}

/* One Accept-Encoding item ("gzip;q=0.5"): does it accept gzip? */
static int gzip_item(const char *item, size_t len)
{
	size_t name = strcspn(item, " \t;,");
	const char *q;
	char tmp[64];

	if (name > len || name != 4 || strncasecmp(item, "gzip", 4) != 0)
		return 0;
	snprintf(tmp, sizeof(tmp), "%.*s", (int)(len < 63 ? len : 63), item);
	q = strstr(tmp, "q=");
	return !q || strtod(q + 2, NULL) > 0;
}

int static_accepts_gzip(const char *ae)
{
	while (ae && *ae) {
		size_t len;

		ae += strspn(ae, " \t,");
		len = strcspn(ae, ",");
		if (len && gzip_item(ae, len))
			return 1;
		ae += len;
	}
	return 0;
}

int static_etag_match(const char *inm, const char *etag)
{
	size_t n = strlen(etag);

	if (!inm)
		return 0;
	for (const char *p = inm; *p;) {
		p += strspn(p, " \t,");
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, etag, n) == 0)
			return 1;
		p += strcspn(p, ",");
	}
	return 0;
}

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

/* A gzip copy in a new buffer, or NULL when it is not smaller. */
static char *gzip_copy(const char *data, size_t len, size_t *out_len)
{
	z_stream zs = { 0 };
	char *out = NULL;
	size_t cap;

	if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	cap = deflateBound(&zs, (uLong)len);
	out = malloc(cap);
	zs.next_in = (Bytef *)(uintptr_t)data;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)cap;
	if (!out || deflate(&zs, Z_FINISH) != Z_STREAM_END || zs.total_out >= len) {
		free(out);
		out = NULL;
	} else {
		*out_len = zs.total_out;
	}
	deflateEnd(&zs);
	return out;
}

static struct entry *entry_load(const char *file, const char *url_path)
{
	struct entry *e = calloc(1, sizeof(*e));
	int compress = 0;
	size_t len = 0;

	if (!e || util_read_file(file, STATIC_MAX_FILE, &e->data, &len) < 0)
		goto fail;
	e->path = strdup(url_path);
	if (!e->path)
		goto fail;
	e->f.data = e->data;
	e->f.len = len;
	e->f.content_type = static_content_type(url_path, &compress);
	e->f.is_html = strncmp(e->f.content_type, "text/html", 9) == 0;
	snprintf(e->f.etag, sizeof(e->f.etag), "\"%016llx\"", (unsigned long long)fnv1a(e->data, len));
	if (compress && len >= STATIC_GZIP_MIN)
		e->gz = gzip_copy(e->data, len, &e->f.gz_len);
	e->f.gz = e->gz;
	return e;
fail:
	if (e)
		free(e->data);
	free(e);
	return NULL;
}

static void entry_free(struct entry *e)
{
	free(e->path);
	free(e->data);
	free(e->gz);
	free(e);
}

static unsigned bucket_of(const char *path)
{
	return (unsigned)(fnv1a(path, strlen(path)) % STATIC_BUCKETS);
}

static struct entry *table_find(struct static_files *s, const char *path)
{
	for (struct entry *e = s->buckets[bucket_of(path)]; e; e = e->next)
		if (strcmp(e->path, path) == 0)
			return e;
	return NULL;
}

static void table_add(struct static_files *s, struct entry *e)
{
	unsigned b = bucket_of(e->path);

	e->next = s->buckets[b];
	s->buckets[b] = e;
}

static int is_regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int load_dir(struct static_files *s, const char *dir, const char *url, int depth);

static int load_dir_entry(struct static_files *s, const char *dir, const char *url,
			  const char *name, int depth)
{
	char file[4096], upath[4096];
	struct stat st;
	struct entry *e;

	if (name[0] == '.')
		return 0;
	if (snprintf(file, sizeof(file), "%s/%s", dir, name) >= (int)sizeof(file) ||
	    snprintf(upath, sizeof(upath), "%s/%s", url, name) >= (int)sizeof(upath) ||
	    stat(file, &st) < 0)
		return 0; /* unreadable entries are not served */
	if (S_ISDIR(st.st_mode))
		return depth < STATIC_MAX_DEPTH ? load_dir(s, file, upath, depth + 1) : 0;
	if (!S_ISREG(st.st_mode))
		return 0;
	e = entry_load(file, upath);
	if (!e)
		return -ENOMEM;
	table_add(s, e);
	return 0;
}

static int load_dir(struct static_files *s, const char *dir, const char *url, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -errno;
	while (rc == 0 && (de = readdir(d)))
		rc = load_dir_entry(s, dir, url, de->d_name, depth);
	closedir(d);
	return rc;
}

int static_new(const char *webui_dir, const struct static_mount *mounts, size_t n_mounts,
	       struct static_files **out, char *err, size_t errlen)
{
	struct static_files *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	pthread_rwlock_init(&s->lock, NULL);
	for (size_t i = 0; i < n_mounts && i < STATIC_MAX_MOUNTS; i++)
		s->mounts[s->n_mounts++] = mounts[i];
	rc = webui_dir ? load_dir(s, webui_dir, "", 0) : 0;
	if (rc < 0) {
		snprintf(err, errlen, "cannot load the web UI from %s: %s", webui_dir, strerror(-rc));
		static_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void static_free(struct static_files *s)
{
	if (!s)
		return;
	for (size_t b = 0; b < STATIC_BUCKETS; b++) {
		struct entry *e = s->buckets[b], *next;

		for (; e; e = next) {
			next = e->next;
			entry_free(e);
		}
	}
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

/* The file behind PATH in a mounted directory, or NULL. */
static const struct static_mount *mount_for(const struct static_files *s, const char *path,
					    char *file, size_t n)
{
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct static_mount *m = &s->mounts[i];
		size_t plen = strlen(m->prefix);

		if (strncmp(path, m->prefix, plen) != 0 || !path[plen])
			continue;
		if (snprintf(file, n, "%s/%s", m->root, path + plen) >= (int)n)
			return NULL;
		return m;
	}
	return NULL;
}

/* First use of a mounted file: load it and keep it. */
static struct entry *mount_load(struct static_files *s, const char *path)
{
	char file[4096];
	struct entry *e;

	if (!mount_for(s, path, file, sizeof(file)) || !is_regular(file))
		return NULL;
	pthread_rwlock_wrlock(&s->lock);
	e = table_find(s, path);
	if (!e) {
		e = entry_load(file, path);
		if (e)
			table_add(s, e);
	}
	pthread_rwlock_unlock(&s->lock);
	return e;
}

int static_lookup(struct static_files *s, const char *path, const struct static_file **out)
{
	char idx[4096];
	struct entry *e;
	size_t n = strlen(path);

	if (!static_path_ok(path))
		return -EINVAL;
	if (path[n - 1] == '/') {
		if (snprintf(idx, sizeof(idx), "%sindex.html", path) >= (int)sizeof(idx))
			return -ENOENT;
		path = idx;
	}
	pthread_rwlock_rdlock(&s->lock);
	e = table_find(s, path);
	pthread_rwlock_unlock(&s->lock);
	if (!e)
		e = mount_load(s, path);
	if (!e)
		return -ENOENT;
	*out = &e->f;
	return 0;
}
