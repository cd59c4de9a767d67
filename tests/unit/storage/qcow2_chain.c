/* Tests for storage/qcow2_chain.c and storage/qcow2_amend.c: commit into the
 * backing file, safe and unsafe rebase, amend, and measure against
 * qemu-img measure. */
#include <errno.h>
#include <unistd.h>

#include "common/err.h"
#include "tests/unit/storage/helpers.h"

static void make_pair(void)
{
	CHECK_INT(sh("cd '%s' && rm -f base.qcow2 top.qcow2 other.raw && qemu-img create -q -f qcow2 base.qcow2 4M && "
		     "qemu-io -f qcow2 -c 'write -P 0x10 0 4M' base.qcow2 && "
		     "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2 && "
		     "qemu-io -f qcow2 -c 'write -P 0x20 64k 100k' -c 'write -z 1M 64k' top.qcow2 && "
		     "qemu-img convert -O raw top.qcow2 expect.raw", test_tmpdir()), 0);
}

static int count_progress(void *opaque, uint64_t done, uint64_t total)
{
	int *calls = opaque;

	(*calls)++;
	return done > total;
}

static void test_commit(void)
{
	char err[256] = "";
	struct img *img;
	int calls = 0;

	make_pair();
	img = open_rw(tpath("top.qcow2"));
	CHECK(img != NULL);
	if (!img)
		return;
	CHECK_INT(qcow2_commit(img_qcow2(img), NULL, 0, count_progress, &calls, err, sizeof(err)), 0);
	CHECK(calls > 0);
	CHECK(img_backing(img) != NULL); /* reopened */
	CHECK_INT(img_close(img), 0);
	CHECK_INT(qemu_check(tpath("top.qcow2")), 0);
	CHECK_INT(qemu_check(tpath("base.qcow2")), 0);
	CHECK_INT(sh("qemu-img compare -F raw '%s' '%s'", tpath("base.qcow2"), tpath("expect.raw")), 0);
	CHECK_INT(sh("qemu-img compare -F raw '%s' '%s'", tpath("top.qcow2"), tpath("expect.raw")), 0);
	/* the top was emptied: nothing allocated in it any more */
	CHECK_INT(sh("qemu-img map --output=json '%s' | grep -q '\"depth\": 0, \"present\": true'",
		     tpath("top.qcow2")), 1);
}

static void test_rebase_safe_and_unsafe(void)
{
	char err[256] = "";
	struct img *img;

	make_pair();
	CHECK_INT(sh("cd '%s' && qemu-img create -q -f raw other.raw 4M && "
		     "qemu-io -f raw -c 'write -P 0x10 0 2M' other.raw", test_tmpdir()), 0);
	img = open_rw(tpath("top.qcow2"));
	CHECK(img != NULL);
	if (!img)
		return;
	CHECK_INT(qcow2_rebase(img_qcow2(img), "other.raw", "raw", 0, NULL, NULL, NULL, err, sizeof(err)), 0);
	CHECK_INT(img_close(img), 0);
	CHECK_INT(qemu_check(tpath("top.qcow2")), 0);
	CHECK_INT(sh("qemu-img info '%s' | grep -q 'backing file: other.raw'", tpath("top.qcow2")), 0);
	CHECK_INT(sh("qemu-img compare -F raw '%s' '%s'", tpath("top.qcow2"), tpath("expect.raw")), 0);
	/* flatten: no backing file, same content */
	img = open_rw(tpath("top.qcow2"));
	CHECK(img != NULL);
	if (!img)
		return;
	CHECK_INT(qcow2_rebase(img_qcow2(img), "", NULL, 0, NULL, NULL, NULL, err, sizeof(err)), 0);
	CHECK(img_backing(img) == NULL);
	CHECK_INT(img_close(img), 0);
	CHECK_INT(sh("qemu-img compare -F raw '%s' '%s'", tpath("top.qcow2"), tpath("expect.raw")), 0);
	/* unsafe only rewrites the name; a new backing file outside the allowed dirs is refused */
	img = open_rw(tpath("top.qcow2"));
	CHECK_INT(qcow2_rebase(img_qcow2(img), "/etc/passwd", "raw", 0, NULL, NULL, NULL, err, sizeof(err)),
		  CR_EPERM_CHECK);
	CHECK_INT(qcow2_rebase(img_qcow2(img), "base.qcow2", "qcow2", QCOW2_REBASE_UNSAFE, NULL, NULL, NULL,
			       err, sizeof(err)), 0);
	CHECK_INT(img_close(img), 0);
	CHECK_INT(sh("qemu-img info --output=json '%s' | grep -q '\"backing-filename\": \"base.qcow2\"'",
		     tpath("top.qcow2")), 0);
	CHECK_INT(qemu_check(tpath("top.qcow2")), 0);
}

static void test_amend(void)
{
	const char *p = tpath("am.qcow2");
	struct qcow2_amend_opts a = { .mask = QCOW2_AMEND_LAZY_REFCOUNTS, .lazy_refcounts = 1 };
	char err[256] = "";
	struct img *img;

	CHECK_INT(sh("qemu-img create -q -f qcow2 -o compat=0.10 '%s' 1M && qemu-io -f qcow2 -c 'write 0 64k' '%s'", p, p), 0);
	img = open_rw(p);
	CHECK(img != NULL);
	if (!img)
		return;
	CHECK(qcow2_amend(img_qcow2(img), &a, err, sizeof(err)) < 0); /* v2 has no lazy refcounts */
	a.mask = QCOW2_AMEND_COMPAT | QCOW2_AMEND_LAZY_REFCOUNTS | QCOW2_AMEND_SIZE;
	a.compat = 3;
	a.size = 8u << 20;
	CHECK_INT(qcow2_amend(img_qcow2(img), &a, err, sizeof(err)), 0);
	CHECK_INT(img_close(img), 0);
	CHECK_INT(qemu_check(p), 0);
	CHECK_INT(sh("qemu-img info --output=json '%s' | tr -d ' \\n' | grep -q '\"compat\":\"1.1\",.*\"lazy-refcounts\":true'", p), 0);
	CHECK_INT(sh("qemu-img info --output=json '%s' | grep -q '\"virtual-size\": 8388608'", p), 0);
}

static void test_amend_refcount_bits_and_downgrade(void)
{
	const char *p = tpath("rb.qcow2"), *raw = tpath("rb.raw");
	struct qcow2_amend_opts a = { .mask = QCOW2_AMEND_REFCOUNT_BITS, .refcount_bits = 2 };
	char err[256] = "";
	struct img *img;

	CHECK_INT(sh("qemu-img create -q -f qcow2 '%s' 8M && qemu-io -f qcow2 -c 'write -P 3 0 1M' -c 'write -z 5M 1M' '%s' && "
		     "qemu-img snapshot -c s '%s' && qemu-io -f qcow2 -c 'write -P 4 64k 64k' '%s'", p, p, p, p), 0);
	img = open_rw(p);
	CHECK(img != NULL);
	if (!img)
		return;
	CHECK_INT(qcow2_amend(img_qcow2(img), &a, err, sizeof(err)), 0); /* shared clusters: refcount 2 fits */
	CHECK_INT(img_pwrite(img, "after", 5, 7u << 20), 0);
	a.refcount_bits = 1;
	CHECK_INT(qcow2_amend(img_qcow2(img), &a, err, sizeof(err)), -ERANGE);
	CHECK_INT(img_close(img), 0);
	CHECK_INT(qemu_check(p), 0);
	CHECK_INT(sh("qemu-img info '%s' | grep -q 'refcount bits: 2'", p), 0);
	/* down to compat=0.10: zero clusters become unallocated, content stays */
	CHECK_INT(sh("qemu-img convert -O raw '%s' '%s'", p, raw), 0);
	img = open_rw(p);
	CHECK(img != NULL);
	if (!img)
		return;
	CHECK_INT(qcow2_snapshot_delete(img_qcow2(img), "s", err, sizeof(err)), 0);
	a = (struct qcow2_amend_opts){ .mask = QCOW2_AMEND_COMPAT | QCOW2_AMEND_REFCOUNT_BITS, .compat = 2,
				       .refcount_bits = 16 };
	CHECK_INT(qcow2_amend(img_qcow2(img), &a, err, sizeof(err)), 0); /* widens first, then downgrades */
	CHECK_INT(img_close(img), 0);
	CHECK_INT(qemu_check(p), 0);
	CHECK_INT(sh("qemu-img info '%s' | grep -q 'compat: 0.10'", p), 0);
	CHECK_INT(sh("qemu-img compare -F raw '%s' '%s'", p, raw), 0);
}

static void test_measure_matches_qemu(void)
{
	static const struct { uint64_t size; uint32_t cs; unsigned bits; int ext; } cases[] = {
		{ 1ull << 30, 0, 0, 0 }, { 100ull << 30, 0, 0, 0 }, { 5ull << 20, 512, 1, 0 },
		{ 10ull << 30, 2u << 20, 64, 0 }, { 3ull << 30, 65536, 16, 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct img_create_opts o = { .cluster_size = cases[i].cs, .refcount_bits = cases[i].bits,
					     .extended_l2 = cases[i].ext };
		struct qcow2_measure m;
		CHECK_INT(qcow2_measure_size(&o, cases[i].size, 0, &m), 0);
		CHECK_INT(sh("qemu-img measure -O qcow2 -o cluster_size=%u,refcount_bits=%u,extended_l2=%s --size %llu "
			     "| grep -q 'required size: %llu'",
			     cases[i].cs ? cases[i].cs : 65536, cases[i].bits ? cases[i].bits : 16,
			     cases[i].ext ? "on" : "off", (unsigned long long)cases[i].size,
			     (unsigned long long)m.required), 0);
		CHECK_INT(sh("qemu-img measure -O qcow2 -o cluster_size=%u,refcount_bits=%u,extended_l2=%s --size %llu "
			     "| grep -q 'fully allocated size: %llu'",
			     cases[i].cs ? cases[i].cs : 65536, cases[i].bits ? cases[i].bits : 16,
			     cases[i].ext ? "on" : "off", (unsigned long long)cases[i].size,
			     (unsigned long long)m.fully_allocated), 0);
	}
}

static const struct test_case tests[] = {
	{ "commit", test_commit },
	{ "rebase_safe_and_unsafe", test_rebase_safe_and_unsafe },
	{ "amend", test_amend },
	{ "amend_refcount_bits_and_downgrade", test_amend_refcount_bits_and_downgrade },
	{ "measure_matches_qemu", test_measure_matches_qemu },
};

TEST_MAIN(tests)
