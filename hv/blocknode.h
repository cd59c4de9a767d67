/* Which block nodes a running VM's drive uses now.  The argv builder names
 * them drive-KEY (format) over file-KEY (protocol), but a live disk move
 * switches the device onto new nodes (mig-KEY over mig-file-KEY, and back
 * on the next move), so every QMP call that names a drive's node asks QEMU
 * first (query-block: the device with qdev id KEY).  Library rules as hv/vm.h. */
#ifndef CORRAL_HV_BLOCKNODE_H
#define CORRAL_HV_BLOCKNODE_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct hv;

#define HV_NODE_MAX 64

struct hv_drive_nodes {
	char format[HV_NODE_MAX]; /* the node the device reads and writes */
	char file[HV_NODE_MAX];	  /* its protocol node (the image file) */
};

/* Pure: the nodes of drive KEY in RET, a query-block return value.  1 when
 * a device with qdev id KEY has a medium there; 0 when not (a drive without
 * a device of its own, such as efidisk0, or none at all): N then holds the
 * argv builder's names. */
int hv_blocknode_parse(const cJSON *ret, const char *key, struct hv_drive_nodes *n);
/* Pure: the names a disk move switches drive KEY onto when it now uses
 * CUR (drive-KEY <-> mig-KEY). */
void hv_blocknode_next(const struct hv_drive_nodes *cur, const char *key,
		       struct hv_drive_nodes *next);
/* hv_blocknode_parse() over running VM VMID's query-block.  0 (found or
 * not, as above) or a negative code with ERR. */
int hv_blocknode_get(struct hv *h, int vmid, const char *key, struct hv_drive_nodes *n, char *err,
		     size_t errlen);

#endif
