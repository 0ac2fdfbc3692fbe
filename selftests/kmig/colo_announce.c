// SPDX-License-Identifier: GPL-2.0
/*
 * COLO's takeover moves the guest's network identity (Documentation/
 * colo.rst, "Failure"): both hosts' interfaces on one L2 segment, here a
 * bridge; the secondary, once it runs the guest, announces the guest's
 * MAC (kmig-vmm's `announce`: RARP frames from it), so the bridge learns
 * its new port and the traffic sent to the guest reaches the new host.
 *
 *   kmig-vmm A --net-if kma-p0 ==veth== kma-p1 --+
 *                                                 kma-br == kma-o1 ==veth== kma-o0
 *   kmig-vmm B --net-if kma-s0 ==veth== kma-s1 --+                  (observer)
 *   (B started --incoming --net-off: the secondary's)
 *
 * The observer on kma-o0 records the guest's frames (lib/netobs.c), sends
 * unicast probes to the guest's MAC, and listens for them on kma-p0 and
 * kma-s0, the hosts' ends; the bridge's forwarding database (as
 * `bridge fdb` shows it) says on which port it has the MAC.
 *
 * Checked: before the failover, the MAC on the primary's port and the
 * probes at the primary; after the takeover, the MAC on the secondary's
 * port within ANNOUNCE_BOUND_MS of the announce, the probes at the
 * secondary and none at the primary. With a guest that sends frames, the
 * sequence numbers go on without gap or repeat; with a silent one,
 * nothing but the announce can teach the bridge (without it, the entry
 * stays on the primary's port until it ages out, 300 s). And a precopy
 * migration's destination (`kmig incoming`) announces the same way.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "client.h"
#include "kvm.h"
#include "netobs.h"
#include "proc.h"
#include "util.h"

#define TEST_TIMEOUT	240
#define VMM_ARGS	"--mem 8 --slots 2 --vcpus 1 --pattern random --rate 2000"
/*
 * The MAC on the secondary's port at most this long after the announce
 * request was sent, as the test's poller (every 2 ms) sees it. The first
 * frame leaves, and the bridge learns from it, before the VMM answers;
 * on the loaded bed the answer itself was seen to take 176 ms and the
 * poller to see the move 263 ms after the request (12 ms when quiet).
 */
#define ANNOUNCE_BOUND_MS	1000
#define PROBE_ETHERTYPE	0x88b6u		/* IEEE 802 local experimental 2 */
#define PROBE_MAGIC	0x504d4b4bu	/* "KKMP" */
#define GUEST_MAC	"02:6d:6b:6d:67:00"

enum { PORT_NONE, PORT_P, PORT_S };

FIXTURE(colo_ann) {
	struct vmm_proc a, b;
	pid_t pri, sec;
	char pri_log[64], sec_log[64];
	struct netobs obs;
	int probe_out;			/* on kma-o0 */
	int probe_in[2];		/* on kma-p0 and kma-s0 */
	uint32_t probes;		/* sent so far */
	pthread_t fdb_thread;
	bool fdb_running, fdb_stop;
	int64_t fdb_moved;		/* CLOCK_MONOTONIC ns, 0: not yet */
};

FIXTURE_SETUP(colo_ann)
{
	memset(self, 0, sizeof(*self));
	self->obs.fd[SIDE_P] = self->obs.fd[SIDE_S] = -1;
	self->probe_out = self->probe_in[0] = self->probe_in[1] = -1;
	snprintf(self->pri_log, sizeof(self->pri_log),
		 "/dev/shm/colo-ann-%d.pri", getpid());
	snprintf(self->sec_log, sizeof(self->sec_log),
		 "/dev/shm/colo-ann-%d.sec", getpid());
}

FIXTURE_TEARDOWN(colo_ann)
{
	int i;

	if (self->fdb_running) {
		__atomic_store_n(&self->fdb_stop, true, __ATOMIC_RELAXED);
		pthread_join(self->fdb_thread, NULL);
	}
	netobs_stop(&self->obs);
	proc_stop(&self->pri);
	proc_stop(&self->sec);
	vmm_stop(&self->a);
	vmm_stop(&self->b);
	for (i = 0; i < 2; i++)
		if (self->probe_in[i] >= 0)
			close(self->probe_in[i]);
	if (self->probe_out >= 0)
		close(self->probe_out);
	unlink(self->pri_log);
	unlink(self->sec_log);
}

/*
 * Where kma-br forwards frames for the guest's MAC: PORT_P, PORT_S, or
 * PORT_NONE (not learned, or another port). Its forwarding database
 * from a dump of the AF_BRIDGE neighbours (what `bridge fdb` shows; the
 * test's sysfs is not of its network namespace).
 */
static int fdb_port(void)
{
	static const uint8_t mac[ETH_ALEN] = { 0x02, 0x6d, 0x6b, 0x6d, 0x67, 0x00 };
	struct {
		struct nlmsghdr nh;
		struct ndmsg ndm;
	} req = {
		.nh = {
			.nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETNEIGH,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.ndm = { .ndm_family = AF_BRIDGE },
	};
	int fd, n, len, ifindex = 0;
	uint8_t buf[16384];
	struct nlmsghdr *nh;
	struct rtattr *a;
	bool done = false;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0 || send(fd, &req, sizeof(req), 0) != sizeof(req))
		done = true;
	while (!done && (n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (unsigned int)n);
		     nh = NLMSG_NEXT(nh, n)) {
			struct ndmsg *ndm = NLMSG_DATA(nh);

			if (nh->nlmsg_type == NLMSG_DONE ||
			    nh->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			len = RTM_PAYLOAD(nh);
			for (a = RTM_RTA(ndm); RTA_OK(a, len); a = RTA_NEXT(a, len))
				if (a->rta_type == NDA_LLADDR &&
				    RTA_PAYLOAD(a) == ETH_ALEN &&
				    !memcmp(RTA_DATA(a), mac, ETH_ALEN))
					ifindex = ndm->ndm_ifindex;
		}
	}
	if (fd >= 0)
		close(fd);
	if (ifindex && ifindex == (int)if_nametoindex("kma-p1"))
		return PORT_P;
	if (ifindex && ifindex == (int)if_nametoindex("kma-s1"))
		return PORT_S;
	return PORT_NONE;
}

/* Polls the bridge every 2 ms until the MAC is on the secondary's port. */
static void *fdb_watch(void *arg)
{
	FIXTURE_DATA(colo_ann) *self = arg;

	while (!__atomic_load_n(&self->fdb_stop, __ATOMIC_RELAXED)) {
		if (fdb_port() == PORT_S) {
			__atomic_store_n(&self->fdb_moved, kmig_now_ns(),
					 __ATOMIC_RELAXED);
			break;
		}
		usleep(2000);
	}
	return NULL;
}

static int packet_socket(const char *ifname, uint16_t proto)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(proto),
		.sll_ifindex = if_nametoindex(ifname),
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(proto));

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		close(fd);
		return -errno;
	}
	return fd < 0 ? -errno : fd;
}

/* One unicast probe from the observer to the guest's MAC. */
static int probe_send(FIXTURE_DATA(colo_ann) *self)
{
	uint8_t f[ETH_ZLEN] = {
		0x02, 0x6d, 0x6b, 0x6d, 0x67, 0x00,	/* the guest */
		0x02, 0x6b, 0x61, 0x00, 0x00, 0x01,	/* the observer */
		PROBE_ETHERTYPE >> 8, PROBE_ETHERTYPE & 0xff,
	};
	uint32_t v = PROBE_MAGIC;

	memcpy(f + 14, &v, 4);
	v = ++self->probes;
	memcpy(f + 18, &v, 4);
	return send(self->probe_out, f, sizeof(f), 0) == sizeof(f) ? 0 : -errno;
}

/* The probes that reached host @i (0: primary, 1: secondary) so far. */
static unsigned int probes_at(FIXTURE_DATA(colo_ann) *self, int i)
{
	unsigned int n = 0;
	uint8_t f[128];
	uint32_t magic;

	while (recv(self->probe_in[i], f, sizeof(f), MSG_DONTWAIT) >= 22) {
		memcpy(&magic, f + 14, 4);
		n += magic == PROBE_MAGIC;
	}
	return n;
}

/*
 * @n probes 20 ms apart, then a wait for them: how many reached the
 * primary's host and the secondary's, in *@p and *@s.
 */
static void probe(struct __test_metadata *_metadata,
		  FIXTURE_DATA(colo_ann) *self, unsigned int n,
		  unsigned int *p, unsigned int *s)
{
	unsigned int i;

	probes_at(self, 0);		/* drop what came before */
	probes_at(self, 1);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, probe_send(self));
		usleep(20 * 1000);
	}
	usleep(300 * 1000);
	*p = probes_at(self, 0);
	*s = probes_at(self, 1);
}

/*
 * In this test's own network namespace: the bridge and its three veth
 * pairs (no IPv6: the kernel's own neighbour discovery would be output
 * in the plug and teach the bridge nothing we want), the observer, the
 * primary's VMM (guest running, frames on) and the secondary's
 * (incoming, frames off); @vmm_args for both.
 */
static void start(struct __test_metadata *_metadata,
		  FIXTURE_DATA(colo_ann) *self, const char *vmm_args)
{
	struct vmm_status st;

	ASSERT_EQ(0, system("ip link add kma-br type bridge && "
			    "ip link add kma-p0 type veth peer name kma-p1 && "
			    "ip link add kma-s0 type veth peer name kma-s1 && "
			    "ip link add kma-o0 type veth peer name kma-o1 && "
			    "for i in kma-br kma-p0 kma-p1 kma-s0 kma-s1 kma-o0 kma-o1; do "
			    "c=/proc/sys/net/ipv6/conf/$i/disable_ipv6; "
			    "{ [ ! -e $c ] || echo 1 > $c; } || exit 1; done && "
			    "for i in kma-p1 kma-s1 kma-o1; do "
			    "ip link set $i master kma-br || exit 1; done && "
			    "for i in kma-br kma-p0 kma-p1 kma-s0 kma-s1 kma-o0 kma-o1; do "
			    "ip link set $i up || exit 1; done"));
	ASSERT_EQ(0, netobs_start(&self->obs, "kma-o0", NULL));
	self->probe_out = packet_socket("kma-o0", PROBE_ETHERTYPE);
	self->probe_in[0] = packet_socket("kma-p0", PROBE_ETHERTYPE);
	self->probe_in[1] = packet_socket("kma-s0", PROBE_ETHERTYPE);
	ASSERT_LE(0, self->probe_out);
	ASSERT_LE(0, self->probe_in[0]);
	ASSERT_LE(0, self->probe_in[1]);

	vmm_startf(&self->a, vmm_sock("colo-ann-a"), "/dev/null",
		   "%s %s --net-if kma-p0", VMM_ARGS, vmm_args);
	vmm_wait_counter(&self->a, 0, &st);
	vmm_startf(&self->b, vmm_sock("colo-ann-b"), "/dev/null",
		   "%s %s --incoming --net-if kma-s0 --net-off", VMM_ARGS,
		   vmm_args);
}

/*
 * The two agents; the primary's stops itself (SIGSTOP) once checkpoint 4
 * committed and its output was released, before the next pause: killed
 * there, it loses no frame (killed between an ACK and its release, it
 * would lose that epoch's, Documentation/colo.rst).
 */
static void start_agents(struct __test_metadata *_metadata,
			 FIXTURE_DATA(colo_ann) *self, unsigned int port)
{
	int status;

	self->sec = proc_spawnf(NULL, self->sec_log,
				"%s colo secondary --vmm %s --listen 127.0.0.1:%u --timeout 30 --heartbeat-timeout 30000",
				proc_bin("kmig"), self->b.sock, port);
	setenv("KMIG_STOP_AT", "colo-released-4", 1);
	self->pri = proc_spawnf(NULL, self->pri_log,
				"%s colo primary --vmm %s --to 127.0.0.1:%u --output kma-p0 --timeout 30 --heartbeat-timeout 30000 --checkpoint-ms 200",
				proc_bin("kmig"), self->a.sock, port);
	unsetenv("KMIG_STOP_AT");
	ASSERT_TRUE(proc_stopped(self->pri, &status, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->pri_log));
}

/* Before the failover: the MAC on the primary's port, probes reach it. */
static void at_primary(struct __test_metadata *_metadata,
		       FIXTURE_DATA(colo_ann) *self)
{
	unsigned int p, s;

	EXPECT_EQ(PORT_P, fdb_port());
	probe(_metadata, self, 5, &p, &s);
	EXPECT_EQ(5, p);
	EXPECT_EQ(0, s);
}

/*
 * The primary agent, stopped after checkpoint 4, killed (the plug on
 * kma-p0 keeps holding what its guest sends, as a dead host's would):
 * the secondary takes over at checkpoint 4 and
 * announces; the MAC moves to its port within ANNOUNCE_BOUND_MS of the
 * announce, and the probes reach it only. Logs the takeover's times.
 */
static void fail_over(struct __test_metadata *_metadata,
		      FIXTURE_DATA(colo_ann) *self)
{
	unsigned long long ckpt, t_ann;
	double sw, in;
	unsigned int p, s, i;
	struct vmm_status st;
	const char *l;
	int64_t moved;

	ASSERT_EQ(0, pthread_create(&self->fdb_thread, NULL, fdb_watch, self));
	self->fdb_running = true;
	proc_stop(&self->pri);
	ASSERT_EQ(0, proc_wait_exit(self->sec, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->sec_log));
	self->sec = 0;
	l = strstr(file_text(self->sec_log), "takeover at checkpoint ");
	ASSERT_NE(NULL, l) TH_LOG("%s", file_text(self->sec_log));
	ASSERT_EQ(2, sscanf(l, "takeover at checkpoint %llu, switch %lf ms",
			    &ckpt, &sw));
	EXPECT_EQ(4, ckpt);
	l = strstr(l, "announced " GUEST_MAC ": 1 of 5 frames, the last due 800 ms later, at ");
	ASSERT_NE(NULL, l) TH_LOG("%s", file_text(self->sec_log));
	ASSERT_EQ(2, sscanf(strstr(l, ", at "), ", at %llu ns, in %lf ms",
			    &t_ann, &in));
	for (i = 0; i < 200 && !__atomic_load_n(&self->fdb_moved,
					       __ATOMIC_RELAXED); i++)
		usleep(10 * 1000);
	moved = __atomic_load_n(&self->fdb_moved, __ATOMIC_RELAXED);
	ASSERT_NE(0, moved) TH_LOG("the bridge has the MAC on port %d", fdb_port());
	EXPECT_GT(ANNOUNCE_BOUND_MS * 1000000ll, moved - (int64_t)t_ann);
	TH_LOG("takeover at checkpoint %llu: switch %.2f ms, the announce %.2f ms of it; the bridge had the MAC on the secondary's port %.2f ms after the announce was asked",
	       ckpt, sw, in, (moved - (int64_t)t_ann) / 1e6);
	EXPECT_EQ(PORT_S, fdb_port());
	probe(_metadata, self, 5, &p, &s);
	EXPECT_EQ(0, p);
	EXPECT_EQ(5, s);
	/* the rest of the series: 5 frames by 800 ms */
	usleep(800 * 1000);
	ASSERT_EQ(0, vmm_status(&self->b, &st));
	EXPECT_EQ(5, st.net_announced);
}

/*
 * A guest sending about 31 frames a second: its MAC is on the primary's
 * port from its own frames; after the takeover on the secondary's, and
 * its frames, seen by the observer, are numbered from 1 on without gap
 * or repeat across the failover, at least 10 of them after it.
 */
TEST_F_TIMEOUT(colo_ann, failover_moves_the_mac, TEST_TIMEOUT)
{
	struct netobs *o = &self->obs;
	struct vmm_status st;
	unsigned int i, n0;
	uint64_t next = 1;

	REQUIRE_BED();
	start(_metadata, self, "");
	ASSERT_TRUE(netobs_wait_seen(o, SIDE_P, 3, PROC_WAIT_MS));
	start_agents(_metadata, self, 24710);
	at_primary(_metadata, self);
	fail_over(_metadata, self);
	n0 = netobs_seen(o, SIDE_P);
	EXPECT_TRUE(netobs_wait_seen(o, SIDE_P, n0 + 10, PROC_WAIT_MS));
	pthread_mutex_lock(&o->lock);
	for (i = 0; i < o->n; i++) {
		EXPECT_EQ(next, o->f[i].seq) TH_LOG("frame #%u; the primary's log:\n%s",
						    i, file_text(self->pri_log));
		next = o->f[i].seq + 1;
	}
	pthread_mutex_unlock(&o->lock);
	ASSERT_EQ(0, vmm_status(&self->a, &st));
	TH_LOG("frames 1..%llu seen, %u after the takeover; the primary's VMM sent %llu, dropped %llu",
	       (unsigned long long)next - 1, o->n - n0,
	       (unsigned long long)st.net_sent,
	       (unsigned long long)st.net_dropped);
}

/*
 * A guest that sends nothing (--net-every 0): the primary's VMM
 * announced it at start (as after the migration that brought it there);
 * after the takeover only the secondary's announce can move the MAC.
 */
TEST_F_TIMEOUT(colo_ann, silent_guest_found_by_the_announce, TEST_TIMEOUT)
{
	struct vmm_client c;

	REQUIRE_BED();
	start(_metadata, self, "--net-every 0");
	ASSERT_EQ(0, vmm_connect(&self->a, &c));
	EXPECT_EQ(0, vmm_client_cmd(&c, "announce 1")) TH_LOG("%s", c.reply);
	EXPECT_STREQ("ok mac=" GUEST_MAC " frames=1 last_ms=0", c.reply);
	vmm_client_close(&c);
	usleep(100 * 1000);
	start_agents(_metadata, self, 24711);
	at_primary(_metadata, self);
	fail_over(_metadata, self);
	EXPECT_EQ(0, netobs_seen(&self->obs, SIDE_P));
}

/*
 * Not COLO but the same need: a precopy migration between the two hosts
 * of the segment moves a silent guest, and `kmig incoming` has the
 * destination's VMM announce it once it runs there.
 */
TEST_F_TIMEOUT(colo_ann, migration_destination_announces, TEST_TIMEOUT)
{
	struct vmm_client c;
	struct agents r;
	unsigned int i, p, s;

	REQUIRE_BED();
	start(_metadata, self, "--net-every 0");
	ASSERT_EQ(0, vmm_connect(&self->b, &c));
	EXPECT_EQ(0, vmm_client_cmd(&c, "net on")) TH_LOG("%s", c.reply);
	vmm_client_close(&c);
	ASSERT_EQ(0, vmm_connect(&self->a, &c));
	EXPECT_EQ(0, vmm_client_cmd(&c, "announce 1")) TH_LOG("%s", c.reply);
	vmm_client_close(&c);
	usleep(100 * 1000);
	EXPECT_EQ(PORT_P, fdb_port());

	run_agents(&self->a, &self->b, 24712, "--timeout 60", "--timeout 60",
		   60, &r);
	EXPECT_EQ(0, r.mig_ret) TH_LOG("kmig migrate: %s", r.mig_out);
	EXPECT_EQ(0, r.in_ret) TH_LOG("kmig incoming: %s", r.in_out);
	EXPECT_NE(NULL, strstr(r.in_out, "kmig incoming: announced " GUEST_MAC ": 1 of 5 frames, the last due 800 ms later"))
		TH_LOG("kmig incoming: %s", r.in_out);
	agents_free(&r);
	for (i = 0; i < 200 && fdb_port() != PORT_S; i++)
		usleep(10 * 1000);
	EXPECT_EQ(PORT_S, fdb_port());
	probe(_metadata, self, 5, &p, &s);
	EXPECT_EQ(0, p);
	EXPECT_EQ(5, s);
}

/*
 * kmig-vmm's `announce` refused: without a network device (ENODEV),
 * with the device off (ENETDOWN), with a count out of 1..20 (ERANGE).
 */
TEST_F_TIMEOUT(colo_ann, vmm_announce_refused, TEST_TIMEOUT)
{
	struct vmm_client c;
	struct vmm_status st;

	REQUIRE_BED();
	ASSERT_EQ(0, system("ip link add kma-p0 type veth peer name kma-p1 && "
			    "ip link set kma-p0 up && ip link set kma-p1 up"));
	vmm_startf(&self->a, vmm_sock("colo-ann-a"), "/dev/null",
		   "%s --net-if kma-p0 --net-off", VMM_ARGS);
	vmm_startf(&self->b, vmm_sock("colo-ann-b"), "/dev/null", "%s",
		   VMM_ARGS);
	ASSERT_EQ(0, vmm_connect(&self->a, &c));
	EXPECT_EQ(-ENETDOWN, vmm_client_cmd(&c, "announce"));
	EXPECT_NE(NULL, strstr(c.reply, "net on")) TH_LOG("%s", c.reply);
	EXPECT_EQ(-ERANGE, vmm_client_cmd(&c, "announce 0"));
	EXPECT_EQ(-ERANGE, vmm_client_cmd(&c, "announce 21"));
	EXPECT_EQ(0, vmm_client_cmd(&c, "net on"));
	EXPECT_EQ(0, vmm_client_cmd(&c, "announce 20")) TH_LOG("%s", c.reply);
	vmm_client_close(&c);
	ASSERT_EQ(0, vmm_status(&self->a, &st));
	EXPECT_LE(1, st.net_announced);
	ASSERT_EQ(0, vmm_connect(&self->b, &c));
	EXPECT_EQ(-ENODEV, vmm_client_cmd(&c, "announce"));
	EXPECT_NE(NULL, strstr(c.reply, "--net-if")) TH_LOG("%s", c.reply);
	vmm_client_close(&c);
}

TEST_HARNESS_MAIN
