// SPDX-License-Identifier: GPL-2.0
/*
 * kmig-vmm's network device (user/vmm/net.c) against bad guest input: a
 * frame address outside guest RAM, a length out of 14..1514, a frame
 * running past the end of RAM, an OUT of another size or a string OUT. Each is dropped and counted as bad, none
 * is sent or fatal; a good frame without a device, or with the device
 * off, is discarded and counted as dropped. And an unknown interface is
 * refused at start.
 */
#include <errno.h>
#include <string.h>

#include "kselftest_harness.h"
#include "vmm.h"

#define MEM	(4u << 20)

FIXTURE(net) {
	struct vmm vmm;
};

FIXTURE_SETUP(net)
{
	memset(&self->vmm, 0, sizeof(self->vmm));
	ASSERT_EQ(0, vmm_mem_create(&self->vmm.mem, &vmm_mem_memfd, MEM, 1));
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

TEST_HARNESS_MAIN
