// SPDX-License-Identifier: GPL-2.0
/*
 * The sending and receiving engines (sender.h, receiver.h) over
 * socketpairs, with memfds standing in for guest memory: a round crosses
 * two page channels intact; at the round barrier a page channel that
 * stops sending without closing fails the migration within the I/O
 * timeout, named, while one that still brings pages is waited for; a
 * page that arrives torn is whole once it arrives again, and fails the
 * migration if the next round does not bring it; and MSG_ZEROCOPY over loopback TCP lands
 * the same memory, every send call completed. A huge slot's chunks are
 * whole 2 MiB blocks, each on one channel in page order.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "crc32c.h"
#include "link.h"
#include "receiver.h"
#include "sender.h"
#include "util.h"

#define NPAGES	1024u	/* 4 chunks */
#define NCHAN	3	/* main and two page channels */

FIXTURE(eng) {
	struct mig_vm src, dst;
	struct mig_link link;
	struct mig_recv r;
	int sv[NCHAN][2];	/* [i][0] source, [i][1] destination */
	pthread_t rx;
	int rx_ret;
	uint64_t rx_ns;		/* how long mig_recv_run() took */
};

static uint8_t *memfd_map(int *fd)
{
	uint8_t *p;

	*fd = memfd_create("guest", 0);
	if (*fd < 0 || ftruncate(*fd, NPAGES * MIG_PAGE))
		return NULL;
	p = mmap(NULL, NPAGES * MIG_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 *fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void vm_init(struct mig_vm *vm)
{
	struct mig_slot *sl = &vm->slots[0];

	vm->plain = true;
	vm->nslots = 1;
	sl->npages = NPAGES;
	sl->size = NPAGES * MIG_PAGE;
	sl->map = memfd_map(&vm->ctx_fd);
	sl->bitmap = calloc(NPAGES / 64, 8);
	sl->written = calloc(NPAGES / 64, 8);
}

FIXTURE_SETUP(eng)
{
	unsigned int i, p;

	signal(SIGPIPE, SIG_IGN);	/* a failed receiver shuts its ends */
	vm_init(&self->src);
	vm_init(&self->dst);
	ASSERT_NE(NULL, self->src.slots[0].map);
	ASSERT_NE(NULL, self->dst.slots[0].map);
	for (p = 0; p < NPAGES; p++) {
		/* Every fourth page zero, the others marked. */
		if (p % 4)
			memset(self->src.slots[0].map + p * MIG_PAGE, p % 251 + 1,
			       MIG_PAGE);
		self->src.slots[0].bitmap[p / 64] |= 1ull << (p % 64);
	}
	mig_link_init(&self->link);
	mig_recv_init(&self->r, &self->link, &self->dst, 1);
	self->r.nchan = NCHAN;
	for (i = 0; i < NCHAN; i++) {
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, self->sv[i]));
		self->r.ch[i].sock = self->sv[i][1];
		mig_link_add(&self->link, self->sv[i][1]);
	}
}

FIXTURE_TEARDOWN(eng)
{
	unsigned int i;

	for (i = 0; i < NCHAN; i++) {
		close(self->sv[i][0]);
		close(self->sv[i][1]);
	}
	mig_recv_free(&self->r);
	mig_link_destroy(&self->link);
}

static void *receiver(void *arg)
{
	FIXTURE_DATA(eng) *self = arg;
	uint64_t t0 = kmig_now_ns();

	self->rx_ret = mig_recv_run(&self->r, &mig_recv_pages_only_ops);
	self->rx_ns = kmig_now_ns() - t0;
	return NULL;
}

/* A stream's start on the source's end of channel @i. */
static int stream_start(struct kmig_enc *e, int sock, unsigned int i)
{
	int ret;

	kmig_enc_init_fd(e, sock);
	ret = kmig_enc_header(e);
	if (!ret)
		ret = kmig_enc_caps(e, i ? KMIG_SCAP_MULTI_CHANNEL : 0, 0);
	return ret ? ret : kmig_enc_flush(e);
}

static int stream_cmd(struct kmig_enc *e, uint16_t id, uint64_t round)
{
	struct kmig_scmd cmd = { .id = id, .round = round };
	int ret = kmig_enc_cmd(e, &cmd);

	return ret ? ret : kmig_enc_flush(e);
}

/* Page channel @i's RAM section: its @type record. */
static int stream_section(struct kmig_enc *e, unsigned int i, uint8_t type)
{
	struct kmig_section sec = {
		.type = type, .id = MIG_RAM_SECTION + i,
		.kind = KMIG_SEC_RAM, .version = 1, .name = "ram",
	};
	int ret = kmig_enc_section(e, &sec);

	return ret ? ret : kmig_enc_flush(e);
}

/* Page @page of the source, in the section open. */
static int stream_page(FIXTURE_DATA(eng) *self, struct kmig_enc *e,
		       uint64_t page)
{
	int ret = kmig_enc_page(e, 0, page,
				self->src.slots[0].map + page * MIG_PAGE);

	return ret ? ret : kmig_enc_flush(e);
}

/* Page channel @i: one page of the source in a section of its own. */
static int stream_one_page(FIXTURE_DATA(eng) *self, struct kmig_enc *e,
			   unsigned int i, uint64_t page)
{
	int ret = stream_section(e, i, KMIG_REC_SECTION_FULL);

	if (!ret)
		ret = stream_page(self, e, page);
	return ret ? ret : stream_section(e, i, KMIG_REC_SECTION_FOOTER);
}

/* Every channel's stream started by hand, and the receiver running. */
static int start_streams(FIXTURE_DATA(eng) *self, struct kmig_enc *e)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; i < NCHAN && !ret; i++)
		ret = stream_start(&e[i], self->sv[i][0], i);
	if (!ret && pthread_create(&self->rx, NULL, receiver, self))
		ret = -EAGAIN;
	return ret;
}

/* ... and page channel 1 done with round 0 (page 1, ROUND_SYNC 0). */
static int start_round_zero(FIXTURE_DATA(eng) *self, struct kmig_enc *e)
{
	int ret = start_streams(self, e);

	if (!ret)
		ret = stream_one_page(self, &e[1], 1, 1);
	return ret ? ret : stream_cmd(&e[1], KMIG_SCMD_ROUND_SYNC, 0);
}

static void pause_ms(unsigned int ms)
{
	usleep(ms * 1000);
}

TEST_F(eng, a_round_crosses_two_page_channels_intact)
{
	struct mig_chan ch[NCHAN];
	struct mig_senders pool;
	char cause[256];
	unsigned int i;

	for (i = 0; i < NCHAN; i++)
		mig_chan_init(&ch[i], self->sv[i][0], i, 0);
	for (i = 1; i < NCHAN; i++)
		ASSERT_EQ(0, stream_start(&ch[i].enc, self->sv[i][0], i));
	ASSERT_EQ(0, stream_start(&ch[0].enc, self->sv[0][0], 0));
	ASSERT_EQ(0, pthread_create(&self->rx, NULL, receiver, self));
	ASSERT_EQ(0, mig_senders_start(&pool, &self->src, &self->link, ch,
				       NCHAN - 1));
	EXPECT_EQ(0, mig_senders_round(&pool, 0, KMIG_REC_SECTION_FULL, true));
	mig_senders_stop(&pool);
	mig_chan_begin(&ch[0]);
	EXPECT_EQ(0, mig_chan_round_sync(&ch[0], 0, true));
	mig_chan_end(&ch[0]);
	pthread_join(self->rx, NULL);
	mig_link_cause(&self->link, cause, sizeof(cause));
	ASSERT_EQ(0, self->rx_ret) TH_LOG("%s", cause);
	EXPECT_EQ(0, memcmp(self->src.slots[0].map, self->dst.slots[0].map,
			    NPAGES * MIG_PAGE));
	EXPECT_EQ(NPAGES * 3 / 4, ch[1].pages + ch[2].pages);
	EXPECT_EQ(NPAGES / 4, ch[1].zero + ch[2].zero);
	EXPECT_EQ(NPAGES * 3 / 4, self->r.ch[1].pages + self->r.ch[2].pages);
	for (i = 0; i < NCHAN; i++)
		mig_chan_free(&ch[i]);
}

/*
 * What one page channel brought, in order: every record continues the
 * block the last one left off, or starts an aligned block after a
 * complete one.
 */
struct order {
	struct kmig_dec dec;
	uint64_t expect;	/* the next page of the block under way */
	uint64_t pages, out_of_order;
	pthread_t thread;
	int ret;
};

static void order_note(struct order *o, uint64_t first, uint64_t n)
{
	bool starts = !(first % MIG_BLOCK_PAGES) &&
		      !(o->expect % MIG_BLOCK_PAGES);

	if (first != o->expect && !starts)
		o->out_of_order++;
	o->expect = first + n;
	o->pages += n;
}

static int order_pages(void *opaque, uint32_t slot, const uint64_t *pages,
		       unsigned int n, const void *const *data)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		order_note(opaque, pages[i], 1);
	return 0;
}

static int order_zero(void *opaque, uint32_t slot, uint64_t page,
		      uint32_t count)
{
	order_note(opaque, page, count);
	return 0;
}

static void *order_thread(void *arg)
{
	struct order *o = arg;

	o->ret = kmig_dec_run(&o->dec);
	return NULL;
}

/*
 * On a huge slot a chunk is a whole 2 MiB block, sent on one channel in
 * page order although every fourth page is zero (elsewhere a chunk's
 * zero runs may follow its pages): what a postcopy destination needs to
 * install the block in one call.
 */
TEST_F(eng, a_huge_slots_chunk_is_one_block_in_page_order)
{
	static const struct kmig_dec_ops ops = {
		.pages = order_pages, .zero = order_zero,
	};
	const struct kmig_slot slot = { .id = 0, .npages = NPAGES };
	struct kmig_dec_cfg cfg = {
		.slots = &slot, .nslots = 1, .caps_supported = KMIG_SCAP_ALL,
		.ops = &ops,
	};
	struct order o[NCHAN] = { 0 };
	struct mig_chan ch[NCHAN];
	struct mig_senders pool;
	unsigned int i;

	self->src.slots[0].huge = true;
	for (i = 0; i < NCHAN; i++)
		mig_chan_init(&ch[i], self->sv[i][0], i, 0);
	for (i = 1; i < NCHAN; i++) {
		ASSERT_EQ(0, stream_start(&ch[i].enc, self->sv[i][0], i));
		cfg.opaque = &o[i];
		ASSERT_EQ(0, kmig_dec_init_fd(&o[i].dec, &cfg, self->sv[i][1]));
		ASSERT_EQ(0, pthread_create(&o[i].thread, NULL, order_thread,
					    &o[i]));
	}
	ASSERT_EQ(0, mig_senders_start(&pool, &self->src, &self->link, ch,
				       NCHAN - 1));
	EXPECT_EQ(0, mig_senders_round(&pool, 0, KMIG_REC_SECTION_FULL, true));
	mig_senders_stop(&pool);
	for (i = 1; i < NCHAN; i++) {
		pthread_join(o[i].thread, NULL);
		EXPECT_EQ(0, o[i].ret) TH_LOG("%s", kmig_dec_error(&o[i].dec));
		EXPECT_EQ(0, o[i].out_of_order);
		EXPECT_EQ(0, o[i].pages % MIG_BLOCK_PAGES);
		kmig_dec_free(&o[i].dec);
	}
	EXPECT_EQ(NPAGES, o[1].pages + o[2].pages);
	for (i = 0; i < NCHAN; i++)
		mig_chan_free(&ch[i]);
}

/*
 * Page channel 1 syncs round 0; page channel 2 sends a page, then nothing,
 * and stays open (a source whose sender is stuck). The barrier gives up
 * after the I/O timeout (1 s) and names channel 2.
 */
TEST_F(eng, a_page_channel_that_stops_sending_is_named_within_the_timeout)
{
	struct kmig_enc e[NCHAN];
	char cause[512];
	unsigned int i;

	ASSERT_EQ(0, start_round_zero(self, e));
	ASSERT_EQ(0, stream_one_page(self, &e[2], 2, 2));
	pthread_join(self->rx, NULL);
	ASSERT_NE(0, mig_link_cause(&self->link, cause, sizeof(cause)));
	TH_LOG("after %llu ms: %s", (unsigned long long)self->rx_ns / 1000000,
	       cause);
	EXPECT_NE(0, self->rx_ret);
	EXPECT_NE(NULL, strstr(cause, "page channel 2 did not reach ROUND_SYNC 0"));
	EXPECT_LT(self->rx_ns, 3000000000ull);
	for (i = 0; i < NCHAN; i++)
		kmig_enc_free(&e[i]);
}

/*
 * Page channel 2 brings a page every 300 ms for 2.4 s, longer than the
 * I/O timeout (1 s), before its ROUND_SYNC: channel 1 waits for it.
 */
TEST_F(eng, a_page_channel_still_bringing_pages_is_waited_for)
{
	struct kmig_enc e[NCHAN];
	char cause[512];
	unsigned int i;

	ASSERT_EQ(0, start_round_zero(self, e));
	ASSERT_EQ(0, stream_section(&e[2], 2, KMIG_REC_SECTION_FULL));
	for (i = 0; i < 8; i++) {
		pause_ms(300);
		ASSERT_EQ(0, stream_page(self, &e[2], 2 + i));
	}
	ASSERT_EQ(0, stream_section(&e[2], 2, KMIG_REC_SECTION_FOOTER));
	ASSERT_EQ(0, stream_cmd(&e[2], KMIG_SCMD_ROUND_SYNC, 0));
	for (i = 0; i < NCHAN; i++) {
		if (!i)
			ASSERT_EQ(0, stream_cmd(&e[0], KMIG_SCMD_ROUND_SYNC, 0));
		ASSERT_EQ(0, kmig_enc_eos(&e[i]));
		ASSERT_EQ(0, kmig_enc_flush(&e[i]));
	}
	pthread_join(self->rx, NULL);
	mig_link_cause(&self->link, cause, sizeof(cause));
	EXPECT_EQ(0, self->rx_ret) TH_LOG("%s", cause);
	EXPECT_EQ(0, memcmp(self->src.slots[0].map + MIG_PAGE,
			    self->dst.slots[0].map + MIG_PAGE, 9 * MIG_PAGE));
	for (i = 0; i < NCHAN; i++)
		kmig_enc_free(&e[i]);
}

/*
 * Page channel @i: its RAM section's @type record, then pages @first ..
 * @first + @n - 1 of the source in one batch, page @torn (if in it) with
 * a CRC its bytes do not match, as when the guest wrote it while it was
 * sent.
 */
static int stream_batch(FIXTURE_DATA(eng) *self, struct kmig_enc *e,
			unsigned int i, uint8_t type, uint64_t first,
			unsigned int n, uint64_t torn)
{
	const void *data[KMIG_STREAM_MAX_BATCH];
	uint64_t pages[KMIG_STREAM_MAX_BATCH];
	uint32_t crcs[KMIG_STREAM_MAX_BATCH];
	unsigned int k;
	int ret;

	for (k = 0; k < n; k++) {
		pages[k] = first + k;
		data[k] = self->src.slots[0].map + pages[k] * MIG_PAGE;
		crcs[k] = kmig_crc32c(0, data[k], MIG_PAGE) ^
			  (pages[k] == torn);
	}
	ret = stream_section(e, i, type);
	if (!ret)
		ret = kmig_enc_pages_crc(e, 0, pages, n, data, crcs);
	return ret ? ret : stream_section(e, i, KMIG_REC_SECTION_FOOTER);
}

/*
 * Round 0: page channel 1 brings pages 4..7 with page 5 torn. Then for
 * each of @rounds[] (a page, its page torn or ~0) a round in which page
 * channel 2 brings that page. Every channel then ends the stream; the
 * receiver's verdict is returned.
 */
static int torn_then(FIXTURE_DATA(eng) *self, const uint64_t (*rounds)[2],
		     unsigned int nrounds, char *cause, size_t n)
{
	struct kmig_enc e[NCHAN];
	unsigned int i, r;
	uint8_t type;
	int ret;

	ret = start_streams(self, e);
	if (ret)
		return ret;
	ret = stream_batch(self, &e[1], 1, KMIG_REC_SECTION_FULL, 4, 4, 5);
	for (i = 0; i < NCHAN && !ret; i++)
		ret = stream_cmd(&e[i], KMIG_SCMD_ROUND_SYNC, 0);
	for (r = 0; r < nrounds && !ret; r++) {
		type = nrounds == 1 ? KMIG_REC_SECTION_FULL :
		       !r ? KMIG_REC_SECTION_START :
		       r == nrounds - 1 ? KMIG_REC_SECTION_END :
		       KMIG_REC_SECTION_PART;
		ret = stream_batch(self, &e[2], 2, type, rounds[r][0], 1,
				   rounds[r][1]);
		for (i = 0; i < NCHAN && !ret; i++)
			ret = stream_cmd(&e[i], KMIG_SCMD_ROUND_SYNC, r + 1);
	}
	for (i = 0; i < NCHAN && !ret; i++) {
		ret = kmig_enc_eos(&e[i]);
		if (!ret)
			ret = kmig_enc_flush(&e[i]);
	}
	pthread_join(self->rx, NULL);
	for (i = 0; i < NCHAN; i++)
		kmig_enc_free(&e[i]);
	mig_link_cause(&self->link, cause, n);
	return ret ? ret : self->rx_ret;
}

TEST_F(eng, a_torn_page_is_whole_once_it_arrives_again)
{
	static const uint64_t rounds[][2] = { { 5, ~0ull } };
	char cause[512] = "";

	ASSERT_EQ(0, torn_then(self, rounds, 1, cause, sizeof(cause)))
		TH_LOG("%s", cause);
	EXPECT_EQ(1, self->r.torn.pages);
	EXPECT_EQ(0, memcmp(self->src.slots[0].map + 4 * MIG_PAGE,
			    self->dst.slots[0].map + 4 * MIG_PAGE,
			    4 * MIG_PAGE));
}

TEST_F(eng, a_torn_page_the_next_round_lacks_fails_the_migration)
{
	static const uint64_t rounds[][2] = { { 6, ~0ull } };
	char cause[512] = "";

	EXPECT_NE(0, torn_then(self, rounds, 1, cause, sizeof(cause)));
	EXPECT_EQ(1, self->r.torn.pages);
	EXPECT_NE(NULL, strstr(cause, "page 5 of slot 0 arrived torn in round 0 and did not come again in round 1"))
		TH_LOG("%s", cause);
}

/* A page the guest keeps writing tears round after round: each owes it. */
TEST_F(eng, a_page_torn_again_is_owed_by_the_next_round)
{
	static const uint64_t rounds[][2] = { { 5, 5 }, { 5, 5 }, { 5, ~0ull } };
	char cause[512] = "";

	ASSERT_EQ(0, torn_then(self, rounds, 3, cause, sizeof(cause)))
		TH_LOG("%s", cause);
	EXPECT_EQ(3, self->r.torn.pages);
	EXPECT_EQ(0, memcmp(self->src.slots[0].map + 5 * MIG_PAGE,
			    self->dst.slots[0].map + 5 * MIG_PAGE, MIG_PAGE));
}

/* Channel @i's two ends become a loopback TCP connection (same fds). */
static int tcp_in_place(FIXTURE_DATA(eng) *self, unsigned int i)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM, 0), a, b, ret = -1;

	if (l < 0 || bind(l, (void *)&sin, sizeof(sin)) || listen(l, 1) ||
	    getsockname(l, (void *)&sin, &len))
		goto out;
	a = socket(AF_INET, SOCK_STREAM, 0);
	if (a < 0 || connect(a, (void *)&sin, sizeof(sin)))
		goto out;
	b = accept(l, NULL, NULL);
	if (b >= 0 && dup2(a, self->sv[i][0]) >= 0 &&
	    dup2(b, self->sv[i][1]) >= 0)
		ret = 0;
	close(a);
	close(b);
out:
	close(l);
	return ret;
}

TEST_F(eng, zerocopy_lands_the_same_memory_and_every_send_completes)
{
	struct mig_senders pool;
	struct mig_chan ch;
	char cause[256];

	ASSERT_EQ(0, tcp_in_place(self, 0));
	self->r.nchan = 1;
	mig_chan_init(&ch, self->sv[0][0], 0, 0);
	ASSERT_EQ(0, stream_start(&ch.enc, self->sv[0][0], 0));
	ASSERT_EQ(0, kmig_enc_zerocopy(&ch.enc, 5000));
	ASSERT_EQ(0, pthread_create(&self->rx, NULL, receiver, self));
	ASSERT_EQ(0, mig_senders_start(&pool, &self->src, &self->link, &ch, 0));
	mig_senders_rewind(&pool);
	mig_chan_begin(&ch);
	EXPECT_EQ(0, mig_chan_ram_part(&ch, MIG_RAM_SECTION,
				       KMIG_REC_SECTION_FULL));
	EXPECT_EQ(0, mig_chan_round_sync(&ch, 0, true));
	mig_chan_end(&ch);
	mig_senders_stop(&pool);
	pthread_join(self->rx, NULL);
	mig_link_cause(&self->link, cause, sizeof(cause));
	ASSERT_EQ(0, self->rx_ret) TH_LOG("%s", cause);
	EXPECT_EQ(0, memcmp(self->src.slots[0].map, self->dst.slots[0].map,
			    NPAGES * MIG_PAGE));
	TH_LOG("%llu send calls, %llu copied by the kernel",
	       (unsigned long long)ch.enc.zc_sent,
	       (unsigned long long)ch.enc.zc_copied);
	EXPECT_LT(0, ch.enc.zc_sent);
	EXPECT_EQ(ch.enc.zc_sent, ch.enc.zc_done);
	mig_chan_free(&ch);
}

TEST_HARNESS_MAIN
