/* Proxmox property strings: "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,tag=10" or
 * "local:32,format=qcow2".  Pure parser; the caller interprets the keys. */
#ifndef CORRAL_PROPSTR_H
#define CORRAL_PROPSTR_H

#include <stddef.h>

#define PROPSTR_MAX_ITEMS 64

struct propstr_item {
	const char *key;   /* points into the parse's own copy */
	const char *value;
};

struct propstr {
	struct propstr_item items[PROPSTR_MAX_ITEMS];
	size_t n;
	char *copy; /* owned: the split input */
};

/* Splits S on commas, skipping empty segments as Proxmox does.  A segment
 * without '=' is the value of DEFAULT_KEY (an error if DEFAULT_KEY is NULL or
 * already given).  Keys match [A-Za-z][A-Za-z0-9_-]*; duplicates, control
 * characters and more than PROPSTR_MAX_ITEMS items are errors.
 * Returns 0 or -EINVAL (ERR explains) or -ENOMEM.  Free with propstr_free(). */
int propstr_parse(const char *s, const char *default_key, struct propstr *out,
		  char *err, size_t errlen);
/* The value for KEY, or NULL.  Valid until propstr_free(). */
const char *propstr_get(const struct propstr *p, const char *key);
void propstr_free(struct propstr *p);

/* Parses a Proxmox boolean inside a property string: 1/0, on/off, yes/no,
 * true/false (any case).  Returns 0 or 1, or -EINVAL. */
int propstr_bool(const char *v);

#endif
