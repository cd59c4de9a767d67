/* Private to server/api_qemu_snapshot*.c, api_qemu_clone*.c and
 * api_qemu_resize.c: the snapshot sections of a VM record (pure tree
 * operations), size arguments, and the drive walks they share. */
#ifndef CORRAL_SERVER_API_QEMU_SNAPSHOT_H
#define CORRAL_SERVER_API_QEMU_SNAPSHOT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "hv/vmconf.h"

/* The record's "snapshots" object, as Proxmox's config sections:
 *   {"parent": "<current snapshot>",            (absent: none yet)
 *    "list": {"<name>": {"config": {k: v},      the VM config when taken
 *                        "snaptime": <unix s>, "description": "...",
 *                        "vmstate": 0|1, "statedrive": "<key>" (vmstate=1),
 *                        "parent": "<name>"}}}  (absent: a root)         */

#define QSNAP_NAME_MAX 40

/* Proxmox's enumeration of the disks resize and template name. */
#define QSNAP_DISK_KEYS                                                                   \
	"ide0|ide1|ide2|ide3|sata0|sata1|sata2|sata3|sata4|sata5|scsi0|scsi1|"            \
	"scsi2|scsi3|scsi4|scsi5|scsi6|scsi7|scsi8|scsi9|scsi10|scsi11|scsi12|"           \
	"scsi13|scsi14|scsi15|scsi16|scsi17|scsi18|scsi19|scsi20|scsi21|scsi22|"          \
	"scsi23|scsi24|scsi25|scsi26|scsi27|scsi28|scsi29|scsi30|virtio0|virtio1|"        \
	"virtio2|virtio3|virtio4|virtio5|virtio6|virtio7|virtio8|virtio9|virtio10|"       \
	"virtio11|virtio12|virtio13|virtio14|virtio15|efidisk0|tpmstate0"

/* Proxmox's API-level refusals of a name ("current", "pending" are
 * reserved): 0, or -EINVAL with the message in ERR. */
int qsnap_name_reserved(const char *name, char *err, size_t errlen);
/* The section NAME of SNAPS (may be NULL), borrowed, or NULL. */
const cJSON *qsnap_get(const cJSON *snaps, const char *name);
/* The VM's current snapshot ("" for none), borrowed. */
const char *qsnap_parent(const cJSON *snaps);
/* Adds section NAME holding a copy of CONF; its parent is the current
 * snapshot and NAME becomes current.  *SNAPS is created when NULL.
 * CR_EEXISTS if NAME is taken. */
int qsnap_add(cJSON **snaps, const char *name, const struct vmconf *conf, time_t snaptime,
	      const char *description, const char *statedrive);
/* Removes section NAME: its children and, when it was current, the VM get
 * its parent.  CR_ENOTFOUND if absent. */
int qsnap_remove(cJSON *snaps, const char *name);
/* The configuration stored in section NAME (caller frees), or NULL. */
struct vmconf *qsnap_config(const cJSON *snaps, const char *name);
/* Makes NAME the current snapshot (a rollback).  CR_ENOTFOUND if absent. */
int qsnap_set_current(cJSON *snaps, const char *name);
/* GET .../snapshot: every snapshot in the order taken with name, parent,
 * snaptime, description, vmstate; then the "current" entry (description
 * "You are here!", parent, digest, running).  New array or NULL. */
cJSON *qsnap_list(const cJSON *snaps, const char *digest, int running);

/* PUT .../resize's size: "+N[KMGT]" grows CUR by N, "N[KMGT]" is the new
 * size (bare numbers are bytes, decimals allowed as Proxmox); rounded up to
 * 512 bytes.  -EINVAL "invalid size" or "shrinking disks is not supported"
 * (in ERR). */
int qsnap_parse_size(const char *arg, uint64_t cur, uint64_t *out, char *err, size_t errlen);

/* The drive keys of CONF that hold a volume (not CD-ROMs, not unusedN),
 * in key order, with their volume ids.  Returns how many (at most MAX). */
size_t qsnap_drives(const struct vmconf *conf, char keys[][16], char volids[][272], size_t max);

#endif
