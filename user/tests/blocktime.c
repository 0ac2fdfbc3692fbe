// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy blocktime (blocktime.h): a fault read opens its page, the
 * first install of the page closes it and charges the time between to
 * the vCPU whose thread faulted, or to the other threads; an install of
 * a page nobody faulted charges nothing; "every vCPU blocked at once"
 * runs only while each vCPU waits; kmig-vmm's `vcpus` reply is parsed,
 * and a bad one refused.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "blocktime.h"
#include "util.h"

FIXTURE(bt) {
	struct mig_vm vm;
	struct mig_blocktime bt;
};

FIXTURE_SETUP(bt)
{
	const pid_t tids[2] = { 101, 102 };

	memset(&self->vm, 0, sizeof(self->vm));
	self->vm.nslots = 2;
	self->vm.slots[0].id = 0;
	self->vm.slots[0].npages = 100;
	self->vm.slots[1].id = 7;
	self->vm.slots[1].npages = 200;
	ASSERT_EQ(0, mig_bt_init(&self->bt, &self->vm));
	ASSERT_EQ(0, mig_bt_set_vcpus(&self->bt, tids, 2));
}

FIXTURE_TEARDOWN(bt)
{
	mig_bt_free(&self->bt);
}

TEST_F(bt, vcpu_and_other_faults_apart)
{
	const uint64_t p5 = 5, p150 = 150, p9 = 9, several[] = { 3, 9, 150 };
	struct mig_bt_stats st;

	mig_bt_fault(&self->bt, 0, 5, 101);	/* vCPU 0 */
	mig_bt_fault(&self->bt, 7, 150, 555);	/* the VMM loading a device */
	usleep(20 * 1000);
	mig_bt_installed(&self->bt, 0, &p5, 1);
	mig_bt_installed(&self->bt, 1, &p150, 1);
	/* a second install of the same page charges nothing */
	mig_bt_installed(&self->bt, 0, &p5, 1);
	mig_bt_stats(&self->bt, &st);
	EXPECT_EQ(2, st.nvcpus);
	EXPECT_EQ(1, st.vcpu_faults[0]);
	EXPECT_EQ(0, st.vcpu_faults[1]);
	EXPECT_LE(20000, st.vcpu_us[0]);
	EXPECT_EQ(0, st.vcpu_us[1]);
	EXPECT_EQ(st.vcpu_us[0], st.vcpu_total_us);
	EXPECT_EQ(1, st.other_faults);
	EXPECT_LE(20000, st.other_us);
	EXPECT_EQ(2, st.resolved);
	/* only one of two vCPUs waited */
	EXPECT_EQ(0, st.all_us);

	/* vCPU 1's fault; pages nobody faulted installed with it */
	mig_bt_fault(&self->bt, 7, 9, 102);
	mig_bt_installed(&self->bt, 0, &p9, 1);	/* slot 0's page 9: not it */
	mig_bt_stats(&self->bt, &st);
	EXPECT_EQ(0, st.vcpu_faults[1]);
	mig_bt_installed(&self->bt, 1, several, 3);
	mig_bt_stats(&self->bt, &st);
	EXPECT_EQ(1, st.vcpu_faults[1]);
	EXPECT_EQ(3, st.resolved);
}

TEST_F(bt, every_vcpu_blocked_at_once)
{
	const uint64_t p1 = 1, p2 = 2;
	struct mig_bt_stats st;
	uint64_t both_from, both_to;

	mig_bt_fault(&self->bt, 0, 1, 101);
	usleep(10 * 1000);
	both_from = kmig_now_ns();
	mig_bt_fault(&self->bt, 0, 2, 102);	/* both wait from here */
	usleep(30 * 1000);
	mig_bt_installed(&self->bt, 0, &p1, 1);	/* vCPU 0 runs again */
	both_to = kmig_now_ns();
	usleep(30 * 1000);
	mig_bt_installed(&self->bt, 0, &p2, 1);
	mig_bt_stats(&self->bt, &st);
	EXPECT_LE(30000, st.all_us);
	EXPECT_GE((both_to - both_from) / 1000, st.all_us);
	EXPECT_LE(40000, st.vcpu_us[0]);
	EXPECT_LE(60000, st.vcpu_us[1]);
	EXPECT_LT(st.all_us, st.vcpu_us[0]);
}

TEST_F(bt, unknown_slot_or_page_is_not_counted)
{
	const uint64_t p = 99;
	struct mig_bt_stats st;

	mig_bt_fault(&self->bt, 3, 1, 101);	/* no slot 3 */
	mig_bt_fault(&self->bt, 0, 100, 101);	/* past slot 0's end */
	mig_bt_installed(&self->bt, 0, &p, 1);
	mig_bt_stats(&self->bt, &st);
	EXPECT_EQ(0, st.resolved);
	EXPECT_EQ(0, self->bt.nopen);
}

TEST(vcpus_reply)
{
	pid_t tids[4];

	EXPECT_EQ(3, mig_bt_parse_vcpus("ok vcpus=3 tids=10,11,12", tids, 4));
	EXPECT_EQ(12, tids[2]);
	EXPECT_EQ(1, mig_bt_parse_vcpus("ok vcpus=1 tids=77", tids, 4));
	EXPECT_EQ(-EBADMSG, mig_bt_parse_vcpus("ok vcpus=1", tids, 4));
	EXPECT_EQ(-EBADMSG, mig_bt_parse_vcpus("ok tids=", tids, 4));
	EXPECT_EQ(-EBADMSG, mig_bt_parse_vcpus("ok tids=1,x", tids, 4));
	EXPECT_EQ(-EBADMSG, mig_bt_parse_vcpus("ok tids=1,0", tids, 4));
	EXPECT_EQ(-EBADMSG, mig_bt_parse_vcpus("ok tids=1,2,3,4,5", tids, 4));
}

TEST_HARNESS_MAIN
