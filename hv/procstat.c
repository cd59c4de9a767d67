/* Pure parsers of /proc texts used for VM status and re-attach checks. */
#include "hv/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "hv/vm_int.h"

int hv_parse_proc_stat(const char *text, struct hv_proc_stat *out)
{
	/* Fields after "pid (comm) ": state is field 3; utime 14, stime 15,
	 * starttime 22, rss 24 (proc(5)). */
	const char *p = strrchr(text, ')');
	unsigned long long v[22];
	char state;

	if (!p)
		return -EINVAL;
	if (sscanf(p + 1, " %c" " %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu"
			  " %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
		   &state, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
		   &v[10], &v[11], &v[12], &v[13], &v[14], &v[15], &v[16], &v[17], &v[18],
		   &v[19], &v[20]) != 22)
		return -EINVAL;
	/* v[k] is field k + 4 */
	out->state = state;
	out->utime_ticks = v[10];
	out->stime_ticks = v[11];
	out->start_ticks = v[18];
	out->rss_pages = v[20];
	return 0;
}

int hv_cmdline_has(const char *cmdline, size_t len, const char *pidfile)
{
	size_t plen = strlen(pidfile);

	for (size_t off = 0; off < len;) {
		size_t n = strnlen(cmdline + off, len - off);

		if (n == plen && memcmp(cmdline + off, pidfile, plen) == 0)
			return 1;
		off += n + 1;
	}
	return 0;
}

/* "  tap100i0: 1234 5 0 0 0 0 0 0 5678 ..." : rx bytes first, tx bytes ninth. */
static int net_line(const char *line, const char *prefix, uint64_t *rx, uint64_t *tx)
{
	unsigned long long r, t, skip;
	const char *colon;

	line += strspn(line, " ");
	if (strncmp(line, prefix, strlen(prefix)) != 0)
		return 0;
	colon = strchr(line, ':');
	if (!colon || strspn(line + strlen(prefix), "0123456789") !=
			      (size_t)(colon - line) - strlen(prefix))
		return 0;
	if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &r, &skip, &skip,
		   &skip, &skip, &skip, &skip, &skip, &t) != 9)
		return -EINVAL;
	*rx += r;
	*tx += t;
	return 0;
}

int hv_parse_net_dev(const char *text, int vmid, uint64_t *rx, uint64_t *tx)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "tap%di", vmid);
	*rx = *tx = 0;
	while (*text) {
		size_t n = strcspn(text, "\n");
		char line[512];

		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), text);
		if (net_line(line, prefix, rx, tx) < 0)
			return -EINVAL;
		text += n + (text[n] == '\n');
	}
	return 0;
}
