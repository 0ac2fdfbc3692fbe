// SPDX-License-Identifier: GPL-2.0
/*
 * The destination's log of torn pages (torn.h): a page torn in a round
 * is owed by the next, torn again it is owed again, and one discarded for
 * postcopy is owed no more, whether its torn copy was read before the
 * discard or, on a page channel that is behind the main channel, after.
 */
#include <errno.h>
#include <string.h>

#include "kselftest_harness.h"
#include "torn.h"

FIXTURE(torn) {
	struct mig_vm vm;
	struct mig_torn t;
	char err[256];
};

FIXTURE_SETUP(torn)
{
	memset(&self->vm, 0, sizeof(self->vm));
	self->vm.nslots = 2;
	self->vm.slots[0].npages = 100;
	self->vm.slots[1].id = 3;
	self->vm.slots[1].npages = 64;
	memset(&self->t, 0, sizeof(self->t));
	ASSERT_EQ(0, mig_torn_init(&self->t, &self->vm));
	self->err[0] = 0;
}

FIXTURE_TEARDOWN(torn)
{
	mig_torn_free(&self->t);
}

/* Round @round ends: 0, or -EBADMSG with the cause in self->err. */
static int round_end(FIXTURE_DATA(torn) *self, uint64_t round)
{
	return mig_torn_round_end(&self->t, round, self->err,
				  sizeof(self->err));
}

TEST_F(torn, a_torn_page_that_comes_again_whole_is_owed_no_more)
{
	mig_torn_mark(&self->t, 0, 70, true);
	ASSERT_EQ(0, round_end(self, 0));
	mig_torn_mark(&self->t, 0, 70, false);
	ASSERT_EQ(0, round_end(self, 1)) TH_LOG("%s", self->err);
	EXPECT_EQ(1, self->t.pages);
	EXPECT_FALSE(mig_torn_left(&self->t, self->err, sizeof(self->err)));
}

TEST_F(torn, a_torn_page_the_next_round_lacks_fails_it)
{
	mig_torn_mark(&self->t, 1, 5, true);
	ASSERT_EQ(0, round_end(self, 0));
	mig_torn_mark(&self->t, 1, 6, false);
	ASSERT_EQ(-EBADMSG, round_end(self, 1));
	EXPECT_NE(NULL, strstr(self->err, "page 5 of slot 3 arrived torn in round 0 and did not come again in round 1"))
		TH_LOG("%s", self->err);
}

TEST_F(torn, a_page_torn_again_is_owed_by_the_round_after)
{
	mig_torn_mark(&self->t, 0, 9, true);
	ASSERT_EQ(0, round_end(self, 0));
	mig_torn_mark(&self->t, 0, 9, true);
	ASSERT_EQ(0, round_end(self, 1)) TH_LOG("%s", self->err);
	ASSERT_EQ(-EBADMSG, round_end(self, 2));
	EXPECT_TRUE(mig_torn_left(&self->t, self->err, sizeof(self->err)));
}

TEST_F(torn, a_discard_after_the_torn_copy_releases_it)
{
	mig_torn_mark(&self->t, 0, 33, true);
	ASSERT_EQ(0, round_end(self, 0));
	mig_torn_discard(&self->t, 0, 33);
	EXPECT_EQ(0, round_end(self, 1)) TH_LOG("%s", self->err);
	EXPECT_FALSE(mig_torn_left(&self->t, self->err, sizeof(self->err)));
}

/*
 * Channels are read apart: the main channel may read the discard list
 * while a page channel still reads the last precopy round, whose copy of
 * the page (torn: the guest wrote it meanwhile, which is why it is in
 * the list) comes after. That copy is stale: the page is fetched again.
 */
TEST_F(torn, a_torn_copy_read_after_its_discard_is_not_owed)
{
	mig_torn_discard(&self->t, 0, 33);
	mig_torn_mark(&self->t, 0, 33, true);
	ASSERT_EQ(0, round_end(self, 0));
	EXPECT_EQ(0, round_end(self, 1)) TH_LOG("%s", self->err);
	EXPECT_FALSE(mig_torn_left(&self->t, self->err, sizeof(self->err)));
}

/* A discard forgives only its own page. */
TEST_F(torn, a_discard_leaves_other_torn_pages_owed)
{
	mig_torn_discard(&self->t, 0, 33);
	mig_torn_mark(&self->t, 0, 34, true);
	ASSERT_EQ(0, round_end(self, 0));
	ASSERT_EQ(-EBADMSG, round_end(self, 1));
	EXPECT_NE(NULL, strstr(self->err, "page 34 of slot 0"))
		TH_LOG("%s", self->err);
}

TEST_HARNESS_MAIN
