/* This node's VM list rows, /cluster/resources' and GET /nodes/{node}/qemu's,
 * with what each row takes from its configuration cached per VM against the
 * stored bytes it came from. */
#ifndef CORRAL_SERVER_RESCACHE_H
#define CORRAL_SERVER_RESCACHE_H

#include <cjson/cJSON.h>

struct rescache;
struct req;

enum rescache_kind {
	RESCACHE_RESOURCES, /* /cluster/resources rows */
	RESCACHE_VMLIST,    /* GET /nodes/{node}/qemu rows (vmstatus) */
	RESCACHE_KINDS
};

int rescache_new(struct rescache **out);
void rescache_free(struct rescache *c);

/* Appends the KIND row of every VM of this node that REQ's caller may audit
 * (VM.Audit on /vms/<vmid>) to ROWS, as raw JSON items.  C may be NULL:
 * then nothing is kept past the call. */
int rescache_rows(struct rescache *c, struct req *req, enum rescache_kind kind, cJSON *rows);

#endif
