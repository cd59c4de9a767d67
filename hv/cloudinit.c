/* Pure cloud-init helpers and user-data, as Proxmox's Cloudinit.pm writes it
 * but with every user-supplied string YAML-quoted: SSH key lines, YAML
 * quoting, the format and key sets (network and meta data: cloudinit_net.c). */
#include "hv/cloudinit.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/util.h"
#include "hv/cloudinit_int.h"

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

char *cloudinit_urldecode(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		if (s[0] == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

/* ---- SSH public keys ------------------------------------------------------------ */

static const char *const ssh_types[] = {
	"ssh-rsa", "ssh-dss", "ssh-ed25519", "ssh-ed448", "ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com",
};

static int ssh_type_known(const char *t, size_t n)
{
	static const char cert[] = "-cert-v01@openssh.com";
	size_t c = sizeof(cert) - 1;

	for (size_t i = 0; i < ARRAY_SIZE(ssh_types); i++) {
		size_t k = strlen(ssh_types[i]);
		const char *at = strchr(ssh_types[i], '@');
		size_t base = at ? (size_t)(at - ssh_types[i]) : k;

		if (n == k && memcmp(t, ssh_types[i], n) == 0)
			return 1;
		if (!at && n == base + c && memcmp(t, ssh_types[i], base) == 0 &&
		    memcmp(t + base, cert, c) == 0)
			return 1;
	}
	return 0;
}

/* The base64 blob B (N chars) starts with the string TYPE and holds more. */
static int ssh_blob_ok(const char *b, size_t n, const char *type, size_t tn)
{
	unsigned char *raw;
	int len, ok = 0;
	uint32_t l;

	if (n < 8 || n % 4 || n > 65536 || strspn(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") < n)
		return 0;
	if (!(raw = malloc(n)))
		return 0;
	len = EVP_DecodeBlock(raw, (const unsigned char *)b, (int)n);
	len -= (b[n - 1] == '=') + (b[n - 2] == '=');
	if (len > 4) {
		l = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
		ok = l == tn && (size_t)len > 4 + tn && memcmp(raw + 4, type, tn) == 0;
	}
	free(raw);
	return ok;
}

/* "type base64 [comment]" at S (LEN bytes, one line). */
static int ssh_key_at(const char *s, size_t len)
{
	size_t tn = strcspn(s, " \t"), bn;
	const char *b;

	if (tn >= len || !ssh_type_known(s, tn))
		return 0;
	b = s + tn + strspn(s + tn, " \t");
	if (b >= s + len)
		return 0;
	bn = strcspn(b, " \t\r\n");
	if (b + bn > s + len)
		bn = (size_t)(s + len - b);
	return ssh_blob_ok(b, bn, s, tn);
}

/* Skips an authorized_keys options field (commas, "quoted strings"). */
static const char *skip_options(const char *s, const char *end)
{
	int quoted = 0;

	for (; s < end; s++) {
		if (*s == '"' && s[-1] != '\\')
			quoted = !quoted;
		else if (!quoted && (*s == ' ' || *s == '\t'))
			break;
	}
	return s + strspn(s, " \t");
}

static int ssh_line_ok(const char *s, size_t len)
{
	const char *end = s + len;

	while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	s += strspn(s, " \t");
	if (s >= end || ssh_key_at(s, (size_t)(end - s)))
		return 1;
	s = skip_options(s + 1, end);
	return s < end && ssh_key_at(s, (size_t)(end - s));
}

static int blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

int cloudinit_check_ssh_keys(const char *keys)
{
	for (const char *s = keys; *s;) {
		size_t n = strcspn(s, "\n");

		if (!blank(s, n) && s[strspn(s, " \t")] != '#' && !ssh_line_ok(s, n))
			return -EINVAL;
		s += n + (s[n] == '\n');
	}
	return 0;
}

/* ---- YAML ------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at S (1..4), its code point in *CP;
 * 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp)
{
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };

	if (s[0] >= 0xf8 || n == 0)
		return 0;
	*cp = s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	if (*cp < min[n] || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return n;
}

static int yaml_ascii(struct buf *out, unsigned char ch)
{
	switch (ch) {
	case '"':
		return buf_puts(out, "\\\"");
	case '\\':
		return buf_puts(out, "\\\\");
	case '\n':
		return buf_puts(out, "\\n");
	case '\r':
		return buf_puts(out, "\\r");
	case '\t':
		return buf_puts(out, "\\t");
	}
	if (ch < 0x20 || ch == 0x7f)
		return buf_printf(out, "\\x%02x", ch);
	return buf_append(out, &ch, 1);
}

int cloudinit_yaml_quote(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int r = buf_puts(out, "\"");

	while (r == 0 && *p) {
		uint32_t cp;
		size_t n;

		if (*p < 0x80) {
			r = yaml_ascii(out, *p++);
			continue;
		}
		n = utf8_seq(p, &cp);
		if (n == 0) /* not UTF-8: YAML streams must be */
			r = buf_puts(out, "\\uFFFD"), p++;
		else if (cp == 0x85 || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff)
			r = buf_printf(out, "\\u%04X", (unsigned)cp), p += n; /* breaks, BOM */
		else
			r = buf_append(out, p, n), p += n;
	}
	return r ? r : buf_puts(out, "\"");
}

/* "key: <quoted value>\n" */
static int yaml_kv(struct buf *out, const char *indent, const char *key, const char *v)
{
	int r = buf_printf(out, "%s%s: ", indent, key);

	if (r == 0)
		r = cloudinit_yaml_quote(out, v);
	return r ? r : buf_puts(out, "\n");
}

/* ---- format and keys ---------------------------------------------------------------- */

const char *cloudinit_format(const struct vmconf *c)
{
	const char *ostype = vmconf_get(c, "ostype");

	if (vmconf_get(c, "citype"))
		return vmconf_get(c, "citype");
	if (ostype && ostype[0] == 'w')
		return "configdrive2";
	return "nocloud";
}

int cloudinit_format_check(const struct vmconf *c, char *err, size_t errlen)
{
	const char *f = cloudinit_format(c), *ostype = vmconf_get(c, "ostype");
	int windows = ostype && ostype[0] == 'w';

	if (strcmp(f, "nocloud") == 0 || (strcmp(f, "configdrive2") == 0 && !windows))
		return 0;
	snprintf(err, errlen,
		 "cloud-init format '%s'%s is not supported: Corral writes NoCloud images, and "
		 "configdrive2 ones for Linux guests (set citype=nocloud)",
		 f, vmconf_get(c, "citype") ? (windows ? " for Windows guests" : "")
					    : " (the default for Windows guests)");
	return -ENOTSUP;
}

int ci_indexed(const char *key, const char *prefix, int max)
{
	size_t n = strlen(prefix);
	uint64_t i;

	if (strncmp(key, prefix, n) != 0 || !isdigit((unsigned char)key[n]) ||
	    (key[n] == '0' && key[n + 1]) || util_parse_u64(key + n, &i) < 0)
		return 0;
	return i <= (uint64_t)max;
}

int cloudinit_is_listed_key(const char *key)
{
	static const char *const keys[] = { "cicustom",	  "cipassword", "citype",  "ciupgrade",
					    "ciuser",	  "nameserver", "searchdomain", "sshkeys" };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(key, keys[i]) == 0)
			return 1;
	return ci_indexed(key, "ipconfig", 31);
}

int cloudinit_is_source_key(const char *key)
{
	return cloudinit_is_listed_key(key) || strcmp(key, "name") == 0 || ci_indexed(key, "net", 31);
}

int cloudinit_drive(const struct vmconf *c, int vmid, char *key, size_t n)
{
	char want[64];

	snprintf(want, sizeof(want), "%d/vm-%d-cloudinit.", vmid, vmid);
	for (size_t i = 0; i < vmconf_count(c); i++) {
		const char *k = vmconf_key_at(c, i), *v = vmconf_value_at(c, i);
		const char *colon = strchr(v, ':');

		if (!ci_indexed(k, "ide", 3) && !ci_indexed(k, "sata", 5) && !ci_indexed(k, "scsi", 30))
			continue;
		if (colon && strncmp(colon + 1, want, strlen(want)) == 0) {
			snprintf(key, n, "%s", k);
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- user-data -------------------------------------------------------------------- */

static int user_identity(struct buf *b, const struct vmconf *c, int vmid)
{
	const char *name = vmconf_get(c, "name"), *search = vmconf_get(c, "searchdomain");
	char host[256], fqdn[512];
	int r;

	if (name)
		snprintf(host, sizeof(host), "%.*s", (int)strcspn(name, "."), name);
	else
		snprintf(host, sizeof(host), "VM%d", vmid);
	if (name && strchr(name, '.'))
		snprintf(fqdn, sizeof(fqdn), "%s", name);
	else if (search && search[strspn(search, " \t")]) /* its first domain */
		snprintf(fqdn, sizeof(fqdn), "%s.%.*s", host,
			 (int)strcspn(search + strspn(search, " \t"), " \t"),
			 search + strspn(search, " \t"));
	else
		snprintf(fqdn, sizeof(fqdn), "%s", host);
	r = buf_printf(b, "#cloud-config\nhostname: %s\nmanage_etc_hosts: true\n", host);
	return r ? r : yaml_kv(b, "", "fqdn", fqdn);
}

static int user_keys(struct buf *b, const char *enc)
{
	char *keys = cloudinit_urldecode(enc);
	int r = keys ? buf_puts(b, "ssh_authorized_keys:\n") : -ENOMEM;

	for (const char *s = keys; r == 0 && *s;) {
		size_t n = strcspn(s, "\n");
		char *line = strndup(s, n);

		if (!line) {
			r = -ENOMEM;
			break;
		}
		line[strcspn(line, "\r")] = '\0';
		if (!blank(line, strlen(line)))
			r = buf_puts(b, "  - ") || cloudinit_yaml_quote(b, line) || buf_puts(b, "\n");
		free(line);
		s += n + (s[n] == '\n');
	}
	free(keys);
	return r ? -ENOMEM : 0;
}

int cloudinit_user_data(const struct vmconf *c, int vmid, char **out)
{
	const char *user = vmconf_get(c, "ciuser"), *pw = vmconf_get(c, "cipassword");
	const char *keys = vmconf_get(c, "sshkeys"), *up = vmconf_get(c, "ciupgrade");
	int root = user && strcmp(user, "root") == 0;
	struct buf b = BUF_INIT;
	int r = user_identity(&b, c, vmid);

	if (r == 0 && user)
		r = yaml_kv(&b, "", "user", user);
	if (r == 0 && root)
		r = buf_puts(&b, "disable_root: False\n");
	if (r == 0 && pw)
		r = yaml_kv(&b, "", "password", pw);
	if (r == 0 && keys)
		r = user_keys(&b, keys);
	if (r == 0)
		r = buf_puts(&b, "chpasswd:\n  expire: False\n");
	if (r == 0 && !root)
		r = buf_puts(&b, "users:\n  - default\n");
	if (r == 0 && (!up || strcmp(up, "0") != 0))
		r = buf_puts(&b, "package_upgrade: true\n");
	*out = r == 0 ? buf_steal(&b) : NULL;
	buf_free(&b);
	return r == 0 && !*out ? -ENOMEM : r;
}

void cloudinit_files_clear(struct cloudinit_files *f)
{
	free(f->user);
	free(f->network);
	free(f->meta);
	free(f->vendor);
	memset(f, 0, sizeof(*f));
}
