/* Private to hv/vmconf*.c: the key descriptor tables and the generic checker
 * that walks them. */
#ifndef CORRAL_HV_VMCONF_INT_H
#define CORRAL_HV_VMCONF_INT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum vc_type {
	VC_INT,  /* integer, range min..max */
	VC_NUM,  /* decimal number >= min */
	VC_BOOL, /* canonical 0/1 */
	VC_ENUM, /* one of enumv */
	VC_STR,  /* free string checked by max_len and check() */
	VC_FMT,  /* property string described by fmt */
};

/* Drive sub-keys differ per bus. */
#define VC_IDE (1u << 0)
#define VC_SATA (1u << 1)
#define VC_SCSI (1u << 2)
#define VC_VIRTIO (1u << 3)
#define VC_EFI (1u << 4)
#define VC_UNUSED (1u << 5)
#define VC_DISKS (VC_IDE | VC_SATA | VC_SCSI | VC_VIRTIO)

struct vc_format;

/* One key: a top-level config key (name or name[n]) or a property-string
 * sub-key.  STR checks and whole-format checks write Proxmox's full message. */
struct vc_prop {
	const char *name;
	enum vc_type type;
	int indexed;   /* top level: name0..name<max_index> */
	int max_index;
	int64_t min, max;
	const char *const *enumv; /* NULL-terminated */
	size_t max_len;           /* 0: unlimited */
	int (*check)(const char *v, char *err, size_t errlen);
	/* STR: writes the stored form of a valid V (NULL: V as given). */
	int (*canon)(const char *v, struct buf *out);
	const struct vc_format *fmt;
	unsigned buses; /* drive sub-keys: where allowed */
	const char *desc;
};

struct vc_format {
	const struct vc_prop *props; /* sorted by name: the canonical order */
	size_t n;
	const char *default_key;
	/* Rules between sub-keys once each is valid; BUS is the VC_* bit of the
	 * top-level key.  Writes the full message. */
	int (*validate)(const char *const *vals, unsigned bus, char *err, size_t errlen);
};

/* Top-level table lookup: the descriptor for KEY or NULL; *INDEX gets the
 * number of an indexed key (-1 otherwise). */
const struct vc_prop *vc_find_key(const char *key, int *index);
/* Checks VALUE against P and appends its canonical form to CANON.  PATH names
 * the key in messages.  0, -EINVAL (ERR) or -ENOMEM. */
int vc_check_value(const struct vc_prop *p, const char *path, const char *value,
		   unsigned bus, struct buf *canon, char *err, size_t errlen);
/* The bus bit (VC_SCSI...) of a drive key, 0 for other keys. */
unsigned vc_bus_of(const char *key);
/* Index of NAME in F's props or -1. */
int vc_prop_index(const struct vc_format *f, const char *name);

extern const struct vc_format vc_drive_format;
extern const struct vc_format vc_net_format;
extern const struct vc_format vc_boot_format;

/* Volume and name checkers shared with the typed parsers. */
int vc_check_storage_id(const char *s);
int vc_check_volname(const char *s);
int vc_check_new_size(const char *s);
int vc_check_mac(const char *s);
int vc_is_device_key(const char *key);

/* The cloud-init keys (hv/cloudinit_keys.c). */
extern const struct vc_format vc_ipconfig_format;
extern const struct vc_format vc_cicustom_format;
int vc_check_ci_line(const char *v, char *err, size_t errlen);
int vc_check_sshkeys(const char *v, char *err, size_t errlen);
int vc_check_nameserver(const char *v, char *err, size_t errlen);
int vc_check_cipassword(const char *v, char *err, size_t errlen);
int vc_canon_cipassword(const char *v, struct buf *out);
int vc_check_citype(const char *v, char *err, size_t errlen);

#endif
