// SPDX-License-Identifier: GPL-2.0
/*
 * kmig-vmm built with UBSan (build/vmm/kmig-vmm-san, every report fatal)
 * saves a running guest's vCPU state and loads it into a second VMM: the
 * state's parts, the MSRs among them, are read from a stream whose data
 * is only 4-byte aligned. Either VMM dying, or any UBSan report in their
 * output, fails the test.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "client.h"
#include "kvm.h"
#include "proc.h"

#define TEST_TIMEOUT	120
#define ARGS		"--backend memfd --vcpus 2 --mem 8 --rate 20000"

FIXTURE(san) {
	struct vmm_proc a, b;
	struct vmm_client ca, cb;
	char log_a[64], log_b[64];
};

FIXTURE_SETUP(san)
{
	vmm_binary = "vmm/kmig-vmm-san";
	self->ca.fd = self->cb.fd = -1;
	snprintf(self->log_a, sizeof(self->log_a), "vmm-san-a.%d.log",
		 getpid());
	snprintf(self->log_b, sizeof(self->log_b), "vmm-san-b.%d.log",
		 getpid());
}

FIXTURE_TEARDOWN(san)
{
	vmm_client_close(&self->ca);
	vmm_client_close(&self->cb);
	vmm_stop(&self->a);
	vmm_stop(&self->b);
	unlink(self->log_a);
	unlink(self->log_b);
}

/* No UBSan report in @log; its text in the test's log otherwise. */
static void expect_clean(struct __test_metadata *_metadata, const char *log)
{
	EXPECT_FALSE(file_has(log, "runtime error"))
		TH_LOG("%s:\n%s", log, file_text(log));
}

TEST_F_TIMEOUT(san, vcpu_state_saves_and_loads_without_a_report, TEST_TIMEOUT)
{
	struct vmm_status st;
	uint8_t *blob = NULL, *again = NULL;
	size_t len = 0, len2 = 0;

	REQUIRE_KVM();

	ASSERT_EQ(0, __vmm_startf(&self->a, vmm_sock("san-a"), self->log_a,
				  "%s", ARGS));
	ASSERT_EQ(0, vmm_connect(&self->a, &self->ca));
	ASSERT_EQ(0, __vmm_client_wait_counter(&self->ca, 2, PROC_WAIT_MS, &st))
		TH_LOG("%s", self->ca.reply);
	ASSERT_EQ(0, vmm_client_cmd(&self->ca, "pause"));
	ASSERT_EQ(0, vmm_client_save(&self->ca, &blob, &len))
		TH_LOG("%s", self->ca.reply);

	ASSERT_EQ(0, __vmm_startf(&self->b, vmm_sock("san-b"), self->log_b,
				  "%s --incoming", ARGS));
	ASSERT_EQ(0, vmm_connect(&self->b, &self->cb));
	EXPECT_EQ(0, vmm_client_load(&self->cb, blob, len))
		TH_LOG("%s; %s", self->cb.reply, file_text(self->log_b));
	/* B gives back what it took, and both still answer */
	EXPECT_EQ(0, vmm_client_save(&self->cb, &again, &len2))
		TH_LOG("%s; %s", self->cb.reply, file_text(self->log_b));
	EXPECT_EQ(0, vmm_client_status(&self->ca, &st));
	EXPECT_EQ(0, vmm_client_status(&self->cb, &st));
	EXPECT_EQ(len, len2);
	expect_clean(_metadata, self->log_a);
	expect_clean(_metadata, self->log_b);
	free(blob);
	free(again);
}

TEST_HARNESS_MAIN
