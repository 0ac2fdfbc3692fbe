// SPDX-License-Identifier: GPL-2.0
/*
 * Device state whose load reads guest RAM (issue 12, Documentation/
 * postcopy.rst "Load and run"): kmig-vmm's ring device keeps the guest
 * address of a descriptor page as its state, and its load reads that
 * page back and checks it (Documentation/vmm.rst, "Ring device").
 *
 * The test plays the guest's driver where it must: it writes descriptors
 * into guest memory through the VMM's kmig context.
 *
 * - The load checks the descriptor: a page without one, a bad checksum,
 *   an entry count that does not fit, an entry outside guest RAM are
 *   each refused with a clear error; a good one loads.
 * - Precopy and a snapshot (save, restore) carry the ring.
 * - Postcopy, with the descriptor page certainly missing at the
 *   destination when its VMM loads the state: the ring points at a page
 *   without memory, the source agent is held after its first pass
 *   (KMIG_STOP_AT=rounds; the VMM's control socket is the agent's
 *   then), and the descriptor is written then: the page gets its first
 *   memory, so the first pass did not send it and the final harvest
 *   lists it, missing at the destination. The background push waits
 *   for the guest's first fault after RESUMED (KMIG_PUSH_AFTER_FAULT=1),
 *   which comes after the load. The load faults on the page (the
 *   destination's postcopy_load_faults, from the module's fault count),
 *   the fault is served (and counted as no vCPU's: the VMM's thread
 *   faulted), the load completes, the guest runs, and its
 *   memory equals the source's at the pause but for the pages it wrote
 *   since RUN.
 * - Kernel devices (kmig-sample, as the precopy --device tests use) in
 *   the postcopy package: their state arrives whole, and a destination
 *   whose --device gets no state fails before RUN.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "kselftest_harness.h"
#include "client.h"
#include "crc32c.h"
#include "kdev.h"
#include "kvm.h"
#include "le.h"
#include "pages.h"
#include "proc.h"
#include "snapfile.h"

#define TEST_TIMEOUT	150
/* In the gap of the guest's layout between its network frame and its
 * working set (user/vmm/guest/abi.h): no page there has memory until
 * the ring is attached. */
#define RING_GPA	"0x40000"
#define RING_PAGE	0x40000u
#define RING_MAGIC	0x47524d4bu	/* "KMRG", user/vmm/vmm.h */
#define VMM_ARGS	"--mem 16 --slots 2 --vcpus 2"
/* Pages a guest writes besides its working set: parameters, stacks. */
#define OTHER_PAGES	8

/* kmig-sample instances SAMPLE_FIRST.. + 3: two sources, two
 * destinations. */
#define SAMPLE_FIRST	21

FIXTURE(pcdevice) {
	struct vmm_proc a, b, c;
	char dir[128];
	bool devs;			/* kmig-sample loaded */
};

FIXTURE_SETUP(pcdevice)
{
	memset(&self->a, 0, sizeof(self->a));
	memset(&self->b, 0, sizeof(self->b));
	memset(&self->c, 0, sizeof(self->c));
	self->devs = false;
	snprintf(self->dir, sizeof(self->dir), "%spcdevice-%d",
		 access("/dev/shm", W_OK) ? "" : "/dev/shm/", getpid());
}

FIXTURE_TEARDOWN(pcdevice)
{
	unsigned int i;
	char cmd[256];

	vmm_stop(&self->a);
	vmm_stop(&self->b);
	vmm_stop(&self->c);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd))
		TH_LOG("cannot remove %s", self->dir);
	for (i = SAMPLE_FIRST; self->devs && i < SAMPLE_FIRST + 4; i++)
		sample_destroy(i);
	if (self->devs)
		EXPECT_EQ(0, sample_unload());
}

/* Request @req to the VMM @v on a connection of its own: 0 or -errno,
 * its reply line in @reply. */
static int vmm_req(struct vmm_proc *v, const char *req, char *reply,
		   size_t n)
{
	struct vmm_client c = { .fd = -1 };
	int ret = vmm_connect(v, &c);

	if (!ret)
		ret = vmm_client_cmd(&c, "%s", req);
	snprintf(reply, n, "%s", c.reply);
	vmm_client_close(&c);
	return ret;
}

/* The ring the VMM @v reports: "none", or "GPA:ENTRIES" (static). */
static const char *vmm_ring(struct vmm_proc *v)
{
	static char ring[64];
	char reply[1024];
	const char *p;

	if (vmm_req(v, "status", reply, sizeof(reply)))
		return "?";
	p = strstr(reply, " ring=");
	if (!p)
		return "?";
	snprintf(ring, sizeof(ring), "%.*s", (int)strcspn(p + 6, " "), p + 6);
	return ring;
}

/* How the descriptor a test writes is wrong. */
enum desc_fault { DESC_GOOD, DESC_CSUM, DESC_ENTRIES, DESC_ENTRY_OUT };

/* The VMM's guest memory: its kmig context and where RING_PAGE lies. */
struct guest_ram {
	int ctx;
	uint64_t ring_off;		/* in the context */
};

static int guest_ram_open(struct vmm_proc *v, struct guest_ram *g)
{
	struct vmm_client c = { .fd = -1 };
	struct vmm_client_slot slots[8];
	unsigned int n = 0, i;
	int ret;

	g->ctx = -1;
	ret = vmm_connect(v, &c);
	if (!ret)
		ret = vmm_client_ctx(&c, slots, 8, &n, &g->ctx);
	vmm_client_close(&c);
	for (i = 0; !ret && i < n; i++)
		if (RING_PAGE >= slots[i].gpa &&
		    RING_PAGE - slots[i].gpa < slots[i].size) {
			g->ring_off = KMIG_SLOT_OFFSET(slots[i].id) +
				      RING_PAGE - slots[i].gpa;
			return 0;
		}
	return ret ? ret : -ERANGE;
}

/*
 * What the guest's driver does: a descriptor of 16 entries (pages of the
 * working set from 1 MiB) at RING_PAGE, wrong as @fault says: 0 or -EIO.
 */
static int desc_write(struct guest_ram *g, enum desc_fault fault)
{
	uint8_t page[4096] = { 0 };
	uint32_t i, entries = 16;

	for (i = 0; i < entries; i++)
		put_le64(page + 16 + i * 8, 0x100000 + i * 0x3000);
	if (fault == DESC_ENTRY_OUT)
		put_le64(page + 16 + 3 * 8, 1ull << 40);
	put_le32(page, RING_MAGIC);
	put_le32(page + 4, fault == DESC_ENTRIES ? 600 : entries);
	put_le32(page + 8, kmig_crc32c(0, page + 16, entries * 8) ^
		 (fault == DESC_CSUM));
	return pwrite(g->ctx, page, sizeof(page), g->ring_off) == sizeof(page) ?
	       0 : -EIO;
}

static int write_good_desc(void *arg)
{
	return desc_write(arg, DESC_GOOD);
}

/* `kmig` @a1..@a4, its output in kmig.log: its exit status. */
static int kmig(const char *a1, const char *a2, const char *a3,
		const char *a4)
{
	const char *argv[] = { proc_bin("kmig"), a1, a2, a3, a4, NULL };

	return proc_wait_exit(proc_spawn(NULL, "kmig.log", argv), 60000);
}

TEST_F_TIMEOUT(pcdevice, ring_load_checks_the_descriptor, TEST_TIMEOUT)
{
	static const struct {
		enum desc_fault fault;
		const char *why;
	} bad[] = {
		{ DESC_CSUM, "checksum 0x" },
		{ DESC_ENTRIES, "600 entries, 1..510 fit its page" },
		{ DESC_ENTRY_OUT, "entry 3 is 0x10000000000, no page of guest RAM" },
	};
	struct vmm_client c = { .fd = -1 };
	struct guest_ram g;
	struct vmm_status st;
	uint8_t *state;
	unsigned int i;
	size_t len;

	REQUIRE_BED();
	vmm_startf(&self->a, vmm_sock("rg-a"), "/dev/null",
		   VMM_ARGS " --pattern random --rate 500");
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("rg-b"), "/dev/null",
		   VMM_ARGS " --incoming");

	ASSERT_EQ(0, vmm_connect(&self->a, &c));
	EXPECT_EQ(-EINVAL, vmm_client_cmd(&c, "ring 0x40001 4"));
	EXPECT_NE(NULL, strstr(c.reply, "not page aligned")) TH_LOG("%s", c.reply);
	EXPECT_EQ(-EINVAL, vmm_client_cmd(&c, "ring 0x10000000 4"));
	EXPECT_NE(NULL, strstr(c.reply, "outside guest RAM")) TH_LOG("%s", c.reply);
	EXPECT_EQ(-ERANGE, vmm_client_cmd(&c, "ring " RING_GPA " 0"));
	EXPECT_EQ(-ERANGE, vmm_client_cmd(&c, "ring " RING_GPA " 511"));
	ASSERT_EQ(0, vmm_client_cmd(&c, "ring " RING_GPA " 64")) TH_LOG("%s", c.reply);
	ASSERT_EQ(0, vmm_client_cmd(&c, "pause")) TH_LOG("%s", c.reply);
	ASSERT_EQ(0, vmm_client_save(&c, &state, &len)) TH_LOG("%s", c.reply);
	vmm_client_close(&c);
	EXPECT_STREQ(RING_GPA, vmm_ring(&self->a));

	/* B's memory holds no descriptor there, then bad ones, then one. */
	ASSERT_EQ(0, guest_ram_open(&self->b, &g));
	ASSERT_EQ(0, vmm_connect(&self->b, &c));
	EXPECT_EQ(-EBADMSG, vmm_client_load(&c, state, len));
	EXPECT_NE(NULL, strstr(c.reply, "ring: descriptor at GPA 0x40000: magic 0x00000000"))
		TH_LOG("%s", c.reply);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(0, desc_write(&g, bad[i].fault));
		EXPECT_EQ(-EBADMSG, vmm_client_load(&c, state, len));
		EXPECT_NE(NULL, strstr(c.reply, bad[i].why))
			TH_LOG("%s", c.reply);
	}
	ASSERT_EQ(0, vmm_client_status(&c, &st));
	EXPECT_STREQ("incoming", st.state);
	vmm_client_close(&c);
	/* A refused load changed nothing. */
	EXPECT_STREQ("none", vmm_ring(&self->b));
	ASSERT_EQ(0, desc_write(&g, DESC_GOOD));
	close(g.ctx);
	ASSERT_EQ(0, vmm_connect(&self->b, &c));
	EXPECT_EQ(0, vmm_client_load(&c, state, len)) TH_LOG("%s", c.reply);
	vmm_client_close(&c);
	EXPECT_STREQ(RING_GPA, vmm_ring(&self->b));

	/* Its own guest's memory holds the one it wrote. */
	ASSERT_EQ(0, vmm_connect(&self->a, &c));
	EXPECT_EQ(0, vmm_client_load(&c, state, len)) TH_LOG("%s", c.reply);
	vmm_client_close(&c);
	free(state);
	vmm_resume_runs(&self->a);
}

/*
 * A snapshot from A restored on B, then B migrated to C in precopy: the
 * VMM state C loaded is, byte for byte, what B saved (ring included).
 */
TEST_F_TIMEOUT(pcdevice, precopy_and_snapshot_carry_the_ring, TEST_TIMEOUT)
{
	char file[256], reply[1024], in_args[256], mig_args[256];
	char src[160], dst[160];
	size_t la, lb;
	char *va, *vb;
	struct vmm_status st;
	struct agents r;

	REQUIRE_BED();
	ASSERT_EQ(0, mkdir(self->dir, 0755));
	snprintf(file, sizeof(file), "%s/snap.kmig", self->dir);
	snprintf(src, sizeof(src), "%s/src", self->dir);
	snprintf(dst, sizeof(dst), "%s/dst", self->dir);
	ASSERT_EQ(0, mkdir(src, 0755));
	ASSERT_EQ(0, mkdir(dst, 0755));
	vmm_startf(&self->a, vmm_sock("rs-a"), "/dev/null",
		   VMM_ARGS " --pattern random --rate 1000");
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("rs-b"), "/dev/null",
		   VMM_ARGS " --incoming");
	vmm_startf(&self->c, vmm_sock("rs-c"), "/dev/null",
		   VMM_ARGS " --incoming");
	ASSERT_EQ(0, vmm_req(&self->a, "ring " RING_GPA " 64", reply,
			     sizeof(reply))) TH_LOG("%s", reply);

	ASSERT_EQ(0, kmig("save", "--vmm", self->a.sock, file))
		TH_LOG("%s", file_text("kmig.log"));
	ASSERT_EQ(0, kmig("restore", "--vmm", self->b.sock, file))
		TH_LOG("%s", file_text("kmig.log"));
	EXPECT_STREQ(RING_GPA, vmm_ring(&self->b));
	vmm_wait_counter(&self->b, 0, &st);

	snprintf(in_args, sizeof(in_args), "--timeout 60 --save-at-switchover %s",
		 dst);
	snprintf(mig_args, sizeof(mig_args),
		 "--timeout 60 --save-at-switchover %s", src);
	run_agents(&self->b, &self->c, 24671, in_args, mig_args, 100, &r);
	ASSERT_AGENTS_OK(&r);
	agents_free(&r);
	EXPECT_STREQ(RING_GPA, vmm_ring(&self->c));
	vmm_expect_runs(self->c.sock);

	snprintf(file, sizeof(file), "%s/vcpus.bin", src);
	va = file_read(file, &la);
	snprintf(file, sizeof(file), "%s/vcpus.bin", dst);
	vb = file_read(file, &lb);
	ASSERT_NE(NULL, va);
	ASSERT_NE(NULL, vb);
	EXPECT_EQ(la, lb);
	EXPECT_EQ(0, memcmp(va, vb, la < lb ? la : lb));
	EXPECT_NE(NULL, memmem(va, la, "vmm-ring", 8));
	free(va);
	free(vb);
}

TEST_F_TIMEOUT(pcdevice, postcopy_load_faults_on_the_ring, TEST_TIMEOUT)
{
	char mig_args[PATH_MAX + 128], src[PATH_MAX], why[256] = "";
	struct vmm_status st, sa, sb;
	struct vmm_client c = { .fd = -1 };
	struct guest_ram g;
	struct agents r;

	REQUIRE_BED();
	snprintf(src, sizeof(src), "%s/src", self->dir);
	ASSERT_EQ(0, mkdir(self->dir, 0755));
	ASSERT_EQ(0, mkdir(src, 0755));
	vmm_startf(&self->a, vmm_sock("rp-a"), "/dev/null",
		   VMM_ARGS " --pattern random --batch 4 --rate 2000");
	vmm_wait_counter(&self->a, 0, &st);
	/* paced: the guest writes few pages here after RUN */
	vmm_startf(&self->b, vmm_sock("rp-b"), "/dev/null",
		   VMM_ARGS " --incoming --rate 400");
	ASSERT_EQ(0, vmm_connect(&self->b, &c));
	ASSERT_EQ(0, vmm_client_cmd(&c, "dirtylog at-resume"));
	vmm_client_close(&c);
	/* The ring points at a page without memory; no descriptor yet. */
	ASSERT_EQ(0, guest_ram_open(&self->a, &g));
	ASSERT_EQ(0, vmm_req(&self->a, "ring " RING_GPA, why, sizeof(why)))
		TH_LOG("%s", why);
	EXPECT_STREQ(RING_GPA, vmm_ring(&self->a));

	snprintf(mig_args, sizeof(mig_args),
		 "--postcopy --postcopy-bandwidth 1 --timeout 60 --json --save-at-switchover %s",
		 src);
	agents_listen(&r, &self->b, "127.0.0.1:24672", "--timeout 60 --json");
	setenv("KMIG_PUSH_AFTER_FAULT", "1", 1);
	agents_migrate_held(&r, &self->a, "127.0.0.1:24672", mig_args, 100,
			    "rounds", write_good_desc, &g);
	close(g.ctx);
	unsetenv("KMIG_PUSH_AFTER_FAULT");
	EXPECT_EQ(0, r.held_ret);
	ASSERT_AGENTS_OK(&r);
	/* The load read the descriptor page, missing: it faulted, was
	 * served, and went on. */
	EXPECT_LE(1, json_u64(r.in_out, "postcopy_load_faults"))
		TH_LOG("%s", r.in_out);
	/* the VMM's thread that loaded it is no vCPU: counted apart, and
	 * it waited for the page */
	EXPECT_LE(json_u64(r.in_out, "postcopy_load_faults"),
		  json_u64(r.in_out, "postcopy_non_vcpu_faults"))
		TH_LOG("%s", r.in_out);
	EXPECT_LT(0, json_u64(r.in_out, "postcopy_non_vcpu_blocktime_us"))
		TH_LOG("%s", r.in_out);
	EXPECT_LT(0, json_u64(r.mig_out, "postcopy_fault_requests"))
		TH_LOG("%s", r.mig_out);
	TH_LOG("faults %llu while loading, %llu in all; %llu ms",
	       (unsigned long long)json_u64(r.in_out, "postcopy_load_faults"),
	       (unsigned long long)json_u64(r.in_out, "postcopy_faults"),
	       (unsigned long long)json_u64(r.mig_out, "time_elapsed"));
	agents_free(&r);

	ASSERT_EQ(0, vmm_status(&self->a, &sa));
	EXPECT_STREQ("migrated", sa.state);
	EXPECT_STREQ(RING_GPA, vmm_ring(&self->b));
	vmm_wait_counter(&self->b, sa.counter, &st);

	EXPECT_SAME_BUT_WRITTEN_SINCE_RUN(self->b.sock, pages_ref_images, src,
					  sa.writes, &sb, OTHER_PAGES);
}

/*
 * Kernel devices in the package: two kmig-sample instances whose state
 * keeps changing on the source; their final state goes in the package,
 * and is loaded at the destination after its fault server started. Then
 * a destination with a --device the source does not send: the package
 * has no state for it, the destination says FAILED before RUN, and the
 * guest runs on at the source.
 */
TEST_F_TIMEOUT(pcdevice, postcopy_carries_kernel_devices, TEST_TIMEOUT)
{
	uint32_t csum_a, csum_b;
	struct vmm_status st;
	struct agents r;
	unsigned int i;

	REQUIRE_BED();
	ASSERT_EQ(0, sample_load());
	self->devs = true;
	for (i = SAMPLE_FIRST; i < SAMPLE_FIRST + 4; i++)
		ASSERT_EQ(0, sample_create(i));
	ASSERT_EQ(0, sample_set_rate(SAMPLE_FIRST, 300));
	ASSERT_EQ(0, sample_set_rate(SAMPLE_FIRST + 1, 50));
	vmm_startf(&self->a, vmm_sock("rk-a"), "/dev/null",
		   VMM_ARGS " --pattern random --batch 4 --rate 2000");
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("rk-b"), "/dev/null",
		   VMM_ARGS " --incoming --rate 400");

	setenv("KMIG_PUSH_AFTER_FAULT", "1", 1);
	run_agents(&self->a, &self->b, 24673,
		   "--timeout 60 --json --device kmig-sample:23 --device kmig-sample:24",
		   "--postcopy --postcopy-bandwidth 1 --timeout 60 --json --device kmig-sample:21 --device kmig-sample:22",
		   100, &r);
	unsetenv("KMIG_PUSH_AFTER_FAULT");
	ASSERT_AGENTS_OK(&r);
	EXPECT_LT(0, json_u64(r.in_out, "postcopy_faults")) TH_LOG("%s", r.in_out);
	EXPECT_LT(0, json_u64(r.mig_out, "device_bytes")) TH_LOG("%s", r.mig_out);
	TH_LOG("device state %llu bytes; %llu ms",
	       (unsigned long long)json_u64(r.mig_out, "device_bytes"),
	       (unsigned long long)json_u64(r.mig_out, "time_elapsed"));
	agents_free(&r);

	ASSERT_EQ(0, vmm_status(&self->a, &st));
	EXPECT_STREQ("migrated", st.state);
	vmm_expect_runs(self->b.sock);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, sample_checksum(SAMPLE_FIRST + i, &csum_a));
		ASSERT_EQ(0, sample_checksum(SAMPLE_FIRST + 2 + i, &csum_b));
		EXPECT_EQ(csum_a, csum_b) TH_LOG("kmig-sample:%u", SAMPLE_FIRST + i);
	}

	/* Afresh, B wants a device that A does not send. */
	for (i = SAMPLE_FIRST; i < SAMPLE_FIRST + 4; i++) {
		ASSERT_EQ(0, sample_destroy(i));
		ASSERT_EQ(0, sample_create(i));
	}
	vmm_stop(&self->b);
	vmm_startf(&self->b, vmm_sock("rk-b2"), "/dev/null",
		   VMM_ARGS " --incoming");
	vmm_stop(&self->a);
	vmm_startf(&self->a, vmm_sock("rk-a2"), "/dev/null",
		   VMM_ARGS " --pattern random --batch 4 --rate 2000");
	vmm_wait_counter(&self->a, 0, &st);
	run_agents(&self->a, &self->b, 24674,
		   "--timeout 60 --device kmig-sample:23 --device kmig-sample:24",
		   "--postcopy --timeout 60 --device kmig-sample:21", 100, &r);
	TH_LOG("kmig migrate (%d): %s", r.mig_ret, r.mig_out);
	TH_LOG("kmig incoming (%d): %s", r.in_ret, r.in_out);
	EXPECT_EQ(1, r.mig_ret);
	EXPECT_EQ(1, r.in_ret);
	EXPECT_NE(NULL, strstr(r.in_out,
			       "device kmig-sample:24: the package has no complete state for it"));
	agents_free(&r);
	vmm_expect_stayed(&self->a, &self->b);
}

TEST_HARNESS_MAIN
