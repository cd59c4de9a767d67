/* VM configuration model: Proxmox's qemu-server keys and property strings,
 * validated and normalised by pure functions, stored as a flat key->string
 * map with a SHA-1 digest for optimistic concurrency. */
#ifndef CORRAL_HV_VMCONF_H
#define CORRAL_HV_VMCONF_H

#include <stddef.h>
#include <stdint.h>

struct vmconf; /* opaque: keys kept sorted */

struct vmconf *vmconf_new(void);
void vmconf_free(struct vmconf *c);
/* The stored value of KEY or NULL; valid until KEY is changed or removed. */
const char *vmconf_get(const struct vmconf *c, const char *key);
/* Stores VALUE as is (no validation: use vmconf_check first).  0 or -ENOMEM. */
int vmconf_set(struct vmconf *c, const char *key, const char *value);
/* 0, or -ENOENT if KEY was not set. */
int vmconf_delete(struct vmconf *c, const char *key);
size_t vmconf_count(const struct vmconf *c);
/* The I-th key/value in sorted order (I < vmconf_count()). */
const char *vmconf_key_at(const struct vmconf *c, size_t i);
const char *vmconf_value_at(const struct vmconf *c, size_t i);
/* Deep copy or NULL. */
struct vmconf *vmconf_dup(const struct vmconf *c);

/* Canonical text, as Proxmox writes a VM config file: the description as
 * leading '#' lines (percent-encoding '%' and control characters), then
 * "key: value" lines in key order.  Caller frees. NULL on -ENOMEM. */
char *vmconf_to_text(const struct vmconf *c);
/* Parses the canonical text back (keys are not validated here).
 * 0, -EINVAL (ERR says which line) or -ENOMEM. */
int vmconf_from_text(const char *text, struct vmconf **out, char *err, size_t errlen);
/* SHA-1 hex of the canonical text: HEX gets 40 digits and a NUL. */
int vmconf_digest(const struct vmconf *c, char hex[41]);

/* ---- validation ---------------------------------------------------------- */

/* True if KEY is a configuration key (name, scsi7, net0, ...). */
int vmconf_key_known(const char *key);
/* Validates VALUE for KEY as Proxmox does and gives its canonical stored form
 * in *CANON (malloc'ed, caller frees).  -EINVAL with Proxmox's message for the
 * key in ERR, or -ENOMEM. */
int vmconf_check(const char *key, const char *value, char **canon, char *err, size_t errlen);

/* Proxmox's pve-vmid: an integer 100..999999999 written without sign or
 * leading zeros.  0 with *VMID, or -EINVAL with Proxmox's message. */
int vmconf_parse_vmid(const char *s, int *vmid, char *err, size_t errlen);

#define VMCONF_MAX_ERRORS 32
struct vmconf_error {
	char key[32];
	char msg[384];
};
/* Per-key errors, as the API returns them in "errors" with a 400. */
struct vmconf_errors {
	struct vmconf_error e[VMCONF_MAX_ERRORS];
	size_t n;
};
void vmconf_errors_add(struct vmconf_errors *errs, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *vmconf_errors_get(const struct vmconf_errors *errs, const char *key);

/* Applies N key/value pairs and the comma-separated DELETE list (may be NULL)
 * to C: every value is checked and stored in canonical form; then the whole
 * result is cross-checked (vmconf_validate).  On any error nothing changes,
 * ERRS lists each bad key and -EINVAL is returned. */
int vmconf_update(struct vmconf *c, const char *const *keys, const char *const *values,
		  size_t n, const char *delete_list, struct vmconf_errors *errs);
/* Checks every stored key and the rules between keys (balloon <= memory,
 * vcpus <= sockets*cores, boot order devices exist, ...).  0 or -EINVAL. */
int vmconf_validate(const struct vmconf *c, struct vmconf_errors *errs);

/* ---- typed views used by the argv builder and the API --------------------- */

/* Memory in MiB ("memory" or its current= part; Proxmox's default 512). */
uint64_t vmconf_memory_mib(const struct vmconf *c);
/* Integer key with a default when unset (or unparsable). */
int64_t vmconf_int(const struct vmconf *c, const char *key, int64_t dflt);

enum vmconf_vol_kind {
	VMCONF_VOL_VOLUME, /* storage:volname */
	VMCONF_VOL_NEW,    /* storage:size in GiB, to be allocated */
	VMCONF_VOL_NONE,   /* empty CD-ROM drive */
};

struct vmconf_drive {
	char bus[8]; /* ide, sata, scsi, virtio, unused, efidisk */
	int index;
	enum vmconf_vol_kind kind;
	char storage[64];
	char volname[192];  /* VOLUME */
	char new_size[24];  /* NEW: GiB as written ("32", "0.5") */
	char import_from[256];
	int cdrom;
	char cache[16];     /* "" when unset */
	char aio[12];
	char format[8];
	char serial[24];
	char efitype[4];
	uint64_t size;      /* bytes, 0 when unset */
	char size_text[24]; /* as written ("32G") */
	int discard, iothread, ssd, ro, backup, replicate; /* -1 when unset */
};
/* Parses the value of a drive key (scsi0, ide2, efidisk0, unused3...).
 * 0 or -EINVAL with Proxmox's message. */
int vmconf_drive_parse(const char *key, const char *value, struct vmconf_drive *d,
		       char *err, size_t errlen);
/* Canonical text of D (caller frees); NULL on -ENOMEM. */
char *vmconf_drive_format(const struct vmconf_drive *d);
/* "storage:volname" of a VOLUME drive into OUT. */
int vmconf_drive_volid(const struct vmconf_drive *d, char *out, size_t n);

struct vmconf_net {
	int index;
	char model[16];
	uint8_t mac[6];
	int has_mac;
	char bridge[32]; /* "" = user-mode networking */
	int tag;         /* 0 = none */
	int firewall, link_down; /* 0/1 */
	char rate[16];   /* MB/s as written, "" when unset */
	int queues, mtu; /* 0 when unset */
	char trunks[64];
};
int vmconf_net_parse(const char *key, const char *value, struct vmconf_net *n,
		     char *err, size_t errlen);
/* "model=MAC,bridge=...": the MAC always first (ANS parses it that way). */
char *vmconf_net_format(const struct vmconf_net *n);
/* Gives N Proxmox's BC:24:11 OUI MAC with the three bytes of RND. */
void vmconf_net_set_mac(struct vmconf_net *n, const uint8_t rnd[3]);
/* For every netN without a MAC, generates one (from getrandom) and stores the
 * net first form.  0 or a negative errno. */
int vmconf_assign_macs(struct vmconf *c);

/* At create, as Proxmox does: gives C an smbios1 with a random (version 4)
 * uuid when it has none.  0 or a negative errno. */
int vmconf_assign_smbios_uuid(struct vmconf *c);

/* Boot order ("order=scsi0;net0") into up to MAX device keys; returns count
 * or -EINVAL.  An unset boot key gives Proxmox's default order of disks,
 * CD-ROMs, then NICs present in C. */
int vmconf_boot_order(const struct vmconf *c, char keys[][16], int max);

#endif
