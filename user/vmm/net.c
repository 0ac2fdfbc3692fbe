// SPDX-License-Identifier: GPL-2.0
/*
 * The network device (Documentation/vmm.rst, "Network device"): the
 * smallest one that lets a guest's output leave the host. vCPU 0 builds
 * an Ethernet frame in guest memory and OUTs its guest physical address
 * to GUEST_PORT_NET; the VMM sends it out of --net-if IFACE through an
 * AF_PACKET socket bound to it, so the frame passes IFACE's root qdisc
 * (where `kmig colo primary --output` holds it until its checkpoint
 * commits). `net off` discards the frames instead (a COLO secondary
 * until it takes over). A bad frame address or length is dropped and
 * counted, never sent and never fatal.
 */
#include <errno.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmm.h"

/* Bad frames reported on stderr one by one up to this many. */
#define NET_BAD_REPORTS	8

int vmm_net_open(struct vmm_net *net, const char *ifname, bool off)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,	/* protocol 0: send only */
	};
	int ret;

	memset(net, 0, sizeof(*net));
	net->fd = -1;
	if (!ifname)
		return 0;
	if (strlen(ifname) >= IFNAMSIZ) {
		fprintf(stderr, "kmig-vmm: --net-if '%s': an interface name has at most %d characters\n",
			ifname, IFNAMSIZ - 1);
		return -EINVAL;
	}
	sll.sll_ifindex = if_nametoindex(ifname);
	if (!sll.sll_ifindex) {
		ret = -errno;
		fprintf(stderr, "kmig-vmm: --net-if '%s': no such interface in this network namespace (%s)\n",
			ifname, strerror(-ret));
		return ret;
	}
	net->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (net->fd < 0 || bind(net->fd, (struct sockaddr *)&sll, sizeof(sll))) {
		ret = -errno;
		fprintf(stderr, "kmig-vmm: --net-if '%s': cannot open a packet socket on it: %s\n",
			ifname, strerror(-ret));
		if (net->fd >= 0)
			close(net->fd);
		net->fd = -1;
		return ret;
	}
	snprintf(net->ifname, sizeof(net->ifname), "%s", ifname);
	net->ifindex = sll.sll_ifindex;
	net->on = !off;
	return 0;
}

void vmm_net_close(struct vmm_net *net)
{
	if (net->fd >= 0)
		close(net->fd);
	net->fd = -1;
}

static void bad_frame(struct vmm_net *net, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void bad_frame(struct vmm_net *net, const char *fmt, ...)
{
	uint64_t n = __atomic_add_fetch(&net->bad, 1, __ATOMIC_RELAXED);
	char why[128];
	va_list ap;

	if (n > NET_BAD_REPORTS)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	fprintf(stderr, "kmig-vmm: net: dropped %s%s\n", why,
		n == NET_BAD_REPORTS ? "; further bad frames only counted" : "");
}

void vmm_net_out(struct vmm *vmm, unsigned int size, unsigned int count,
		 const void *data)
{
	struct vmm_net *net = &vmm->net;
	struct guest_net_frame *f;
	uint32_t gpa, len;
	ssize_t r;

	if (size != 4 || count != 1) {
		bad_frame(net, "an OUT of %u x %u bytes, not one 32-bit address",
			  count, size);
		return;
	}
	memcpy(&gpa, data, sizeof(gpa));
	f = vmm_mem_hva(&vmm->mem, gpa, sizeof(f->len));
	if (!f) {
		bad_frame(net, "the frame at guest address 0x%x: not in guest RAM",
			  gpa);
		return;
	}
	len = __atomic_load_n(&f->len, __ATOMIC_RELAXED);
	if (len < ETH_HLEN || len > GUEST_NET_FRAME_MAX) {
		bad_frame(net, "the frame at guest address 0x%x: length %u, not 14..%u",
			  gpa, len, GUEST_NET_FRAME_MAX);
		return;
	}
	if (!vmm_mem_hva(&vmm->mem, gpa, sizeof(f->len) + len)) {
		bad_frame(net, "the frame at guest address 0x%x: its %u bytes run past guest RAM",
			  gpa, len);
		return;
	}
	if (net->fd < 0 || !__atomic_load_n(&net->on, __ATOMIC_RELAXED)) {
		__atomic_add_fetch(&net->dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	r = send(net->fd, f->data, len, MSG_DONTWAIT);
	if (r == (ssize_t)len) {
		__atomic_add_fetch(&net->sent, 1, __ATOMIC_RELAXED);
		return;
	}
	/* A full queue (the qdisc's limit) loses the frame, as a NIC would. */
	__atomic_add_fetch(&net->dropped, 1, __ATOMIC_RELAXED);
	if (!__atomic_fetch_add(&net->send_errors, 1, __ATOMIC_RELAXED))
		fprintf(stderr, "kmig-vmm: net: sending on %s: %s (counted as dropped from now on)\n",
			net->ifname, r < 0 ? strerror(errno) : "short send");
}

int vmm_net_set(struct vmm *vmm, bool on, char *err, size_t n)
{
	if (vmm->net.fd < 0) {
		snprintf(err, n, "net: no network device (start with --net-if IFACE)");
		return -ENODEV;
	}
	__atomic_store_n(&vmm->net.on, on, __ATOMIC_RELAXED);
	return 0;
}

const char *vmm_net_state(const struct vmm_net *net)
{
	if (net->fd < 0)
		return "none";
	return __atomic_load_n(&net->on, __ATOMIC_RELAXED) ? "on" : "off";
}
