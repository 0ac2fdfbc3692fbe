// SPDX-License-Identifier: GPL-2.0
/*
 * Precopy live migration end to end on one machine: a source kmig-vmm
 * whose guest keeps dirtying memory, a destination kmig-vmm started
 * --incoming, and `kmig incoming` / `kmig migrate` between them over
 * 127.0.0.1, with 1 and with 4 page channels, carrying two kmig-sample
 * devices along. Checked: both agents succeed; every slot's memory at the
 * source's pause equals the destination's before resume, byte for byte,
 * and so does the vCPU state; the guest's counter advances on the
 * destination; the devices' checksums match.
 *
 * Then convergence (auto-converge makes a fast-dirtying guest fit, or
 * --timeout aborts cleanly), a round longer than --io-timeout, strangers
 * connecting before the source, and IPv6.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "client.h"
#include "hello.h"
#include "kdev.h"
#include "kvm.h"
#include "netlink.h"
#include "proc.h"

#define TEST_TIMEOUT	150

/* 0 when both files exist and are equal, else -1 (with a log line). */
static int same_file(struct __test_metadata *_metadata, const char *a,
		     const char *b)
{
	size_t la, lb;
	char *pa = file_read(a, &la), *pb = file_read(b, &lb);
	int ret = -1;

	if (!pa || !pb)
		TH_LOG("cannot read %s or %s", a, b);
	else if (la != lb)
		TH_LOG("%s has %zu bytes, %s %zu", a, la, b, lb);
	else if (memcmp(pa, pb, la))
		TH_LOG("%s and %s differ", a, b);
	else if (!la)
		TH_LOG("%s is empty", a);
	else
		ret = 0;
	free(pa);
	free(pb);
	return ret;
}

FIXTURE(migrate) {
	struct vmm_proc a, b;
	char dir[128];
	bool devs;
};

FIXTURE_VARIANT(migrate) {
	unsigned int channels;
	unsigned int port;
	bool save;		/* --save-at-switchover, and compare */
	bool zerocopy;		/* migrate --zerocopy */
	const char *guest;	/* the source guest's pattern, or NULL */
	bool kvm_log;		/* both VMMs --kvm-log: memory model (b) */
	bool huge;		/* both VMMs --huge: 2 MiB pages, model (b) */
	bool kvm_ring;		/* both VMMs --kvm-log=ring, small rings */
	bool stats;		/* kmig stats and devices list both guests */
};

/*
 * Memory model (b) on both sides: KVM logs the vCPUs' writes, each VMM
 * hands its log to kmig, the agents see one log per slot as ever. One
 * channel with kmig's own log: one_channel_hammered.
 */
FIXTURE_VARIANT_ADD(migrate, one_channel_kvm_log) {
	.channels = 1, .port = 24501, .save = true, .kvm_log = true,
};

/* The same on huge slots (KMIG_SLOT_HUGE): 2 MiB folios, 4 KiB log. */
FIXTURE_VARIANT_ADD(migrate, one_channel_huge) {
	.channels = 1, .port = 24506, .save = true, .huge = true,
};

/*
 * Model (b) with KVM's dirty rings instead of its bitmap, 256 entries a
 * vCPU: the guest fills them between harvests, so the VMM reaps at
 * KVM_EXIT_DIRTY_RING_FULL too. Every write still arrives.
 */
FIXTURE_VARIANT_ADD(migrate, one_channel_kvm_ring) {
	.channels = 1, .port = 24507, .save = true, .kvm_ring = true,
};

/*
 * With the listings of `kmig stats` and `kmig devices`, which depend on
 * none of the variants' differences: checked here only (each `kmig` the
 * bed starts costs a few hundred ms).
 */
FIXTURE_VARIANT_ADD(migrate, four_channels) {
	.channels = 4, .port = 24502, .save = true, .stats = true,
};

/* MSG_ZEROCOPY from the senders' copies, while the guest writes. */
FIXTURE_VARIANT_ADD(migrate, two_channels_zerocopy) {
	.channels = 2, .port = 24504, .save = true, .zerocopy = true,
};

/*
 * A guest writing 16 pages as fast as it can, and a few others: pages
 * tear between their CRC and the send, and must come again whole.
 */
FIXTURE_VARIANT_ADD(migrate, one_channel_hammered) {
	.channels = 1, .port = 24505, .save = true,
	.guest = "--pattern hot --hot-pages 16 --rate 8000",
};

/* Without the saving, the downtime is what a user would see. */
FIXTURE_VARIANT_ADD(migrate, four_channels_unsaved) {
	.channels = 4, .port = 24503, .save = false,
};

/*
 * The source's VMM took the writes from its dirty rings: it says so at
 * start, and at exit how many entries it reaped and how often a ring
 * filled (logged: how often depends on the bed's speed).
 */
static void ring_was_used(struct __test_metadata *_metadata,
			  struct vmm_proc *a, const char *log)
{
	unsigned long long reaped = 0, full = 0;
	char *text, *p;
	size_t len;

	vmm_stop(a);
	text = file_read(log, &len);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, ", 256 entries a vCPU"))
		TH_LOG("%s", text);
	p = strstr(text, "kmig-vmm: dirty ring: ");
	EXPECT_NE(NULL, p) TH_LOG("%s", text);
	if (p)
		EXPECT_EQ(2, sscanf(p, "kmig-vmm: dirty ring: %llu entries reaped, %llu full-ring exits",
				    &reaped, &full));
	EXPECT_LT(0, reaped);
	TH_LOG("dirty rings: %llu entries reaped, %llu full-ring exits",
	       reaped, full);
	free(text);
}

/* Both VMMs' memory model option. */
static const char *log_option(const FIXTURE_VARIANT(migrate) *variant)
{
	if (variant->huge)
		return " --huge";
	if (variant->kvm_ring)
		return " --kvm-log=ring --dirty-ring 256";
	return variant->kvm_log ? " --kvm-log" : "";
}

FIXTURE_SETUP(migrate)
{
	memset(&self->a, 0, sizeof(self->a));
	memset(&self->b, 0, sizeof(self->b));
	self->devs = false;
	/* tmpfs when there is one: the bed's 9p is slow to write */
	snprintf(self->dir, sizeof(self->dir), "%smigrate-%u-%d",
		 access("/dev/shm", W_OK) ? "" : "/dev/shm/",
		 variant->channels, getpid());
}

FIXTURE_TEARDOWN(migrate)
{
	unsigned int i;

	struct kmig_info info;
	struct kmig_nl nl;

	char cmd[256];

	vmm_stop(&self->a);
	vmm_stop(&self->b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd))
		TH_LOG("cannot remove %s", self->dir);
	if (!self->devs)
		return;
	for (i = 11; i <= 14; i++)
		sample_destroy(i);
	EXPECT_EQ(0, sample_unload());

	/* Nothing the migration created outlives it. */
	ASSERT_EQ(0, kmig_nl_open(&nl));
	ASSERT_EQ(0, kmig_nl_get_info(&nl, &info));
	kmig_nl_close(&nl);
	EXPECT_EQ(0, info.obj_contexts);
	EXPECT_EQ(0, info.obj_slots);
	EXPECT_EQ(0, info.obj_pages);
	EXPECT_EQ(0, info.obj_device_files);
}

/*
 * kmig stats shows both VMs' contexts, with their slots; so does its
 * JSON, and kmig devices lists the sample devices: devices are host
 * objects, listed in the initial network namespace only.
 */
static void stats_list_both(struct __test_metadata *_metadata,
			    FIXTURE_DATA(migrate) *self)
{
	char cmd[PATH_MAX * 3], path[PATH_MAX];
	size_t len;
	char *json;

	snprintf(cmd, sizeof(cmd), "%s stats > %s/stats.txt 2>&1",
		 proc_bin("kmig"), self->dir);
	EXPECT_EQ(0, system(cmd));
	snprintf(path, sizeof(path), "%s/stats.txt", self->dir);
	json = file_read(path, &len);
	ASSERT_NE(NULL, json);
	EXPECT_NE(NULL, strstr(json, "context ")) TH_LOG("%s", json);
	EXPECT_NE(NULL, strstr(json, "slot 1: gpa 0x400000 size 4 MiB"))
		TH_LOG("%s", json);
	free(json);
	snprintf(cmd, sizeof(cmd), "%s stats --json > %s/stats.json && nsenter --net=/proc/1/ns/net %s devices --json >> %s/stats.json",
		 proc_bin("kmig"), self->dir, proc_bin("kmig"), self->dir);
	EXPECT_EQ(0, system(cmd));
	snprintf(path, sizeof(path), "%s/stats.json", self->dir);
	json = file_read(path, &len);
	ASSERT_NE(NULL, json);
	EXPECT_NE(NULL, strstr(json, "{ \"id\": 1, \"gpa\": 4194304, \"size\": 4194304"))
		TH_LOG("%s", json);
	EXPECT_NE(NULL, strstr(json, "\"name\": \"kmig-sample\""))
		TH_LOG("%s", json);
	free(json);
}

TEST_F_TIMEOUT(migrate, live, TEST_TIMEOUT)
{
	char path[PATH_MAX], path2[PATH_MAX];
	char save_in[PATH_MAX + 32], save_out[PATH_MAX + 32];
	char in_args[PATH_MAX + 128], mig_args[PATH_MAX + 128];
	char alog[sizeof(self->dir) + 16];
	struct vmm_status st;
	uint32_t csum_a, csum_b;
	struct agents r;
	uint64_t counter;
	unsigned int i;
	char *json;

	/* 127.0.0.1 and the VMMs' abstract sockets, private to this test */
	REQUIRE_BED();

	/* Two sample devices on each side; the source ones keep changing. */
	ASSERT_EQ(0, sample_load());
	self->devs = true;
	for (i = 11; i <= 14; i++)
		ASSERT_EQ(0, sample_create(i));
	ASSERT_EQ(0, sample_set_rate(11, 300));
	ASSERT_EQ(0, sample_set_rate(12, 50));

	snprintf(path, sizeof(path), "%s/src", self->dir);
	snprintf(path2, sizeof(path2), "%s/dst", self->dir);
	ASSERT_EQ(0, mkdir(self->dir, 0755));
	ASSERT_EQ(0, mkdir(path, 0755));
	ASSERT_EQ(0, mkdir(path2, 0755));

	snprintf(alog, sizeof(alog), "%s/vmm-a.log", self->dir);
	vmm_startf(&self->a, vmm_sock("mig-a"),
		   variant->kvm_ring ? alog : "/dev/null", "--mem 8 --slots 2 --vcpus 2 %s%s", variant->guest ?
		   variant->guest : "--pattern random --rate 1500",
		   log_option(variant));
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("mig-b"), "/dev/null",
		   "--mem 8 --slots 2 --vcpus 2 --incoming%s",
		   log_option(variant));
	ASSERT_EQ(0, vmm_status(&self->b, &st));
	ASSERT_STREQ("incoming", st.state);
	/* let the guest dirty a while */
	usleep(300 * 1000);
	save_in[0] = save_out[0] = 0;
	if (variant->save) {
		snprintf(save_in, sizeof(save_in), "--save-at-switchover %s", path2);
		snprintf(save_out, sizeof(save_out), "--save-at-switchover %s", path);
	}

	snprintf(in_args, sizeof(in_args),
		 "--timeout 60 --json --device kmig-sample:13 --device kmig-sample:14 %s",
		 save_in);
	snprintf(mig_args, sizeof(mig_args),
		 "--channels %u --timeout 60 --json --device kmig-sample:11 --device kmig-sample:12 %s%s",
		 variant->channels, save_out,
		 variant->zerocopy ? " --zerocopy" : "");
	run_agents(&self->a, &self->b, variant->port, in_args, mig_args, 100,
		   &r);
	if (r.mig_ret || r.in_ret) {
		TH_LOG("kmig migrate (%d): %s", r.mig_ret, r.mig_out);
		TH_LOG("kmig incoming (%d): %s", r.in_ret, r.in_out);
	}
	ASSERT_EQ(0, r.mig_ret);
	ASSERT_EQ(0, r.in_ret);

	/* The job info. */
	EXPECT_NE(NULL, strstr(r.in_out, "\"status\": \"completed\""));
	EXPECT_EQ(variant->channels > 1 ? variant->channels + 1 : 1,
		  json_u64(r.in_out, "channels"));
	TH_LOG("%llu pages arrived torn and came again",
	       (unsigned long long)json_u64(r.in_out, "memory_torn"));
	json = r.mig_out;
	EXPECT_NE(NULL, strstr(json, "\"status\": \"completed\""));
	EXPECT_EQ(8ull << 20, json_u64(json, "memory_total"));
	EXPECT_LT(0, json_u64(json, "memory_normal"));
	EXPECT_LE(1, json_u64(json, "memory_iteration"));
	EXPECT_NE(~0ull, json_u64(json, "downtime"));
	TH_LOG("%u channel(s)%s%s: total %llu ms, downtime %llu ms, %llu bytes, %llu pages, %llu zero pages, %llu rounds, %llu B/s, device %llu bytes",
	       variant->channels, variant->save ? ", saving" : "",
	       variant->zerocopy ? ", zerocopy" : "",
	       (unsigned long long)json_u64(json, "time_elapsed"),
	       (unsigned long long)json_u64(json, "downtime"),
	       (unsigned long long)json_u64(json, "data_processed"),
	       (unsigned long long)json_u64(json, "memory_normal"),
	       (unsigned long long)json_u64(json, "memory_constant"),
	       (unsigned long long)json_u64(json, "memory_iteration"),
	       (unsigned long long)json_u64(json, "memory_bps"),
	       (unsigned long long)json_u64(json, "device_bytes"));
	agents_free(&r);

	/* Memory at the pause == memory before resume; vCPU state too. */
	for (i = 0; variant->save && i < 2; i++) {
		snprintf(path, sizeof(path), "%s/src/slot-%u.bin", self->dir, i);
		snprintf(path2, sizeof(path2), "%s/dst/slot-%u.bin", self->dir, i);
		EXPECT_EQ(0, same_file(_metadata, path, path2));
	}
	snprintf(path, sizeof(path), "%s/src/vcpus.bin", self->dir);
	snprintf(path2, sizeof(path2), "%s/dst/vcpus.bin", self->dir);
	if (variant->save)
		EXPECT_EQ(0, same_file(_metadata, path, path2));

	/* The guest goes on at the destination; the source stays paused for
	 * good: its VMM knows the guest migrated away. */
	ASSERT_EQ(0, vmm_status(&self->a, &st));
	EXPECT_STREQ("migrated", st.state);
	counter = st.counter;
	vmm_wait_counter(&self->b, counter, &st);
	vmm_wait_counter(&self->b, st.counter, &st);

	if (variant->stats)
		stats_list_both(_metadata, self);

	/* Device state arrived whole. */
	ASSERT_EQ(0, sample_checksum(11, &csum_a));
	ASSERT_EQ(0, sample_checksum(13, &csum_b));
	EXPECT_EQ(csum_a, csum_b);
	ASSERT_EQ(0, sample_checksum(12, &csum_a));
	ASSERT_EQ(0, sample_checksum(14, &csum_b));
	EXPECT_EQ(csum_a, csum_b);

	if (variant->kvm_ring)
		ring_was_used(_metadata, &self->a, alog);
}

/* Two small VMMs, with the agents run by the tests themselves. */
FIXTURE(precopy) {
	struct vmm_proc a, b;
};

FIXTURE_SETUP(precopy)
{
	memset(&self->a, 0, sizeof(self->a));
	memset(&self->b, 0, sizeof(self->b));
}

FIXTURE_TEARDOWN(precopy)
{
	vmm_stop(&self->a);
	vmm_stop(&self->b);
}

/* A source VMM running @args, a destination VMM waiting, both of @mem. */
static void start_vmms(struct __test_metadata *_metadata,
		       FIXTURE_DATA(precopy) *self, const char *mem,
		       const char *args)
{
	struct vmm_status st;

	vmm_startf(&self->a, vmm_sock("mig-ca"), "/dev/null", "--mem %s %s",
		   mem, args);
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("mig-cb"), "/dev/null",
		   "--mem %s --incoming", mem);
}

/*
 * A guest that keeps re-dirtying its memory never fits a 1 ms downtime
 * target over a 1 MiB/s link: the source throttles it through the VMM in
 * growing steps (20, then 40 %), and --timeout then aborts cleanly: the
 * guest keeps running on the source, unthrottled, and the destination
 * never resumes.
 *
 * At 1 MiB/s one page alone takes 4 ms, so only a round in which the
 * guest dirtied nothing fits, and a round lasts as long as its pages take
 * to send: a guest that dirties pages faster than the link sends them has
 * work in every round. At 4 MiB/s a slow bed's guest did not (the sending
 * took its CPU too): each round was shorter than the last, down to one
 * with nothing dirty, which fitted (at 8.3 s on 7.2). The guest is the
 * smallest there is, so that a round (its 256 pages) takes about 2 s,
 * paced by the link whatever the bed's load (10 rounds in 20 s on both
 * kernels, idle and beside a second bed alike): the throttle comes at
 * the end of round 2 (20 %, about 6 s in) and reaches --max-throttle
 * two rounds later, before the --timeout of 12 s. --max-throttle 40
 * keeps the guest dirtying: one throttled to 99% may well dirty nothing
 * in a round (it did, in 6.5 s on 6.1).
 */
TEST_F_TIMEOUT(precopy, throttled_then_timeout_aborts_cleanly, TEST_TIMEOUT)
{
	struct vmm_client c = { .fd = -1 };
	struct agents r;

	REQUIRE_BED();
	start_vmms(_metadata, self, "2", "--pattern hot --hot-pages 64");
	run_agents(&self->a, &self->b, 24510, "--timeout 60",
		   "--channels 2 --bandwidth 1 --max-downtime 1 --max-throttle 40 --timeout 12 --json",
		   60, &r);
	EXPECT_EQ(1, r.mig_ret) TH_LOG("kmig migrate: %s", r.mig_out);
	EXPECT_NE(NULL, strstr(r.mig_out, "aborted, the guest keeps running here"))
		TH_LOG("%s", r.mig_out);
	EXPECT_EQ(1, r.in_ret);
	EXPECT_NE(NULL, strstr(r.mig_out, "\"status\": \"failed\""));
	EXPECT_LE(20, json_u64(r.mig_out, "auto_converge_throttle"))
		TH_LOG("%s", r.mig_out);
	EXPECT_GE(40, json_u64(r.mig_out, "auto_converge_throttle"))
		TH_LOG("%s", r.mig_out);
	TH_LOG("throttled to %llu%% in %llu rounds before the timeout",
	       (unsigned long long)json_u64(r.mig_out, "auto_converge_throttle"),
	       (unsigned long long)json_u64(r.mig_out, "memory_iteration"));
	agents_free(&r);

	/* The source runs on, unthrottled; the destination never ran. */
	ASSERT_EQ(0, vmm_connect(&self->a, &c));
	ASSERT_EQ(0, vmm_client_cmd(&c, "status"));
	EXPECT_NE(NULL, strstr(c.reply, " throttle=0 ")) TH_LOG("%s", c.reply);
	vmm_client_close(&c);
	vmm_expect_stayed(&self->a, &self->b);
}

/*
 * A guest dirtying four times faster than a 2 MiB/s link: auto-converge
 * throttles it until what is left fits the downtime target, and the
 * migration completes; the guest then runs unthrottled on the destination.
 */
TEST_F_TIMEOUT(precopy, throttling_lets_it_converge, TEST_TIMEOUT)
{
	struct vmm_client c = { .fd = -1 };
	struct vmm_status st;
	struct agents r;

	REQUIRE_BED();
	start_vmms(_metadata, self, "4", "--pattern random --rate 2048");
	run_agents(&self->a, &self->b, 24511, "--timeout 60",
		   "--bandwidth 2 --timeout 100 --json", 110, &r);
	EXPECT_EQ(0, r.mig_ret) TH_LOG("%s", r.mig_out);
	EXPECT_EQ(0, r.in_ret) TH_LOG("%s", r.in_out);
	EXPECT_NE(NULL, strstr(r.mig_out, "\"status\": \"completed\""));
	EXPECT_LE(20, json_u64(r.mig_out, "auto_converge_throttle"))
		TH_LOG("%s", r.mig_out);
	TH_LOG("converged at %llu%% throttle after %llu rounds, %llu ms, downtime %llu ms",
	       (unsigned long long)json_u64(r.mig_out, "auto_converge_throttle"),
	       (unsigned long long)json_u64(r.mig_out, "memory_iteration"),
	       (unsigned long long)json_u64(r.mig_out, "time_elapsed"),
	       (unsigned long long)json_u64(r.mig_out, "downtime"));
	agents_free(&r);

	/* The guest goes on at the destination, unthrottled. */
	ASSERT_EQ(0, vmm_connect(&self->b, &c));
	ASSERT_EQ(0, vmm_client_cmd(&c, "status"));
	EXPECT_NE(NULL, strstr(c.reply, " throttle=0 ")) TH_LOG("%s", c.reply);
	vmm_client_close(&c);
	vmm_wait_counter(&self->b, 0, &st);
	EXPECT_STREQ("running", st.state);
}

/*
 * A round that lasts twice --io-timeout: the page channels are busy all
 * along, the main channel says PING, and the destination waits.
 */
TEST_F_TIMEOUT(precopy, round_longer_than_io_timeout, TEST_TIMEOUT)
{
	struct vmm_client c = { .fd = -1 };
	struct vmm_status st;
	struct agents r;

	REQUIRE_BED();
	/* 10 MiB written once, then left alone: round 0 is all of it. */
	start_vmms(_metadata, self, "10", "--pattern seq --rate 8000");
	ASSERT_EQ(0, vmm_wait_written(self->a.sock, PROC_WAIT_MS, &st))
		TH_LOG("%llu of %u pages written", (unsigned long long)st.writes,
		       st.ws_pages);
	ASSERT_EQ(0, vmm_connect(&self->a, &c));
	ASSERT_EQ(0, vmm_client_cmd(&c, "pattern none"));
	vmm_client_close(&c);
	run_agents(&self->a, &self->b, 24520, "--timeout 60 --io-timeout 2",
		   "--channels 2 --bandwidth 2 --io-timeout 2 --timeout 60 --json",
		   80, &r);
	EXPECT_EQ(0, r.mig_ret) TH_LOG("kmig migrate: %s", r.mig_out);
	EXPECT_EQ(0, r.in_ret) TH_LOG("kmig incoming: %s", r.in_out);
	/* 9 MiB at 2 MiB/s, more than 3 s: longer than the 2 s allowed */
	EXPECT_LT(3000, json_u64(r.mig_out, "time_elapsed"))
		TH_LOG("%s", r.mig_out);
	agents_free(&r);
}

/*
 * An idle guest on huge, KVM-logged slots goes over once. KVM starts its
 * log with every page dirty (KVM_DIRTY_LOG_INITIALLY_SET), pages round 0
 * sends anyway: a source that took that first log for round 1 sent the
 * whole guest twice (4 MiB guest: 1024 pages, then 1024 again).
 */
TEST_F_TIMEOUT(precopy, idle_kvm_log_guest_goes_once, TEST_TIMEOUT)
{
	struct vmm_status st;
	struct agents r;
	uint64_t sent;

	REQUIRE_BED();
	vmm_startf(&self->a, vmm_sock("mig-ca"), "/dev/null",
		   "--mem 4 --huge --pattern none");
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("mig-cb"), "/dev/null",
		   "--mem 4 --huge --incoming");
	run_agents(&self->a, &self->b, 24523, "--timeout 60",
		   "--timeout 60 --json", 80, &r);
	EXPECT_EQ(0, r.mig_ret) TH_LOG("kmig migrate: %s", r.mig_out);
	EXPECT_EQ(0, r.in_ret) TH_LOG("kmig incoming: %s", r.in_out);
	sent = json_u64(r.mig_out, "memory_normal") +
	       json_u64(r.mig_out, "memory_constant");
	EXPECT_LE(1024, sent) TH_LOG("%s", r.mig_out);
	/* a few pages the idle guest still writes (its counters) */
	EXPECT_GT(1024 + 128, sent) TH_LOG("%s", r.mig_out);
	TH_LOG("%llu pages sent in %llu rounds",
	       (unsigned long long)sent,
	       (unsigned long long)json_u64(r.mig_out, "memory_iteration"));
	agents_free(&r);
}

/* Say a valid hello of channel 1 of 2 of some migration on @fd. */
static int stray_hello(int fd)
{
	struct kmig_hello h = { .channel = 1, .nchannels = 2 };
	uint8_t hello[KMIG_HELLO_SIZE];

	memset(h.uuid, 0x5a, sizeof(h.uuid));
	if (kmig_hello_encode(&h, hello) ||
	    send(fd, hello, sizeof(hello), MSG_NOSIGNAL) != sizeof(hello))
		return -EIO;
	return 0;
}

/*
 * While `kmig incoming` waits, a port scan, 64 junk bytes, a connection
 * that stays silent and the hello of a page channel come before the real
 * source: each is turned away and logged (the page channel once the main
 * channel shows it is of another migration), and the migration goes through.
 * The source's --io-timeout of 3 s is shorter than the silent
 * connection's hello deadline: a destination stuck on it would not say
 * PING in time.
 */
TEST_F_TIMEOUT(precopy, strangers_are_turned_away, TEST_TIMEOUT)
{
	const char *const says[] = {
		"kmig incoming: rejected a connection from 127.0.0.1:",
		"closed before its hello",
		"bad magic",
		"channel 1 of 2 of another migration", NULL };
	uint8_t junk[64];
	struct vmm_status st;
	int scan, bad, silent, early;
	struct agents r;
	unsigned int i;

	REQUIRE_BED();
	start_vmms(_metadata, self, "4", "--pattern random --rate 256");
	agents_listen(&r, &self->b, "127.0.0.1:24530",
		      "--timeout 60 --io-timeout 30");
	memset(junk, 0xee, sizeof(junk));
	scan = proc_connect(24530);
	ASSERT_LE(0, scan);
	close(scan);
	bad = proc_connect(24530);
	ASSERT_LE(0, bad);
	ASSERT_EQ(sizeof(junk), send(bad, junk, sizeof(junk), MSG_NOSIGNAL));
	silent = proc_connect(24530);
	ASSERT_LE(0, silent);
	early = proc_connect(24530);
	ASSERT_LE(0, early);
	ASSERT_EQ(0, stray_hello(early));
	agents_migrate(&r, &self->a, "127.0.0.1:24530",
		       "--channels 2 --io-timeout 3 --timeout 60", 60);
	EXPECT_EQ(0, r.mig_ret) TH_LOG("kmig migrate: %s", r.mig_out);
	EXPECT_EQ(0, r.in_ret) TH_LOG("kmig incoming: %s", r.in_out);
	for (i = 0; says[i]; i++)
		EXPECT_NE(NULL, strstr(r.in_out, says[i]))
			TH_LOG("kmig incoming did not say '%s': %s", says[i],
			       r.in_out);
	agents_free(&r);
	close(bad);
	close(silent);
	close(early);
	vmm_wait_counter(&self->b, 0, &st);
	EXPECT_STREQ("running", st.state);
}

/* Over IPv6: [::1], with page channels. */
TEST_F_TIMEOUT(precopy, over_ipv6, TEST_TIMEOUT)
{
	struct vmm_status st;
	struct agents r;

	REQUIRE_BED();
	start_vmms(_metadata, self, "4", "--pattern random --rate 256");
	agents_listen(&r, &self->b, "[::1]:24531", "--timeout 60");
	agents_migrate(&r, &self->a, "[::1]:24531",
		       "--channels 2 --timeout 60 --json", 60);
	EXPECT_EQ(0, r.mig_ret) TH_LOG("kmig migrate: %s", r.mig_out);
	EXPECT_EQ(0, r.in_ret) TH_LOG("kmig incoming: %s", r.in_out);
	EXPECT_NE(NULL, strstr(r.mig_out, "\"status\": \"completed\""));
	agents_free(&r);
	vmm_wait_counter(&self->b, 0, &st);
	EXPECT_STREQ("running", st.state);
}

TEST_HARNESS_MAIN
