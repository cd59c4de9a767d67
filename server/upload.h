/* Streamed uploads (POST /nodes/{node}/storage/{storage}/upload): the HTTP
 * layer hands the body of a ROUTE_UPLOAD route here chunk by chunk instead
 * of collecting it.  The request is authorized from its headers before any
 * byte is read; the multipart body goes through server/multipart.c, the
 * file part straight into a temporary file beside its final name, and a
 * task verifies (checksum, qcow2 header) and renames it into place.  A
 * partial file never stays behind. */
#ifndef CORRAL_SERVER_UPLOAD_H
#define CORRAL_SERVER_UPLOAD_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "server/router.h"
#include "storage/pool.h"

struct task;

struct upload;

/* 1 when METHOD PATH (under /api2/json) is a streamed upload route. */
int upload_is_route(const char *method, const char *path);

/* Headers are in: authenticates and authorizes RQ and prepares the upload.
 * Returns 0 with *OUT set, or a negative code with the answer rendered into
 * REPLY (the body is then not read). */
int upload_begin(struct app *app, const struct router_request *rq, struct upload **out,
		 struct router_reply *reply);
/* More body bytes.  A failure is remembered and later bytes are dropped,
 * so that the client still gets a proper answer. */
void upload_feed(struct upload *u, const char *data, size_t len);
/* The body is complete: checks it, starts the task and renders the answer
 * (the UPID, or the error) into REPLY. */
void upload_finish(struct upload *u, struct router_reply *reply);
/* Frees U; the temporary file goes unless a task took it over. */
void upload_free(struct upload *u);

/* pve-storage's normalize_content_filename: the base name, with every byte
 * outside [-a-zA-Z0-9_.] made '_'. */
void upload_normalize_name(const char *in, char *out, size_t n);

/* A file received into a temporary file of POOL, to become VOLID. */
struct upload_job {
	struct pool *pool;
	char tmp[PATH_MAX], volid[POOL_VOLID_MAX];
	char checksum[257], algo[16]; /* algo "": no checksum to verify */
	char digest[129]; /* ALGO's hex digest computed while receiving, or "" */
	enum pool_content content;
	uint64_t bytes;
};
/* In task T: verifies the checksum, refuses an import qcow2 naming a
 * backing or data file, syncs and renames TMP to its volume.  On failure
 * TMP is removed and the task's error set. */
int upload_job_finish(struct task *t, struct upload_job *j);

#endif
