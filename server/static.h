/* Static files of the web UI, served from memory: webui/ loaded at start,
 * Debian's noVNC/xterm/Chart.js directories mapped under URL prefixes and
 * loaded on first use.  Each file carries its ETag, content type and, when
 * it pays, a gzip copy.  No HTTP here: server/http.c does the serving. */
#ifndef CORRAL_STATIC_H
#define CORRAL_STATIC_H

#include <stddef.h>

struct static_files;

/* A URL prefix ("/novnc/") served from a directory ("/usr/share/novnc"). */
struct static_mount {
	const char *prefix;
	const char *root;
};

struct static_file {
	const char *data;
	size_t len;
	const char *gz; /* gzip copy, or NULL when it would not help */
	size_t gz_len;
	const char *content_type;
	char etag[24];  /* "\"0123456789abcdef\"" */
	int is_html;    /* gets the Content-Security-Policy header */
};

/* Loads every file under WEBUI_DIR (hidden names skipped) and remembers the
 * MOUNTS (copied).  Returns 0 or a negative code with detail in ERR. */
int static_new(const char *webui_dir, const struct static_mount *mounts, size_t n_mounts,
	       struct static_files **out, char *err, size_t errlen);
void static_free(struct static_files *s);

/* Looks up a percent-decoded URL path ("/" is "/index.html").  Returns 0 and
 * *OUT (valid until static_free), -ENOENT, or -EINVAL for a path that is
 * refused ("..", hidden names, control characters).  Thread-safe. */
int static_lookup(struct static_files *s, const char *path, const struct static_file **out);

/* Pure helpers, exported for the tests. */
int static_path_ok(const char *path);
const char *static_content_type(const char *name, int *compressible);
/* Does an If-None-Match header value name ETAG (or "*")? */
int static_etag_match(const char *if_none_match, const char *etag);
/* Does an Accept-Encoding header value accept gzip? */
int static_accepts_gzip(const char *accept_encoding);

#endif
