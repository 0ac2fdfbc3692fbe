// SPDX-License-Identifier: GPL-2.0
/*
 * COLO's heartbeat (user/kmig/colo_heartbeat.c) on the loopback: the
 * beat's encoding; two ends that hear each other, and the one whose peer
 * stops finds it lost after the timeout, not before; an end never heard
 * from declares nothing; the secondary's end ignores beats from another
 * host and datagrams that are not beats.
 */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "colo.h"
#include "util.h"

#define MS	1000000ull

TEST(beat_encodes_and_refuses_what_is_not_one)
{
	uint8_t b[COLO_HB_SIZE + 1];
	uint64_t beat, seq;

	colo_hb_encode(7, 42, b);
	ASSERT_EQ(0, colo_hb_decode(b, COLO_HB_SIZE, &beat, &seq));
	EXPECT_EQ(7, beat);
	EXPECT_EQ(42, seq);
	EXPECT_EQ(-EPROTO, colo_hb_decode(b, COLO_HB_SIZE - 1, &beat, &seq));
	EXPECT_EQ(-EPROTO, colo_hb_decode(b, COLO_HB_SIZE + 1, &beat, &seq));
	b[0] ^= 1;
	EXPECT_EQ(-EPROTO, colo_hb_decode(b, COLO_HB_SIZE, &beat, &seq));
	b[0] ^= 1;
	b[4] = 9;	/* version */
	EXPECT_EQ(-EPROTO, colo_hb_decode(b, COLO_HB_SIZE, &beat, &seq));
}

struct end {
	struct colo_hb hb;
	int lost_calls;
	uint64_t lost_ns;
};

static void on_lost(void *arg)
{
	struct end *e = arg;

	__atomic_store_n(&e->lost_ns, kmig_now_ns(), __ATOMIC_RELEASE);
	__atomic_add_fetch(&e->lost_calls, 1, __ATOMIC_RELEASE);
}

static struct sockaddr_storage loopback(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	inet_pton(AF_INET, ip, &in->sin_addr);
	return ss;
}

static bool heard_within(const struct end *e, unsigned int ms)
{
	uint64_t until = kmig_now_ns() + ms * MS;

	while (kmig_now_ns() < until) {
		if (__atomic_load_n(&e->hb.heard_ns, __ATOMIC_ACQUIRE))
			return true;
		usleep(1000);
	}
	return false;
}

FIXTURE(hb) {
	struct end pri, sec;
	struct sockaddr_storage sec_addr;
	char err[256];
};

/* The secondary's end on 127.0.0.1 (a port of its choosing), beats of
 * 10 ms, lost after 200. */
FIXTURE_SETUP(hb)
{
	struct sockaddr_storage any = loopback("127.0.0.1", 0);
	struct sockaddr_storage peer = loopback("127.0.0.1", 0);
	socklen_t len = sizeof(self->sec_addr);
	struct colo_hb init = COLO_HB_INIT;

	self->pri.hb = init;
	self->sec.hb = init;
	self->pri.hb.interval_ms = self->sec.hb.interval_ms = 10;
	self->pri.hb.timeout_ms = self->sec.hb.timeout_ms = 200;
	self->pri.lost_calls = self->sec.lost_calls = 0;
	ASSERT_EQ(0, colo_hb_start(&self->sec.hb, "colo secondary", &any,
				   &peer, on_lost, &self->sec, self->err,
				   sizeof(self->err))) TH_LOG("%s", self->err);
	ASSERT_EQ(0, getsockname(self->sec.hb.fd,
				 (struct sockaddr *)&self->sec_addr, &len));
}

FIXTURE_TEARDOWN(hb)
{
	colo_hb_stop(&self->pri.hb);
	colo_hb_stop(&self->sec.hb);
}

TEST_F(hb, ends_hear_each_other_and_a_stopped_peer_is_lost_after_the_timeout)
{
	uint64_t stopped;

	ASSERT_EQ(0, colo_hb_start(&self->pri.hb, "colo primary",
				   &self->sec_addr, NULL, on_lost, &self->pri,
				   self->err, sizeof(self->err)))
		TH_LOG("%s", self->err);
	colo_hb_set_seq(&self->pri.hb, 5);
	ASSERT_TRUE(heard_within(&self->sec, 2000));
	ASSERT_TRUE(heard_within(&self->pri, 2000));
	/* twice the timeout of beats: neither is lost */
	usleep(400 * 1000);
	EXPECT_FALSE(colo_hb_lost(&self->sec.hb));
	EXPECT_FALSE(colo_hb_lost(&self->pri.hb));
	EXPECT_EQ(5, __atomic_load_n(&self->sec.hb.peer_seq, __ATOMIC_RELAXED));

	colo_hb_stop(&self->pri.hb);
	stopped = kmig_now_ns();
	usleep(1000 * 1000);
	ASSERT_TRUE(colo_hb_lost(&self->sec.hb));
	EXPECT_EQ(1, self->sec.lost_calls);
	EXPECT_LE(stopped + 150 * MS, self->sec.lost_ns);
}

TEST_F(hb, an_end_never_heard_from_declares_nothing)
{
	usleep(600 * 1000);
	EXPECT_FALSE(colo_hb_lost(&self->sec.hb));
	EXPECT_EQ(0, self->sec.lost_calls);
}

/* 20 copies of @b (@len bytes) to @to, from @fd. */
static void send_20(int fd, const void *b, size_t len,
		    const struct sockaddr_storage *to)
{
	int i;

	for (i = 0; i < 20; i++) {
		sendto(fd, b, len, 0, (const struct sockaddr *)to,
		       sizeof(struct sockaddr_in));
		usleep(5000);
	}
}

/* 127.0.0.2 is another host to the secondary, whose peer is 127.0.0.1;
 * and from 127.0.0.1, a datagram that is not a beat is none. */
TEST_F(hb, beats_of_another_host_and_junk_are_not_heard)
{
	struct sockaddr_storage other = loopback("127.0.0.2", 0);
	uint8_t b[COLO_HB_SIZE];
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&other,
			  sizeof(struct sockaddr_in)));
	colo_hb_encode(0, 0, b);
	send_20(fd, b, sizeof(b), &self->sec_addr);
	close(fd);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, fd);
	memset(b, 0xa5, sizeof(b));
	send_20(fd, b, sizeof(b), &self->sec_addr);
	close(fd);
	EXPECT_FALSE(heard_within(&self->sec, 300));
	EXPECT_FALSE(colo_hb_lost(&self->sec.hb));
}

TEST_HARNESS_MAIN
