/* Private to hv/cloudinit*.c: helpers the generators share. */
#ifndef CORRAL_HV_CLOUDINIT_INT_H
#define CORRAL_HV_CLOUDINIT_INT_H

/* KEY is PREFIX<n> with n in 0..MAX written without leading zeros. */
int ci_indexed(const char *key, const char *prefix, int max);

#endif
