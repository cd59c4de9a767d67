/* Node records, cluster state file, hybrid logical clocks and join parameter
 * checks: pure functions over bytes and cJSON trees. */
#include "server/cluster_rec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- node record --- */

static void add_u64(cJSON *o, const char *k, uint64_t v)
{
	/* Doubles hold integers exactly up to 2^53; HLCs stay below (48+16 bits
	 * would not), so they travel as strings. */
	cJSON_AddNumberToObject(o, k, (double)v);
}

static void add_hlc(cJSON *o, const char *k, uint64_t v)
{
	char text[24];

	snprintf(text, sizeof(text), "%llu", (unsigned long long)v);
	cJSON_AddStringToObject(o, k, text);
}

int cluster_rec_encode(const struct cluster_rec *rec, char *out, size_t n)
{
	cJSON *o = cJSON_CreateObject();
	int r = -ENOMEM;

	if (!o)
		return r;
	cJSON_AddStringToObject(o, "c", rec->cluster);
	cJSON_AddStringToObject(o, "a", rec->api);
	cJSON_AddStringToObject(o, "f", rec->fp);
	cJSON_AddStringToObject(o, "v", rec->version);
	cJSON_AddNumberToObject(o, "l", (double)(int64_t)(rec->load * 100 + 0.5) / 100);
	add_u64(o, "m", rec->mem);
	add_u64(o, "M", rec->maxmem);
	add_u64(o, "n", rec->cpus);
	add_u64(o, "u", rec->uptime);
	add_u64(o, "ie", rec->inv_epoch);
	add_u64(o, "iv", rec->inv_ver);
	add_u64(o, "j", rec->joined);
	add_u64(o, "ic", rec->vm_count);
	add_hlc(o, "h", rec->acc_hlc);
	add_u64(o, "t", rec->time);
	r = cJSON_PrintPreallocated(o, out, (int)n, 0) ? (int)strlen(out) : -ENOSPC;
	cJSON_Delete(o);
	return r;
}

static void get_str(const cJSON *o, const char *k, char *out, size_t n)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));

	snprintf(out, n, "%s", s ? s : "");
}

static uint64_t get_u64(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (cJSON_IsString(v))
		return strtoull(v->valuestring, NULL, 10);
	return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

int cluster_rec_decode(const void *data, size_t len, struct cluster_rec *out)
{
	cJSON *o = cJSON_ParseWithLength(data, len);
	const cJSON *l;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return -EBADMSG;
	}
	get_str(o, "c", out->cluster, sizeof(out->cluster));
	get_str(o, "a", out->api, sizeof(out->api));
	get_str(o, "f", out->fp, sizeof(out->fp));
	get_str(o, "v", out->version, sizeof(out->version));
	l = cJSON_GetObjectItemCaseSensitive(o, "l");
	out->load = cJSON_IsNumber(l) ? l->valuedouble : 0;
	out->mem = get_u64(o, "m");
	out->maxmem = get_u64(o, "M");
	out->cpus = (uint32_t)get_u64(o, "n");
	out->uptime = get_u64(o, "u");
	out->inv_epoch = get_u64(o, "ie");
	out->inv_ver = get_u64(o, "iv");
	out->joined = get_u64(o, "j");
	out->vm_count = (uint32_t)get_u64(o, "ic");
	out->acc_hlc = get_u64(o, "h");
	out->time = get_u64(o, "t");
	cJSON_Delete(o);
	return 0;
}

/* --- hybrid logical clock --- */

uint64_t cluster_hlc_tick(uint64_t *state, uint64_t now_ms)
{
	uint64_t wall = CLUSTER_HLC(now_ms, 0);

	*state = wall > *state ? wall : *state + 1;
	return *state;
}

uint64_t cluster_hlc_recv(uint64_t *state, uint64_t remote, uint64_t now_ms)
{
	uint64_t wall = CLUSTER_HLC(now_ms, 0), m = *state > remote ? *state : remote;

	*state = wall > m ? wall : m + 1;
	return *state;
}

/* --- join parameters --- */

static int host_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == ':';
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '+' || *s == '-')
		return -EINVAL;
	v = strtoul(s, &end, 10);
	if (*end || v < 1 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int cluster_parse_hostport(const char *s, uint16_t default_port, char *host, size_t hostlen,
			   uint16_t *port)
{
	const char *h = s, *end, *colon;
	size_t len;

	*port = default_port;
	if (s[0] == '[') {
		h = s + 1;
		if (!(end = strchr(h, ']')) || (end[1] && end[1] != ':'))
			return -EINVAL;
		if (end[1] == ':' && parse_port(end + 2, port) < 0)
			return -EINVAL;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			end = s + strlen(s); /* bare IPv6 address */
		else if ((end = colon ? colon : s + strlen(s)) && colon && parse_port(colon + 1, port) < 0)
			return -EINVAL;
	}
	len = (size_t)(end - h);
	if (len == 0 || len >= hostlen)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!host_char_ok(h[i]))
			return -EINVAL;
	memcpy(host, h, len);
	host[len] = '\0';
	return 0;
}

int cluster_name_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= CLUSTER_NAME_MAX || s[0] == '-')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int cluster_fp_normalize(const char *in, char out[CLUSTER_FP_LEN])
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0, nib = 0;

	for (const char *p = in; *p; p++) {
		int v = hexval(*p);

		if (*p == ':' && nib % 2 == 0 && nib)
			continue;
		if (v < 0 || nib >= 64)
			return -EINVAL;
		if (nib % 2 == 0 && nib)
			out[o++] = ':';
		out[o++] = hex[v];
		nib++;
	}
	if (nib != 64)
		return -EINVAL;
	out[o] = '\0';
	return 0;
}

/* --- gossip key --- */

int cluster_key_from_hex(const char *hex, uint8_t key[32])
{
	if (strlen(hex) != 64)
		return -EINVAL;
	for (size_t i = 0; i < 32; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void cluster_key_to_hex(const uint8_t key[32], char hex[CLUSTER_KEY_HEX])
{
	for (size_t i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
}

/* --- cluster state --- */

static int parse_node(const cJSON *n, struct cluster_state_node *out)
{
	uint16_t port;
	char host[CLUSTER_HOSTPORT_MAX];

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(n) || !n->string || !n->string[0] ||
	    strlen(n->string) >= sizeof(out->name))
		return -EBADMSG;
	snprintf(out->name, sizeof(out->name), "%s", n->string);
	get_str(n, "api", out->api, sizeof(out->api));
	get_str(n, "gossip", out->gossip, sizeof(out->gossip));
	get_str(n, "fp", out->fp, sizeof(out->fp));
	if (cluster_parse_hostport(out->api, CLUSTER_API_PORT, host, sizeof(host), &port) < 0 ||
	    cluster_parse_hostport(out->gossip, CLUSTER_GOSSIP_PORT, host, sizeof(host), &port) < 0)
		return -EBADMSG;
	return 0;
}

static void parse_removed(const cJSON *n, struct cluster_state *out)
{
	char name[CLUSTER_NODE_MAX];
	uint64_t at = get_u64(n, "at");

	get_str(n, "node", name, sizeof(name));
	if (name[0])
		cluster_state_set_removed(out, name, at ? at : 1);
}

int cluster_state_parse(const char *text, struct cluster_state *out, char *err, size_t errlen)
{
	cJSON *o = cJSON_Parse(text), *n;
	uint8_t key[32];
	int r = -EBADMSG;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(o)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	get_str(o, "name", out->name, sizeof(out->name));
	get_str(o, "key", out->key_hex, sizeof(out->key_hex));
	if (!cluster_name_valid(out->name) || cluster_key_from_hex(out->key_hex, key) < 0) {
		snprintf(err, errlen, "bad cluster name or key");
		goto out;
	}
	cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(o, "nodes"))
	{
		if (out->n_nodes >= CLUSTER_STATE_NODES_MAX || parse_node(n, &out->nodes[out->n_nodes]) < 0) {
			snprintf(err, errlen, "bad node entry '%s'", n->string ? n->string : "");
			goto out;
		}
		out->n_nodes++;
	}
	cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(o, "keys"))
		if (!cJSON_IsString(n) || cluster_key_from_hex(n->valuestring, key) < 0 ||
		    cluster_state_key_install(out, n->valuestring) < 0) {
			snprintf(err, errlen, "bad gossip key list");
			goto out;
		}
	cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(o, "removed"))
		parse_removed(n, out);
	out->joined = get_u64(o, "joined");
	r = 0;
out:
	cJSON_Delete(o);
	return r;
}

cJSON *cluster_state_to_json(const struct cluster_state *st)
{
	cJSON *o = cJSON_CreateObject(), *nodes = cJSON_AddObjectToObject(o, "nodes");

	if (!o || !nodes) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddStringToObject(o, "name", st->name);
	cJSON_AddStringToObject(o, "key", st->key_hex);
	for (size_t i = 0; i < st->n_nodes; i++) {
		cJSON *n = cJSON_AddObjectToObject(nodes, st->nodes[i].name);

		cJSON_AddStringToObject(n, "api", st->nodes[i].api);
		cJSON_AddStringToObject(n, "gossip", st->nodes[i].gossip);
		cJSON_AddStringToObject(n, "fp", st->nodes[i].fp);
	}
	if (st->n_keys) {
		cJSON *k = cJSON_AddArrayToObject(o, "keys");

		for (size_t i = 0; k && i < st->n_keys; i++)
			cJSON_AddItemToArray(k, cJSON_CreateString(st->keys[i]));
	}
	if (st->n_removed) {
		cJSON *rm = cJSON_AddArrayToObject(o, "removed");

		for (size_t i = 0; rm && i < st->n_removed; i++) {
			cJSON *e = cJSON_CreateObject();

			cJSON_AddStringToObject(e, "node", st->removed[i]);
			add_u64(e, "at", st->removed_at[i]);
			cJSON_AddItemToArray(rm, e);
		}
	}
	if (st->joined)
		add_u64(o, "joined", st->joined);
	return o;
}

static int key_index(const struct cluster_state *st, const char *hex)
{
	for (size_t i = 0; i < st->n_keys; i++)
		if (strcasecmp(st->keys[i], hex) == 0)
			return (int)i;
	return -1;
}

int cluster_state_key_install(struct cluster_state *st, const char *hex)
{
	uint8_t key[32];

	if (cluster_key_from_hex(hex, key) < 0)
		return -EINVAL;
	if (strcasecmp(st->key_hex, hex) == 0 || key_index(st, hex) >= 0)
		return 0;
	if (st->n_keys >= CLUSTER_KEYS_MAX)
		return -ENOSPC;
	cluster_key_to_hex(key, st->keys[st->n_keys++]);
	return 0;
}

int cluster_state_key_use(struct cluster_state *st, const char *hex)
{
	int i = key_index(st, hex);
	char old[CLUSTER_KEY_HEX];

	if (strcasecmp(st->key_hex, hex) == 0)
		return 0;
	if (i < 0)
		return -ENOENT;
	memcpy(old, st->key_hex, sizeof(old));
	memcpy(st->key_hex, st->keys[i], sizeof(old));
	memcpy(st->keys[i], old, sizeof(old));
	return 0;
}

int cluster_state_key_remove(struct cluster_state *st, const char *hex)
{
	int i = key_index(st, hex);

	if (strcasecmp(st->key_hex, hex) == 0)
		return -EBUSY;
	if (i < 0)
		return -ENOENT;
	memmove(st->keys[i], st->keys[i + 1], (st->n_keys-- - (size_t)i - 1) * sizeof(st->keys[0]));
	return 0;
}

uint64_t cluster_state_removed_at(const struct cluster_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_removed; i++)
		if (strcmp(st->removed[i], name) == 0)
			return st->removed_at[i] ? st->removed_at[i] : 1;
	return 0;
}

static void removed_drop(struct cluster_state *st, size_t i)
{
	memmove(st->removed[i], st->removed[i + 1], (st->n_removed - i - 1) * sizeof(st->removed[0]));
	memmove(&st->removed_at[i], &st->removed_at[i + 1],
		(st->n_removed - i - 1) * sizeof(st->removed_at[0]));
	st->n_removed--;
}

void cluster_state_set_removed(struct cluster_state *st, const char *name, uint64_t at_ms)
{
	for (size_t i = 0; i < st->n_removed; i++)
		if (strcmp(st->removed[i], name) == 0) {
			removed_drop(st, i);
			break;
		}
	if (!at_ms || strlen(name) >= CLUSTER_NODE_MAX)
		return;
	/* Full: the oldest removal is forgotten. */
	if (st->n_removed == CLUSTER_REMOVED_MAX)
		removed_drop(st, 0);
	snprintf(st->removed[st->n_removed], CLUSTER_NODE_MAX, "%s", name);
	st->removed_at[st->n_removed++] = at_ms;
}

const struct cluster_state_node *cluster_state_find(const struct cluster_state *st,
						    const char *name)
{
	for (size_t i = 0; i < st->n_nodes; i++)
		if (strcmp(st->nodes[i].name, name) == 0)
			return &st->nodes[i];
	return NULL;
}

int cluster_state_put_node(struct cluster_state *st, const struct cluster_state_node *n)
{
	struct cluster_state_node *slot = (struct cluster_state_node *)cluster_state_find(st, n->name);

	if (!slot) {
		if (st->n_nodes >= CLUSTER_STATE_NODES_MAX)
			return -ENOSPC;
		slot = &st->nodes[st->n_nodes++];
	}
	*slot = *n;
	return 0;
}

int cluster_state_del_node(struct cluster_state *st, const char *name)
{
	const struct cluster_state_node *n = cluster_state_find(st, name);
	size_t i;

	if (!n)
		return -ENOENT;
	i = (size_t)(n - st->nodes);
	memmove(&st->nodes[i], &st->nodes[i + 1], (st->n_nodes - i - 1) * sizeof(st->nodes[0]));
	st->n_nodes--;
	return 0;
}
