/* POST /nodes/{node}/storage/{storage}/download-url (pve-storage
 * API2/Storage/Status.pm download_url): a task fetches the URL with libcurl
 * into a temporary file beside the target, then verifies and renames it as
 * an upload is. */
#include "server/api.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "server/app.h"
#include "server/params.h"
#include "server/tasks.h"
#include "server/upload.h"
#include "storage/pool.h"

#define DL_CONNECT_TIMEOUT_S 30
#define DL_LOW_SPEED_S 60 /* abort below 1 KiB/s for this long */
#define DL_MAX_REDIRS 5

/* http:// or https:// and no control characters or spaces. */
static int check_url(const char *v, char *err, size_t errlen)
{
	int ok = strncasecmp(v, "http://", 7) == 0 || strncasecmp(v, "https://", 8) == 0;

	for (const unsigned char *p = (const unsigned char *)v; ok && *p; p++)
		ok = *p > 0x20 && *p != 0x7f;
	if (ok)
		return 0;
	snprintf(err, errlen, "value does not look like a valid http(s) URL");
	return -EINVAL;
}

const struct param_spec api_storage_download_params[] = {
    {.name = "node", .type = PT_STRING, .check = param_check_pve_node},
    {.name = "storage", .type = PT_STRING, .check = param_check_pve_storage_id},
    {.name = "url", .type = PT_STRING, .max = 4096, .check = check_url},
    {.name = "filename", .type = PT_STRING, .max = 255},
    {.name = "content", .type = PT_ENUM, .enum_values = "iso|vztmpl|import"},
    {.name = "checksum", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 256},
    {.name = "checksum-algorithm",
     .type = PT_ENUM,
     .flags = PF_OPTIONAL,
     .enum_values = "md5|sha1|sha224|sha256|sha384|sha512"},
    {.name = "verify-certificates", .type = PT_BOOLEAN, .flags = PF_OPTIONAL},
    {.name = "compression", .type = PT_STRING, .flags = PF_OPTIONAL, .max = 16},
    {.name = NULL},
};

struct download {
	struct upload_job job;
	char url[4097];
	int verify, fd;
};

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
	struct download *d = ctx;

	if (util_write_all(d->fd, data, size * n) < 0)
		return 0; /* curl stops with CURLE_WRITE_ERROR; errno says why */
	d->job.bytes += size * n;
	return size * n;
}

static int progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		    curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return task_should_stop(ctx);
}

static CURLcode fetch(struct task *t, struct download *d, char *err)
{
	CURL *c = curl_easy_init();
	CURLcode rc;

	if (!c)
		return CURLE_OUT_OF_MEMORY;
	curl_easy_setopt(c, CURLOPT_URL, d->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)DL_MAX_REDIRS);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)DL_CONNECT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)DL_LOW_SPEED_S);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, (long)d->verify);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, d->verify ? 2L : 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	return rc;
}

static int download_task(struct task *t, void *arg)
{
	struct download *d = arg;
	char err[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	task_log(t, "downloading %s to %s", d->url, d->job.volid);
	rc = fetch(t, d, err);
	close(d->fd);
	d->fd = -1;
	if (rc != CURLE_OK) {
		unlink(d->job.tmp);
		return task_fail(t, CR_EINTERNAL, "download failed: %s",
				 err[0] ? err : curl_easy_strerror(rc));
	}
	task_log(t, "downloaded %llu bytes", (unsigned long long)d->job.bytes);
	return upload_job_finish(t, &d->job);
}

static void download_free(void *arg)
{
	struct download *d = arg;

	if (d->fd >= 0) { /* never started */
		close(d->fd);
		unlink(d->job.tmp);
	}
	free(d);
}

/* The target volume of the request; 0 or a 400 on filename/content. */
static int target(struct req *req, struct resp *resp, struct pool *p, struct download *d)
{
	const char *content = req_str(req, "content");
	char name[POOL_NAME_MAX], path[PATH_MAX], err[512];
	struct pool_volid v;
	int c = pool_content_parse(content), r;

	if (c != POOL_CONTENT_ISO && c != POOL_CONTENT_IMPORT)
		return resp_param_error(resp, "content",
					"download of content type '%s' is not "
					"supported",
					content);
	upload_normalize_name(req_str(req, "filename"), name, sizeof(name));
	snprintf(d->job.volid, sizeof(d->job.volid), "%s:%s/%s", pool_id(p), content, name);
	if (pool_volid_parse(d->job.volid, &v, err, sizeof(err)) < 0)
		return resp_param_error(resp, "filename",
					"invalid filename or wrong extension for "
					"content type '%s'",
					content);
	if ((r = pool_vol_path(p, d->job.volid, path, sizeof(path), err, sizeof(err))) < 0)
		return r == -EINVAL ? resp_param_error(resp, "content", "%s", err)
				    : resp_error(resp, CR_EINTERNAL, "%s", err);
	if (access(path, F_OK) == 0)
		return resp_error(resp, CR_EEXISTS, "volume '%s' already exists", d->job.volid);
	d->job.content = (enum pool_content)c;
	d->job.pool = p;
	return 0;
}

/* Sys.Audit and Sys.Modify on /nodes/{node}, as Proxmox asks besides the
 * route's Datastore.AllocateTemplate. */
static int check_node_privs(struct req *req, struct resp *resp)
{
	char path[96];

	snprintf(path, sizeof(path), "/nodes/%s", req_str(req, "node"));
	if (api_can(req, path, "Sys.Audit") && api_can(req, path, "Sys.Modify"))
		return 0;
	return resp_error(resp, CR_EPERM_CHECK, "Permission check failed (%s, Sys.Modify)", path);
}

static int check_checksum(struct req *req, struct resp *resp)
{
	if (!req_str(req, "checksum") == !req_str(req, "checksum-algorithm"))
		return 0;
	return resp_param_error(resp, req_str(req, "checksum") ? "checksum-algorithm" : "checksum",
				"'checksum' and 'checksum-algorithm' go together");
}

int api_storage_download(struct req *req, struct resp *resp)
{
	struct download *d = calloc(1, sizeof(*d));
	char upid[UPID_MAX], err[512];
	struct pool *p = NULL;
	int r = d ? 0 : -ENOMEM;

	if (d)
		d->fd = -1;
	if (r < 0 || (r = check_node_privs(req, resp)) < 0 || (r = check_checksum(req, resp)) < 0 ||
	    (r = api_node_check(req, resp)) < 0 ||
	    (r = api_storage_pool_for(req, resp, req_str(req, "storage"), &p)) < 0 ||
	    (r = target(req, resp, p, d)) < 0)
		goto fail;
	if (req_str(req, "compression")) {
		r = resp_param_error(resp, "compression", "decompression is not supported");
		goto fail;
	}
	snprintf(d->url, sizeof(d->url), "%s", req_str(req, "url"));
	snprintf(d->job.checksum, sizeof(d->job.checksum), "%s",
		 req_str(req, "checksum") ? req_str(req, "checksum") : "");
	snprintf(d->job.algo, sizeof(d->job.algo), "%s",
		 req_str(req, "checksum-algorithm") ? req_str(req, "checksum-algorithm") : "");
	d->verify = req_bool(req, "verify-certificates", 1);
	if ((r = pool_tmp_create(p, d->job.content, d->job.tmp, sizeof(d->job.tmp), &d->fd, err,
				 sizeof(err))) < 0) {
		r = resp_error(resp, CR_EINTERNAL, "%s", err);
		goto fail;
	}
	r = tasks_start(req->app->tasks, "download", "", req->who, NULL, download_task, d,
			download_free, upid, err, sizeof(err));
	if (r < 0)
		return resp_error(resp, r, "%s", err);
	resp->data = cJSON_CreateString(upid);
	return 0;
fail:
	if (d)
		download_free(d);
	return r;
}
