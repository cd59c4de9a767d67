/* Node figures (see nodeinfo.h): parsers over /proc text kept apart from the
 * reads, so fixtures test them; the CPU sampler keeps the last /proc/stat
 * sample and computes usage as a delta, the way Proxmox's read_proc_stat does. */
#include "server/nodeinfo.h"

#include "common/buf.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

/* /proc files are small; cpuinfo of a 256-thread host stays well below this. */
#define PROC_READ_MAX (4u << 20)
#define MAX_SOCKETS 256

/* Copies the line starting at *P (without its newline) into LINE and moves
 * *P past it.  Returns 0 at the end of the text. */
static int next_line(const char **p, char *line, size_t n)
{
	const char *s = *p, *nl;
	size_t len;

	if (!*s)
		return 0;
	nl = strchr(s, '\n');
	len = nl ? (size_t)(nl - s) : strlen(s);
	*p = nl ? nl + 1 : s + len;
	if (len >= n)
		len = n - 1;
	memcpy(line, s, len);
	line[len] = '\0';
	return 1;
}

static void trim_right(char *s)
{
	size_t len = strlen(s);

	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		s[--len] = '\0';
}

/* Splits "key<tabs/spaces>: value" in place; *KEY and *VAL are trimmed. */
static int split_kv(char *line, char **key, char **val)
{
	char *colon = strchr(line, ':');

	if (!colon)
		return -EINVAL;
	*colon = '\0';
	trim_right(line);
	*key = line;
	*val = colon + 1;
	while (**val == ' ' || **val == '\t')
		(*val)++;
	trim_right(*val);
	return 0;
}

static int parse_uint(const char *s, unsigned *out)
{
	uint64_t v;

	if (util_parse_u64(s, &v) || v > 1000000)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

struct cpu_sockets {
	unsigned id[MAX_SOCKETS];
	unsigned cores[MAX_SOCKETS];
	unsigned n, current;
};

static void socket_seen(struct cpu_sockets *s, unsigned id)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->id[i] == id) {
			s->current = i;
			return;
		}
	if (s->n == MAX_SOCKETS)
		return;
	s->id[s->n] = id;
	s->cores[s->n] = 0;
	s->current = s->n++;
}

static int has_word(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = strstr(list, word); p; p = strstr(p + 1, word))
		if ((p == list || p[-1] == ' ') && (p[wl] == ' ' || p[wl] == '\0'))
			return 1;
	return 0;
}

static void cpuinfo_line(struct nodeinfo_cpuinfo *c, struct cpu_sockets *s, char *key, char *val)
{
	unsigned v;

	if (strcmp(key, "processor") == 0 && parse_uint(val, &v) == 0)
		c->cpus++;
	else if (strcmp(key, "model name") == 0 && strcmp(c->model, "unknown") == 0)
		util_strlcpy(c->model, val, sizeof(c->model));
	else if (strcmp(key, "cpu MHz") == 0 && strcmp(c->mhz, "0") == 0)
		util_strlcpy(c->mhz, val, sizeof(c->mhz));
	else if (strcmp(key, "flags") == 0 && (has_word(val, "vmx") || has_word(val, "svm")))
		c->hvm = 1;
	else if (strcmp(key, "physical id") == 0 && parse_uint(val, &v) == 0)
		socket_seen(s, v);
	else if (strcmp(key, "cpu cores") == 0 && parse_uint(val, &v) == 0 && s->n)
		s->cores[s->current] = v;
}

int nodeinfo_parse_cpuinfo(const char *text, struct nodeinfo_cpuinfo *out)
{
	struct cpu_sockets s = {.n = 0};
	struct nodeinfo_cpuinfo c = {.cpus = 0};
	char line[4096], *key, *val;

	util_strlcpy(c.model, "unknown", sizeof(c.model));
	util_strlcpy(c.mhz, "0", sizeof(c.mhz));
	while (next_line(&text, line, sizeof(line)))
		if (split_kv(line, &key, &val) == 0)
			cpuinfo_line(&c, &s, key, val);
	if (c.cpus == 0)
		return -EINVAL;
	c.sockets = s.n ? s.n : 1;
	for (unsigned i = 0; i < s.n; i++)
		c.cores += s.cores[i];
	if (c.cores == 0)
		c.cores = c.cpus;
	*out = c;
	return 0;
}

/* "cpu  user nice system idle iowait irq softirq steal [guest guest_nice]" */
static int stat_cpu_line(const char *line, struct nodeinfo_stat *st)
{
	uint64_t v[8];

	if (sscanf(line,
		   "cpu %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
		   " %" SCNu64 " %" SCNu64,
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		return -EINVAL;
	st->used = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	st->iowait = v[4];
	st->total = st->used + v[3] + v[4];
	return 0;
}

int nodeinfo_parse_stat(const char *text, struct nodeinfo_stat *out)
{
	struct nodeinfo_stat st = {.ncpu = 0};
	char line[1024];
	int have_total = 0;

	while (next_line(&text, line, sizeof(line))) {
		if (strncmp(line, "cpu ", 4) == 0)
			have_total = stat_cpu_line(line, &st) == 0;
		else if (strncmp(line, "cpu", 3) == 0 && line[3] >= '0' && line[3] <= '9')
			st.ncpu++;
	}
	if (!have_total)
		return -EINVAL;
	if (st.ncpu == 0)
		st.ncpu = 1;
	*out = st;
	return 0;
}

/* "Key:   123 kB" -> bytes. */
static int meminfo_value(const char *val, uint64_t *out)
{
	uint64_t kb;
	char unit[8] = "";

	if (sscanf(val, "%" SCNu64 " %7s", &kb, unit) < 1 || (unit[0] && strcmp(unit, "kB") != 0))
		return -EINVAL;
	*out = kb * 1024;
	return 0;
}

enum { MI_TOTAL, MI_FREE, MI_AVAIL, MI_BUFFERS, MI_CACHED, MI_SWAPTOTAL, MI_SWAPFREE, MI_COUNT };

static const char *const meminfo_keys[MI_COUNT] = {
    [MI_TOTAL] = "MemTotal",	[MI_FREE] = "MemFree",	[MI_AVAIL] = "MemAvailable",
    [MI_BUFFERS] = "Buffers",	[MI_CACHED] = "Cached", [MI_SWAPTOTAL] = "SwapTotal",
    [MI_SWAPFREE] = "SwapFree",
};

int nodeinfo_parse_meminfo(const char *text, struct nodeinfo_mem *out)
{
	uint64_t v[MI_COUNT] = {0};
	int seen[MI_COUNT] = {0};
	char line[512], *key, *val;

	while (next_line(&text, line, sizeof(line))) {
		if (split_kv(line, &key, &val))
			continue;
		for (int i = 0; i < MI_COUNT; i++)
			if (strcmp(key, meminfo_keys[i]) == 0 && meminfo_value(val, &v[i]) == 0)
				seen[i] = 1;
	}
	if (!seen[MI_TOTAL] || !seen[MI_FREE])
		return -EINVAL;
	/* Kernels before 3.14 lack MemAvailable: estimate it as Proxmox once did. */
	if (!seen[MI_AVAIL])
		v[MI_AVAIL] = v[MI_FREE] + v[MI_BUFFERS] + v[MI_CACHED];
	if (v[MI_AVAIL] > v[MI_TOTAL])
		v[MI_AVAIL] = v[MI_TOTAL];
	out->total = v[MI_TOTAL];
	out->free = v[MI_FREE];
	out->available = v[MI_AVAIL];
	out->used = v[MI_TOTAL] - v[MI_AVAIL];
	out->swap_total = v[MI_SWAPTOTAL];
	out->swap_free = v[MI_SWAPFREE] < v[MI_SWAPTOTAL] ? v[MI_SWAPFREE] : v[MI_SWAPTOTAL];
	out->swap_used = out->swap_total - out->swap_free;
	return 0;
}

static int is_decimal(const char *s)
{
	int digits = 0, dots = 0;

	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			digits++;
		else if (*s == '.' && dots++ == 0)
			continue;
		else
			return 0;
	}
	return digits > 0;
}

int nodeinfo_parse_loadavg(const char *text, char avg[3][16])
{
	char a[3][16];

	if (sscanf(text, "%15s %15s %15s", a[0], a[1], a[2]) != 3)
		return -EINVAL;
	for (int i = 0; i < 3; i++) {
		if (!is_decimal(a[i]))
			return -EINVAL;
		memcpy(avg[i], a[i], sizeof(a[i]));
	}
	return 0;
}

int nodeinfo_parse_uptime(const char *text, uint64_t *uptime)
{
	char first[32];
	char *dot;

	if (sscanf(text, "%31s", first) != 1 || !is_decimal(first))
		return -EINVAL;
	dot = strchr(first, '.');
	if (dot)
		*dot = '\0';
	return util_parse_u64(first, uptime) ? -EINVAL : 0;
}

int nodeinfo_parse_pid_starttime(const char *text, uint64_t *out)
{
	const char *p = strrchr(text, ')');
	char tok[32];
	int used;

	if (!p)
		return -EINVAL;
	p++;
	/* After the command come fields 3 (state) .. 22 (starttime). */
	for (int field = 3; field <= 22; field++) {
		if (sscanf(p, " %31s%n", tok, &used) != 1)
			return -EINVAL;
		p += used;
	}
	return util_parse_u64(tok, out) ? -EINVAL : 0;
}

double nodeinfo_cpu_fraction(const struct nodeinfo_stat *prev, const struct nodeinfo_stat *cur,
			     double *wait)
{
	uint64_t total, used, io;

	*wait = 0;
	if (cur->total <= prev->total)
		return 0;
	total = cur->total - prev->total;
	used = cur->used > prev->used ? cur->used - prev->used : 0;
	io = cur->iowait > prev->iowait ? cur->iowait - prev->iowait : 0;
	*wait = io > total ? 1.0 : (double)io / (double)total;
	return used > total ? 1.0 : (double)used / (double)total;
}

typedef int (*text_parser)(const char *text, void *out);

/* /proc files report size 0, so they are read to end of file. */
static int read_proc(const char *path, struct buf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	do {
		r = buf_reserve(b, 4096);
		n = r ? -1 : read(fd, b->data + b->len, 4096);
		if (n > 0)
			b->len += (size_t)n;
	} while (n > 0 && b->len < PROC_READ_MAX);
	if (r == 0 && n < 0)
		r = -errno;
	if (r == 0)
		r = buf_reserve(b, 1);
	if (r == 0)
		b->data[b->len] = '\0';
	close(fd);
	return r;
}

static int read_parse(const char *path, text_parser parse, void *out)
{
	struct buf b = BUF_INIT;
	int r = read_proc(path, &b);

	if (r == 0)
		r = parse(b.data, out);
	buf_free(&b);
	return r;
}

static int parse_cpuinfo_cb(const char *t, void *o)
{
	return nodeinfo_parse_cpuinfo(t, o);
}
static int parse_stat_cb(const char *t, void *o)
{
	return nodeinfo_parse_stat(t, o);
}
static int parse_meminfo_cb(const char *t, void *o)
{
	return nodeinfo_parse_meminfo(t, o);
}
static int parse_loadavg_cb(const char *t, void *o)
{
	return nodeinfo_parse_loadavg(t, o);
}
static int parse_uptime_cb(const char *t, void *o)
{
	return nodeinfo_parse_uptime(t, o);
}
static int parse_pidstart_cb(const char *t, void *o)
{
	return nodeinfo_parse_pid_starttime(t, o);
}

int nodeinfo_read_cpuinfo(struct nodeinfo_cpuinfo *out)
{
	return read_parse("/proc/cpuinfo", parse_cpuinfo_cb, out);
}

int nodeinfo_read_stat(struct nodeinfo_stat *out)
{
	return read_parse("/proc/stat", parse_stat_cb, out);
}

int nodeinfo_read_meminfo(struct nodeinfo_mem *out)
{
	return read_parse("/proc/meminfo", parse_meminfo_cb, out);
}

int nodeinfo_read_loadavg(char avg[3][16])
{
	return read_parse("/proc/loadavg", parse_loadavg_cb, avg);
}

int nodeinfo_read_uptime(uint64_t *uptime)
{
	return read_parse("/proc/uptime", parse_uptime_cb, uptime);
}

int nodeinfo_read_self_starttime(uint64_t *out)
{
	return read_parse("/proc/self/stat", parse_pidstart_cb, out);
}

int nodeinfo_read_disk(const char *path, struct nodeinfo_disk *out)
{
	struct statvfs v;
	uint64_t bs;

	if (statvfs(path, &v) != 0)
		return -errno;
	bs = v.f_frsize ? v.f_frsize : v.f_bsize;
	out->total = (uint64_t)v.f_blocks * bs;
	out->free = (uint64_t)v.f_bfree * bs;
	out->avail = (uint64_t)v.f_bavail * bs;
	out->used = out->total > out->free ? out->total - out->free : 0;
	return 0;
}

int nodeinfo_read_kernel(struct nodeinfo_kernel *out)
{
	struct utsname u;

	if (uname(&u) != 0)
		return -errno;
	util_strlcpy(out->sysname, u.sysname, sizeof(out->sysname));
	util_strlcpy(out->release, u.release, sizeof(out->release));
	util_strlcpy(out->version, u.version, sizeof(out->version));
	util_strlcpy(out->machine, u.machine, sizeof(out->machine));
	return 0;
}

int nodeinfo_efi_booted(void)
{
	struct stat st;

	return stat("/sys/firmware/efi", &st) == 0 && S_ISDIR(st.st_mode);
}

struct nodeinfo {
	pthread_mutex_t mu;
	struct nodeinfo_stat prev;
	uint64_t prev_ms; /* 0 before the first sample */
	double cpu, wait; /* fractions of the last completed interval */
	struct nodeinfo_figures pub;
	uint64_t pub_ms; /* 0: nothing published */
};

int nodeinfo_new(struct nodeinfo **out)
{
	struct nodeinfo *ni = calloc(1, sizeof(*ni));

	if (!ni)
		return -ENOMEM;
	pthread_mutex_init(&ni->mu, NULL);
	*out = ni;
	return 0;
}

void nodeinfo_free(struct nodeinfo *ni)
{
	if (!ni)
		return;
	pthread_mutex_destroy(&ni->mu);
	free(ni);
}

int nodeinfo_cpu(struct nodeinfo *ni, double *cpu, double *wait)
{
	static const struct nodeinfo_stat boot = {0, 0, 0, 1};
	struct nodeinfo_stat cur;
	uint64_t now = util_now_ms();
	int r = nodeinfo_read_stat(&cur);

	if (r < 0)
		return r;
	pthread_mutex_lock(&ni->mu);
	if (ni->prev_ms == 0 || now - ni->prev_ms >= NODEINFO_MIN_INTERVAL_MS) {
		ni->cpu = nodeinfo_cpu_fraction(ni->prev_ms ? &ni->prev : &boot, &cur, &ni->wait);
		ni->prev = cur;
		ni->prev_ms = now ? now : 1;
	}
	*cpu = ni->cpu;
	*wait = ni->wait;
	pthread_mutex_unlock(&ni->mu);
	return 0;
}

void nodeinfo_publish(struct nodeinfo *ni, const struct nodeinfo_figures *f, uint64_t now_ms)
{
	pthread_mutex_lock(&ni->mu);
	ni->pub = *f;
	ni->pub_ms = now_ms ? now_ms : 1;
	pthread_mutex_unlock(&ni->mu);
}

int nodeinfo_published(struct nodeinfo *ni, uint64_t now_ms, uint64_t max_age_ms,
		       struct nodeinfo_figures *out)
{
	int r = -ENOENT;

	pthread_mutex_lock(&ni->mu);
	if (ni->pub_ms && now_ms >= ni->pub_ms && now_ms - ni->pub_ms <= max_age_ms) {
		*out = ni->pub;
		out->uptime += (now_ms - ni->pub_ms) / 1000;
		r = 0;
	}
	pthread_mutex_unlock(&ni->mu);
	return r;
}
