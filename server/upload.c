/* Streamed uploads into a storage (see upload.h): pve-storage's
 * API2/Storage/Status.pm upload, with the file written as it arrives. */
#include "server/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "server/api.h"
#include "server/app.h"
#include "server/multipart.h"
#include "server/params.h"
#include "server/peer.h"
#include "server/resp.h"
#include "server/tasks.h"
#include "server/upload_fwd.h"
#include "server/upload_writer.h"
#include "storage/pool.h"

#define UPLOAD_RBUF (1u << 20) /* bytes read at a time to hash a file */
#define UPLOAD_FIELD_MAX 4096  /* a form field's value */

const struct param_spec api_storage_upload_params[] = {
    {.name = "node", .type = PT_STRING, .check = param_check_pve_node},
    {.name = "storage", .type = PT_STRING, .check = param_check_pve_storage_id},
    {.name = "content", .type = PT_ENUM, .flags = PF_OPTIONAL, .enum_values = "iso|vztmpl|import"},
    {.name = "filename", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 255},
    {.name = "checksum", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 256},
    {.name = "checksum-algorithm",
     .type = PT_ENUM,
     .flags = PF_OPTIONAL,
     .enum_values = "md5|sha1|sha224|sha256|sha384|sha512"},
    {.name = NULL},
};

struct upload {
	struct app *app;
	struct identity who;
	cJSON *params; /* path variables, then the form fields */
	struct pool *pool;
	struct upload_fwd *fwd; /* the upload is for another member: relayed */
	struct mp *mp;
	int in_file, file_seen, handed_over, fd;
	char field_name[128], field[UPLOAD_FIELD_MAX + 1];
	size_t field_len;
	char tmp[PATH_MAX], volid[POOL_VOLID_MAX];
	enum pool_content content;
	struct upload_writer *writer; /* while the file part is received */
	char algo[16], digest[2 * EVP_MAX_MD_SIZE + 1]; /* hashed on the way in */
	uint64_t bytes;
	int rc; /* the first failure, then the rest of the body is dropped */
	char param[32], msg[512];
};

int upload_is_route(const char *method, const char *path)
{
	const struct route *r;
	cJSON *vars = NULL;

	if (router_method_parse(method) != HTTP_POST)
		return 0;
	r = router_match(HTTP_POST, path, &vars, NULL);
	cJSON_Delete(vars);
	return r && (r->flags & ROUTE_UPLOAD);
}

static const char *param(const struct upload *u, const char *name)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u->params, name));
}

static void drop_file(struct upload *u)
{
	upload_writer_free(u->writer); /* before its file descriptor goes */
	u->writer = NULL;
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	if (u->tmp[0] && !u->handed_over)
		unlink(u->tmp);
	u->tmp[0] = '\0';
}

/* Records the first failure (PARAM: a 400 on that parameter) and drops the
 * partial file.  Returns 0: the parse goes on, the bytes are ignored. */
static int fail(struct upload *u, int rc, const char *par, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct upload *u, int rc, const char *par, const char *fmt, ...)
{
	va_list ap;

	if (u->rc < 0)
		return 0;
	u->rc = rc;
	snprintf(u->param, sizeof(u->param), "%s", par ? par : "");
	va_start(ap, fmt);
	vsnprintf(u->msg, sizeof(u->msg), fmt, ap);
	va_end(ap);
	drop_file(u);
	return 0;
}

void upload_normalize_name(const char *in, char *out, size_t n)
{
	size_t o = 0;

	for (const char *p = in; *p && o + 1 < n; p++) {
		unsigned char c = (unsigned char)*p;

		out[o++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				   (c >= '0' && c <= '9') || strchr("-_.", c)
			       ? (char)c
			       : '_';
	}
	out[o] = '\0';
}

/* 1 when V is one of the '|'-separated words of LIST. */
static int in_list(const char *list, const char *v)
{
	size_t n = strlen(v);

	for (const char *p = list; p; p = strchr(p, '|'), p = p ? p + 1 : NULL)
		if (strncmp(p, v, n) == 0 && (p[n] == '|' || p[n] == '\0'))
			return 1;
	return 0;
}

/* The writer thread takes the file part; the checksum is computed on the
 * way in when its algorithm came before the file (as browsers and
 * proxmoxer send it), else the task reads the file back. */
static int start_writer(struct upload *u)
{
	const struct param_spec *s = params_find_spec(api_storage_upload_params,
						      "checksum-algorithm");
	const char *algo = param(u, "checksum-algorithm");
	int r;

	if (algo && in_list(s->enum_values, algo))
		snprintf(u->algo, sizeof(u->algo), "%s", algo);
	if ((r = upload_writer_new(u->fd, u->algo[0] ? u->algo : NULL, &u->writer)) < 0)
		return fail(u, CR_EINTERNAL, NULL, "cannot start writing '%s': %s", u->volid,
			    strerror(-r));
	u->in_file = 1;
	return 0;
}

/* The file part begins: its target volume is decided and a temporary file
 * opened beside it. */
static int open_file(struct upload *u, const char *client_name)
{
	const char *content = param(u, "content");
	char name[POOL_NAME_MAX], path[PATH_MAX], err[512];
	struct pool_volid v;
	int c = content ? pool_content_parse(content) : -EINVAL, r;

	if (!content)
		return fail(u, CR_EINVAL_PARAM, "content",
			    "property is missing and it is not optional");
	if (c != POOL_CONTENT_ISO && c != POOL_CONTENT_IMPORT)
		return fail(u, CR_EINVAL_PARAM, "content",
			    "upload of content type '%s' is not supported", content);
	upload_normalize_name(client_name, name, sizeof(name));
	snprintf(u->volid, sizeof(u->volid), "%s:%s/%s", pool_id(u->pool), content, name);
	if (pool_volid_parse(u->volid, &v, err, sizeof(err)) < 0)
		return fail(u, CR_EINVAL_PARAM, "filename",
			    "invalid filename or wrong extension for "
			    "content type '%s'",
			    content);
	u->content = (enum pool_content)c;
	cJSON_DeleteItemFromObjectCaseSensitive(u->params, "filename");
	cJSON_AddStringToObject(u->params, "filename", name);
	if ((r = pool_vol_path(u->pool, u->volid, path, sizeof(path), err, sizeof(err))) < 0)
		return fail(u, r == -EINVAL ? CR_EINVAL_PARAM : CR_EINTERNAL,
			    r == -EINVAL ? "content" : NULL, "%s", err);
	if (access(path, F_OK) == 0)
		return fail(u, CR_EEXISTS, NULL, "volume '%s' already exists", u->volid);
	if ((r = pool_tmp_create(u->pool, u->content, u->tmp, sizeof(u->tmp), &u->fd, err,
				 sizeof(err))) < 0) {
		u->tmp[0] = '\0';
		return fail(u, CR_EINTERNAL, NULL, "%s", err);
	}
	return start_writer(u);
}

static int write_failed(struct upload *u, int r)
{
	return fail(u, CR_EINTERNAL, NULL, "failed to write '%s': %s", u->volid, strerror(-r));
}

/* The file part is complete: the writer drains, the digest is kept. */
static int end_file(struct upload *u)
{
	int r = upload_writer_finish(u->writer, u->digest, sizeof(u->digest));

	upload_writer_free(u->writer);
	u->writer = NULL;
	u->in_file = 0;
	return r < 0 ? write_failed(u, r) : 0;
}

static int on_part_begin(void *ctx, const struct mp_part *p)
{
	struct upload *u = ctx;

	if (u->rc < 0)
		return 0;
	if (p->has_filename && u->file_seen)
		return fail(u, CR_EINVAL_PARAM, "filename", "only one file per upload");
	if (p->has_filename) {
		u->file_seen = 1;
		return open_file(u, p->filename);
	}
	snprintf(u->field_name, sizeof(u->field_name), "%s", p->name);
	u->field_len = 0;
	return 0;
}

static int on_part_data(void *ctx, const char *d, size_t n)
{
	struct upload *u = ctx;
	int r;

	if (u->rc < 0)
		return 0;
	if (!u->in_file) {
		if (u->field_len + n > UPLOAD_FIELD_MAX)
			return fail(u, CR_EINVAL_PARAM, u->field_name, "value too long");
		memcpy(u->field + u->field_len, d, n);
		u->field_len += n;
		return 0;
	}
	u->bytes += n;
	if ((r = upload_writer_put(u->writer, d, n)) < 0)
		return write_failed(u, r);
	return 0;
}

static int on_part_end(void *ctx)
{
	struct upload *u = ctx;

	if (u->rc < 0)
		return 0;
	if (u->in_file)
		return end_file(u);
	if (memchr(u->field, '\0', u->field_len))
		return fail(u, CR_EINVAL_PARAM, u->field_name, "value contains a NUL byte");
	u->field[u->field_len] = '\0';
	cJSON_DeleteItemFromObjectCaseSensitive(u->params, u->field_name);
	cJSON_AddStringToObject(u->params, u->field_name, u->field);
	return 0;
}

static const struct mp_callbacks upload_cbs = {on_part_begin, on_part_data, on_part_end};

/* 0 when the node is this one, 1 when it is another cluster member (the
 * upload is relayed to it, which checks it again), or the error in RESP. */
static int node_kind(struct req *req, struct resp *resp)
{
	const char *node = req_str(req, "node");
	struct peer_info pi;

	if (node && !api_node_is_local(req->app, node) && req->app->cluster &&
	    peer_lookup(req->app, node, &pi) == 0 && !pi.local)
		return 1;
	return api_node_check(req, resp);
}

static int start_relay(struct upload *u, const struct router_request *rq, struct upload **out,
		       struct router_reply *reply)
{
	struct resp resp = {.total = -1};
	int r = upload_fwd_new(u->app, param(u, "node"), rq, &u->fwd);

	if (r == 0) {
		*out = u;
		return 0;
	}
	r = resp_error(&resp, CR_EINTERNAL, "cannot relay the upload: %s", strerror(-r));
	resp_render(&resp, r, reply);
	upload_free(u);
	return r;
}

int upload_begin(struct app *app, const struct router_request *rq, struct upload **out,
		 struct router_reply *reply)
{
	struct upload *u = calloc(1, sizeof(*u));
	struct resp resp = {.total = -1};
	struct req req = {.app = app, .method = HTTP_POST, .path = rq->path, .peer = rq->peer};
	char err[256];
	int r = -ENOMEM;

	if (!u)
		goto fail;
	u->app = app;
	u->fd = -1;
	if (!router_authorize(app, rq, &u->who, &u->params, reply)) {
		upload_free(u);
		return CR_EPERM_CHECK;
	}
	req.params = u->params;
	req.who = &u->who;
	if ((r = node_kind(&req, &resp)) == 1)
		return start_relay(u, rq, out, reply);
	if (r < 0 || (r = api_storage_pool_for(&req, &resp, param(u, "storage"), &u->pool)) < 0)
		goto fail;
	if ((r = mp_new(rq->content_type, &upload_cbs, u, &u->mp, err, sizeof(err))) < 0) {
		r = resp_error(&resp, CR_EBADREQ, "%s", err);
		goto fail;
	}
	*out = u;
	return 0;
fail:
	resp_render(&resp, r, reply);
	upload_free(u);
	return r;
}

void upload_feed(struct upload *u, const char *data, size_t len)
{
	char err[256];
	int r;

	if (u->fwd) {
		upload_fwd_feed(u->fwd, data, len);
		return;
	}
	if (u->rc < 0)
		return;
	if ((r = mp_feed(u->mp, data, len, err, sizeof(err))) < 0)
		fail(u, r == -EINVAL ? CR_EBADREQ : CR_EINTERNAL, NULL, "%s", err);
}

void upload_free(struct upload *u)
{
	if (!u)
		return;
	upload_fwd_free(u->fwd);
	drop_file(u);
	mp_free(u->mp);
	cJSON_Delete(u->params);
	free(u);
}

/* --- the task: verify, then rename into place --- */

/* Hex digest of the file at PATH with ALGO into OUT. */
static int file_digest(const char *path, const char *algo, char *out, size_t n)
{
	const EVP_MD *md = EVP_get_digestbyname(algo);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *buf = malloc(UPLOAD_RBUF), dig[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = -EIO;
	ssize_t got = 0;

	if (fd >= 0 && md && ctx && buf && EVP_DigestInit_ex(ctx, md, NULL) == 1) {
		while ((got = read(fd, buf, UPLOAD_RBUF)) > 0)
			EVP_DigestUpdate(ctx, buf, (size_t)got);
		if (got == 0 && EVP_DigestFinal_ex(ctx, dig, &len) == 1)
			r = 0;
	}
	if (r == 0)
		upload_digest_hex(dig, len, out, n);
	if (fd >= 0)
		close(fd);
	free(buf);
	EVP_MD_CTX_free(ctx);
	return r;
}

static int verify_checksum(struct task *t, const struct upload_job *j)
{
	char got[2 * EVP_MAX_MD_SIZE + 1] = "";

	if (!j->algo[0])
		return 0;
	task_log(t, "calculating checksum...");
	if (j->digest[0])
		snprintf(got, sizeof(got), "%s", j->digest);
	else if (file_digest(j->tmp, j->algo, got, sizeof(got)) < 0)
		return task_fail(t, CR_EINTERNAL, "cannot compute the %s checksum", j->algo);
	if (strcasecmp(got, j->checksum) != 0)
		return task_fail(t, CR_EINTERNAL, "checksum mismatch: got '%s' != expect '%s'", got,
				 j->checksum);
	task_log(t, "checksum verified");
	return 0;
}

/* The data is on disk before the name is, and before the task says OK (a
 * failed sync fails the task: the file is not kept).  Its pages, clean
 * now, leave the page cache, like those the writer already dropped. */
static int sync_file(struct task *t, const struct upload_job *j)
{
	int fd = open(j->tmp, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0 || fdatasync(fd) < 0)
		r = -errno;
	else
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (fd >= 0)
		close(fd);
	if (r < 0)
		return task_fail(t, CR_EINTERNAL, "cannot sync '%s' to disk: %s", j->volid,
				 strerror(-r));
	return 0;
}

int upload_job_finish(struct task *t, struct upload_job *j)
{
	char path[PATH_MAX], err[512];
	int r;

	if (pool_vol_path(j->pool, j->volid, path, sizeof(path), err, sizeof(err)) == 0)
		task_log(t, "target file: %s", path);
	task_log(t, "file size is: %llu", (unsigned long long)j->bytes);
	if ((r = verify_checksum(t, j)) < 0)
		goto fail;
	if (j->content == POOL_CONTENT_IMPORT &&
	    (r = pool_image_check_standalone(j->tmp, err, sizeof(err))) < 0) {
		r = task_fail(t, r, "refusing '%s': %s", j->volid, err);
		goto fail;
	}
	if ((r = sync_file(t, j)) < 0)
		goto fail;
	if ((r = pool_tmp_commit(j->pool, j->tmp, j->volid, err, sizeof(err))) < 0) {
		r = task_fail(t, r, "%s", err);
		goto fail;
	}
	task_log(t, "stored as '%s'", j->volid);
	return 0;
fail:
	unlink(j->tmp);
	return r;
}

static int upload_task(struct task *t, void *arg)
{
	struct upload_job *j = arg;

	task_log(t, "starting file import from: %s", j->tmp);
	return upload_job_finish(t, j);
}

/* Checks the collected parameters; 0 or the error in RESP. */
static int check_params(struct upload *u, struct resp *resp)
{
	int r;

	if (!(resp->errors = cJSON_CreateObject()))
		return -ENOMEM;
	if ((r = params_validate(api_storage_upload_params, 0, u->params, resp->errors)) < 0)
		return resp_error(resp, r, "%s", err_str(r));
	if (!param(u, "checksum") != !param(u, "checksum-algorithm"))
		return resp_param_error(resp,
					param(u, "checksum") ? "checksum-algorithm" : "checksum",
					"'checksum' and 'checksum-algorithm' go together");
	cJSON_Delete(resp->errors);
	resp->errors = NULL;
	return 0;
}

static int start_job(struct upload *u, struct resp *resp)
{
	struct upload_job *j = calloc(1, sizeof(*j));
	char upid[UPID_MAX], err[256];
	int r;

	if (!j)
		return resp_error(resp, -ENOMEM, "out of memory");
	j->pool = u->pool;
	j->content = u->content;
	j->bytes = u->bytes;
	snprintf(j->tmp, sizeof(j->tmp), "%s", u->tmp);
	snprintf(j->volid, sizeof(j->volid), "%s", u->volid);
	snprintf(j->checksum, sizeof(j->checksum), "%s",
		 param(u, "checksum") ? param(u, "checksum") : "");
	snprintf(j->algo, sizeof(j->algo), "%s",
		 param(u, "checksum-algorithm") ? param(u, "checksum-algorithm") : "");
	if (strcmp(j->algo, u->algo) == 0) /* hashed while received */
		snprintf(j->digest, sizeof(j->digest), "%s", u->digest);
	close(u->fd);
	u->fd = -1;
	u->handed_over = 1; /* the task removes it on failure */
	r = tasks_start(u->app->tasks, "imgcopy", "", &u->who, NULL, upload_task, j, free, upid,
			err, sizeof(err));
	if (r < 0) {
		unlink(u->tmp);
		return resp_error(resp, r, "%s", err);
	}
	resp->data = cJSON_CreateString(upid);
	return 0;
}

void upload_finish(struct upload *u, struct router_reply *reply)
{
	struct resp resp = {.total = -1};
	char err[256];
	int r = 0;

	if (u->fwd) {
		upload_fwd_finish(u->fwd, reply);
		return;
	}
	if (u->rc == 0 && mp_finish(u->mp, err, sizeof(err)) < 0)
		fail(u, CR_EBADREQ, NULL, "%s", err);
	if (u->rc == 0 && !u->file_seen)
		fail(u, CR_EINVAL_PARAM, "filename", "property is missing and it is not optional");
	if (u->rc < 0 && u->param[0])
		r = resp_param_error(&resp, u->param, "%s", u->msg);
	else if (u->rc < 0)
		r = resp_error(&resp, u->rc, "%s", u->msg);
	else if ((r = check_params(u, &resp)) == 0)
		r = start_job(u, &resp);
	if (r < 0)
		drop_file(u);
	resp_render(&resp, r, reply);
}

int api_storage_upload(struct req *req, struct resp *resp)
{
	(void)req;
	return resp_error(resp, CR_EBADREQ, "upload expects a multipart/form-data body");
}
