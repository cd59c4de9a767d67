/* Messages, names and HTTP statuses for Corral's error codes (see err.h). */
#include "err.h"

#include <string.h>

struct err_info {
	const char *name;
	int status;
	const char *msg;
};

static const struct err_info err_table[] = {
#define CR_ERR_ROW(name, status, msg) { "CR_" #name, status, msg },
	CORRAL_ERRORS(CR_ERR_ROW)
#undef CR_ERR_ROW
};

static const struct err_info *err_lookup(int code)
{
	int idx = CR_ERR_BASE - code;

	if (code > CR_ERR_BASE || idx >= CR_IDX_COUNT_)
		return NULL;
	return &err_table[idx];
}

const char *err_str(int code)
{
	const struct err_info *e = err_lookup(code);

	if (e)
		return e->msg;
	if (code < 0 && code > -4096)
		return strerror(-code);
	return code == 0 ? "success" : "unknown error";
}

const char *err_name(int code)
{
	const struct err_info *e = err_lookup(code);

	if (e)
		return e->name;
	if (code < 0 && code > -4096) {
		const char *n = strerrorname_np(-code);
		return n ? n : "EUNKNOWN";
	}
	return code == 0 ? "OK" : "EUNKNOWN";
}

int err_http_status(int code)
{
	const struct err_info *e = err_lookup(code);

	if (e)
		return e->status;
	return code == 0 ? 200 : 500;
}
