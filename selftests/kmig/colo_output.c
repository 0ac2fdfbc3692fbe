// SPDX-License-Identifier: GPL-2.0
/*
 * COLO's output commit (Documentation/colo.rst, "Output commit"): the
 * primary's guest sends numbered frames (kmig-vmm's network device) out
 * of a veth whose root qdisc `kmig colo primary --output` plugs; an
 * observer at the far end records each frame with its receive time.
 *
 *   kmig-vmm A --net-if kmo-p0 ==veth== kmo-p1  \
 *                                                observer (AF_PACKET)
 *   kmig-vmm B --net-if kmo-s0 ==veth== kmo-s1  /
 *   (B started --incoming --net-off: the secondary's)
 *
 * Checked: no frame is seen before the ACK of the checkpoint whose pause
 * covers it; with the primary agent stopped before an ACK, nothing new
 * leaves; a failover continues the sequence numbers with no duplicate
 * and no gap, and the secondary sends nothing before it takes over.
 *
 * Times are CLOCK_MONOTONIC: the agent logs them; the observer
 * (lib/netobs.c) takes the kernel's receive time stamp and shifts it
 * from CLOCK_REALTIME.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "client.h"
#include "colo_check.h"
#include "kvm.h"
#include "netobs.h"
#include "proc.h"
#include "util.h"

#define TEST_TIMEOUT	240
#define VMM_ARGS	"--mem 8 --slots 2 --vcpus 1 --pattern random --rate 2000"
#define MAX_CKPTS	256

/* What the primary agent logged of checkpoint N. */
struct ckpt {
	bool held, released;
	uint64_t sent, seq;		/* at the pause */
	int64_t held_t, ack_t, rel_t;
};

FIXTURE(colo_out) {
	struct vmm_proc a, b;
	pid_t pri, sec;
	char pri_log[64], sec_log[64];
	struct netobs obs;
	struct ckpt c[MAX_CKPTS];
	unsigned int nc;
	uint64_t plugged_seq;		/* guest seq once the plug was in */
};

FIXTURE_SETUP(colo_out)
{
	memset(self, 0, sizeof(*self));
	self->obs.fd[SIDE_P] = self->obs.fd[SIDE_S] = -1;
	snprintf(self->pri_log, sizeof(self->pri_log),
		 "/dev/shm/colo-out-%d.pri", getpid());
	snprintf(self->sec_log, sizeof(self->sec_log),
		 "/dev/shm/colo-out-%d.sec", getpid());
}

FIXTURE_TEARDOWN(colo_out)
{
	netobs_stop(&self->obs);
	proc_stop(&self->pri);
	proc_stop(&self->sec);
	vmm_stop(&self->a);
	vmm_stop(&self->b);
	unlink(self->pri_log);
	unlink(self->sec_log);
}

/*
 * In this test's own network namespace: the two veth pairs, the
 * observer on their far ends, the primary's VMM (guest running, frames
 * on) and the secondary's (incoming, frames off). No IPv6 on the veths:
 * the kernel's own neighbour discovery would be output in the plug too.
 */
static void start(struct __test_metadata *_metadata,
		  FIXTURE_DATA(colo_out) *self)
{
	struct vmm_status st;

	ASSERT_EQ(0, system("ip link add kmo-p0 type veth peer name kmo-p1 && "
			    "ip link add kmo-s0 type veth peer name kmo-s1 && "
			    "for i in kmo-p0 kmo-p1 kmo-s0 kmo-s1; do "
			    "c=/proc/sys/net/ipv6/conf/$i/disable_ipv6; "
			    "{ [ ! -e $c ] || echo 1 > $c; } && "
			    "ip link set $i up || exit 1; done"));
	ASSERT_EQ(0, netobs_start(&self->obs, "kmo-p1", "kmo-s1"));

	vmm_startf(&self->a, vmm_sock("colo-out-a"), "/dev/null",
		   "%s --net-if kmo-p0", VMM_ARGS);
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("colo-out-b"), "/dev/null",
		   "%s --incoming --net-if kmo-s0 --net-off", VMM_ARGS);
}

static void start_agents(FIXTURE_DATA(colo_out) *self, unsigned int port,
			 const char *pri_args)
{
	self->sec = proc_spawnf(NULL, self->sec_log,
				"%s colo secondary --vmm %s --listen 127.0.0.1:%u --timeout 30 --heartbeat-timeout 30000",
				proc_bin("kmig"), self->b.sock, port);
	self->pri = proc_spawnf(NULL, self->pri_log,
				"%s colo primary --vmm %s --to 127.0.0.1:%u --output kmo-p0 --timeout 30 --heartbeat-timeout 30000 %s",
				proc_bin("kmig"), self->a.sock, port, pri_args);
}

/* start() and start_agents(), the primary agent stopped at @point. */
static void start_stopped(struct __test_metadata *_metadata,
			  FIXTURE_DATA(colo_out) *self, const char *point,
			  unsigned int port, const char *pri_args)
{
	int status;

	start(_metadata, self);
	setenv("KMIG_STOP_AT", point, 1);
	start_agents(self, port, pri_args);
	unsetenv("KMIG_STOP_AT");
	ASSERT_TRUE(proc_stopped(self->pri, &status, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->pri_log));
}

/* The primary agent's "output held" and "output released" lines. */
static void read_ckpts(FIXTURE_DATA(colo_out) *self)
{
	unsigned long long n, a, b, c;
	char *t, *p, *nl;
	size_t len;

	memset(self->c, 0, sizeof(self->c));
	self->nc = 0;
	self->plugged_seq = ~0ull;
	t = file_read(self->pri_log, &len);
	for (p = t; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (sscanf(p, "kmig colo primary: output on kmo-p0 held from now on, guest seq %llu",
			   &n) == 1)
			self->plugged_seq = n;
		else if (sscanf(p, "kmig colo primary: checkpoint %llu: output held at %llu ns, frames sent %llu, guest seq %llu",
			   &n, &a, &b, &c) == 4 && n < MAX_CKPTS) {
			self->c[n].held = true;
			self->c[n].held_t = a;
			self->c[n].sent = b;
			self->c[n].seq = c;
			if (n + 1 > self->nc)
				self->nc = n + 1;
		} else if (sscanf(p, "kmig colo primary: checkpoint %llu: output released, acked at %llu ns, released at %llu ns",
				  &n, &a, &b) == 3 && n < MAX_CKPTS) {
			self->c[n].released = true;
			self->c[n].ack_t = a;
			self->c[n].rel_t = b;
		}
	}
	free(t);
}

/* The first checkpoint whose pause came after frame @seq was built. */
static int covering(FIXTURE_DATA(colo_out) *self, uint64_t seq)
{
	unsigned int i;

	for (i = 0; i < self->nc; i++)
		if (self->c[i].held && self->c[i].seq >= seq)
			return i;
	return -1;
}

/*
 * Every frame the primary's side showed: numbered 1, 2, ... with no gap
 * and no repeat (the agent pauses the guest while it installs the plug,
 * so none is lost then), and each one built after the plug went in seen
 * after the ACK of the checkpoint covering it. The count of those in
 * *@n, the last number in *@last; logs what was measured.
 */
static void check_primary(struct __test_metadata *_metadata,
			  FIXTURE_DATA(colo_out) *self, unsigned int *n,
			  uint64_t *last)
{
	struct netobs *o = &self->obs;
	int64_t lat, lat_sum = 0, lat_max = 0, lat_min = INT64_MAX;
	unsigned int i, early = 0, epochs = 0;
	int k, last_k = -1;

	read_ckpts(self);
	ASSERT_NE(~0ull, self->plugged_seq)
		TH_LOG("%s", file_text(self->pri_log));
	*n = 0;
	*last = 0;
	pthread_mutex_lock(&o->lock);
	for (i = 0; i < o->n; i++) {
		struct netobs_frame *f = &o->f[i];

		if (f->side != SIDE_P)
			continue;
		EXPECT_EQ(*last + 1, f->seq) TH_LOG("after frame %llu",
						    (unsigned long long)*last);
		*last = f->seq;
		if (f->seq <= self->plugged_seq)
			continue;
		(*n)++;
		k = covering(self, f->seq);
		if (k < 0 || !self->c[k].released || f->t < self->c[k].ack_t) {
			early++;
			TH_LOG("frame %llu seen at %lld ns, its checkpoint %d %s at %lld ns",
			       (unsigned long long)f->seq, (long long)f->t, k,
			       k >= 0 && self->c[k].released ? "acked" : "never acked",
			       k >= 0 ? (long long)self->c[k].ack_t : 0ll);
			continue;
		}
		if (k == last_k)
			continue;
		/* the first frame of an epoch */
		lat = f->t - self->c[k].ack_t;
		lat_sum += lat;
		lat_max = lat > lat_max ? lat : lat_max;
		lat_min = lat < lat_min ? lat : lat_min;
		epochs++;
		last_k = k;
	}
	pthread_mutex_unlock(&o->lock);
	EXPECT_EQ(0, early);
	EXPECT_LT(0, *n);
	if (epochs)
		TH_LOG("frames %llu..%llu built with the plug in, over %u checkpoints: %.1f held per checkpoint; first frame of an epoch seen after its ACK: min %.3f, mean %.3f, max %.3f ms",
		       (unsigned long long)self->plugged_seq + 1,
		       (unsigned long long)*last, self->nc,
		       (double)*n / self->nc, lat_min / 1e6,
		       lat_sum / 1e6 / epochs, lat_max / 1e6);
}

/*
 * The last frame seen is the last one the guest built before pause @k,
 * or the one before it: a frame built and not yet sent at the pause
 * belongs to the next checkpoint.
 */
static bool last_of(FIXTURE_DATA(colo_out) *self, unsigned int k,
		    uint64_t last)
{
	return self->c[k].seq == last || self->c[k].seq == last + 1;
}

/* The agent's own release latency (ACK read to release_one done). */
static void log_release(struct __test_metadata *_metadata,
			FIXTURE_DATA(colo_out) *self)
{
	int64_t sum = 0, max = 0, d;
	unsigned int i, n = 0;

	for (i = 0; i < self->nc; i++) {
		if (!self->c[i].released)
			continue;
		d = self->c[i].rel_t - self->c[i].ack_t;
		sum += d;
		max = d > max ? d : max;
		n++;
	}
	if (n)
		TH_LOG("release_one after the ACK: mean %.3f ms, max %.3f ms over %u checkpoints",
		       sum / 1e6 / n, max / 1e6, n);
}

/*
 * 15 checkpoints of a guest sending about 31 frames a second: each
 * checkpoint's frames appear only after its ACK, all of them, in order.
 */
TEST_F_TIMEOUT(colo_out, held_until_commit, TEST_TIMEOUT)
{
	unsigned int n;
	uint64_t last;

	REQUIRE_BED();
	start(_metadata, self);
	start_agents(self, 24611, "--checkpoints 15 --checkpoint-ms 200");
	ASSERT_EQ(0, proc_wait_exit(self->pri, 180000))
		TH_LOG("%s", file_text(self->pri_log));
	self->pri = 0;
	ASSERT_EQ(0, proc_wait_exit(self->sec, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->sec_log));
	self->sec = 0;
	usleep(300 * 1000);
	check_primary(_metadata, self, &n, &last);
	ASSERT_EQ(16, self->nc) TH_LOG("%s", file_text(self->pri_log));
	/* Every frame up to the last pause, where the guest stays. */
	EXPECT_TRUE(last_of(self, 15, last))
		TH_LOG("last frame seen %llu, guest seq at the last pause %llu",
		       (unsigned long long)last,
		       (unsigned long long)self->c[15].seq);
	EXPECT_EQ(0, netobs_seen(&self->obs, SIDE_S));
	log_release(_metadata, self);
}

/*
 * The primary agent stopped with checkpoint 6 sent and its ACK not read:
 * its guest goes on sending, nothing leaves; once it goes on, all of it
 * does, in order.
 */
TEST_F_TIMEOUT(colo_out, stopped_before_ack, TEST_TIMEOUT)
{
	unsigned int n0, n;
	uint64_t last;

	REQUIRE_BED();
	start_stopped(_metadata, self, "colo-before-ack-6", 24612,
		      "--checkpoints 9 --checkpoint-ms 200");
	usleep(200 * 1000);
	n0 = netobs_seen(&self->obs, SIDE_P);
	sleep(2);
	EXPECT_EQ(n0, netobs_seen(&self->obs, SIDE_P));
	kill(self->pri, SIGCONT);
	ASSERT_EQ(0, proc_wait_exit(self->pri, 180000))
		TH_LOG("%s", file_text(self->pri_log));
	self->pri = 0;
	usleep(300 * 1000);
	check_primary(_metadata, self, &n, &last);
	ASSERT_EQ(10, self->nc);
	EXPECT_TRUE(last_of(self, 9, last));
	/* The guest did send while the agent was stopped: checkpoint 7
	 * carries the 2 s of it, held until its ACK. */
	EXPECT_LE(self->c[6].seq + 10, self->c[7].seq);
	TH_LOG("held while the agent was stopped: frames %llu..%llu",
	       (unsigned long long)self->c[6].seq + 1,
	       (unsigned long long)self->c[7].seq);
}

/*
 * The primary agent killed after checkpoint 6's output was released,
 * before the next pause: the secondary takes over at checkpoint 6, and
 * its guest's frames follow the last one released with no gap and no
 * repeat (those of the epoch after 6 stay held at the dead primary).
 * Before the takeover the secondary's side shows nothing.
 */
TEST_F_TIMEOUT(colo_out, failover_continues, TEST_TIMEOUT)
{
	struct netobs *o = &self->obs;
	unsigned int i, n, ns = 0;
	uint64_t last, next;

	REQUIRE_BED();
	start_stopped(_metadata, self, "colo-released-6", 24613,
		      "--checkpoint-ms 200");
	usleep(300 * 1000);
	EXPECT_EQ(0, netobs_seen(o, SIDE_S));
	proc_stop(&self->pri);
	ASSERT_EQ(0, proc_wait_exit(self->sec, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->sec_log));
	self->sec = 0;
	EXPECT_TRUE(file_has(self->sec_log, "takeover at checkpoint 6,"))
		TH_LOG("%s", file_text(self->sec_log));
	for (i = 0; i < PROC_WAIT_MS / 100 && netobs_seen(o, SIDE_S) < 10; i++)
		usleep(100 * 1000);
	check_primary(_metadata, self, &n, &last);
	EXPECT_TRUE(last_of(self, 6, last))
		TH_LOG("last frame seen %llu, guest seq at pause 6 %llu",
		       (unsigned long long)last,
		       (unsigned long long)self->c[6].seq);

	next = last + 1;
	pthread_mutex_lock(&o->lock);
	for (i = 0; i < o->n; i++) {
		if (o->f[i].side != SIDE_S)
			continue;
		EXPECT_EQ(next, o->f[i].seq) TH_LOG("secondary's frame #%u", ns);
		next = o->f[i].seq + 1;
		ns++;
	}
	pthread_mutex_unlock(&o->lock);
	EXPECT_LE(10, ns);
	TH_LOG("primary's side: frames up to %llu; the secondary's after its takeover: %u frames from %llu on",
	       (unsigned long long)last, ns, (unsigned long long)last + 1);
}

/* Frames of @side numbered on from @from + 1 with no gap: how many. */
static unsigned int contiguous(struct __test_metadata *_metadata,
			       struct netobs *o, int side, uint64_t from)
{
	unsigned int i, n = 0;
	uint64_t next = from + 1;

	pthread_mutex_lock(&o->lock);
	for (i = 0; i < o->n; i++) {
		if (o->f[i].side != side || o->f[i].seq <= from)
			continue;
		EXPECT_EQ(next, o->f[i].seq) TH_LOG("frame #%u after %llu", n,
						    (unsigned long long)from);
		next = o->f[i].seq + 1;
		n++;
	}
	pthread_mutex_unlock(&o->lock);
	return n;
}

/*
 * The primary's VMM killed in the epoch after checkpoint 6, its agent
 * held there (KMIG_STOP_AT=colo-released-6) so that the guest's frames of
 * that epoch are in the plug: they were never covered by a checkpoint and
 * must never leave, since the secondary, taking over at checkpoint 6,
 * sends the same numbers again. The primary agent says its guest is
 * lost; the secondary's frames follow the last one released with no gap
 * and no repeat.
 */
TEST_F_TIMEOUT(colo_out, primary_vmm_killed, TEST_TIMEOUT)
{
	struct netobs *o = &self->obs;
	unsigned int i, n, held;
	uint64_t last;

	REQUIRE_BED();
	start_stopped(_metadata, self, "colo-released-6", 24629,
		      "--checkpoint-ms 200");
	/* about 31 frames a second into the plug */
	usleep(500 * 1000);
	held = netobs_seen(o, SIDE_P);
	EXPECT_EQ(0, colo_kill_primary_vmm(&self->a, &self->pri,
					   self->pri_log));
	EXPECT_FALSE(file_has(self->pri_log, "released: no longer held"))
		TH_LOG("%s", file_text(self->pri_log));
	ASSERT_EQ(0, proc_wait_exit(self->sec, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->sec_log));
	self->sec = 0;
	EXPECT_TRUE(file_has(self->sec_log, "takeover at checkpoint 6,"))
		TH_LOG("%s", file_text(self->sec_log));
	for (i = 0; i < PROC_WAIT_MS / 100 && netobs_seen(o, SIDE_S) < 10; i++)
		usleep(100 * 1000);
	EXPECT_EQ(held, netobs_seen(o, SIDE_P));
	check_primary(_metadata, self, &n, &last);
	EXPECT_TRUE(last_of(self, 6, last))
		TH_LOG("last frame seen %llu, guest seq at pause 6 %llu",
		       (unsigned long long)last,
		       (unsigned long long)self->c[6].seq);
	EXPECT_LE(10, contiguous(_metadata, o, SIDE_S, last));
}

/* Whether IFACE's qdiscs, as tc shows them, name @kind. */
static bool has_qdisc(const char *iface, const char *kind)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "tc qdisc show dev %s | grep -qw %s",
		 iface, kind);
	return !system(cmd);
}

/* Wait until the primary agent logged checkpoint @seq as committed. */
static bool wait_committed(FIXTURE_DATA(colo_out) *self, unsigned int seq)
{
	char needle[48];
	int i;

	snprintf(needle, sizeof(needle), "checkpoint %u committed", seq);
	for (i = 0; i < PROC_WAIT_MS / 100; i++) {
		if (file_has(self->pri_log, needle))
			return true;
		usleep(100 * 1000);
	}
	return false;
}

/*
 * The primary agent is gone and its plug with it (the guest paused
 * meanwhile): the guest's frames flow on, at least 10 more, all numbered
 * from 1 without a gap.
 */
static void flows_on(struct __test_metadata *_metadata,
		     FIXTURE_DATA(colo_out) *self)
{
	unsigned int n0, before;

	EXPECT_FALSE(has_qdisc("kmo-p0", "plug"));
	read_ckpts(self);
	ASSERT_NE(~0ull, self->plugged_seq);
	n0 = netobs_seen(&self->obs, SIDE_P);
	before = contiguous(_metadata, &self->obs, SIDE_P, 0);
	EXPECT_TRUE(netobs_wait_seen(&self->obs, SIDE_P, n0 + 10, PROC_WAIT_MS));
	EXPECT_LE(before + 10, contiguous(_metadata, &self->obs, SIDE_P, 0));
}

/*
 * The secondary killed: the primary releases everything, says its guest
 * runs unprotected and exits 1; the frames flow on, numbered on, and
 * the interface has its default root qdisc back.
 */
TEST_F_TIMEOUT(colo_out, secondary_lost, TEST_TIMEOUT)
{
	REQUIRE_BED();
	start(_metadata, self);
	start_agents(self, 24614, "--checkpoint-ms 200");
	ASSERT_TRUE(wait_committed(self, 4))
		TH_LOG("%s", file_text(self->pri_log));
	EXPECT_TRUE(has_qdisc("kmo-p0", "plug"));
	proc_stop(&self->sec);
	EXPECT_EQ(1, proc_wait_exit(self->pri, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->pri_log));
	self->pri = 0;
	EXPECT_TRUE(file_has(self->pri_log, "output on kmo-p0 released: no longer held"))
		TH_LOG("%s", file_text(self->pri_log));
	flows_on(_metadata, self);
}

/*
 * The primary agent stopped by SIGTERM: it finishes the checkpoint under
 * way, tells the secondary (which does not take over), releases the
 * output and removes the plug; the guest runs on, its frames flow on.
 */
TEST_F_TIMEOUT(colo_out, stopped_by_signal, TEST_TIMEOUT)
{
	REQUIRE_BED();
	start(_metadata, self);
	start_agents(self, 24616, "--checkpoint-ms 200");
	ASSERT_TRUE(wait_committed(self, 3))
		TH_LOG("%s", file_text(self->pri_log));
	kill(self->pri, SIGTERM);
	EXPECT_EQ(0, proc_wait_exit(self->pri, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->pri_log));
	self->pri = 0;
	EXPECT_TRUE(file_has(self->pri_log, "stopped by SIGTERM after checkpoint"))
		TH_LOG("%s", file_text(self->pri_log));
	EXPECT_EQ(0, proc_wait_exit(self->sec, PROC_WAIT_MS));
	self->sec = 0;
	EXPECT_TRUE(file_has(self->sec_log, "the guest stays paused here"))
		TH_LOG("%s", file_text(self->sec_log));
	flows_on(_metadata, self);
	EXPECT_EQ(0, netobs_seen(&self->obs, SIDE_S));
}

/*
 * A primary agent with --output @iface, alone: its exit status, and
 * whether its log says @why.
 */
static int refused(FIXTURE_DATA(colo_out) *self, const char *iface,
		   const char *why)
{
	int ret;

	self->pri = proc_spawnf(NULL, self->pri_log,
				"%s colo primary --vmm %s --to 127.0.0.1:24615 --output %s",
				proc_bin("kmig"), self->a.sock, iface);
	ret = proc_wait_exit(self->pri, PROC_WAIT_MS);
	self->pri = 0;
	return ret == 1 && file_has(self->pri_log, why) ? 0 : -1;
}

/*
 * --output refused, the guest left alone: an interface that does not
 * exist, and one whose root qdisc is someone else's (it stays).
 */
TEST_F_TIMEOUT(colo_out, output_refused, TEST_TIMEOUT)
{
	struct vmm_status st;

	REQUIRE_BED();
	start(_metadata, self);
	EXPECT_EQ(0, refused(self, "kmo-nosuch", "kmo-nosuch: no such interface"))
		TH_LOG("%s", file_text(self->pri_log));
	ASSERT_EQ(0, system("tc qdisc add dev kmo-p0 root handle 1: pfifo"));
	EXPECT_EQ(0, refused(self, "kmo-p0", "kmo-p0: has a root qdisc of its own"))
		TH_LOG("%s", file_text(self->pri_log));
	EXPECT_TRUE(has_qdisc("kmo-p0", "pfifo"));
	ASSERT_EQ(0, vmm_status(&self->a, &st));
	EXPECT_STREQ("running", st.state);
}

/*
 * kmig-vmm's device: started --net-off it sends nothing and counts the
 * frames it drops; `net on` lets them out. A VMM without a device
 * refuses `net on`; `net` wants on or off.
 */
/*
 * A period of 5 s, but a checkpoint comes once output has waited 20 ms
 * (--output-wait-ms): the guest sends about 31 frames a second, so each
 * checkpoint after the first comes early, the 12 of them in seconds, not
 * a minute; every frame still leaves only after its checkpoint's ACK.
 */
TEST_F_TIMEOUT(colo_out, early_checkpoint_when_output_waits, TEST_TIMEOUT)
{
	unsigned int n;
	uint64_t last, t0, ms;

	REQUIRE_BED();
	start(_metadata, self);
	t0 = kmig_now_ns();
	start_agents(self, 24617,
		     "--checkpoints 12 --checkpoint-ms 5000 --output-wait-ms 20");
	ASSERT_EQ(0, proc_wait_exit(self->pri, 120000))
		TH_LOG("%s", file_text(self->pri_log));
	self->pri = 0;
	ms = (kmig_now_ns() - t0) / 1000000;
	ASSERT_EQ(0, proc_wait_exit(self->sec, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->sec_log));
	self->sec = 0;
	TH_LOG("13 checkpoints in %llu ms", (unsigned long long)ms);
	EXPECT_EQ(12, file_count(self->pri_log, ", early: output waiting\n"))
		TH_LOG("%s", file_text(self->pri_log));
	EXPECT_GT(40000, ms);
	usleep(300 * 1000);
	check_primary(_metadata, self, &n, &last);
	ASSERT_EQ(13, self->nc);
	EXPECT_TRUE(last_of(self, 12, last));
}

/* The same with the guest's output off: nothing waits, nothing early. */
TEST_F_TIMEOUT(colo_out, no_output_no_early_checkpoint, TEST_TIMEOUT)
{
	struct vmm_client c;
	uint64_t t0, ms;

	REQUIRE_BED();
	start(_metadata, self);
	ASSERT_EQ(0, vmm_connect(&self->a, &c));
	EXPECT_EQ(0, vmm_client_cmd(&c, "net off")) TH_LOG("%s", c.reply);
	vmm_client_close(&c);
	t0 = kmig_now_ns();
	start_agents(self, 24618,
		     "--checkpoints 2 --checkpoint-ms 1000 --output-wait-ms 20");
	ASSERT_EQ(0, proc_wait_exit(self->pri, 120000))
		TH_LOG("%s", file_text(self->pri_log));
	self->pri = 0;
	ms = (kmig_now_ns() - t0) / 1000000;
	EXPECT_EQ(0, file_count(self->pri_log, "early"))
		TH_LOG("%s", file_text(self->pri_log));
	EXPECT_LE(2000, ms);
}

TEST_F_TIMEOUT(colo_out, vmm_net_off_on, TEST_TIMEOUT)
{
	struct vmm_client c;
	struct vmm_status st;

	REQUIRE_BED();
	ASSERT_EQ(0, system("ip link add kmo-p0 type veth peer name kmo-p1 && "
			    "ip link set kmo-p0 up && ip link set kmo-p1 up"));
	ASSERT_EQ(0, netobs_start(&self->obs, "kmo-p1", NULL));
	vmm_startf(&self->a, vmm_sock("colo-out-a"), "/dev/null",
		   "%s --net-if kmo-p0 --net-off", VMM_ARGS);
	vmm_startf(&self->b, vmm_sock("colo-out-b"), "/dev/null", "%s",
		   VMM_ARGS);
	vmm_wait_counter(&self->a, 0, &st);
	sleep(1);
	ASSERT_EQ(0, vmm_status(&self->a, &st));
	EXPECT_EQ(0, st.net_sent);
	EXPECT_LT(10, st.net_dropped);
	EXPECT_EQ(0, netobs_seen(&self->obs, SIDE_P));

	ASSERT_EQ(0, vmm_connect(&self->a, &c));
	EXPECT_EQ(-EINVAL, vmm_client_cmd(&c, "net up"));
	EXPECT_EQ(0, vmm_client_cmd(&c, "net on")) TH_LOG("%s", c.reply);
	vmm_client_close(&c);
	EXPECT_TRUE(netobs_wait_seen(&self->obs, SIDE_P, 10, PROC_WAIT_MS));
	ASSERT_EQ(0, vmm_status(&self->a, &st));
	EXPECT_LT(10, st.net_sent);
	/* every frame built is sent or dropped (the counters are read one
	 * by one while the guest runs: within 2) */
	EXPECT_GE(st.net_sent + st.net_dropped + 2, st.net_seq);
	EXPECT_LE(st.net_sent + st.net_dropped, st.net_seq + 2);

	ASSERT_EQ(0, vmm_connect(&self->b, &c));
	EXPECT_EQ(-ENODEV, vmm_client_cmd(&c, "net on"));
	EXPECT_NE(NULL, strstr(c.reply, "--net-if")) TH_LOG("%s", c.reply);
	vmm_client_close(&c);
}

TEST_HARNESS_MAIN
