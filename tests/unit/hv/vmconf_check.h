/* Helpers for tests of vmconf_check(): a value's canonical form, or the
 * message that rejects it. */
#ifndef CORRAL_TEST_VMCONF_CHECK_H
#define CORRAL_TEST_VMCONF_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "hv/vmconf.h"

static char err[512];

/* Canonical form of a valid value (static buffer), "ERROR" if invalid. */
static inline const char *canon(const char *key, const char *value)
{
	static char out[512];
	char *c = NULL;

	if (vmconf_check(key, value, &c, err, sizeof(err)) < 0)
		return "ERROR";
	snprintf(out, sizeof(out), "%s", c);
	free(c);
	return out;
}

/* The error message for an invalid value, "VALID" if accepted. */
static inline const char *fails(const char *key, const char *value)
{
	char *c = NULL;

	err[0] = '\0';
	if (vmconf_check(key, value, &c, err, sizeof(err)) == 0) {
		free(c);
		return "VALID";
	}
	return err;
}

#endif
