// SPDX-License-Identifier: GPL-2.0
/*
 * Pinned writes through the tracked view of a KVM_LOG slot
 * (memory-model.rst, "Pinned writes through the tracked view"). An
 * O_DIRECT read from a dm-delay device into the tracked view is logged at
 * its GUP write fault, and its data lands DELAY_MS later, after a harvest
 * has reported the page and the page was copied. KVM_LOG slots do not
 * fold PG_dirty, so only the pin tells: the harvest after the landing
 * must report the page again, the copy must end equal to what landed,
 * and once the read is over the page must not be reported any more. A
 * page written beside it and not pinned is reported once (order 0); on a
 * huge slot it shares the pinned 2 MiB folio and stays reported with it.
 * This thread is the KVM log provider's caller; a second thread answers
 * the provider's requests with empty bitmaps (no vCPU writes).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmig.h"
#include "kvmlog.h"
#include "proc.h"
#include "util.h"

#define NPAGES		512		/* one 2 MiB block */
#define SIZE		(NPAGES * PAGE_SZ)
#define WORDS		(NPAGES / 64)
#define PINNED		100		/* the page the read lands in */
#define OTHER		300		/* written, never pinned */
#define OLD		0xaa		/* both pages before the read */
#define LANDED		0x5c		/* the device's bytes */
#define DELAY_MS	2000
#define DM_NAME		"kmig-pinlog"
#define DM_FILE		"/run/kmig-pinlog.img"
#define DEV_SECTORS	128		/* 64 KiB */

/* Answers every request of provider fd @fd with an empty log. */
struct provider {
	int fd;
	volatile bool stop;
	pthread_t t;
};

static void *provider_thread(void *arg)
{
	static const uint64_t none[WORDS];
	struct provider *p = arg;
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
	struct kmig_log_request rq;

	while (!p->stop) {
		struct kmig_log_provided a = { 0 };

		if (poll(&pfd, 1, 20) != 1 ||
		    read(p->fd, &rq, sizeof(rq)) != sizeof(rq))
			continue;
		a.seq = rq.seq;
		if (rq.op == KMIG_LOG_HARVEST) {
			a.nslots = 1;
			a.bitmaps = (uintptr_t)none;
			a.size = sizeof(none);
		}
		ioctl(p->fd, KMIG_LOG_PROVIDED, &a);
	}
	return NULL;
}

/*
 * A dm-delay device (reads held DELAY_MS) over a loop device over a
 * tmpfs file of LANDED bytes: its minor in *@minor and the loop device's
 * path in @loop, or -errno (-ENODEV: a tool or module is missing).
 */
static int delay_dev_create(char loop[64], int *minor)
{
	char cmd[512];
	FILE *f;
	int n;

	snprintf(cmd, sizeof(cmd),
		 "set -e; modprobe loop 2>/dev/null || :; "
		 "modprobe dm-delay 2>/dev/null || :; "
		 "dmsetup remove %1$s >/dev/null 2>&1 || :; "
		 "head -c %2$d /dev/zero | tr '\\000' '\\%3$o' > %4$s; "
		 "l=$(losetup -f --show %4$s); "
		 "echo \"0 %5$d delay $l 0 %6$d\" | "
		 "dmsetup create --noudevsync %1$s 1>&2 || "
		 "{ losetup -d $l; exit 1; }; "
		 "echo $l $(dmsetup info -c --noheadings -o minor %1$s)",
		 DM_NAME, DEV_SECTORS * 512, LANDED, DM_FILE, DEV_SECTORS,
		 DELAY_MS);
	f = popen(cmd, "r");
	if (!f)
		return -errno;
	n = fscanf(f, "%63s %d", loop, minor);
	if (pclose(f) || n != 2) {
		loop[0] = '\0';
		return -ENODEV;
	}
	return 0;
}

static void delay_dev_remove(const char *loop)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "dmsetup remove %s; losetup -d %s; rm -f %s",
		 DM_NAME, loop, DM_FILE);
	if (system(cmd))
		fprintf(stderr, "# cannot remove %s over %s\n", DM_NAME, loop);
}

/* One O_DIRECT read of a page from the device into @buf. */
struct reader {
	int dev;
	void *buf;
	ssize_t ret;
	int err;
	pthread_t t;
};

static void *read_thread(void *arg)
{
	struct reader *r = arg;

	r->ret = pread(r->dev, r->buf, PAGE_SZ, 0);
	r->err = errno;
	return NULL;
}

FIXTURE(pin_log) {
	int fd, dev, minor;
	char loop[64];
	uint8_t *tracked, *guest;
	struct provider prov;
	uint64_t bm[WORDS];
};

FIXTURE_VARIANT(pin_log) {
	uint32_t flags;
};

FIXTURE_VARIANT_ADD(pin_log, order0) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(pin_log, huge) {
	.flags = KMIG_SLOT_HUGE,
};

FIXTURE_SETUP(pin_log)
{
	struct kmig_log_provider lp = { 0 };
	char name[32];
	int ret;

	self->dev = -1;
	self->fd = -1;
	ret = delay_dev_create(self->loop, &self->minor);
	/* The test skips: SKIP() here would not stop it. */
	if (ret && !getenv("KMIG_BED"))
		return;
	ASSERT_EQ(0, ret) TH_LOG("cannot make a dm-delay device");
	snprintf(name, sizeof(name), "/dev/dm-%d", self->minor);
	self->dev = open(name, O_RDONLY | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, self->dev) TH_LOG("%s: %s", name, strerror(errno));

	ASSERT_TRUE(kmig_objects_zero());
	self->fd = kmig_open();
	kmig_set_memslot(self->fd, 0, KMIG_SLOT_DIRTY_LOG | KMIG_SLOT_KVM_LOG |
			 variant->flags, 0, SIZE);
	self->tracked = kmig_map(self->fd, 0, SIZE);
	self->guest = kmig_view_map(self->fd, KMIG_VIEW_GUEST, 0, SIZE);
	ASSERT_NE(MAP_FAILED, self->guest) TH_LOG("guest view: %s",
						strerror(errno));
	self->prov.fd = ioctl(self->fd, KMIG_LOG_PROVIDER_FD, &lp);
	ASSERT_LE(0, self->prov.fd);
	ASSERT_EQ(0, pthread_create(&self->prov.t, NULL, provider_thread,
				    &self->prov));
}

FIXTURE_TEARDOWN(pin_log)
{
	if (self->fd >= 0) {
		self->prov.stop = true;
		pthread_join(self->prov.t, NULL);
		close(self->prov.fd);
		munmap(self->guest, SIZE);
		munmap(self->tracked, SIZE);
		close(self->fd);
		EXPECT_TRUE(kmig_objects_zero());
	}
	if (self->dev >= 0)
		close(self->dev);
	if (self->loop[0])
		delay_dev_remove(self->loop);
}

static int harvest(int fd, uint64_t *bm, bool clear)
{
	return __kmig_dirty(fd, KMIG_GET_DIRTY_LOG, 0,
			    clear ? KMIG_DIRTY_LOG_CLEAR : 0, 0, 0, bm);
}

/* Wait up to 5 s for page @page's bit, looking without clearing. */
static bool wait_logged(int fd, unsigned int page)
{
	uint64_t bm[WORDS];
	int i;

	for (i = 0; i < 5000; i++) {
		if (harvest(fd, bm, false))
			return false;
		if (bm_bit(bm, page))
			return true;
		usleep(1000);
	}
	return false;
}

/*
 * Wait up to 5 s for a read held by the delay target: its status counts
 * the reads it holds ("0 SECTORS delay READS WRITES FLUSHES"), each
 * submitted after its pages were pinned (or referenced, 6.1). The block
 * layer's inflight count of a dm device is no use here: dm may account
 * a bio only once the target passes it on.
 */
static bool wait_in_flight(void)
{
	unsigned int reads = 0;
	FILE *f;
	int i;

	for (i = 0; i < 500 && !reads; i++) {
		f = popen("dmsetup status " DM_NAME, "r");
		if (!f)
			return false;
		if (fscanf(f, "%*u %*u delay %u", &reads) != 1)
			reads = 0;
		pclose(f);
		if (!reads)
			usleep(10000);
	}
	return reads;
}

TEST_F_TIMEOUT(pin_log, write_landing_after_its_harvest_is_reported_again,
	       60)
{
	struct kmig_dirty_logging on = {
		.slot = 0, .flags = KMIG_DIRTY_LOGGING_ON,
	};
	uint8_t *pinned = self->tracked + PINNED * PAGE_SZ;
	uint8_t *other = self->tracked + OTHER * PAGE_SZ;
	uint8_t copy[PAGE_SZ], landed[PAGE_SZ];
	bool huge = variant->flags & KMIG_SLOT_HUGE;
	struct reader r = { .dev = self->dev, .buf = pinned };
	uint64_t t0, t1;
	volatile uint8_t v;

	if (self->dev < 0)
		SKIP(return, "no dm-delay device (dmsetup, losetup, modules)");
	memset(landed, LANDED, sizeof(landed));
	memset(pinned, OLD, PAGE_SZ);
	memset(other, OLD, PAGE_SZ);
	ASSERT_EQ(0, ioctl(self->fd, KMIG_SET_DIRTY_LOGGING, &on));
	/* Logged by kmig; mapped by the guest view too, as a vCPU would. */
	memset(other, 1, PAGE_SZ);
	v = self->guest[OTHER * PAGE_SZ];
	ASSERT_EQ(1, v);

	t0 = kmig_now_ns();
	ASSERT_EQ(0, pthread_create(&r.t, NULL, read_thread, &r));
	/* Its GUP write fault logs the page; the data waits in dm-delay. */
	ASSERT_TRUE(wait_in_flight());
	ASSERT_TRUE(wait_logged(self->fd, PINNED));
	ASSERT_EQ(0, harvest(self->fd, self->bm, true));
	EXPECT_TRUE(bm_bit(self->bm, PINNED));
	EXPECT_TRUE(bm_bit(self->bm, OTHER));
	if (!huge) {
		EXPECT_EQ(2, bm_count(self->bm, WORDS));
	}
	memcpy(copy, pinned, PAGE_SZ);
	t1 = kmig_now_ns();
	/* The case under test: the data lands after the copy. */
	ASSERT_EQ(OLD, copy[0]) TH_LOG("the read ended %llu ms after it began, before the harvest's copy",
				       (t1 - t0) / 1000000ULL);

	pthread_join(r.t, NULL);
	ASSERT_EQ(PAGE_SZ, r.ret) TH_LOG("O_DIRECT read: %s",
					 strerror(r.err));
	ASSERT_EQ(0, memcmp(pinned, landed, PAGE_SZ));
	TH_LOG("first harvest and copy %llu ms into the read, which took %llu ms",
	       (t1 - t0) / 1000000ULL, (kmig_now_ns() - t0) / 1000000ULL);

	ASSERT_EQ(0, harvest(self->fd, self->bm, true));
	EXPECT_TRUE(bm_bit(self->bm, PINNED))
		TH_LOG("the write that landed after its page's harvest is lost");
	if (bm_bit(self->bm, PINNED)) {
		memcpy(copy, pinned, PAGE_SZ);
	}
	EXPECT_EQ(0, memcmp(copy, landed, PAGE_SZ));
	/* A page of a pinned folio stays reported with it, others not. */
	if (huge) {
		EXPECT_TRUE(bm_bit(self->bm, OTHER));
	} else {
		EXPECT_EQ(1, bm_count(self->bm, WORDS));
	}

	/* Unpinned: reported no more. */
	ASSERT_EQ(0, harvest(self->fd, self->bm, true));
	EXPECT_EQ(0, bm_count(self->bm, WORDS));
}

TEST_HARNESS_MAIN
