// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy blocktime (blocktime.h): a fault read opens its page, the
 * first install of the page closes it and charges the time between to
 * the vCPU whose thread faulted, or to the other threads; an install of
 * a page nobody faulted charges nothing; "every vCPU blocked at once"
 * runs only while each vCPU waits; each resolved fault lands in the
 * latency histogram, whose percentiles are its buckets' upper ends;
 * kmig-vmm's `vcpus` reply is parsed, and a bad one refused.
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

/* The counts of buckets [@lo, @hi) of @h. */
static uint64_t buckets(const __u64 *h, unsigned int lo, unsigned int hi)
{
	uint64_t n = 0;

	for (; lo < hi; lo++)
		n += h[lo];
	return n;
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
	/* two faults waited 20 ms or more: 16384 us and up, under 1 s */
	EXPECT_EQ(3, buckets(st.lat_us, 0, MIG_LAT_BUCKETS));
	EXPECT_EQ(2, buckets(st.lat_us, 14, 20));
	EXPECT_LE(32768, mig_lat_percentile(st.lat_us, MIG_LAT_BUCKETS, 99));
}

TEST(lat_histogram)
{
	__u64 h[MIG_LAT_BUCKETS] = { 0 };
	unsigned int i;

	EXPECT_EQ(0, mig_lat_percentile(h, MIG_LAT_BUCKETS, 50));
	mig_lat_add(h, 0);
	mig_lat_add(h, 1);
	mig_lat_add(h, 2);
	mig_lat_add(h, 3);
	mig_lat_add(h, 1000);		/* [512, 1024) */
	mig_lat_add(h, ~0ull);		/* the last bucket takes the rest */
	EXPECT_EQ(2, h[0]);
	EXPECT_EQ(2, h[1]);
	EXPECT_EQ(1, h[9]);
	EXPECT_EQ(1, h[MIG_LAT_BUCKETS - 1]);
	/* 2 of 6 in bucket 0, 4 of 6 by bucket 1: the median's is 1 */
	EXPECT_EQ(4, mig_lat_percentile(h, MIG_LAT_BUCKETS, 50));
	EXPECT_EQ(2, mig_lat_percentile(h, MIG_LAT_BUCKETS, 33));
	EXPECT_EQ(1024, mig_lat_percentile(h, MIG_LAT_BUCKETS, 80));
	EXPECT_EQ(2ull << (MIG_LAT_BUCKETS - 1),
		  mig_lat_percentile(h, MIG_LAT_BUCKETS, 99));
	for (i = 0; i < 94; i++)
		mig_lat_add(h, 5);	/* [4, 8): 98 of 100 by bucket 2 */
	EXPECT_EQ(8, mig_lat_percentile(h, MIG_LAT_BUCKETS, 98));
	EXPECT_EQ(1024, mig_lat_percentile(h, MIG_LAT_BUCKETS, 99));
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
