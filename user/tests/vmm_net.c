// SPDX-License-Identifier: GPL-2.0
/*
 * kmig-vmm's network device (user/vmm/net.c) against bad guest input: a
 * frame address outside guest RAM, a length out of 14..1514, a frame
 * running past the end of RAM, an OUT of another size or a string OUT. Each is dropped and counted as bad, none
 * is sent or fatal; a good frame without a device, or with the device
 * off, is discarded and counted as dropped. And an unknown interface is
 * refused at start.
 *
 * `announce`, on the loopback of a network namespace of its own (root
 * only): the RARP frames from the guest's MAC, the first before it
 * returns and the others after growing gaps; a device turned off ends
 * the series; no device, a device off or a count out of range refused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vmm.h"

#define MEM	(4u << 20)

FIXTURE(net) {
	struct vmm vmm;
};

FIXTURE_SETUP(net)
{
	memset(&self->vmm, 0, sizeof(self->vmm));
	ASSERT_EQ(0, vmm_mem_create(&self->vmm.mem, &vmm_mem_memfd, MEM, 1, false));
	ASSERT_EQ(0, vmm_net_open(&self->vmm.net, NULL, false));
}

FIXTURE_TEARDOWN(net)
{
	vmm_net_close(&self->vmm.net);
	vmm_mem_destroy(&self->vmm.mem);
}

/* The guest's OUT of guest address @gpa. */
static void out(struct vmm *vmm, uint32_t gpa)
{
	vmm_net_out(vmm, 4, 1, &gpa);
}

/* A frame of @len bytes at guest address @gpa. */
static void put_frame(struct vmm *vmm, uint32_t gpa, uint32_t len)
{
	uint32_t *f = vmm_mem_hva(&vmm->mem, gpa, 4);

	*f = len;
}

TEST_F(net, bad_frames_are_counted_not_sent)
{
	struct vmm *vmm = &self->vmm;
	char err[128];

	out(vmm, MEM);			/* past the end of RAM */
	out(vmm, 0xfffffffc);
	EXPECT_EQ(2, vmm->net.bad);
	put_frame(vmm, GUEST_NET_GPA, 0);
	out(vmm, GUEST_NET_GPA);
	put_frame(vmm, GUEST_NET_GPA, 13);
	out(vmm, GUEST_NET_GPA);
	put_frame(vmm, GUEST_NET_GPA, GUEST_NET_FRAME_MAX + 1);
	out(vmm, GUEST_NET_GPA);
	EXPECT_EQ(5, vmm->net.bad);
	put_frame(vmm, MEM - 64, 100);		/* runs past RAM */
	out(vmm, MEM - 64);
	EXPECT_EQ(6, vmm->net.bad);
	/* an OUT of a byte, and a string OUT of two addresses */
	vmm_net_out(vmm, 1, 1, "\x00");
	vmm_net_out(vmm, 4, 2, "\x00\x00\x02\x00\x00\x00\x02\x00");
	EXPECT_EQ(8, vmm->net.bad);
	EXPECT_EQ(0, vmm->net.sent);
	EXPECT_EQ(0, vmm->net.dropped);

	/* A good frame with no device: discarded, not bad. */
	put_frame(vmm, GUEST_NET_GPA, GUEST_NET_FRAME_MIN);
	out(vmm, GUEST_NET_GPA);
	EXPECT_EQ(1, vmm->net.dropped);
	EXPECT_EQ(8, vmm->net.bad);
	EXPECT_EQ(0, vmm->net.sent);
	EXPECT_STREQ("none", vmm_net_state(&vmm->net));
	EXPECT_EQ(-ENODEV, vmm_net_set(vmm, true, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "--net-if"));
}

TEST(unknown_interface_refused)
{
	struct vmm_net net;

	EXPECT_EQ(-ENODEV, vmm_net_open(&net, "kmig-nosuch0", false));
	EXPECT_EQ(-1, net.fd);
	EXPECT_EQ(-EINVAL, vmm_net_open(&net, "a-name-longer-than-15", false));
}

TEST_F(net, announce_refused)
{
	struct vmm *vmm = &self->vmm;
	unsigned int last_ms;
	char err[128];

	EXPECT_EQ(-ENODEV, vmm_net_announce(&vmm->net, 5, &last_ms, err,
					    sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "--net-if")) TH_LOG("%s", err);
	EXPECT_EQ(0, vmm->net.announced);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* The loopback of a new network namespace, up; -1: not allowed here. */
static int private_lo(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd, ret;

	if (unshare(CLONE_NEWNET))
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ret = ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (!ret)
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	return ret;
}

/* A socket that receives the RARP frames arriving on lo. */
static int rarp_listener(void)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_RARP),
		.sll_ifindex = if_nametoindex("lo"),
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_RARP));

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The next frame within @ms into @f: its length, or -1. */
static int next_frame(int fd, uint8_t *f, size_t n, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return -1;
	return recv(fd, f, n, 0);
}

/* 02:6d:6b:6d:67:00 (abi.h), in wire order. */
static const uint8_t guest_mac[ETH_ALEN] = { 0x02, 0x6d, 0x6b, 0x6d, 0x67, 0x00 };

static const uint8_t rarp_body[8] = {
	0, 1,			/* Ethernet */
	0x08, 0x00,		/* IPv4 */
	6, 4,			/* address lengths */
	0, 3,			/* reverse request */
};

TEST(announce_on_loopback)
{
	uint8_t f[128], bcast[ETH_ALEN];
	unsigned int last_ms;
	uint64_t t0, t[3];
	struct vmm vmm;
	char err[128], mac[18];
	int fd, i, len;

	if (private_lo())
		SKIP(return, "needs a network namespace of its own (root): %s",
		     strerror(errno));
	memset(&vmm, 0, sizeof(vmm));
	fd = rarp_listener();
	ASSERT_LE(0, fd) TH_LOG("packet socket on lo: %s", strerror(errno));
	ASSERT_EQ(0, vmm_net_open(&vmm.net, "lo", true));
	EXPECT_EQ(-ENETDOWN, vmm_net_announce(&vmm.net, 3, &last_ms, err,
					      sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "net on")) TH_LOG("%s", err);
	ASSERT_EQ(0, vmm_net_set(&vmm, true, err, sizeof(err)));
	EXPECT_EQ(-ERANGE, vmm_net_announce(&vmm.net, 0, &last_ms, err,
					    sizeof(err)));
	EXPECT_EQ(-ERANGE, vmm_net_announce(&vmm.net, VMM_ANNOUNCE_MAX + 1,
					    &last_ms, err, sizeof(err)));
	EXPECT_EQ(0, vmm.net.announced);

	t0 = now_ms();
	ASSERT_EQ(0, vmm_net_announce(&vmm.net, 3, &last_ms, err, sizeof(err)))
		TH_LOG("%s", err);
	EXPECT_EQ(50 + 150, last_ms);
	EXPECT_EQ(1, vmm.net.announced);
	memset(bcast, 0xff, sizeof(bcast));
	vmm_net_mac(mac);
	EXPECT_STREQ("02:6d:6b:6d:67:00", mac);
	for (i = 0; i < 3; i++) {
		len = next_frame(fd, f, sizeof(f), 2000);
		t[i] = now_ms() - t0;
		ASSERT_EQ(ETH_ZLEN, len) TH_LOG("frame %d", i);
		EXPECT_EQ(0, memcmp(f, bcast, ETH_ALEN));
		EXPECT_EQ(0, memcmp(f + 6, guest_mac, ETH_ALEN));
		EXPECT_EQ(ETH_P_RARP >> 8, f[12]);
		EXPECT_EQ(ETH_P_RARP & 0xff, f[13]);
		EXPECT_EQ(0, memcmp(f + 14, rarp_body, sizeof(rarp_body)));
		EXPECT_EQ(0, memcmp(f + 22, guest_mac, ETH_ALEN));
		EXPECT_EQ(0, memcmp(f + 32, guest_mac, ETH_ALEN));
	}
	/* at 0, 50 and 200 ms (lower bounds: the host may be slow) */
	EXPECT_GT(40, t[0]);
	EXPECT_LE(50, t[1]);
	EXPECT_LE(200, t[2]);
	EXPECT_GT(1500, t[2]);
	TH_LOG("frames at %llu, %llu, %llu ms", (unsigned long long)t[0],
	       (unsigned long long)t[1], (unsigned long long)t[2]);
	EXPECT_EQ(-1, next_frame(fd, f, sizeof(f), 400));
	EXPECT_EQ(3, vmm.net.announced);

	/* turned off after the first: the series ends */
	ASSERT_EQ(0, vmm_net_announce(&vmm.net, 5, &last_ms, err, sizeof(err)));
	EXPECT_EQ(50 + 150 + 250 + 350, last_ms);
	ASSERT_EQ(0, vmm_net_set(&vmm, false, err, sizeof(err)));
	EXPECT_EQ(ETH_ZLEN, next_frame(fd, f, sizeof(f), 2000));
	EXPECT_EQ(-1, next_frame(fd, f, sizeof(f), 400));
	EXPECT_EQ(4, vmm.net.announced);
	vmm_net_close(&vmm.net);
	close(fd);
}

TEST_HARNESS_MAIN
