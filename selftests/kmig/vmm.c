// SPDX-License-Identifier: GPL-2.0
/*
 * The reference VMM (build/vmm/kmig-vmm) runs its guest on this machine:
 * the guest's counter advances while running and stands still while
 * paused; its checksum matches the memory the VMM exposes; the vCPU state
 * and RAM of a paused VMM, moved into a second VMM started --incoming,
 * make the guest continue there; bad state and bad requests are refused;
 * `dirtylog at-resume` restarts the dirty log just before the guest runs;
 * its KVM log provider stops at its exit whatever kmig's callers did.
 */
#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "kselftest_harness.h"
#include "kvm.h"
#include "client.h"
#include "crc32c.h"
#include "ctx.h"
#include "dec.h"
#include "guest/abi.h"
#include "proc.h"

#define TEST_TIMEOUT	120
/*
 * Guests dirty at a modest rate, so their vCPUs spend most of the time in
 * the VMM rather than in the guest: under software emulation (the bed's
 * TCG with nested SVM) long stretches in the nested guest starve the
 * outer kernel.
 */
#define PACED		"--rate 20000"

/* A kmig-vmm and the connection this test holds to it. */
struct vmm_held {
	struct vmm_proc v;
	struct vmm_client c;
};

/* Start kmig-vmm on memfd memory with @args, and connect. */
static int start(struct vmm_held *p, const char *name, const char *args)
{
	char sock[32];
	int ret;

	p->c.fd = -1;
	snprintf(sock, sizeof(sock), "vmm-%s", name);
	ret = __vmm_startf(&p->v, vmm_sock(sock), "/dev/null",
			   "--backend memfd %s", args);
	return ret ? ret : vmm_connect(&p->v, &p->c);
}

static void stop(struct vmm_held *p)
{
	/* a VMM serves one client: ours goes before vmm_stop() asks */
	vmm_client_close(&p->c);
	vmm_stop(&p->v);
}

/* Wait until it runs with its counter past @above. */
static int wait_counter(struct vmm_held *p, uint64_t above, struct vmm_status *st)
{
	return __vmm_client_wait_counter(&p->c, above, PROC_WAIT_MS, st);
}

FIXTURE(vmm) {
	struct vmm_held a, b;
};

FIXTURE_SETUP(vmm)
{
	memset(&self->a, 0, sizeof(self->a));
	memset(&self->b, 0, sizeof(self->b));
	self->a.c.fd = self->b.c.fd = -1;
}

/* Skip without KVM, except on the test bed, where KVM must work. (A SKIP
 * in FIXTURE_SETUP would not stop the test body in this harness.) */
FIXTURE_TEARDOWN(vmm)
{
	stop(&self->a);
	stop(&self->b);
}

TEST_F_TIMEOUT(vmm, counter_advances_only_while_running, TEST_TIMEOUT)
{
	struct vmm_status st;
	uint64_t c1, w1;

	REQUIRE_KVM();

	ASSERT_EQ(0, start(&self->a, "a", "--vcpus 2 --mem 16 " PACED));
	ASSERT_EQ(0, wait_counter(&self->a, 0, &st)) TH_LOG("%s", self->a.c.reply);
	EXPECT_STREQ("running", st.state);
	EXPECT_EQ(2, st.vcpus);

	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "pause")) TH_LOG("%s", self->a.c.reply);
	ASSERT_EQ(0, vmm_client_status(&self->a.c, &st));
	EXPECT_STREQ("paused", st.state);
	c1 = st.counter;
	w1 = st.writes;
	EXPECT_LT(0, w1);
	usleep(300 * 1000);
	ASSERT_EQ(0, vmm_client_status(&self->a.c, &st));
	EXPECT_EQ(c1, st.counter);
	EXPECT_EQ(w1, st.writes);

	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "resume"));
	ASSERT_EQ(0, wait_counter(&self->a, c1, &st));
	EXPECT_LT(w1, st.writes);
}

static uint64_t host_checksum(struct __test_metadata *_metadata,
			      struct vmm_held *p, uint32_t ws_pages)
{
	struct vmm_client_slot s[8];
	uint64_t c = guest_csum_init(ws_pages), gpa, end;
	unsigned int n, i;
	uint64_t *map;
	size_t w;

	EXPECT_EQ(0, vmm_client_memfds(&p->c, s, 8, &n)) TH_LOG("%s", p->c.reply);
	end = GUEST_WS_GPA + (uint64_t)ws_pages * GUEST_PAGE_SIZE;
	for (i = 0; i < n; i++) {
		map = mmap(NULL, s[i].size, PROT_READ, MAP_SHARED, s[i].fd, 0);
		EXPECT_NE(MAP_FAILED, map);
		close(s[i].fd);
		if (map == MAP_FAILED)
			return 0;
		for (w = 0; w < s[i].size / 8; w++) {
			gpa = s[i].gpa + w * 8;
			if (gpa >= GUEST_WS_GPA && gpa < end)
				c = guest_csum_step(c, map[w]);
		}
		munmap(map, s[i].size);
	}
	return c;
}

TEST_F_TIMEOUT(vmm, guest_checksum_matches_its_memory, TEST_TIMEOUT)
{
	unsigned long long guest, again;
	struct vmm_status st;

	REQUIRE_KVM();

	/* two slots: the working set crosses the slot boundary */
	ASSERT_EQ(0, start(&self->a, "a", "--mem 4 --slots 2 --pattern seq " PACED));
	ASSERT_EQ(0, wait_counter(&self->a, 2, &st));
	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "pattern none"));
	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "checksum")) TH_LOG("%s", self->a.c.reply);
	ASSERT_EQ(1, sscanf(self->a.c.reply, "ok %llx", &guest));
	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "pause"));
	ASSERT_EQ(0, vmm_client_status(&self->a.c, &st));
	EXPECT_EQ((4 << 20) / 4096 - 256, st.ws_pages);
	EXPECT_EQ(guest, host_checksum(_metadata, &self->a, st.ws_pages));

	/* dirty some more: the checksum moves, and still matches */
	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "pattern random"));
	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "resume"));
	ASSERT_EQ(0, wait_counter(&self->a, st.counter + 2, &st));
	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "pattern none"));
	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "checksum"));
	ASSERT_EQ(1, sscanf(self->a.c.reply, "ok %llx", &again));
	EXPECT_NE(guest, again);
	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "pause"));
	EXPECT_EQ(again, host_checksum(_metadata, &self->a, st.ws_pages));
}

static void copy_ram(struct __test_metadata *_metadata, struct vmm_held *from,
		     struct vmm_held *to)
{
	struct vmm_client_slot s[8], d[8];
	unsigned int ns, nd, i;
	void *src, *dst;

	ASSERT_EQ(0, vmm_client_memfds(&from->c, s, 8, &ns));
	ASSERT_EQ(0, vmm_client_memfds(&to->c, d, 8, &nd));
	ASSERT_EQ(ns, nd);
	for (i = 0; i < ns; i++) {
		ASSERT_EQ(s[i].size, d[i].size);
		ASSERT_EQ(s[i].gpa, d[i].gpa);
		src = mmap(NULL, s[i].size, PROT_READ, MAP_SHARED, s[i].fd, 0);
		dst = mmap(NULL, d[i].size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   d[i].fd, 0);
		ASSERT_NE(MAP_FAILED, src);
		ASSERT_NE(MAP_FAILED, dst);
		memcpy(dst, src, s[i].size);
		munmap(src, s[i].size);
		munmap(dst, d[i].size);
		close(s[i].fd);
		close(d[i].fd);
	}
}

struct parts {
	unsigned int n;
	struct { uint32_t vcpu; uint16_t part; uint32_t len; uint32_t crc; } p[64];
	uint64_t msrs[8][2048];
	uint32_t msrs_len[8];
};

static int on_part(void *o, uint32_t vcpu, uint16_t part, const void *data,
		   uint32_t len)
{
	struct parts *ps = o;

	if (ps->n == 64 || vcpu >= 8)
		return -ENOSPC;
	if (part == KMIG_VCPU_MSRS) {
		if (len > sizeof(ps->msrs[0]))
			return -ENOSPC;
		memcpy(ps->msrs[vcpu], data, len);
		ps->msrs_len[vcpu] = len;
	}
	ps->p[ps->n].vcpu = vcpu;
	ps->p[ps->n].part = part;
	ps->p[ps->n].len = len;
	ps->p[ps->n].crc = kmig_crc32c(0, data, len);
	ps->n++;
	return 0;
}

static int parse_state(const uint8_t *buf, size_t len, struct parts *ps)
{
	static const struct kmig_dec_ops ops = { .vcpu = on_part };
	struct kmig_dec_cfg cfg = { .caps_supported = KMIG_SCAP_ALL,
				    .ops = &ops, .opaque = ps };
	struct kmig_dec d;
	int ret;

	memset(ps, 0, sizeof(*ps));
	ret = kmig_dec_init_buf(&d, &cfg, buf, len);
	if (!ret)
		ret = kmig_dec_run(&d);
	kmig_dec_free(&d);
	return ret;
}

/* Every part equal, MSRs equal but the TSC (it keeps counting). */
static void expect_same_state(struct __test_metadata *_metadata,
			      struct parts *x, struct parts *y)
{
	struct kvm_msrs *mx, *my;
	unsigned int i, j;

	ASSERT_EQ(x->n, y->n);
	for (i = 0; i < x->n; i++) {
		EXPECT_EQ(x->p[i].vcpu, y->p[i].vcpu);
		EXPECT_EQ(x->p[i].part, y->p[i].part);
		EXPECT_EQ(x->p[i].len, y->p[i].len);
		if (x->p[i].part != KMIG_VCPU_MSRS)
			EXPECT_EQ(x->p[i].crc, y->p[i].crc)
				TH_LOG("vCPU %u part %s differs", x->p[i].vcpu,
				       kmig_vcpu_part_name(x->p[i].part));
	}
	for (i = 0; i < 8; i++) {
		mx = (struct kvm_msrs *)x->msrs[i];
		my = (struct kvm_msrs *)y->msrs[i];
		if (!x->msrs_len[i])
			continue;
		ASSERT_EQ(mx->nmsrs, my->nmsrs);
		for (j = 0; j < mx->nmsrs; j++) {
			EXPECT_EQ(mx->entries[j].index, my->entries[j].index);
			if (mx->entries[j].index != 0x10)
				EXPECT_EQ(mx->entries[j].data, my->entries[j].data)
					TH_LOG("vCPU %u MSR 0x%x", i,
					       mx->entries[j].index);
		}
	}
}

TEST_F_TIMEOUT(vmm, state_and_ram_move_to_a_second_vmm, TEST_TIMEOUT)
{
	static struct parts pa, pb;
	struct vmm_status sa, sb;
	uint8_t *ba, *bb;
	size_t la, lb;

	REQUIRE_KVM();

	ASSERT_EQ(0, start(&self->a, "a", "--vcpus 2 --mem 8 --slots 2 --pattern hot " PACED));
	ASSERT_EQ(0, wait_counter(&self->a, 5, &sa));
	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "pause"));
	ASSERT_EQ(0, vmm_client_status(&self->a.c, &sa));

	/* the destination starts while the source is paused, as after a
	 * precopy's switchover */
	ASSERT_EQ(0, start(&self->b, "b", "--vcpus 2 --mem 8 --slots 2 --incoming " PACED));
	ASSERT_EQ(0, vmm_client_status(&self->b.c, &sb));
	EXPECT_STREQ("incoming", sb.state);
	copy_ram(_metadata, &self->a, &self->b);
	ASSERT_EQ(0, vmm_client_save(&self->a.c, &ba, &la)) TH_LOG("%s", self->a.c.reply);
	ASSERT_EQ(0, vmm_client_load(&self->b.c, ba, la)) TH_LOG("%s", self->b.c.reply);
	ASSERT_EQ(0, vmm_client_save(&self->b.c, &bb, &lb));
	ASSERT_EQ(0, parse_state(ba, la, &pa));
	ASSERT_EQ(0, parse_state(bb, lb, &pb));
	/* 2 vCPUs x at least regs, sregs, fpu, msrs, lapic, events, mp, dr */
	EXPECT_LE(16, pa.n);
	expect_same_state(_metadata, &pa, &pb);

	/* B holds A's counters now, and the guest goes on from there */
	ASSERT_EQ(0, vmm_client_status(&self->b.c, &sb));
	EXPECT_EQ(sa.counter, sb.counter);
	EXPECT_EQ(sa.writes, sb.writes);
	ASSERT_EQ(0, vmm_client_cmd(&self->b.c, "resume"));
	ASSERT_EQ(0, wait_counter(&self->b, sa.counter + 5, &sb))
		TH_LOG("%s", self->b.c.reply);
	EXPECT_LT(sa.writes, sb.writes);
	/* A stayed paused */
	ASSERT_EQ(0, vmm_client_status(&self->a.c, &sa));
	EXPECT_STREQ("paused", sa.state);
	free(ba);
	free(bb);
}

TEST_F_TIMEOUT(vmm, bad_state_is_refused_and_changes_nothing, TEST_TIMEOUT)
{
	struct vmm_status st;
	uint8_t *blob;
	size_t len;

	REQUIRE_KVM();

	ASSERT_EQ(0, start(&self->a, "a", "--mem 8 " PACED));
	ASSERT_EQ(0, wait_counter(&self->a, 0, &st));
	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "pause"));
	ASSERT_EQ(0, vmm_client_save(&self->a.c, &blob, &len));
	ASSERT_EQ(0, start(&self->b, "b", "--vcpus 2 --mem 8 --incoming " PACED));

	EXPECT_EQ(-EPROTO, vmm_client_load(&self->b.c, (uint8_t *)"garbage!garbage!", 16));
	EXPECT_NE(NULL, strstr(self->b.c.reply, "bad magic")) TH_LOG("%s", self->b.c.reply);

	blob[len / 2] ^= 0x40;
	EXPECT_EQ(-EBADMSG, vmm_client_load(&self->b.c, blob, len));
	EXPECT_NE(NULL, strstr(self->b.c.reply, "CRC mismatch")) TH_LOG("%s", self->b.c.reply);
	blob[len / 2] ^= 0x40;

	/* A has one vCPU, B two: B's second vCPU would stay unset */
	EXPECT_EQ(-ENODATA, vmm_client_load(&self->b.c, blob, len));
	EXPECT_NE(NULL, strstr(self->b.c.reply, "vCPU 1: state incomplete"))
		TH_LOG("%s", self->b.c.reply);

	ASSERT_EQ(0, vmm_client_status(&self->b.c, &st));
	EXPECT_STREQ("incoming", st.state);
	EXPECT_EQ(0, st.counter);

	/* and the right state loads into a one-vCPU VMM */
	stop(&self->b);
	ASSERT_EQ(0, start(&self->b, "b1", "--mem 8 --incoming " PACED));
	EXPECT_EQ(0, vmm_client_load(&self->b.c, blob, len)) TH_LOG("%s", self->b.c.reply);
	free(blob);
}

/* Pages the guest of @p writes in @ms. */
static uint64_t writes_in(struct __test_metadata *_metadata, struct vmm_held *p,
			  int ms)
{
	struct vmm_status st;
	uint64_t w;

	EXPECT_EQ(0, vmm_client_status(&p->c, &st));
	w = st.writes;
	usleep(ms * 1000);
	EXPECT_EQ(0, vmm_client_status(&p->c, &st));
	return st.writes - w;
}

TEST_F_TIMEOUT(vmm, throttle_and_bad_requests, TEST_TIMEOUT)
{
	struct vmm_status st;
	uint64_t full, throttled;

	REQUIRE_KVM();

	ASSERT_EQ(0, start(&self->a, "a", "--mem 8 " PACED));
	EXPECT_EQ(-ERANGE, vmm_client_cmd(&self->a.c, "throttle 150"));
	EXPECT_EQ(-EINVAL, vmm_client_cmd(&self->a.c, "frobnicate"));
	EXPECT_NE(NULL, strstr(self->a.c.reply, "unknown command 'frobnicate'"));
	EXPECT_EQ(-EBUSY, vmm_client_cmd(&self->a.c, "save"));
	EXPECT_EQ(-EINVAL, vmm_client_cmd(&self->a.c, "pattern zigzag"));
	EXPECT_EQ(-EINVAL, vmm_client_cmd(&self->a.c, "load 0"));

	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "throttle 80"));
	ASSERT_EQ(0, wait_counter(&self->a, 20, &st));
	EXPECT_LT(0, st.throttled_ms);

	/*
	 * Throttled by 75%, a guest paced to a rate dirties a quarter: less
	 * than half, and (the throttle's sleeps slow its exits too, more so
	 * on a loaded debug kernel) more than a twentieth.
	 */
	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "throttle 0"));
	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "rate 2000"));
	full = writes_in(_metadata, &self->a, 2000);
	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "throttle 75"));
	throttled = writes_in(_metadata, &self->a, 2000);
	TH_LOG("pages written in 2 s: %llu unthrottled, %llu throttled by 75%%",
	       (unsigned long long)full, (unsigned long long)throttled);
	EXPECT_LT(throttled * 2, full);
	EXPECT_LT(full / 20, throttled);

	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "pause"));
	EXPECT_EQ(-EBUSY, vmm_client_cmd(&self->a.c, "checksum"));
}

/* Is page @page of slot 0 in the dirty log of @ctx? -errno on failure. */
static int logged(int ctx, uint64_t npages, uint64_t page)
{
	uint64_t map[8 << 20 >> 12 >> 6];
	int ret;

	if (npages > sizeof(map) * 8)
		return -E2BIG;
	ret = kmig_ctx_dirty_log(ctx, 0, npages, map, false);
	return ret ? ret : (int)(map[page / 64] >> (page % 64) & 1);
}

TEST_F_TIMEOUT(vmm, dirtylog_at_resume_logs_from_the_resume_on, TEST_TIMEOUT)
{
	const uint64_t npages = (8 << 20) / GUEST_PAGE_SIZE;
	const uint64_t params = GUEST_PARAMS_GPA / GUEST_PAGE_SIZE;
	const uint64_t before = 1024, after = 1500;	/* working set pages */
	struct vmm_client_slot slot[8];
	char page[GUEST_PAGE_SIZE];
	struct vmm_status st;
	unsigned int n;
	int ctx = -1;

	REQUIRE_KVM();

	ASSERT_EQ(0, start(&self->b, "m", "--mem 8 " PACED));
	EXPECT_EQ(-EOPNOTSUPP, vmm_client_cmd(&self->b.c, "dirtylog at-resume"));
	stop(&self->b);

	/* a guest that writes nothing but its counters */
	ASSERT_EQ(0, start(&self->a, "a", "--backend kmig --mem 8 --pattern none " PACED));
	EXPECT_EQ(-EINVAL, vmm_client_cmd(&self->a.c, "dirtylog"));
	EXPECT_EQ(-EINVAL, vmm_client_cmd(&self->a.c, "dirtylog now"));
	ASSERT_EQ(0, wait_counter(&self->a, 0, &st)) TH_LOG("%s", self->a.c.reply);
	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "pause"));
	ASSERT_EQ(0, vmm_client_ctx(&self->a.c, slot, 8, &n, &ctx))
		TH_LOG("%s", self->a.c.reply);
	ASSERT_EQ(1, n);

	/* written while stopped, as an agent loads a guest: not logged */
	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "dirtylog at-resume"));
	memset(page, 0x5a, sizeof(page));
	ASSERT_EQ(sizeof(page), pwrite(ctx, page, sizeof(page),
				       KMIG_SLOT_OFFSET(0) + before * GUEST_PAGE_SIZE));
	ASSERT_EQ(0, vmm_client_cmd(&self->a.c, "resume"));
	ASSERT_EQ(0, wait_counter(&self->a, st.counter + 5, &st));
	EXPECT_EQ(0, logged(ctx, npages, before));
	/* the guest's counters, and a write since the resume: logged */
	EXPECT_EQ(1, logged(ctx, npages, params));
	ASSERT_EQ(sizeof(page), pwrite(ctx, page, sizeof(page),
				       KMIG_SLOT_OFFSET(0) + after * GUEST_PAGE_SIZE));
	EXPECT_EQ(1, logged(ctx, npages, after));
	EXPECT_EQ(0, logged(ctx, npages, before));
	close(ctx);
}

/*
 * A KVM-log request its caller gave up (killed) after the VMM's provider
 * saw it (poll) and before the provider read it: the provider must not
 * then wait in read() for the next request, which may never come, where
 * the VMM's exit joins it. kmig-vmm waits 3 s between the two
 * (KMIG_DELAY_AT=vmm-log-read).
 */
TEST_F_TIMEOUT(vmm, kvm_log_request_given_up_before_its_read, TEST_TIMEOUT)
{
	struct kmig_dirty_logging lg = { .flags = KMIG_DIRTY_LOGGING_ON };
	struct vmm_client q = { .fd = -1 };
	struct vmm_client_slot slot[8];
	int ctx = -1, status, ret;
	struct vmm_status st;
	unsigned int n;
	pid_t caller;

	REQUIRE_KVM();
	setenv("KMIG_DELAY_AT", "vmm-log-read:3000", 1);
	ret = start(&self->a, "l", "--backend kmig --mem 8 --kvm-log --pattern none " PACED);
	unsetenv("KMIG_DELAY_AT");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, wait_counter(&self->a, 0, &st)) TH_LOG("%s", self->a.c.reply);
	ASSERT_EQ(0, vmm_client_ctx(&self->a.c, slot, 8, &n, &ctx))
		TH_LOG("%s", self->a.c.reply);
	lg.slot = slot[0].id;

	/* kmig's caller: a log start, which the provider must answer */
	caller = fork();
	ASSERT_LE(0, caller);
	if (!caller)
		_exit(ioctl(ctx, KMIG_SET_DIRTY_LOGGING, &lg) ? 1 : 0);
	usleep(1000 * 1000);
	ASSERT_EQ(0, kill(caller, SIGKILL));
	ASSERT_EQ(caller, waitpid(caller, &status, 0));
	/* still waiting when killed: the provider had not read it */
	EXPECT_TRUE(WIFSIGNALED(status));
	close(ctx);
	usleep(3000 * 1000);	/* the provider reads now, and finds nothing */

	vmm_client_close(&self->a.c);
	ASSERT_EQ(0, vmm_client_connect(&q, self->a.v.sock, 0));
	vmm_client_cmd(&q, "quit");
	vmm_client_close(&q);
	ret = proc_wait_exit(self->a.v.pid, 5000);
	EXPECT_EQ(0, ret) TH_LOG("the VMM still runs after quit, in:%s",
				 proc_where(self->a.v.pid));
	if (ret != -ETIMEDOUT)
		self->a.v.pid = 0;
}

TEST_HARNESS_MAIN
