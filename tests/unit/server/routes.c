/* Walks the route table of server/routes.c: every entry is complete, states
 * its privilege, declares its path variables, and no two entries collide. */
#include "server/params.h"
#include "server/router.h"
#include "tests/unit/test.h"

#include <stdio.h>
#include <string.h>

/* "/nodes/{node}/tasks" -> "/nodes/{}/tasks": the shape the router matches. */
static void shape(const char *path, char *out, size_t n)
{
	size_t o = 0;

	for (const char *p = path; *p && o + 3 < n; p++) {
		out[o++] = *p;
		if (*p == '{') {
			out[o++] = '}';
			p = strchr(p, '}');
			if (!p)
				break;
		}
	}
	out[o] = '\0';
}

/* Calls FN for each {var} name in S. */
static void each_var(const char *s, void (*fn)(const struct route *, const char *),
		     const struct route *r)
{
	while (s && (s = strchr(s, '{'))) {
		const char *end = strchr(s, '}');
		char name[64];

		CHECK(end != NULL);
		if (!end)
			return;
		snprintf(name, sizeof(name), "%.*s", (int)(end - s - 1), s + 1);
		fn(r, name);
		s = end + 1;
	}
}

static void var_has_spec(const struct route *r, const char *name)
{
	const struct param_spec *s = params_find_spec(r->params, name);

	if (!s)
		test_fail(__FILE__, __LINE__, "%s: {%s} has no parameter spec", r->path, name);
	else if (s->flags & PF_OPTIONAL)
		test_fail(__FILE__, __LINE__, "%s: path variable {%s} is optional", r->path, name);
}

static void var_in_path(const struct route *r, const char *name)
{
	char needle[80];

	snprintf(needle, sizeof(needle), "{%s}", name);
	if (!strstr(r->path, needle))
		test_fail(__FILE__, __LINE__, "%s: permission path %s uses {%s}", r->path,
			  r->perm_path, name);
}

static void test_entries_complete(void)
{
	CHECK(routes_count > 0);
	for (size_t i = 0; i < routes_count; i++) {
		const struct route *r = &routes[i];
		int special = r->privs && (!strcmp(r->privs, PERM_WORLD) || !strcmp(r->privs, PERM_USER));

		CHECK(r->path && r->path[0] == '/');
		CHECK((unsigned)r->method < HTTP_METHOD_COUNT);
		CHECK(r->handler != NULL);
		if (!r->privs || !r->privs[0])
			test_fail(__FILE__, __LINE__, "%s: no privilege", r->path);
		if (!special && !r->perm_path)
			test_fail(__FILE__, __LINE__, "%s: privilege %s without an object path", r->path,
				  r->privs);
		if (r->perm_path && r->perm_path[0] != '/')
			test_fail(__FILE__, __LINE__, "%s: object path %s", r->path, r->perm_path);
	}
}

static void test_path_variables_declared(void)
{
	for (size_t i = 0; i < routes_count; i++) {
		each_var(routes[i].path, var_has_spec, &routes[i]);
		each_var(routes[i].perm_path, var_in_path, &routes[i]);
	}
}

static void test_no_duplicates(void)
{
	for (size_t i = 0; i < routes_count; i++) {
		char a[256];

		shape(routes[i].path, a, sizeof(a));
		for (size_t j = i + 1; j < routes_count; j++) {
			char b[256];

			shape(routes[j].path, b, sizeof(b));
			if (routes[i].method == routes[j].method && strcmp(a, b) == 0)
				test_fail(__FILE__, __LINE__, "%s %s twice (%s)",
					  router_method_name(routes[i].method), routes[i].path,
					  routes[j].path);
		}
	}
}

/* Each entry is what the router finds for its own path. */
static void test_entries_reachable(void)
{
	for (size_t i = 0; i < routes_count; i++) {
		char path[256];
		const struct route *r;
		cJSON *vars = NULL;

		shape(routes[i].path, path, sizeof(path));
		for (char *p; (p = strstr(path, "{}"));)
			memcpy(p, "zz", 2); /* a value no literal segment uses */
		r = router_match(routes[i].method, path, &vars, NULL);
		if (r != &routes[i])
			test_fail(__FILE__, __LINE__, "%s does not route to itself", routes[i].path);
		cJSON_Delete(vars);
	}
}

static const struct test_case tests[] = {
	{ "entries_complete", test_entries_complete },
	{ "path_variables_declared", test_path_variables_declared },
	{ "no_duplicates", test_no_duplicates },
	{ "entries_reachable", test_entries_reachable },
};

TEST_MAIN(tests)
