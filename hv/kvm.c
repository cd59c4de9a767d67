/* KVM probe: decides between -accel kvm and the TCG fallback. */
#include "hv/argv.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

int hv_kvm_usable(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int ok;

	if (fd < 0)
		return 0;
	/* The API version has been 12 since Linux 2.6.22; anything else is not
	 * a KVM QEMU can use. */
	ok = ioctl(fd, KVM_GET_API_VERSION, 0) == KVM_API_VERSION;
	close(fd);
	return ok;
}
