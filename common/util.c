/* Small libc-level helpers (see util.h). */
#include "util.h"

#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int util_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int util_parse_i64(const char *s, int64_t *out)
{
	int neg = (*s == '-');
	uint64_t v;
	int r = util_parse_u64(s + (neg || *s == '+'), &v);

	if (r < 0)
		return r;
	if (v > (uint64_t)INT64_MAX + (uint64_t)neg)
		return -ERANGE;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static int size_unit(char c, uint64_t *mult)
{
	static const char units[] = "KMGTPE";
	/* (c & ~0x20) is 0 for ' ': strchr would then find the terminator */
	const char *p = c & ~0x20 ? strchr(units, c & ~0x20) : NULL;

	if (!p)
		return -EINVAL;
	*mult = 1ULL << (10 * (unsigned)(p - units + 1));
	return 0;
}

int util_parse_size(const char *s, uint64_t default_unit, uint64_t *out)
{
	char num[32];
	size_t len = strlen(s), i = 0, frac_digits = 0;
	uint64_t whole = 0, frac = 0, mult = default_unit, scale = 1;
	const char *dot;

	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len + 1);
	if (num[len - 1] == 'B' || num[len - 1] == 'b')
		num[--len] = '\0';
	if (len && !(num[len - 1] >= '0' && num[len - 1] <= '9')) {
		if (size_unit(num[len - 1], &mult) < 0)
			return -EINVAL;
		num[--len] = '\0';
	}
	dot = strchr(num, '.');
	if (dot) {
		num[dot - num] = '\0';
		for (i = 1; dot[i]; i++, frac_digits++) {
			if (dot[i] < '0' || dot[i] > '9' || frac_digits >= 6)
				return -EINVAL;
			frac = frac * 10 + (uint64_t)(dot[i] - '0');
			scale *= 10;
		}
		if (frac_digits == 0)
			return -EINVAL;
	}
	if (util_parse_u64(num, &whole) < 0)
		return -EINVAL;
	if (mult && whole > UINT64_MAX / mult)
		return -ERANGE;
	*out = whole * mult + (frac * mult) / scale;
	return 0;
}

int util_http_reason(const char *line, size_t len, char *out, size_t n)
{
	size_t i = 0, start;

	if (len < 5 || strncmp(line, "HTTP/", 5) != 0 || n == 0)
		return -EINVAL;
	while (i < len && line[i] != ' ')
		i++;
	while (i < len && line[i] == ' ')
		i++;
	while (i < len && line[i] != ' ' && line[i] != '\r' && line[i] != '\n')
		i++;
	start = i < len && line[i] == ' ' ? i + 1 : i;
	for (i = start; i < len && line[i] != '\r' && line[i] != '\n' && line[i] != '\0'; i++)
		;
	if (i - start >= n)
		i = start + n - 1;
	memcpy(out, line + start, i - start);
	out[i - start] = '\0';
	return 0;
}

int util_strlcpy(char *dst, const char *src, size_t n)
{
	size_t len = strlen(src);

	if (n == 0)
		return -ERANGE;
	if (len >= n) {
		memcpy(dst, src, n - 1);
		dst[n - 1] = '\0';
		return -ERANGE;
	}
	memcpy(dst, src, len + 1);
	return 0;
}

uint64_t util_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t util_now_ms(void)
{
	return util_now_ns() / 1000000ULL;
}

int util_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int util_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[PATH_MAX];
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	r = util_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

/* Reads until EOF rather than trusting st_size, so /proc and /sys files (which
 * report a size of 0 or 4096) come back whole. */
int util_read_file(const char *path, size_t max, char **out, size_t *len)
{
	struct buf b = BUF_INIT;
	char chunk[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || b.len + (size_t)n > max) {
			r = n < 0 ? -errno : -EFBIG;
			break;
		}
		r = buf_append(&b, chunk, (size_t)n);
		if (r < 0)
			break;
	}
	close(fd);
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	if (len)
		*len = b.len;
	*out = buf_steal(&b);
	return *out ? 0 : -ENOMEM;
}

int util_mkdir_p(const char *path, unsigned mode)
{
	char tmp[PATH_MAX];

	if (util_strlcpy(tmp, path, sizeof(tmp)) < 0)
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int util_is_integer_text(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static const char *skip_digits(const char *s, int *count)
{
	for (; *s >= '0' && *s <= '9'; s++)
		(*count)++;
	return s;
}

int util_is_number_text(const char *s)
{
	int digits = 0, exp = 0;

	if (*s == '+' || *s == '-')
		s++;
	s = skip_digits(s, &digits);
	if (*s == '.')
		s = skip_digits(s + 1, &digits);
	if (!digits)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		s = skip_digits(s, &exp);
		if (!exp)
			return 0;
	}
	return *s == '\0';
}
