/* The ISO image of a cloud-init configuration (NoCloud cidata or configdrive2
 * config-2): genisoimage on a private temporary directory (fixed argv, user
 * strings only in file contents), copied into the drive's qcow2 or raw volume. */
#include "hv/cloudinit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "hv/vm_int.h"
#include "storage/image.h"

/* The private directory's name; its files' paths stay below PATH_MAX. */
#define CI_DIR_MAX 1024

/* Where the files of F go below the image's root, per format. */
struct iso_layout {
	const char *label;
	const char *dirs[3]; /* made in this order, removed in reverse */
	struct {
		const char *name;
		size_t off;
	} files[4];
};

#define CF(m) offsetof(struct cloudinit_files, m)

static const struct iso_layout nocloud_layout = {
	"cidata",
	{ NULL },
	{ { "meta-data", CF(meta) }, { "network-config", CF(network) },
	  { "user-data", CF(user) }, { "vendor-data", CF(vendor) } },
};

static const struct iso_layout configdrive2_layout = {
	"config-2",
	{ "openstack", "openstack/latest", "openstack/content" },
	{ { "openstack/latest/user_data", CF(user) }, { "openstack/content/0000", CF(network) },
	  { "openstack/latest/meta_data.json", CF(meta) },
	  { "openstack/latest/vendor_data.json", CF(vendor) } },
};

static const struct iso_layout *layout_of(const struct cloudinit_files *f)
{
	return f->configdrive2 ? &configdrive2_layout : &nocloud_layout;
}

static const char *file_text(const struct cloudinit_files *f, size_t i)
{
	const char *s = *(char *const *)((const char *)f + layout_of(f)->files[i].off);

	return s ? s : "";
}

static int make_dirs(const struct iso_layout *l, const char dir[CI_DIR_MAX])
{
	char path[PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(l->dirs) && l->dirs[i]; i++) {
		snprintf(path, sizeof(path), "%s/data/%s", dir, l->dirs[i]);
		if (mkdir(path, 0700) < 0)
			return -errno;
	}
	return 0;
}

static int write_files(const struct cloudinit_files *f, const char dir[CI_DIR_MAX], char *err,
		       size_t errlen)
{
	const struct iso_layout *l = layout_of(f);
	char path[PATH_MAX];
	size_t sum = 0;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(l->files); i++)
		sum += strlen(file_text(f, i));
	if (sum > CLOUDINIT_MAX_DATA) {
		snprintf(err, errlen, "Cloud-Init sum of snippets too big (> 3 MiB)");
		return -EFBIG;
	}
	if ((r = make_dirs(l, dir)) < 0)
		snprintf(err, errlen, "cannot make the image's directories: %s", strerror(-r));
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(l->files); i++) {
		snprintf(path, sizeof(path), "%s/data/%s", dir, l->files[i].name);
		r = util_write_file_atomic(path, file_text(f, i), strlen(file_text(f, i)), 0600);
		if (r < 0)
			snprintf(err, errlen, "cannot write %s: %s", path, strerror(-r));
	}
	return r;
}

/* genisoimage -quiet -iso-level 3 -J -R -V LABEL -o DIR/ci.iso DIR/data,
 * as Proxmox runs it; its messages land in DIR/genisoimage.log. */
static int run_genisoimage(const char dir[CI_DIR_MAX], const char *label, char *err,
			   size_t errlen)
{
	char out[PATH_MAX], data[PATH_MAX], log[PATH_MAX], *msg = NULL;
	char *argv[] = { "genisoimage", "-quiet", "-iso-level", "3", "-J", "-R", "-V",
			 (char *)label, "-o", out, data, NULL };
	size_t len;
	pid_t pid;
	int status = 0, r;

	snprintf(out, sizeof(out), "%s/ci.iso", dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(log, sizeof(log), "%s/genisoimage.log", dir);
	if ((r = hv_spawn(argv, log, &pid, err, errlen)) < 0)
		return r;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	util_read_file(log, 4096, &msg, &len);
	snprintf(err, errlen, "genisoimage failed: %s", msg && *msg ? msg : "no message");
	free(msg);
	return -EIO;
}

static void remove_tree(const struct iso_layout *l, const char dir[CI_DIR_MAX])
{
	char path[PATH_MAX];
	static const char *const names[] = { "ci.iso", "genisoimage.log" };

	for (size_t i = 0; i < ARRAY_SIZE(l->files); i++) {
		snprintf(path, sizeof(path), "%s/data/%s", dir, l->files[i].name);
		unlink(path);
	}
	for (size_t i = ARRAY_SIZE(l->dirs); i-- > 0;) {
		if (!l->dirs[i])
			continue;
		snprintf(path, sizeof(path), "%s/data/%s", dir, l->dirs[i]);
		rmdir(path);
	}
	snprintf(path, sizeof(path), "%s/data", dir);
	rmdir(path);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

int cloudinit_iso_build(const struct cloudinit_files *f, const char *tmpdir, char **iso,
			size_t *len, char *err, size_t errlen)
{
	char dir[CI_DIR_MAX], path[PATH_MAX];
	int r;

	*iso = NULL;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/cloudinit-XXXXXX", tmpdir) >= sizeof(dir)) {
		snprintf(err, errlen, "temporary directory name too long");
		return -ENAMETOOLONG;
	}
	if (!mkdtemp(dir)) {
		snprintf(err, errlen, "cannot create a directory in %s: %s", tmpdir, strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/data", dir);
	if (mkdir(path, 0700) < 0) {
		r = -errno;
		goto out_tree;
	}
	if ((r = write_files(f, dir, err, errlen)) < 0 ||
	    (r = run_genisoimage(dir, layout_of(f)->label, err, errlen)) < 0)
		goto out_tree;
	snprintf(path, sizeof(path), "%s/ci.iso", dir);
	if ((r = util_read_file(path, CLOUDINIT_DISK_SIZE, iso, len)) < 0)
		snprintf(err, errlen, "cannot read the cloud-init image: %s", strerror(-r));
out_tree:
	remove_tree(layout_of(f), dir);
	return r;
}

int cloudinit_iso_commit(const char *path, const char *iso, size_t len, char *err, size_t errlen)
{
	struct img_open_opts o = { .flags = IMG_OPEN_RDWR };
	struct img *img;
	uint64_t size;
	int r = img_open(&img, path, &o, err, errlen);

	if (r < 0)
		return r;
	size = img_virtual_size(img);
	if (size < len) {
		snprintf(err, errlen, "cloud-init image (%zu bytes) does not fit its drive (%llu)",
			 len, (unsigned long long)size);
		r = -ENOSPC;
	} else if ((r = img_pwrite(img, iso, len, 0)) < 0 ||
		   (size > len && (r = img_pwrite_zeroes(img, len, size - len, 0)) < 0)) {
		snprintf(err, errlen, "cannot write %s: %s", path, img_last_error(img));
	}
	if (img_close(img) < 0 && r == 0) {
		snprintf(err, errlen, "cannot flush %s", path);
		r = -EIO;
	}
	return r;
}
