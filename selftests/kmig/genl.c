// SPDX-License-Identifier: GPL-2.0
/*
 * The kmig generic netlink family: it resolves, GET_INFO answers, and
 * malformed requests are refused with an extended ACK message.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/kmig.h>

#include "kselftest_harness.h"
#include "netlink.h"

FIXTURE(genl) {
	struct kmig_nl nl;
	char buf[KMIG_NL_BUFSIZE];
};

FIXTURE_SETUP(genl)
{
	ASSERT_EQ(0, kmig_nl_open(&self->nl));
}

FIXTURE_TEARDOWN(genl)
{
	kmig_nl_close(&self->nl);
}

TEST_F(genl, family_resolves_at_version_1)
{
	EXPECT_NE(0, self->nl.family);
	EXPECT_EQ(KMIG_GENL_VERSION, self->nl.family_version);
}

TEST_F(genl, get_info_answers)
{
	struct kmig_info info;
	char modver[64] = "";
	FILE *f;

	ASSERT_EQ(0, kmig_nl_get_info(&self->nl, &info));
	EXPECT_EQ(KMIG_API_VERSION, info.api_version);
	EXPECT_EQ(KMIG_FEATURES_ALL, info.features);

	f = fopen("/sys/module/kmig/version", "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(modver, sizeof(modver), f));
	fclose(f);
	modver[strcspn(modver, "\n")] = '\0';
	EXPECT_STREQ(modver, info.version);
}

TEST_F(genl, unknown_attribute_is_refused_with_extack)
{
	struct nlmsghdr *nlh;

	nlh = kmig_nl_msg(&self->nl, self->buf, KMIG_CMD_GET_INFO, 0);
	mnl_attr_put_u32(nlh, KMIG_A_MAX + 7, 1);
	EXPECT_EQ(-EINVAL, kmig_nl_call(&self->nl, nlh, NULL, NULL));
	TH_LOG("extack: %s", self->nl.err_msg);
	EXPECT_STRNE("", self->nl.err_msg);
}

TEST_F(genl, attribute_the_op_does_not_take_is_refused_with_extack)
{
	struct nlmsghdr *nlh;

	nlh = kmig_nl_msg(&self->nl, self->buf, KMIG_CMD_GET_INFO, 0);
	mnl_attr_put_strz(nlh, KMIG_A_INFO_VERSION, "1.0");
	EXPECT_EQ(-EINVAL, kmig_nl_call(&self->nl, nlh, NULL, NULL));
	TH_LOG("extack: %s", self->nl.err_msg);
	EXPECT_STRNE("", self->nl.err_msg);
}

TEST_F(genl, unknown_command_is_refused)
{
	struct nlmsghdr *nlh;

	nlh = kmig_nl_msg(&self->nl, self->buf, KMIG_CMD_MAX + 1, 0);
	EXPECT_EQ(-EOPNOTSUPP, kmig_nl_call(&self->nl, nlh, NULL, NULL));
}

TEST_F(genl, nonzero_reserved_header_is_refused)
{
	struct genlmsghdr *genl;
	struct nlmsghdr *nlh;

	nlh = kmig_nl_msg(&self->nl, self->buf, KMIG_CMD_GET_INFO, 0);
	genl = mnl_nlmsg_get_payload(nlh);
	genl->reserved = 1;
	EXPECT_EQ(-EINVAL, kmig_nl_call(&self->nl, nlh, NULL, NULL));
}

TEST_HARNESS_MAIN
