// SPDX-License-Identifier: GPL-2.0
/*
 * COLO on KVM-logged slots (kmig-vmm --kvm-log, --huge): KVM starts a
 * slot's log with every page dirty (KVM_DIRTY_LOG_INITIALLY_SET), which
 * the primary must drop when it starts logging, as `kmig migrate` does.
 *
 * Checked, on an idle guest of 8 MiB, mostly never written: entering in
 * 2 live rounds and checkpoint 0 committed, equal memory; round 0 sends
 * what has memory (no more pages than the context holds), round 1 and
 * checkpoint 0 only the few pages the guest still writes; and the primary
 * leaves its guest's memory as it found it (reading a page the guest never
 * wrote, to see it is zero, would give it memory: all 2048 pages).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "kselftest_harness.h"
#include "client.h"
#include "colo_check.h"
#include "kmig.h"
#include "kvm.h"
#include "proc.h"
#include "util.h"

#define TEST_TIMEOUT	120
/* The idle guest's own writes between rounds: its counters, its stack. */
#define FEW_PAGES	64

FIXTURE(colo_kvmlog) {
	struct colo_pair c;
};

FIXTURE_VARIANT(colo_kvmlog) {
	const char *vmm_args;
	unsigned int port;
};

FIXTURE_VARIANT_ADD(colo_kvmlog, kvm_log) {
	.vmm_args = "--mem 8 --vcpus 1 --kvm-log",
	.port = 24760,
};

FIXTURE_VARIANT_ADD(colo_kvmlog, huge) {
	.vmm_args = "--mem 8 --vcpus 1 --huge",
	.port = 24761,
};

FIXTURE_SETUP(colo_kvmlog)
{
	colo_pair_init(&self->c, "colo-kvmlog");
}

FIXTURE_TEARDOWN(colo_kvmlog)
{
	colo_pair_stop(&self->c);
}

/* The pages of the primary's line "@what: N pages", or -1. */
static long long pri_pages(const char *log, const char *what)
{
	char needle[64], *t, *p;
	long long n = -1;
	size_t len;

	snprintf(needle, sizeof(needle), "kmig colo primary: %s: ", what);
	t = file_read(log, &len);
	p = t ? strstr(t, needle) : NULL;
	if (!p || sscanf(p + strlen(needle), "%lld pages", &n) != 1)
		n = -1;
	free(t);
	return n;
}

/*
 * An idle guest enters COLO in 2 live rounds, checkpoint 0 the last:
 * each page with memory sent once, and none given memory by the primary.
 */
TEST_F_TIMEOUT(colo_kvmlog, idle_guest_goes_once, TEST_TIMEOUT)
{
	long long round0, round1, ckpt0;
	struct kmig_nl_ctx before, after;
	struct colo_pair *c = &self->c;
	struct vmm_status st;

	REQUIRE_BED();
	vmm_startf(&c->a, vmm_sock("colo-kvmlog-a"), "/dev/null",
		   "%s --pattern none", variant->vmm_args);
	vmm_wait_counter(&c->a, 0, &st);
	vmm_startf(&c->b, vmm_sock("colo-kvmlog-b"), "/dev/null",
		   "%s --incoming", variant->vmm_args);
	ASSERT_EQ(0, ctx_of(c->a.pid, &before));
	colo_start_agents(&c->sec, &c->pri, c->sec_log, c->pri_log,
			  c->b.sock, c->a.sock, variant->port,
			  "--timeout 30",
			  "--live-rounds 2 --checkpoints 0 --verify --timeout 30");
	ASSERT_EQ(0, proc_wait_exit(c->pri, 90000))
		TH_LOG("%s", file_text(c->pri_log));
	c->pri = 0;
	EXPECT_EQ(0, proc_wait_exit(c->sec, PROC_WAIT_MS))
		TH_LOG("%s", file_text(c->sec_log));
	c->sec = 0;
	ASSERT_EQ(0, ctx_of(c->a.pid, &after));
	TH_LOG("%s", file_text(c->pri_log));
	EXPECT_EQ(1, file_count(c->pri_log, "committed, memory crc"));

	round0 = pri_pages(c->pri_log, "live round 0");
	round1 = pri_pages(c->pri_log, "live round 1");
	ckpt0 = pri_pages(c->pri_log, "checkpoint 0");
	TH_LOG("pages: %llu with memory before, %llu after; sent %lld, %lld, %lld",
	       (unsigned long long)before.pages,
	       (unsigned long long)after.pages, round0, round1, ckpt0);
	EXPECT_LE(0, round0);
	EXPECT_GE((long long)after.pages, round0);
	EXPECT_LE(0, round1);
	EXPECT_GT(FEW_PAGES, round1);
	EXPECT_LE(0, ckpt0);
	EXPECT_GT(FEW_PAGES, ckpt0);
	EXPECT_GT(before.pages + FEW_PAGES, after.pages);

	ASSERT_EQ(0, vmm_status(&c->a, &st));
	EXPECT_STREQ("paused", st.state);
	EXPECT_EQ(0, colo_same_memory(&c->a, &c->b));
}

TEST_HARNESS_MAIN
