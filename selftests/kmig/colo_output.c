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
 * Times are CLOCK_MONOTONIC: the agent logs them; the observer takes the
 * kernel's receive time stamp (SO_TIMESTAMPNS, CLOCK_REALTIME) and
 * shifts it by the offset between the two clocks taken at its start.
 */
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "client.h"
#include "kvm.h"
#include "proc.h"

#include "guest/abi.h"

#define TEST_TIMEOUT	240
#define VMM_ARGS	"--mem 8 --slots 2 --vcpus 1 --pattern random --rate 2000"
#define MAX_FRAMES	8192
#define MAX_CKPTS	256
#define NSEC		1000000000ll

enum { SIDE_P, SIDE_S, SIDES };

struct frame {
	int side;
	uint64_t seq;
	int64_t t;			/* received, CLOCK_MONOTONIC ns */
};

struct observer {
	int fd[SIDES];
	int64_t real_to_mono;
	pthread_t thread;
	bool running, stop;
	pthread_mutex_t lock;
	unsigned int n;
	struct frame f[MAX_FRAMES];
};

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
	struct observer obs;
	struct ckpt c[MAX_CKPTS];
	unsigned int nc;
	uint64_t plugged_seq;		/* guest seq once the plug was in */
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

static int observe_on(const char *ifname)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(GUEST_NET_ETHERTYPE),
		.sll_ifindex = if_nametoindex(ifname),
	};
	int fd, one = 1;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC,
		    htons(GUEST_NET_ETHERTYPE));
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one))) {
		close(fd);
		return -errno;
	}
	return fd;
}

static uint64_t le64(const uint8_t *b)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* One frame from @side's socket into the record. */
static void take(struct observer *o, int side)
{
	uint8_t buf[2048], cbuf[CMSG_SPACE(sizeof(struct timespec))];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	int64_t t = clock_ns(CLOCK_MONOTONIC);
	struct cmsghdr *c;
	struct timespec ts;
	ssize_t n;

	n = recvmsg(o->fd[side], &msg, MSG_DONTWAIT);
	if (n < 14 + (ssize_t)GUEST_NET_PAYLOAD ||
	    (uint32_t)le64(buf + 14) != GUEST_NET_MAGIC)
		return;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_TIMESTAMPNS)
			continue;
		memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		t = ts.tv_sec * NSEC + ts.tv_nsec + o->real_to_mono;
	}
	pthread_mutex_lock(&o->lock);
	if (o->n < MAX_FRAMES)
		o->f[o->n++] = (struct frame){
			.side = side, .seq = le64(buf + 22), .t = t,
		};
	pthread_mutex_unlock(&o->lock);
}

static void *observe(void *arg)
{
	struct observer *o = arg;
	struct pollfd p[SIDES];
	int i;

	for (i = 0; i < SIDES; i++)
		p[i] = (struct pollfd){ .fd = o->fd[i], .events = POLLIN };
	while (!__atomic_load_n(&o->stop, __ATOMIC_RELAXED)) {
		if (poll(p, SIDES, 50) <= 0)
			continue;
		for (i = 0; i < SIDES; i++)
			if (p[i].revents & POLLIN)
				take(o, i);
	}
	return NULL;
}

static unsigned int seen(struct observer *o, int side)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&o->lock);
	for (i = 0; i < o->n; i++)
		n += o->f[i].side == side;
	pthread_mutex_unlock(&o->lock);
	return n;
}

static void observer_stop(struct observer *o)
{
	int i;

	if (o->running) {
		__atomic_store_n(&o->stop, true, __ATOMIC_RELAXED);
		pthread_join(o->thread, NULL);
		o->running = false;
	}
	for (i = 0; i < SIDES; i++)
		if (o->fd[i] > 0)
			close(o->fd[i]);
	o->fd[SIDE_P] = o->fd[SIDE_S] = -1;
}

FIXTURE_SETUP(colo_out)
{
	memset(self, 0, sizeof(*self));
	self->obs.fd[SIDE_P] = self->obs.fd[SIDE_S] = -1;
	pthread_mutex_init(&self->obs.lock, NULL);
	snprintf(self->pri_log, sizeof(self->pri_log),
		 "/dev/shm/colo-out-%d.pri", getpid());
	snprintf(self->sec_log, sizeof(self->sec_log),
		 "/dev/shm/colo-out-%d.sec", getpid());
}

FIXTURE_TEARDOWN(colo_out)
{
	observer_stop(&self->obs);
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
 * on) and the secondary's (incoming, frames off).
 */
static void start(struct __test_metadata *_metadata,
		  FIXTURE_DATA(colo_out) *self)
{
	struct observer *o = &self->obs;
	struct vmm_status st;

	ASSERT_EQ(0, system("ip link add kmo-p0 type veth peer name kmo-p1 && "
			    "ip link add kmo-s0 type veth peer name kmo-s1 && "
			    "for i in kmo-p0 kmo-p1 kmo-s0 kmo-s1; do "
			    "ip link set $i up || exit 1; done"));
	o->fd[SIDE_P] = observe_on("kmo-p1");
	o->fd[SIDE_S] = observe_on("kmo-s1");
	ASSERT_LE(0, o->fd[SIDE_P]);
	ASSERT_LE(0, o->fd[SIDE_S]);
	o->real_to_mono = clock_ns(CLOCK_MONOTONIC) - clock_ns(CLOCK_REALTIME);
	ASSERT_EQ(0, pthread_create(&o->thread, NULL, observe, o));
	o->running = true;

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
				"%s colo secondary --vmm %s --listen 127.0.0.1:%u --timeout 30",
				proc_bin("kmig"), self->b.sock, port);
	self->pri = proc_spawnf(NULL, self->pri_log,
				"%s colo primary --vmm %s --to 127.0.0.1:%u --output kmo-p0 --timeout 30 %s",
				proc_bin("kmig"), self->a.sock, port, pri_args);
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
 * Every frame the primary's side showed that its guest built after the
 * plug went in: numbered on from the first such with no gap and no
 * repeat, each seen after the ACK of the checkpoint covering it. Those
 * built before may have left before it, or been lost while the qdisc
 * was being installed (the interface drops what it sends meanwhile).
 * Their count in *@n, the last number in *@last; logs what was
 * measured.
 */
static void check_primary(struct __test_metadata *_metadata,
			  FIXTURE_DATA(colo_out) *self, unsigned int *n,
			  uint64_t *last)
{
	struct observer *o = &self->obs;
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
		struct frame *f = &o->f[i];

		if (f->side != SIDE_P || f->seq <= self->plugged_seq)
			continue;
		EXPECT_EQ(*n ? *last + 1 : self->plugged_seq + 1, f->seq)
			TH_LOG("frame #%u", *n);
		(*n)++;
		*last = f->seq;
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
	EXPECT_EQ(0, seen(&self->obs, SIDE_S));
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
	int status;

	REQUIRE_BED();
	start(_metadata, self);
	setenv("KMIG_STOP_AT", "colo-before-ack-6", 1);
	start_agents(self, 24612, "--checkpoints 9 --checkpoint-ms 200");
	unsetenv("KMIG_STOP_AT");
	ASSERT_TRUE(proc_stopped(self->pri, &status, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->pri_log));
	usleep(200 * 1000);
	n0 = seen(&self->obs, SIDE_P);
	sleep(2);
	EXPECT_EQ(n0, seen(&self->obs, SIDE_P));
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
	struct observer *o = &self->obs;
	unsigned int i, n, ns = 0;
	uint64_t last, next;
	int status;

	REQUIRE_BED();
	start(_metadata, self);
	setenv("KMIG_STOP_AT", "colo-released-6", 1);
	start_agents(self, 24613, "--checkpoint-ms 200");
	unsetenv("KMIG_STOP_AT");
	ASSERT_TRUE(proc_stopped(self->pri, &status, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->pri_log));
	usleep(300 * 1000);
	EXPECT_EQ(0, seen(o, SIDE_S));
	proc_stop(&self->pri);
	ASSERT_EQ(0, proc_wait_exit(self->sec, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->sec_log));
	self->sec = 0;
	EXPECT_TRUE(file_has(self->sec_log, "takeover at checkpoint 6,"))
		TH_LOG("%s", file_text(self->sec_log));
	for (i = 0; i < PROC_WAIT_MS / 100 && seen(o, SIDE_S) < 10; i++)
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

TEST_HARNESS_MAIN
