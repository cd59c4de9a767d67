/* Tests for server/upid.c: Proxmox's UPID format, round trips and rejects. */
#include "server/tasks.h"
#include "tests/unit/test.h"

#include <errno.h>
#include <string.h>

static void test_parse_proxmox_example(void)
{
	struct upid u;

	CHECK_INT(upid_parse("UPID:pve:0002A1B3:00F3C2D1:66A1B2C3:qmstart:100:root@pam:", &u), 0);
	CHECK_STR(u.node, "pve");
	CHECK_INT(u.pid, 0x0002A1B3);
	CHECK_INT(u.pstart, 0x00F3C2D1);
	CHECK_INT(u.starttime, 0x66A1B2C3);
	CHECK_STR(u.type, "qmstart");
	CHECK_STR(u.id, "100");
	CHECK_STR(u.user, "root@pam");
}

static void test_round_trip(void)
{
	struct upid u = {.pid = 0x1f, .pstart = 0x123456789ULL, .starttime = 0xABCDEF01}, back;
	char s[UPID_MAX];

	strcpy(u.node, "node-1");
	strcpy(u.type, "qmclone");
	strcpy(u.id, "");
	strcpy(u.user, "automation@pve!deploy");
	CHECK_INT(upid_format(&u, s, sizeof(s)), 0);
	CHECK_STR(s, "UPID:node-1:0000001F:123456789:ABCDEF01:qmclone::automation@pve!deploy:");
	CHECK_INT(upid_parse(s, &back), 0);
	CHECK_STR(back.node, u.node);
	CHECK_INT(back.pid, u.pid);
	CHECK(back.pstart == u.pstart);
	CHECK_INT(back.starttime, u.starttime);
	CHECK_STR(back.type, u.type);
	CHECK_STR(back.id, u.id);
	CHECK_STR(back.user, u.user);
}

static void test_rejects(void)
{
	static const char *const bad[] = {
	    "",
	    "garbage",
	    "UPID:",
	    "upid:pve:0002A1B3:00F3C2D1:66A1B2C3:qmstart:100:root@pam:",
	    /* 8 fields: no trailing colon */
	    "UPID:pve:0002A1B3:00F3C2D1:66A1B2C3:qmstart:100:root@pam",
	    /* 10 fields */
	    "UPID:pve:0002A1B3:00F3C2D1:66A1B2C3:qmstart:100:root@pam:x:",
	    /* lowercase hex */
	    "UPID:pve:0002a1b3:00F3C2D1:66A1B2C3:qmstart:100:root@pam:",
	    "UPID:pve:0002A1B3:00F3C2D1:66a1b2c3:qmstart:100:root@pam:",
	    /* field widths: pid 8, pstart 8-9, starttime 8 */
	    "UPID:pve:2A1B3:00F3C2D1:66A1B2C3:qmstart:100:root@pam:",
	    "UPID:pve:0002A1B3:F3C2D1:66A1B2C3:qmstart:100:root@pam:",
	    "UPID:pve:0002A1B3:0000F3C2D1:66A1B2C3:qmstart:100:root@pam:",
	    "UPID:pve:0002A1B3:00F3C2D1:166A1B2C3:qmstart:100:root@pam:",
	    "UPID:pve:0002A1B3:00F3C2DG:66A1B2C3:qmstart:100:root@pam:",
	    /* empty node, type, user */
	    "UPID::0002A1B3:00F3C2D1:66A1B2C3:qmstart:100:root@pam:",
	    "UPID:pve:0002A1B3:00F3C2D1:66A1B2C3::100:root@pam:",
	    "UPID:pve:0002A1B3:00F3C2D1:66A1B2C3:qmstart:100::",
	    /* node charset, white space, path separators */
	    "UPID:-pve:0002A1B3:00F3C2D1:66A1B2C3:qmstart:100:root@pam:",
	    "UPID:p_ve:0002A1B3:00F3C2D1:66A1B2C3:qmstart:100:root@pam:",
	    "UPID:pve:0002A1B3:00F3C2D1:66A1B2C3:qm start:100:root@pam:",
	    "UPID:pve:0002A1B3:00F3C2D1:66A1B2C3:qmstart:../100:root@pam:",
	    "UPID:pve:0002A1B3:00F3C2D1:66A1B2C3:qmstart:100:root@pam\n:",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct upid u;
		if (upid_parse(bad[i], &u) != -EINVAL)
			test_fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
	}
	CHECK_INT(upid_parse(NULL, &(struct upid){.pid = 0}), -EINVAL);
}

static void test_nine_digit_pstart_and_empty_id(void)
{
	struct upid u;

	CHECK_INT(upid_parse("UPID:n1:00000001:1A2B3C4D5:00000002:vzdump::root@pam:", &u), 0);
	CHECK(u.pstart == 0x1A2B3C4D5ULL);
	CHECK_STR(u.id, "");
}

static void test_format_rejects_bad_fields(void)
{
	struct upid u = {.pid = 1, .pstart = 1, .starttime = 1};
	char s[UPID_MAX];

	strcpy(u.node, "pve");
	strcpy(u.type, "qmstart");
	strcpy(u.id, "100");
	strcpy(u.user, "");
	CHECK_INT(upid_format(&u, s, sizeof(s)), -EINVAL);
	strcpy(u.user, "root@pam");
	strcpy(u.id, "a:b");
	CHECK_INT(upid_format(&u, s, sizeof(s)), -EINVAL);
	strcpy(u.id, "100");
	u.pstart = 0x1000000000ULL; /* 10 hex digits */
	CHECK_INT(upid_format(&u, s, sizeof(s)), -EINVAL);
	u.pstart = 1;
	CHECK_INT(upid_format(&u, s, 20), -EINVAL);
	CHECK_INT(upid_format(&u, s, sizeof(s)), 0);
}

static const struct test_case tests[] = {
    {"parse proxmox example", test_parse_proxmox_example},
    {"round trip", test_round_trip},
    {"rejects", test_rejects},
    {"nine digit pstart and empty id", test_nine_digit_pstart_and_empty_id},
    {"format rejects bad fields", test_format_rejects_bad_fields},
};

TEST_MAIN(tests)
