/* KVM probe: decides between -accel kvm and the TCG fallback. */
#include "hv/argv.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* A /dev/kvm can exist without being able to run a PC guest: nested cloud
 * instances may offer kvm_pvm (Pagetable-based VMs), which runs only
 * PVM-aware guest kernels, never SeaBIOS or OVMF.  QEMU's full-system
 * guests need the hardware-virtualisation backend, kvm_intel or kvm_amd. */
static int hw_backend_loaded(void)
{
	return access("/sys/module/kvm_intel", F_OK) == 0 ||
	       access("/sys/module/kvm_amd", F_OK) == 0;
}

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
	return ok && hw_backend_loaded();
}
