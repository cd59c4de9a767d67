/* libFuzzer target for hv/cloudinit.c and cloudinit_net.c; byte 0 picks.
 * 0: YAML quoting gives one double-quoted scalar without raw control bytes;
 * 1: SSH key lines; 2: URL decoding never grows; 3: resolv.conf; 4: the
 * generators over any configuration text (vmconf_from_text). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hv/cloudinit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_quoted(const char *s)
{
	struct buf b = BUF_INIT;
	size_t n;

	if (cloudinit_yaml_quote(&b, s) < 0)
		return;
	n = b.len;
	if (n < 2 || b.data[0] != '"' || b.data[n - 1] != '"')
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)b.data[i] < 0x20 || b.data[i] == 0x7f)
			abort();
	for (size_t i = 1; i + 1 < n; i++) /* every quote inside is escaped */
		if (b.data[i] == '"' && b.data[i - 1] != '\\')
			abort();
	buf_free(&b);
}

static void generate(const char *text)
{
	struct vmconf *c = NULL;
	char err[256], *u = NULL, *net = NULL, *m = NULL;

	if (vmconf_from_text(text, &c, err, sizeof(err)) < 0)
		return;
	if (cloudinit_user_data(c, 100, &u) == 0 &&
	    cloudinit_network_config(c, NULL, &net, err, sizeof(err)) == 0 &&
	    cloudinit_meta_data(u, net, &m) == 0 && strncmp(m, "instance-id: ", 13) != 0)
		abort();
	free(u);
	free(net);
	free(m);
	vmconf_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cloudinit_dns dns;
	char *s, *d;

	if (size < 1 || !(s = strndup((const char *)data + 1, size - 1)))
		return 0;
	switch (data[0] % 5) {
	case 0:
		check_quoted(s);
		break;
	case 1:
		(void)cloudinit_check_ssh_keys(s);
		break;
	case 2:
		if ((d = cloudinit_urldecode(s)) && strlen(d) > strlen(s))
			abort();
		free(d);
		break;
	case 3:
		cloudinit_parse_resolv(s, &dns);
		break;
	default:
		generate(s);
	}
	free(s);
	return 0;
}
