// SPDX-License-Identifier: GPL-2.0
/*
 * The VMM's slot list (`ctx` and `memfd` replies, vmm_client_parse_slots()):
 * each slot's id, GPA and size, and ":huge" after a KMIG_SLOT_HUGE slot
 * (the source of a postcopy sends such a slot in whole 2 MiB blocks); any
 * other word run on to a slot is refused.
 */
#include <errno.h>

#include "kselftest_harness.h"
#include "client.h"

TEST(slots_without_flags_are_not_huge)
{
	struct vmm_client_slot s[4];
	unsigned int n;

	ASSERT_EQ(0, vmm_client_parse_slots("ok 2 0:0x0:0x800000 1:0x800000:0x400000",
					    s, 4, &n));
	ASSERT_EQ(2, n);
	EXPECT_EQ(1, s[1].id);
	EXPECT_EQ(0x800000, s[1].gpa);
	EXPECT_EQ(0x400000, s[1].size);
	EXPECT_FALSE(s[0].huge);
	EXPECT_FALSE(s[1].huge);
	EXPECT_EQ(-1, s[0].fd);
}

TEST(huge_is_told_per_slot)
{
	struct vmm_client_slot s[4];
	unsigned int n;

	ASSERT_EQ(0, vmm_client_parse_slots("ok 3 0:0x0:0x400000:huge 1:0x400000:0x400000 2:0x800000:0x200000:huge\n",
					    s, 4, &n));
	ASSERT_EQ(3, n);
	EXPECT_TRUE(s[0].huge);
	EXPECT_FALSE(s[1].huge);
	EXPECT_TRUE(s[2].huge);
	EXPECT_EQ(2, s[2].id);
	EXPECT_EQ(0x200000, s[2].size);
}

TEST(other_words_run_on_are_refused)
{
	struct vmm_client_slot s[4];
	unsigned int n;

	EXPECT_EQ(-EPROTO, vmm_client_parse_slots("ok 1 0:0x0:0x400000:big",
						  s, 4, &n));
	EXPECT_EQ(-EPROTO, vmm_client_parse_slots("ok 1 0:0x0:0x400000:hugepage",
						  s, 4, &n));
	EXPECT_EQ(-EPROTO, vmm_client_parse_slots("ok 2 0:0x0:0x400000:huge:huge 1:0x0:0x1000",
						  s, 4, &n));
	EXPECT_EQ(-EPROTO, vmm_client_parse_slots("ok 1 0:0x0:0x400000x", s, 4,
						  &n));
}

TEST_HARNESS_MAIN
