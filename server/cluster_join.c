/* The joining side of a cluster join, as `pvecm add` does it: log in to an
 * existing member over HTTPS (its certificate pinned), ask it to add this
 * node, then install what it hands over (gossip key, ticket keys, members)
 * and start gossip. */
#include "server/cluster.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "server/app.h"
#include "server/auth.h"
#include "server/cluster_int.h"
#include "server/peer.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct join_ctx {
	struct peer_target t;
	char host[CLUSTER_HOSTPORT_MAX];
	char fp[CLUSTER_FP_LEN];
	char cookie[AUTH_TICKET_MAX + 32];
	char csrf[AUTH_CSRF_MAX + 32];
};

static int form_add(struct buf *b, const char *k, const char *v)
{
	char *e = curl_easy_escape(NULL, v, 0);
	int r = e ? buf_printf(b, "%s%s=%s", b->len ? "&" : "", k, e) : -ENOMEM;

	curl_free(e);
	return r;
}

/* An error answer from the member, in its own words. */
static int member_error(const struct peer_reply *rp, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s failed: %d %s", what, rp->status, rp->reason);
	return rp->status == 401 ? CR_EAUTH : CR_EBADREQ;
}

static int login(struct join_ctx *j, const struct cluster_join_req *rq, char *err, size_t errlen)
{
	struct buf form = BUF_INIT;
	struct peer_reply rp;
	const char *ticket, *csrf;
	int r = form_add(&form, "username", rq->username ? rq->username : "root@pam");

	if (r == 0)
		r = form_add(&form, "password", rq->password);
	if (r == 0)
		r = peer_https(&j->t, "POST", "/api2/json/access/ticket", NULL,
			       "application/x-www-form-urlencoded", form.data, form.len, &rp, err,
			       errlen);
	if (form.data)
		OPENSSL_cleanse(form.data, form.len);
	buf_free(&form);
	if (r < 0)
		return r;
	ticket = cJSON_GetStringValue(cJSON_GetObjectItem(rp.data, "ticket"));
	csrf = cJSON_GetStringValue(cJSON_GetObjectItem(rp.data, "CSRFPreventionToken"));
	if (rp.status != 200 || !ticket || !csrf)
		r = member_error(&rp, "login", err, errlen);
	else {
		snprintf(j->cookie, sizeof(j->cookie), "Cookie: PVEAuthCookie=%s", ticket);
		snprintf(j->csrf, sizeof(j->csrf), "CSRFPreventionToken: %s", csrf);
	}
	peer_reply_free(&rp);
	return r;
}

/* POST /cluster/config/nodes/{self} on the member; *OUT gets its data. */
static int add_self(struct join_ctx *j, const struct cluster_state_node *self, cJSON **out,
		    char *err, size_t errlen)
{
	const char *headers[] = { j->cookie, j->csrf, NULL };
	char path[256];
	struct buf form = BUF_INIT;
	struct peer_reply rp;
	int r = form_add(&form, "api", self->api);

	if (r == 0)
		r = form_add(&form, "link0", self->gossip);
	if (r == 0)
		r = form_add(&form, "fingerprint", self->fp);
	snprintf(path, sizeof(path), "/api2/json/cluster/config/nodes/%s", self->name);
	if (r == 0)
		r = peer_https(&j->t, "POST", path, headers, "application/x-www-form-urlencoded",
			       form.data, form.len, &rp, err, errlen);
	buf_free(&form);
	if (r < 0)
		return r;
	if (rp.status != 200 || !cJSON_IsObject(rp.data))
		r = member_error(&rp, "adding this node", err, errlen);
	else
		*out = cJSON_DetachItemViaPointer(rp.json, rp.data);
	peer_reply_free(&rp);
	return r;
}

static int write_secret(const char *dir, const char *name, const char *text)
{
	char path[APP_PATH_MAX + 64];

	snprintf(path, sizeof(path), "%.*s/%s", APP_PATH_MAX, dir, name);
	return util_write_file_atomic(path, text, strlen(text), 0600);
}

/* The cluster's ticket keys replace this node's own. */
static int install_auth(struct cluster *c, const cJSON *data, char *err, size_t errlen)
{
	const char *ak = cJSON_GetStringValue(cJSON_GetObjectItem(data, "authkey"));
	const char *cs = cJSON_GetStringValue(cJSON_GetObjectItem(data, "csrf"));
	char dir[APP_PATH_MAX + 16], pub[APP_PATH_MAX + 64];
	int r;

	if (!ak || !cs) {
		snprintf(err, errlen, "the member sent no ticket keys");
		return CR_EBADREQ;
	}
	snprintf(dir, sizeof(dir), "%.*s/auth", APP_PATH_MAX, c->app->cfg.data_dir);
	snprintf(pub, sizeof(pub), "%s/authkey.pub", dir);
	r = write_secret(dir, "authkey.key", ak);
	if (r == 0)
		r = write_secret(dir, "csrf.key", cs);
	if (r == 0 && unlink(pub) < 0 && errno != ENOENT)
		r = -errno;
	if (r < 0) {
		snprintf(err, errlen, "cannot write the ticket keys: %s", err_str(r));
		return r;
	}
	return auth_reload_keys(c->app->auth, dir, err, errlen);
}

static int adopt(struct cluster *c, cJSON *data, const struct cluster_state_node *self,
		 char *err, size_t errlen)
{
	struct cluster_state *st = malloc(sizeof(*st));
	char *text = cJSON_PrintUnformatted(data);
	int r = -ENOMEM;

	if (!st || !text)
		goto fail;
	if ((r = cluster_state_parse(text, st, err, errlen)) < 0 ||
	    (r = cluster_state_put_node(st, self)) < 0)
		goto fail;
	if ((r = install_auth(c, data, err, errlen)) < 0)
		goto fail;
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	c->acc_hlc = 0; /* the cluster's access configuration wins */
	return cluster_adopt_state(c, st, err, errlen);
fail:
	if (text)
		OPENSSL_cleanse(text, strlen(text));
	free(text);
	free(st);
	return r;
}

static int join_target(struct join_ctx *j, const struct cluster_join_req *rq, char *err,
		       size_t errlen)
{
	if (cluster_parse_hostport(rq->hostname, CLUSTER_API_PORT, j->host, sizeof(j->host),
				   &j->t.port) < 0) {
		snprintf(err, errlen, "invalid hostname '%s'", rq->hostname);
		return CR_EINVAL_PARAM;
	}
	if (cluster_fp_normalize(rq->fingerprint, j->fp) < 0) {
		snprintf(err, errlen, "invalid fingerprint");
		return CR_EINVAL_PARAM;
	}
	j->t.host = j->host;
	j->t.fp = j->fp;
	return 0;
}

int cluster_join(struct cluster *c, const struct cluster_join_req *rq, char *err, size_t errlen)
{
	struct cluster_state_node self;
	struct join_ctx j = { 0 };
	cJSON *data = NULL;
	int r;

	if (cluster_is_member(c, NULL, 0)) {
		snprintf(err, errlen, "this node is already in a cluster");
		return CR_EEXISTS;
	}
	if ((r = join_target(&j, rq, err, errlen)) < 0)
		return r;
	if (cluster_self_node(c, rq->link, &self) < 0) {
		snprintf(err, errlen, "invalid link address '%s'", rq->link ? rq->link : "");
		return CR_EINVAL_PARAM;
	}
	if ((r = login(&j, rq, err, errlen)) < 0 || (r = add_self(&j, &self, &data, err, errlen)) < 0)
		goto out;
	pthread_mutex_lock(&c->lock);
	if (c->state) {
		r = CR_EEXISTS;
		snprintf(err, errlen, "this node is already in a cluster");
	} else {
		r = adopt(c, data, &self, err, errlen);
	}
	pthread_mutex_unlock(&c->lock);
out:
	OPENSSL_cleanse(j.cookie, sizeof(j.cookie));
	cJSON_Delete(data);
	return r;
}
