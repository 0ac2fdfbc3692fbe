// SPDX-License-Identifier: GPL-2.0
/*
 * A syzkaller-style random sequence runner. Worker processes race random,
 * mostly well-formed calls on the same contexts for KMIG_RANDOM_SECONDS
 * (default 15): slots, page limits, mappings and their pages, pread and
 * pwrite, fault fds and installs, dirty logs, device fds of kmig-sample,
 * any ioctl number of kmig's range, and netlink requests of any command
 * with any attributes.
 *
 * Each worker draws from its own generator, seeded from KMIG_RANDOM_SEED
 * (default: the clock; printed), its index and its generation (a worker
 * whose call blocked longer than OP_SECONDS is ended by SIGALRM and
 * replaced), so a seed replays every worker's draws: the same calls as
 * long as the kernel answers them the same (the interleaving is not
 * replayed).
 *
 * The module must come through it: no report in the kernel log (the bed's
 * scripts/splat.sh checks), every worker killable at the end, no SIGSEGV
 * on a mapping the module accepted, and every object freed once all is
 * closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/kmig.h>

#include "kselftest_harness.h"
#include "kdev.h"
#include "kmig.h"
#include "netlink.h"
#include "proc.h"

#define WORKERS		4
#define OP_SECONDS	3	/* a call blocked longer ends its worker */
#define NCTX		4	/* 0 and 1: the parent's, shared by all */
#define NFAULT		2
#define NDEV		2
#define NMAP		4
#define NSLOT		4	/* slot ids mostly drawn below this */
#define SLOT_PAGES	256	/* most slots are at most this long */
#define DEVICES		3	/* kmig-sample instances 1..3 */
#define BUF_PAGES	16

/* What every worker counts, in memory shared with the parent. */
struct tally {
	uint64_t ops, ok, sigbus, sigsegv;
};

struct mapping {
	uint8_t *addr;
	size_t len;
};

struct worker {
	uint64_t rng;
	int ctx[NCTX];
	int fault[NFAULT];
	int fault_ctx[NFAULT];		/* the context of fault[i] */
	int dev[NDEV];
	uint64_t dev_max[NDEV];
	struct mapping map[NMAP];
	struct kmig_nl nl;
	bool nl_open;
	struct tally *t;
};

static uint8_t buf[BUF_PAGES * PAGE_SZ];
static uint64_t bitmap[8192];		/* a 1 GiB slot's dirty log */
static uint64_t pages[BUF_PAGES];
static uint8_t status[BUF_PAGES];
static sigjmp_buf touch_jmp;

/* splitmix64: small, and every seed gives a full-period sequence. */
static uint64_t rnd(struct worker *w)
{
	uint64_t z = (w->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(struct worker *w, uint64_t n)
{
	return n ? rnd(w) % n : 0;
}

static bool chance(struct worker *w, unsigned int pct)
{
	return below(w, 100) < pct;
}

/* A user pointer: mostly @good, sometimes one the kernel must refuse. */
static uint64_t ptr(struct worker *w, void *good)
{
	static const uint64_t bad[] = { 0, 8, 0xffff800000000000ULL, ~0ULL };

	if (chance(w, 95))
		return (uint64_t)(uintptr_t)good;
	return bad[below(w, 4)];
}

static uint32_t slot_id(struct worker *w)
{
	return chance(w, 97) ? below(w, NSLOT) : (uint32_t)rnd(w);
}

static uint64_t page_no(struct worker *w)
{
	return chance(w, 95) ? below(w, SLOT_PAGES) : rnd(w) >> below(w, 64);
}

/* An open context: mostly a shared one. */
static int ctx_fd(struct worker *w)
{
	int i = chance(w, 70) ? below(w, 2) : below(w, NCTX);

	return w->ctx[i] >= 0 ? w->ctx[i] : w->ctx[0] >= 0 ? w->ctx[0] : w->ctx[1];
}

static void count(struct worker *w, long ret)
{
	if (ret >= 0)
		w->t->ok++;
}

static void op_ctx(struct worker *w)
{
	int i = below(w, NCTX);

	if (w->ctx[i] >= 0 && (i >= 2 || chance(w, 10))) {
		close(w->ctx[i]);
		w->ctx[i] = -1;
	} else if (w->ctx[i] < 0) {
		w->ctx[i] = open("/dev/kmig", O_RDWR | O_CLOEXEC);
		count(w, w->ctx[i]);
	}
}

static uint64_t slot_size(struct worker *w)
{
	if (chance(w, 80))
		return (1 + below(w, SLOT_PAGES)) * PAGE_SZ;
	if (chance(w, 75))
		return (1 + below(w, 1 << 18)) * PAGE_SZ;	/* up to 1 GiB */
	return rnd(w) | 1ULL << 63;	/* too big, maybe unaligned */
}

static void op_memslot(struct worker *w)
{
	struct kmig_memslot ms = {
		.slot = slot_id(w),
		.flags = chance(w, 95) ? below(w, KMIG_SLOT_FLAGS_ALL + 1) :
					 (uint32_t)rnd(w),
		.memory_size = chance(w, 30) ? 0 : slot_size(w),
	};

	ms.guest_phys_addr = chance(w, 90) ? (uint64_t)ms.slot << 30 :
			     chance(w, 50) ? below(w, 1 << 20) * PAGE_SZ : rnd(w);
	count(w, ioctl(ctx_fd(w), KMIG_SET_MEMSLOT, &ms));
}

static void op_page_limit(struct worker *w)
{
	uint64_t limit = chance(w, 50) ? 0 : chance(w, 90) ? below(w, 4096) : rnd(w);

	count(w, ioctl(ctx_fd(w), KMIG_SET_PAGE_LIMIT, &limit));
}

static void op_map(struct worker *w)
{
	struct mapping *m = &w->map[below(w, NMAP)];
	off_t off = KMIG_SLOT_OFFSET(slot_id(w) % KMIG_MAX_SLOTS) +
		    below(w, 64) * PAGE_SZ;
	void *p;

	if (m->addr) {
		count(w, munmap(m->addr, m->len));
		m->addr = NULL;
		return;
	}
	m->len = (1 + below(w, 64)) * PAGE_SZ;
	p = mmap(NULL, m->len, PROT_READ | PROT_WRITE,
		 chance(w, 95) ? MAP_SHARED : MAP_PRIVATE, ctx_fd(w), off);
	count(w, p == MAP_FAILED ? -1 : 0);
	if (p != MAP_FAILED)
		m->addr = p;
}

static void on_fault(int sig)
{
	siglongjmp(touch_jmp, sig);
}

/* Read or write one byte of @p; SIGBUS and SIGSEGV are counted. */
static void touch(struct worker *w, volatile uint8_t *p, bool write)
{
	int sig = sigsetjmp(touch_jmp, 1);

	if (sig == SIGBUS) {
		w->t->sigbus++;
		return;
	}
	if (sig == SIGSEGV) {
		w->t->sigsegv++;
		fprintf(stderr, "# SIGSEGV at %p of a mapping kmig accepted\n",
			(void *)p);
		return;
	}
	if (write)
		*p = (uint8_t)rnd(w);
	else
		(void)*p;
	w->t->ok++;
}

static void op_touch(struct worker *w)
{
	struct mapping *m = &w->map[below(w, NMAP)];

	if (m->addr)
		touch(w, m->addr + below(w, m->len), chance(w, 50));
}

static void op_rw(struct worker *w)
{
	off_t off = KMIG_SLOT_OFFSET(slot_id(w) % KMIG_MAX_SLOTS) +
		    page_no(w) * PAGE_SZ;
	size_t len = (1 + below(w, 4)) * PAGE_SZ;
	void *p = (void *)(uintptr_t)ptr(w, buf);

	if (chance(w, 20)) {
		off += below(w, PAGE_SZ);
		len = below(w, 3 * PAGE_SZ);
	}
	if (chance(w, 50))
		count(w, pread(ctx_fd(w), p, len, off));
	else
		count(w, pwrite(ctx_fd(w), p, len, off));
}

static void op_fault_fd(struct worker *w)
{
	int i = below(w, NFAULT);
	struct kmig_fault_fd a = {
		.flags = chance(w, 95) ? below(w, KMIG_FAULT_FD_FLAGS_ALL + 1) :
					 (uint32_t)rnd(w),
		.reserved = chance(w, 95) ? 0 : (uint32_t)rnd(w),
	};

	if (w->fault[i] >= 0) {
		close(w->fault[i]);
		w->fault[i] = -1;
		return;
	}
	w->fault_ctx[i] = ctx_fd(w);
	w->fault[i] = ioctl(w->fault_ctx[i], KMIG_FAULT_FD, &a);
	count(w, w->fault[i]);
}

/* Install what a fault fd reports, as an agent would. */
static void op_serve(struct worker *w)
{
	int i = below(w, NFAULT);
	struct kmig_fault f[BUF_PAGES];
	struct pollfd pfd = { .fd = w->fault[i], .events = POLLIN };
	struct kmig_install in = { .buf = (uintptr_t)buf };
	ssize_t n;

	if (w->fault[i] < 0 || poll(&pfd, 1, 0) != 1)
		return;
	n = read(w->fault[i], f, sizeof(f));
	count(w, n);
	for (n = n > 0 ? n / sizeof(*f) : 0; n > 0; n--) {
		in.slot = f[n - 1].slot;
		in.flags = below(w, 2) ? KMIG_INSTALL_ZERO : 0;
		in.pages = (uintptr_t)&f[n - 1].page;
		in.count = 1;
		count(w, ioctl(w->fault_ctx[i], KMIG_INSTALL, &in));
	}
}

static void op_install(struct worker *w)
{
	struct kmig_install in = {
		.slot = slot_id(w),
		.flags = chance(w, 95) ? below(w, KMIG_INSTALL_FLAGS_ALL + 1) :
					 (uint32_t)rnd(w),
		.pages = ptr(w, pages),
		.buf = ptr(w, buf),
		.status = chance(w, 50) ? 0 : ptr(w, status),
		.count = chance(w, 97) ? below(w, BUF_PAGES + 1) :
					 KMIG_INSTALL_MAX + 1,
	};
	unsigned int i;

	for (i = 0; i < BUF_PAGES; i++)
		pages[i] = page_no(w);
	count(w, ioctl(ctx_fd(w), KMIG_INSTALL, &in));
}

static void op_range(struct worker *w)
{
	struct kmig_range r = {
		.slot = slot_id(w),
		.flags = chance(w, 95) ? 0 : (uint32_t)rnd(w),
		.first_page = page_no(w),
		.num_pages = chance(w, 95) ? below(w, 64) + 1 : rnd(w),
	};

	count(w, ioctl(ctx_fd(w), chance(w, 50) ? KMIG_WAKE : KMIG_SET_MISSING,
		       &r));
}

static void op_stats(struct worker *w)
{
	struct kmig_ctx_stats st;

	count(w, ioctl(ctx_fd(w), KMIG_GET_STATS, ptr(w, &st)));
}

static void op_dirty(struct worker *w)
{
	static const unsigned long cmds[] = {
		KMIG_GET_DIRTY_LOG, KMIG_CLEAR_DIRTY_LOG,
		KMIG_MERGE_DIRTY_LOG, KMIG_GET_PRESENT_BITMAP,
	};
	struct kmig_dirty_log d = {
		.slot = slot_id(w),
		.flags = chance(w, 50) ? 0 : chance(w, 95) ? KMIG_DIRTY_LOG_CLEAR :
							    (uint32_t)rnd(w),
		.first_page = chance(w, 90) ? 64 * below(w, 4) : page_no(w),
		.num_pages = chance(w, 90) ? 64 * (1 + below(w, 4)) :
					     below(w, SLOT_PAGES + 1),
		.bitmap = ptr(w, bitmap),
	};

	if (chance(w, 20))
		memset(bitmap, (int)rnd(w), sizeof(bitmap));
	count(w, ioctl(ctx_fd(w), cmds[below(w, 4)], &d));
}

static void op_logging(struct worker *w)
{
	struct kmig_dirty_logging l = {
		.slot = slot_id(w),
		.flags = chance(w, 95) ? below(w, 2) : (uint32_t)rnd(w),
	};

	count(w, ioctl(ctx_fd(w), KMIG_SET_DIRTY_LOGGING, &l));
}

static void op_dev_open(struct worker *w)
{
	int i = below(w, NDEV);
	struct kmig_device_open o = {
		.instance = chance(w, 95) ? 1 + below(w, DEVICES) : (uint32_t)rnd(w),
		.flags = chance(w, 95) ? 0 : (uint32_t)rnd(w),
	};

	if (w->dev[i] >= 0) {
		close(w->dev[i]);
		w->dev[i] = -1;
		return;
	}
	if (chance(w, 95))
		strcpy(o.name, SAMPLE_NAME);
	else
		memset(o.name, 'a' + (int)below(w, 26), sizeof(o.name));
	w->dev[i] = ioctl(ctx_fd(w), KMIG_DEVICE_OPEN, &o);
	w->dev_max[i] = o.data_max;
	count(w, w->dev[i]);
}

/* A field of the region, mostly whole; a state write, mostly a valid one. */
static void op_dev_region(struct worker *w)
{
	static const struct { off_t off; size_t size; } field[] = {
		{ KDEV_STATE, 4 }, { KDEV_RESERVED, 4 }, { KDEV_PENDING, 8 },
		{ KDEV_OFFSET, 8 }, { KDEV_SIZE, 8 },
	};
	int fd = w->dev[below(w, NDEV)];
	int f = below(w, 5);
	uint64_t val = chance(w, 90) ? below(w, KMIG_DEVICE_STATE_MASK + 1) :
				       below(w, 2 * PAGE_SZ);
	off_t off = chance(w, 95) ? field[f].off : (off_t)below(w, 64);
	size_t size = chance(w, 90) ? field[f].size : below(w, 9);

	if (fd < 0)
		return;
	if (chance(w, 50))
		count(w, pread(fd, &val, size, off));
	else
		count(w, pwrite(fd, &val, size, off));
}

/* The data area: pread, pwrite, or a mapping touched once. */
static void op_dev_data(struct worker *w)
{
	int i = below(w, NDEV);
	uint64_t start, len;
	uint8_t *p;

	if (w->dev[i] < 0 || pread(w->dev[i], &start, 8, KDEV_OFFSET) != 8)
		return;
	len = (1 + below(w, 4)) * PAGE_SZ;
	if (chance(w, 10))
		start += below(w, 2 * w->dev_max[i] + 1);
	if (chance(w, 40)) {
		count(w, pread(w->dev[i], buf, len, start));
	} else if (chance(w, 60)) {
		count(w, pwrite(w->dev[i], buf, len, start));
	} else {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 w->dev[i], start);
		count(w, p == MAP_FAILED ? -1 : 0);
		if (p == MAP_FAILED)
			return;
		touch(w, p + below(w, len), chance(w, 50));
		munmap(p, len);
	}
}

static void op_dev_ioctl(struct worker *w)
{
	int fd = w->dev[below(w, NDEV)];
	struct kmig_device_config c = {
		.data = ptr(w, buf),
		.size = chance(w, 95) ? below(w, sizeof(buf) + 1) :
					KMIG_DEVICE_CONFIG_MAX + 1,
	};

	if (fd < 0)
		return;
	switch (below(w, 3)) {
	case 0:
		count(w, ioctl(fd, KMIG_DEVICE_RESET));
		break;
	case 1:
		count(w, ioctl(fd, KMIG_DEVICE_GET_CONFIG, &c));
		break;
	default:
		if (c.size > sizeof(buf) && c.size <= KMIG_DEVICE_CONFIG_MAX)
			c.size = sizeof(buf);
		count(w, ioctl(fd, KMIG_DEVICE_SET_CONFIG, &c));
	}
}

/* Any number of kmig's range, any size and direction, random contents. */
static void op_raw_ioctl(struct worker *w)
{
	int fds[] = { ctx_fd(w), w->fault[0], w->dev[0], w->dev[1] };
	unsigned int nr = below(w, KMIG_DEVICE_IOC_LAST + 1);
	unsigned int size = chance(w, 80) ? 8 * below(w, 7) : below(w, 256);
	unsigned long cmd = _IOC(below(w, 4), KMIG_IOC_MAGIC, nr, size);
	unsigned int i;
	int fd = fds[below(w, 4)], ret;

	if (fd < 0)
		return;
	for (i = 0; i < 32; i++)
		((uint64_t *)buf)[i] = chance(w, 50) ? below(w, 64) : rnd(w);
	ret = ioctl(fd, cmd, ptr(w, buf));
	count(w, ret);
	/* A fault fd or a device fd came back: not ours to keep. */
	if (ret > 2 && (nr == 0x10 || nr == KMIG_DEVICE_IOC_FIRST))
		close(ret);
}

/* One attribute of type @type: mostly well-formed for it, else bytes. */
static void nl_attr(struct worker *w, struct nlmsghdr *nlh, uint16_t type)
{
	struct nlattr *nest;

	if (chance(w, 30)) {
		mnl_attr_put(nlh, type, below(w, 40), buf);
		return;
	}
	switch (type) {
	case KMIG_A_CTX_ID:
		mnl_attr_put_u32(nlh, type, below(w, 32));
		break;
	case KMIG_A_DEV:
		nest = mnl_attr_nest_start(nlh, type);
		if (chance(w, 90))
			mnl_attr_put_strz(nlh, KMIG_A_DEV_NAME, SAMPLE_NAME);
		if (chance(w, 90))
			mnl_attr_put_u32(nlh, KMIG_A_DEV_INSTANCE,
					 below(w, DEVICES + 2));
		if (chance(w, 10))
			mnl_attr_put(nlh, below(w, KMIG_A_DEV_MAX + 2),
				     below(w, 16), buf);
		mnl_attr_nest_end(nlh, nest);
		break;
	default:
		mnl_attr_put_u64(nlh, type, below(w, 2) ? below(w, 4096) : rnd(w));
	}
}

static int nl_ignore(const struct nlmsghdr *nlh, void *data)
{
	return MNL_CB_OK;
}

static void op_netlink(struct worker *w)
{
	static const uint16_t known[] = {
		KMIG_A_CTX_ID, KMIG_A_CTX_PAGE_LIMIT, KMIG_A_DEV,
	};
	char msg[KMIG_NL_BUFSIZE];
	struct nlmsghdr *nlh;
	unsigned int n;

	if (!w->nl_open)
		return;
	nlh = kmig_nl_msg(&w->nl, msg, below(w, KMIG_CMD_MAX + 3),
			  chance(w, 30) ? NLM_F_DUMP : 0);
	for (n = below(w, 4); n > 0; n--)
		nl_attr(w, nlh, chance(w, 70) ? known[below(w, 3)] :
					    below(w, KMIG_A_MAX + 3));
	count(w, kmig_nl_call(&w->nl, nlh, nl_ignore, NULL));
}

static const struct {
	void (*fn)(struct worker *w);
	unsigned int weight;
} ops[] = {
	{ op_ctx, 2 }, { op_memslot, 8 }, { op_page_limit, 2 },
	{ op_map, 6 }, { op_touch, 12 }, { op_rw, 6 }, { op_fault_fd, 4 },
	{ op_serve, 8 }, { op_install, 8 }, { op_range, 6 }, { op_stats, 2 },
	{ op_dirty, 8 }, { op_logging, 3 }, { op_dev_open, 3 },
	{ op_dev_region, 6 }, { op_dev_data, 4 }, { op_dev_ioctl, 3 },
	{ op_raw_ioctl, 6 }, { op_netlink, 8 },
};

static void op_random(struct worker *w)
{
	unsigned int total = 0, i, pick;

	for (i = 0; i < ARRAY_SIZE(ops); i++)
		total += ops[i].weight;
	pick = below(w, total);
	for (i = 0; pick >= ops[i].weight; i++)
		pick -= ops[i].weight;
	ops[i].fn(w);
}

/* A worker's life: random calls until @end; a blocked one ends it. */
static void worker_run(uint64_t seed, int shared0, int shared1,
		       struct tally *t, time_t end)
{
	struct sigaction sa = { .sa_handler = on_fault };
	struct worker w = { .rng = seed, .t = t };

	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	memset(w.ctx, -1, sizeof(w.ctx));
	memset(w.fault, -1, sizeof(w.fault));
	memset(w.dev, -1, sizeof(w.dev));
	w.ctx[0] = shared0;
	w.ctx[1] = shared1;
	w.nl_open = !kmig_nl_open(&w.nl);
	while (time(NULL) < end) {
		alarm(OP_SECONDS);
		op_random(&w);
		alarm(0);
		t->ops++;
	}
	_exit(0);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

/* The generator seed of worker @i in generation @gen. */
static uint64_t worker_seed(uint64_t seed, int i, unsigned int gen)
{
	return seed ^ (uint64_t)(i + 1) << 48 ^ (uint64_t)gen << 32;
}

FIXTURE(random) {
	int shared[2];
	struct tally *t;	/* WORKERS of them, shared */
	pid_t pid[WORKERS];
	unsigned int gen[WORKERS];
};

FIXTURE_SETUP(random)
{
	int i;

	ASSERT_EQ(0, sample_load());
	for (i = 1; i <= DEVICES; i++)
		ASSERT_EQ(0, sample_create(i));
	self->shared[0] = kmig_open();
	self->shared[1] = kmig_open();
	self->t = mmap(NULL, WORKERS * sizeof(*self->t), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->t);
	memset(self->pid, 0, sizeof(self->pid));
}

FIXTURE_TEARDOWN(random)
{
	int i;

	for (i = 0; i < WORKERS; i++)
		proc_stop(&self->pid[i]);
	for (i = 1; i <= DEVICES; i++)
		sample_destroy(i);
}

static pid_t spawn(FIXTURE_DATA(random) *self, uint64_t seed, int i,
		   time_t end)
{
	pid_t pid = fork();

	if (!pid)
		worker_run(worker_seed(seed, i, self->gen[i]), self->shared[0],
			   self->shared[1], &self->t[i], end);
	return pid;
}

/*
 * Until @end, replace each worker that ended early: SIGALRM when a call
 * blocked (a fault nobody served, say). Any other death fails the test.
 */
static void supervise(struct __test_metadata *_metadata,
		      FIXTURE_DATA(random) *self, uint64_t seed, time_t end,
		      unsigned int *blocked)
{
	int i, st;

	while (time(NULL) < end) {
		for (i = 0; i < WORKERS; i++) {
			if (waitpid(self->pid[i], &st, WNOHANG) != self->pid[i])
				continue;
			self->pid[i] = 0;
			if (WIFEXITED(st) && !WEXITSTATUS(st))
				continue;	/* reached @end */
			ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
				TH_LOG("worker %d generation %u ended with status 0x%x",
				       i, self->gen[i], st);
			(*blocked)++;
			self->gen[i]++;
			self->pid[i] = spawn(self, seed, i, end);
			ASSERT_LT(0, self->pid[i]);
		}
		usleep(100000);
	}
}

/* Every worker ends by @end + OP_SECONDS; one still blocked then is
 * killed, and must die. */
static void reap(struct __test_metadata *_metadata, FIXTURE_DATA(random) *self)
{
	int i, st;

	for (i = 0; i < WORKERS; i++) {
		if (!self->pid[i] || proc_reaped(self->pid[i], &st, OP_SECONDS * 1000))
			continue;
		kill(self->pid[i], SIGKILL);
		EXPECT_TRUE(proc_reaped(self->pid[i], &st, 30000))
			TH_LOG("worker %d does not die of SIGKILL; it waits in:%s",
			       i, proc_where(self->pid[i]));
		self->pid[i] = 0;
	}
}

/* Once everything is closed, the module holds nothing (frees may lag). */
static bool all_freed(void)
{
	struct kmig_info i;
	int tries;

	for (tries = 0; tries < 100; tries++) {
		kmig_objects(&i);
		if (!(i.obj_files | i.obj_contexts | i.obj_slots | i.obj_pages |
		      i.obj_fault_files | i.obj_device_files))
			return true;
		usleep(100000);
	}
	fprintf(stderr, "# device fds left open: %llu\n",
		(unsigned long long)i.obj_device_files);
	return kmig_objects_zero() && !i.obj_device_files;
}

TEST_F_TIMEOUT(random, sequences, 3600)
{
	uint64_t seed = env_u64("KMIG_RANDOM_SEED", time(NULL) ^ getpid() << 16);
	uint64_t seconds = env_u64("KMIG_RANDOM_SECONDS", 15);
	time_t end = time(NULL) + seconds;
	unsigned int blocked = 0;
	struct tally sum = { 0 };
	int i;

	fprintf(stderr, "# seed %llu (KMIG_RANDOM_SEED=%llu replays it), %llu s, %d workers\n",
		(unsigned long long)seed, (unsigned long long)seed,
		(unsigned long long)seconds, WORKERS);
	for (i = 0; i < WORKERS; i++) {
		self->pid[i] = spawn(self, seed, i, end);
		ASSERT_LT(0, self->pid[i]);
	}
	supervise(_metadata, self, seed, end, &blocked);
	reap(_metadata, self);

	for (i = 0; i < WORKERS; i++) {
		sum.ops += self->t[i].ops;
		sum.ok += self->t[i].ok;
		sum.sigbus += self->t[i].sigbus;
		sum.sigsegv += self->t[i].sigsegv;
	}
	fprintf(stderr, "# %llu calls, %llu succeeded, %llu SIGBUS, %u blocked\n",
		(unsigned long long)sum.ops, (unsigned long long)sum.ok,
		(unsigned long long)sum.sigbus, blocked);
	EXPECT_LT(0, sum.ops);
	EXPECT_LT(0, sum.ok);
	EXPECT_EQ(0, sum.sigsegv);

	close(self->shared[0]);
	close(self->shared[1]);
	EXPECT_TRUE(all_freed());
}

TEST_HARNESS_MAIN
