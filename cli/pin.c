/* Certificate fingerprints and known_hosts text (see pin.h). */
#include "cli/pin.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/util.h"

static void hex_pairs(const unsigned char *md, size_t n, char out[PIN_FP_LEN])
{
	static const char hex[] = "0123456789ABCDEF";
	char *p = out;

	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = ':';
		*p++ = hex[md[i] >> 4];
		*p++ = hex[md[i] & 15];
	}
	*p = '\0';
}

int pin_fingerprint_der(const unsigned char *der, size_t len, char out[PIN_FP_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!der || !len || !EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return -EINVAL;
	hex_pairs(md, mdlen, out);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)toupper((unsigned char)c);
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int pin_normalize(const char *in, char out[PIN_FP_LEN])
{
	unsigned char md[32];
	size_t n = 0;

	if (strncasecmp(in, "sha256:", 7) == 0)
		in += 7;
	while (*in) {
		int hi, lo;

		if (*in == ':' && n > 0) {
			in++;
			continue;
		}
		hi = hexval(in[0]);
		lo = hi < 0 ? -1 : hexval(in[1]);
		if (lo < 0 || n >= sizeof(md))
			return -EINVAL;
		md[n++] = (unsigned char)(hi << 4 | lo);
		in += 2;
	}
	if (n != sizeof(md))
		return -EINVAL;
	hex_pairs(md, n, out);
	return 0;
}

int pin_equal(const char *a, const char *b)
{
	char na[PIN_FP_LEN], nb[PIN_FP_LEN];

	return pin_normalize(a, na) == 0 && pin_normalize(b, nb) == 0 && strcmp(na, nb) == 0;
}

/* Splits one line "HOST:PORT FP" into its two words (lengths in *HL, *FL).
 * Returns 0 when the line is an entry, -1 for blanks and comments. */
static int split_line(const char *line, size_t len, const char **fp, size_t *hl, size_t *fl)
{
	size_t i = 0, j;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len || line[i] == '#' || i > 0)
		return -1;
	for (j = 0; j < len && line[j] != ' ' && line[j] != '\t'; j++)
		;
	*hl = j;
	while (j < len && (line[j] == ' ' || line[j] == '\t'))
		j++;
	*fp = line + j;
	for (*fl = 0; j + *fl < len && !isspace((unsigned char)line[j + *fl]); (*fl)++)
		;
	return *fl ? 0 : -1;
}

static int line_matches(const char *line, size_t len, const char *hostport, const char **fp,
			size_t *fl)
{
	size_t hl;

	return split_line(line, len, fp, &hl, fl) == 0 && hl == strlen(hostport) &&
	       strncmp(line, hostport, hl) == 0;
}

int pin_lookup(const char *text, const char *hostport, char out[PIN_FP_LEN])
{
	char word[PIN_FP_LEN * 2];

	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n'), *fp;
		size_t len = nl ? (size_t)(nl - line) : strlen(line), fl;

		if (line_matches(line, len, hostport, &fp, &fl) && fl < sizeof(word)) {
			memcpy(word, fp, fl);
			word[fl] = '\0';
			return pin_normalize(word, out) == 0 ? 0 : -ENOENT;
		}
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

static int put_entry(const char *hostport, const char *fp, struct buf *out)
{
	return buf_printf(out, "%s %s\n", hostport, fp);
}

int pin_update(const char *text, const char *hostport, const char *fp, struct buf *out)
{
	char canon[PIN_FP_LEN];
	int r = 0, done = 0;

	if (!*hostport || strpbrk(hostport, " \t\n#") || pin_normalize(fp, canon) < 0)
		return -EINVAL;
	for (const char *line = text; !r && line && *line;) {
		const char *nl = strchr(line, '\n'), *old;
		size_t len = nl ? (size_t)(nl - line) : strlen(line), fl;

		if (line_matches(line, len, hostport, &old, &fl))
			r = done++ ? 0 : put_entry(hostport, canon, out);
		else if (!(r = buf_append(out, line, len)))
			r = buf_append(out, "\n", 1);
		line = nl ? nl + 1 : NULL;
	}
	if (!r && !done)
		r = put_entry(hostport, canon, out);
	return r;
}
