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
 *
 * `announce` sends RARP frames from the guest's MAC, as QEMU does after a
 * migration (qemu_announce_self), so that the switches of the segment
 * learn the MAC's new port: the first at once, the others from the
 * announcer thread, which runs from the device's start.
 */
#include <errno.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vmm.h"

/* Bad frames reported on stderr one by one up to this many. */
#define NET_BAD_REPORTS	8

static void put_mac(uint8_t *b)
{
	uint64_t m = GUEST_NET_MAC;
	int i;

	for (i = 0; i < ETH_ALEN; i++, m >>= 8)
		b[i] = (uint8_t)m;
}

/*
 * One announce frame, as qemu_announce_self's: a broadcast RARP request
 * (RFC 903, "reverse request") in which the guest asks for its own
 * address; no one needs to answer, every switch on the way learns where
 * the source MAC is.
 */
static void announce_frame(uint8_t f[ETH_ZLEN])
{
	memset(f, 0, ETH_ZLEN);
	memset(f, 0xff, ETH_ALEN);		/* broadcast */
	put_mac(f + ETH_ALEN);
	f[12] = ETH_P_RARP >> 8;
	f[13] = ETH_P_RARP & 0xff;
	f[15] = 1;				/* hardware: Ethernet */
	f[16] = ETH_P_IP >> 8;			/* protocol: IPv4 */
	f[18] = ETH_ALEN;
	f[19] = 4;
	f[21] = 3;				/* reverse request */
	put_mac(f + 22);			/* sender: the guest, 0.0.0.0 */
	put_mac(f + 32);			/* target: the same */
}

/* One announce frame out of the interface: 0 or -errno. */
static int announce_send(struct vmm_net *net)
{
	uint8_t f[ETH_ZLEN];
	ssize_t r;

	announce_frame(f);
	r = send(net->fd, f, sizeof(f), MSG_DONTWAIT);
	if (r == (ssize_t)sizeof(f)) {
		__atomic_add_fetch(&net->announced, 1, __ATOMIC_RELAXED);
		return 0;
	}
	__atomic_add_fetch(&net->announce_errors, 1, __ATOMIC_RELAXED);
	return r < 0 ? -errno : -EIO;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The gap after one of @gap_ms: VMM_ANNOUNCE_STEP_MS more, up to the max. */
static unsigned int next_gap(unsigned int gap_ms)
{
	gap_ms += VMM_ANNOUNCE_STEP_MS;
	return gap_ms < VMM_ANNOUNCE_GAP_MAX_MS ? gap_ms :
						  VMM_ANNOUNCE_GAP_MAX_MS;
}

/*
 * The announcer: sends each due frame of the series; a device turned off
 * ends the series (a COLO secondary's output off again must not claim
 * the MAC).
 */
static void *announcer(void *arg)
{
	struct vmm_net *net = arg;
	struct timespec until;
	int ret;

	pthread_mutex_lock(&net->lock);
	while (!net->stop) {
		if (!net->left) {
			pthread_cond_wait(&net->cond, &net->lock);
			continue;
		}
		if (mono_ns() < net->due_ns) {
			until.tv_sec = net->due_ns / 1000000000ull;
			until.tv_nsec = net->due_ns % 1000000000ull;
			pthread_cond_timedwait(&net->cond, &net->lock, &until);
			continue;
		}
		if (!__atomic_load_n(&net->on, __ATOMIC_RELAXED)) {
			net->left = 0;
			continue;
		}
		ret = announce_send(net);
		if (ret && __atomic_load_n(&net->announce_errors,
					   __ATOMIC_RELAXED) == 1)
			fprintf(stderr, "kmig-vmm: net: announcing on %s: %s (further failures are not reported)\n",
				net->ifname, strerror(-ret));
		net->left--;
		net->gap_ms = next_gap(net->gap_ms);
		net->due_ns += net->gap_ms * 1000000ull;
	}
	pthread_mutex_unlock(&net->lock);
	return NULL;
}

int vmm_net_open(struct vmm_net *net, const char *ifname, bool off)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,	/* protocol 0: send only */
	};
	pthread_condattr_t ca;
	int ret;

	memset(net, 0, sizeof(*net));
	net->fd = -1;
	pthread_mutex_init(&net->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&net->cond, &ca);
	pthread_condattr_destroy(&ca);
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
	/* started now: a takeover's announce only wakes it */
	ret = -pthread_create(&net->announcer, NULL, announcer, net);
	if (ret) {
		fprintf(stderr, "kmig-vmm: --net-if '%s': cannot start the announcer thread: %s\n",
			ifname, strerror(-ret));
		close(net->fd);
		net->fd = -1;
		return ret;
	}
	net->announcer_started = true;
	return 0;
}

void vmm_net_close(struct vmm_net *net)
{
	if (net->announcer_started) {
		pthread_mutex_lock(&net->lock);
		net->stop = true;
		pthread_cond_signal(&net->cond);
		pthread_mutex_unlock(&net->lock);
		pthread_join(net->announcer, NULL);
		net->announcer_started = false;
	}
	if (net->fd >= 0)
		close(net->fd);
	net->fd = -1;
	pthread_cond_destroy(&net->cond);
	pthread_mutex_destroy(&net->lock);
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

void vmm_net_mac(char buf[18])
{
	uint64_t m = GUEST_NET_MAC;

	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
		 (unsigned int)(m & 0xff), (unsigned int)(m >> 8 & 0xff),
		 (unsigned int)(m >> 16 & 0xff), (unsigned int)(m >> 24 & 0xff),
		 (unsigned int)(m >> 32 & 0xff), (unsigned int)(m >> 40 & 0xff));
}

int vmm_net_announce(struct vmm_net *net, unsigned int frames,
		     unsigned int *last_ms, char *err, size_t n)
{
	unsigned int i, gap;
	int ret;

	if (net->fd < 0) {
		snprintf(err, n, "announce: no network device (start with --net-if IFACE)");
		return -ENODEV;
	}
	if (!__atomic_load_n(&net->on, __ATOMIC_RELAXED)) {
		snprintf(err, n, "announce: the network device is off ('net on' first)");
		return -ENETDOWN;
	}
	if (!frames || frames > VMM_ANNOUNCE_MAX) {
		snprintf(err, n, "announce: 1 to %u frames", VMM_ANNOUNCE_MAX);
		return -ERANGE;
	}
	pthread_mutex_lock(&net->lock);
	ret = announce_send(net);
	if (ret) {
		pthread_mutex_unlock(&net->lock);
		snprintf(err, n, "announce: sending on %s: %s", net->ifname,
			 strerror(-ret));
		return ret;
	}
	net->left = frames - 1;
	net->gap_ms = VMM_ANNOUNCE_GAP_MS;
	net->due_ns = mono_ns() + VMM_ANNOUNCE_GAP_MS * 1000000ull;
	pthread_cond_signal(&net->cond);
	pthread_mutex_unlock(&net->lock);
	for (i = 1, gap = VMM_ANNOUNCE_GAP_MS, *last_ms = 0; i < frames;
	     i++, gap = next_gap(gap))
		*last_ms += gap;
	return 0;
}
