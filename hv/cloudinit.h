/* Cloud-init NoCloud data generated from a VM configuration, as Proxmox's
 * qemu-server writes it (user-data, network-config v1, meta-data), with every
 * user string YAML-quoted; and the cidata ISO image that carries it. */
#ifndef CORRAL_HV_CLOUDINIT_H
#define CORRAL_HV_CLOUDINIT_H

#include <stddef.h>

#include "common/buf.h"
#include "hv/vmconf.h"

/* Proxmox allocates the drive at this size and keeps the files below 3 MiB
 * so that they and the ISO's own structures always fit. */
#define CLOUDINIT_DISK_SIZE (4u << 20)
#define CLOUDINIT_MAX_DATA (3u << 20)

/* Percent-decoding (sshkeys is stored URL-encoded).  Caller frees; NULL on
 * -ENOMEM. */
char *cloudinit_urldecode(const char *s);
/* Every non-blank line of KEYS is an OpenSSH public key ([options] type
 * base64 [comment], the blob naming the same type).  0 or -EINVAL. */
int cloudinit_check_ssh_keys(const char *keys);
/* Appends S as a YAML double-quoted scalar: quotes, backslashes, control
 * and line-break characters escaped, invalid UTF-8 replaced by U+FFFD. */
int cloudinit_yaml_quote(struct buf *out, const char *s);

/* The host's DNS settings, used when the VM sets neither searchdomain nor
 * nameserver (Proxmox falls back to the node's resolv.conf). */
struct cloudinit_dns {
	char search[256];
	char nameserver[3][64];
};
/* Parses resolv.conf text: "search" and the first three "nameserver"s. */
void cloudinit_parse_resolv(const char *text, struct cloudinit_dns *dns);

/* The cloud-init format of C: its citype, else nocloud (configdrive2 for a
 * Windows ostype, as Proxmox picks it). */
const char *cloudinit_format(const struct vmconf *c);
/* 0 if Corral can write C's format (nocloud; configdrive2 unless the
 * ostype is Windows, whose cloudbase-init variant is absent), else -ENOTSUP
 * with why. */
int cloudinit_format_check(const struct vmconf *c, char *err, size_t errlen);

/* The generated texts; each *OUT is malloc'ed (caller frees).  HOST may be
 * NULL.  -EINVAL with ERR when a netN with an ipconfigN has no MAC. */
int cloudinit_user_data(const struct vmconf *c, int vmid, char **out);
int cloudinit_network_config(const struct vmconf *c, const struct cloudinit_dns *host,
			     char **out, char *err, size_t errlen);
/* "instance-id: <sha1 hex of USER then NETWORK>\n", as Proxmox computes it,
 * so the id changes whenever either file does. */
int cloudinit_meta_data(const char *user, const char *network, char **out);

/* The key of C's cloud-init drive (the volume named vm-<VMID>-cloudinit)
 * into KEY; 0, or -ENOENT when C has none. */
int cloudinit_drive(const struct vmconf *c, int vmid, char *key, size_t n);
/* 1 for the keys a cloud-init image is generated from (Proxmox's
 * cloudinit_pending_properties: ci*, sshkeys, nameserver, searchdomain,
 * ipconfigN, name, netN). */
int cloudinit_is_source_key(const char *key);
/* 1 for the keys GET .../cloudinit lists (the ci* options and ipconfigN). */
int cloudinit_is_listed_key(const char *key);

/* configdrive2 (an OpenStack config drive, label config-2) as Proxmox
 * writes it for Linux guests: network_data is Debian ENI text, meta_data
 * JSON with the same sha1 as uuid.  Caller frees *OUT. */
int cloudinit_configdrive2_network(const struct vmconf *c, const struct cloudinit_dns *host,
				   char **out);
int cloudinit_configdrive2_meta(const char *user, const char *network, char **out);

/* The four files of an image: NoCloud (user-data, network-config,
 * meta-data, vendor-data; label cidata) or configdrive2 (openstack/...;
 * label config-2). */
struct cloudinit_files {
	char *user, *network, *meta, *vendor;
	int configdrive2;
};
void cloudinit_files_clear(struct cloudinit_files *f);

/* Builds the ISO 9660 image (volume id cidata or config-2, Rock Ridge and Joliet) of
 * F with genisoimage in a private temporary directory under TMPDIR: the
 * strings only ever become file contents.  *ISO (malloc'ed) and *LEN get
 * the image.  0 or a negative code with ERR. */
int cloudinit_iso_build(const struct cloudinit_files *f, const char *tmpdir, char **iso,
			size_t *len, char *err, size_t errlen);
/* Writes ISO into the disk image at PATH (qcow2 or raw, at least LEN
 * bytes) and zeroes the rest, as qemu-img dd -n does for Proxmox. */
int cloudinit_iso_commit(const char *path, const char *iso, size_t len, char *err,
			 size_t errlen);

#endif
