/* libFuzzer target for server/router.c matching and the static-path check:
 * byte 0 picks the method, the rest is a request path.  A match captures
 * exactly the route's variables, each a non-empty segment. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/router.h"
#include "server/static.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_vars(const char *pattern)
{
	size_t n = 0;

	for (; *pattern; pattern++)
		n += *pattern == '{';
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum http_method m;
	const struct route *r;
	cJSON *vars = NULL, *v;
	int known = 0;
	char *path;

	if (size < 1)
		return 0;
	m = (enum http_method)(data[0] % HTTP_METHOD_COUNT);
	path = strndup((const char *)data + 1, size - 1);
	if (!path)
		return 0;
	r = router_match(m, path, &vars, &known);
	if (r) {
		if ((size_t)cJSON_GetArraySize(vars) != count_vars(r->path) || r->method != m)
			abort();
		cJSON_ArrayForEach(v, vars)
			if (!cJSON_IsString(v) || !v->valuestring[0] || strchr(v->valuestring, '/'))
				abort();
	} else if (vars) {
		abort();
	}
	if (static_path_ok(path) && (strstr(path, "/..") || strstr(path, "/.")))
		abort();
	cJSON_Delete(vars);
	free(path);
	return 0;
}
