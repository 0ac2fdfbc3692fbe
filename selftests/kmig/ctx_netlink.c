// SPDX-License-Identifier: GPL-2.0
/*
 * Contexts over netlink: the dump lists every context with its slots and
 * page counts, GET and STATS answer for one (latency histogram included),
 * a context of 200 slots fits both, the owner is a pid in the reader's pid
 * namespace, GET and SET need CAP_NET_ADMIN, policies are strict with extack messages, and
 * the "events" group reports created, destroyed and server lost.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/capability.h>
#include <linux/genetlink.h>

#include "kselftest_harness.h"
#include "kmig.h"
#include "kvm.h"

FIXTURE(ctxnl) {
	struct kmig_nl nl;
	char buf[KMIG_NL_BUFSIZE];
};

FIXTURE_SETUP(ctxnl)
{
	ASSERT_TRUE(kmig_objects_zero());
	ASSERT_EQ(0, kmig_nl_open(&self->nl));
}

FIXTURE_TEARDOWN(ctxnl)
{
	kmig_nl_close(&self->nl);
	EXPECT_TRUE(kmig_objects_zero());
}

static const struct kmig_nl_ctx *find(const struct kmig_nl_ctx *c, int n,
				      uint32_t id)
{
	for (int i = 0; i < n; i++)
		if (c[i].id == id)
			return &c[i];
	return NULL;
}

/* The id of the newest context owned by this process, from the dump. */
static uint32_t newest_id(struct kmig_nl *nl)
{
	static struct kmig_nl_ctx c[128];
	uint32_t id = 0;
	int n, i;

	if (kmig_nl_ctx_list(nl, c, 128, &n))
		return 0;
	for (i = 0; i < n && i < 128; i++)
		if (c[i].owner == (uint32_t)getpid() && c[i].id > id)
			id = c[i].id;
	return id;
}

TEST_F(ctxnl, dump_lists_contexts_slots_and_pages)
{
	struct kmig_nl_ctx c[16];
	const struct kmig_nl_ctx *a, *b;
	struct kmig_range r = { .slot = 2, .first_page = 0, .num_pages = 4 };
	uint32_t ida, idb;
	int fa, fb, n;
	uint8_t *p;

	fa = kmig_open();
	ida = newest_id(&self->nl);
	fb = kmig_open();
	idb = newest_id(&self->nl);
	ASSERT_NE(0, ida);
	ASSERT_LT(ida, idb);

	kmig_set_memslot(fa, 0, KMIG_SLOT_DIRTY_LOG, 0, 16 * PAGE_SZ);
	kmig_set_memslot(fa, 2, 0, 1 << 20, 8 * PAGE_SZ);
	ASSERT_EQ(0, ioctl(fa, KMIG_SET_MISSING, &r));
	p = kmig_map(fa, 0, 16 * PAGE_SZ);
	p[0] = p[PAGE_SZ] = 1;
	ASSERT_EQ(0, *(volatile uint8_t *)(p + 5 * PAGE_SZ)); /* clean */

	ASSERT_EQ(0, kmig_nl_ctx_list(&self->nl, c, 16, &n));
	a = find(c, n, ida);
	b = find(c, n, idb);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	EXPECT_EQ(getpid(), a->owner);
	EXPECT_EQ(2, a->nslots);
	EXPECT_EQ(3, a->pages);
	EXPECT_EQ(2, a->dirty);
	EXPECT_EQ(4, a->missing);
	EXPECT_EQ(KMIG_CTX_MODE_POSTCOPY | KMIG_CTX_MODE_DIRTY_LOG, a->mode);
	EXPECT_EQ(0, a->slots[0].id);
	EXPECT_EQ(KMIG_SLOT_DIRTY_LOG, a->slots[0].flags);
	EXPECT_EQ(16 * PAGE_SZ, a->slots[0].size);
	EXPECT_EQ(3, a->slots[0].pages);
	EXPECT_EQ(2, a->slots[1].id);
	EXPECT_EQ(1 << 20, a->slots[1].gpa);
	EXPECT_EQ(4, a->slots[1].missing);
	EXPECT_EQ(0, b->nslots);
	EXPECT_EQ(0, b->mode);

	munmap(p, 16 * PAGE_SZ);
	close(fa);
	close(fb);
	ASSERT_EQ(0, kmig_nl_ctx_list(&self->nl, c, 16, &n));
	EXPECT_EQ(NULL, find(c, n, ida));
	EXPECT_EQ(NULL, find(c, n, idb));
}

/*
 * Enough contexts, with enough slots, that the dump takes several
 * messages, opened and closed in an order that interleaves old and new
 * ones: every live context is listed exactly once.
 */
TEST_F(ctxnl, dump_of_many_contexts_is_complete)
{
	static struct kmig_nl_ctx c[128];
	int fds[100], n, i, j, live = 0, found;
	uint32_t ids[100];

	for (i = 0; i < 100; i++) {
		fds[i] = -1;
		if (i >= 60) {
			close(fds[(i - 60) * 2]);
			fds[(i - 60) * 2] = -1;
		}
		fds[i] = kmig_open();
		for (j = 0; j < 4; j++)
			kmig_set_memslot(fds[i], j, 0, j * PAGE_SZ, PAGE_SZ);
		ids[i] = newest_id(&self->nl);
	}
	ASSERT_EQ(0, kmig_nl_ctx_list(&self->nl, c, 128, &n));
	for (i = 0; i < 100; i++) {
		if (fds[i] < 0)
			continue;
		live++;
		found = 0;
		for (j = 0; j < n && j < 128; j++)
			found += c[j].id == ids[i];
		EXPECT_EQ(1, found) TH_LOG("context %u", ids[i]);
	}
	EXPECT_EQ(60, live);
	EXPECT_EQ(live, n);
	for (i = 0; i < 100; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

TEST_F(ctxnl, get_and_stats_of_one_context)
{
	struct kmig_nl_stats st;
	struct kmig_nl_ctx c;
	struct kmig_fault rec;
	uint64_t page = 1, total = 0;
	int fd, ffd, status;
	uint32_t id;
	uint8_t *p;
	pid_t pid;

	fd = kmig_open();
	id = newest_id(&self->nl);
	kmig_set_memslot(fd, 0, KMIG_SLOT_MISSING, 0, 4 * PAGE_SZ);
	p = kmig_map(fd, 0, 4 * PAGE_SZ);
	ffd = __kmig_fault_fd(fd, 0);
	ASSERT_LE(0, ffd);

	ASSERT_EQ(0, kmig_nl_ctx_get(&self->nl, id, &c));
	EXPECT_EQ(id, c.id);
	EXPECT_EQ(4, c.missing);
	EXPECT_EQ(KMIG_CTX_MODE_POSTCOPY | KMIG_CTX_MODE_SERVED, c.mode);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(ffd);
		_exit(p[PAGE_SZ] == 0 ? 0 : 1);
	}
	ASSERT_EQ(sizeof(rec), read(ffd, &rec, sizeof(rec)));
	ASSERT_TRUE(kmig_wait_waiters(fd, 1, 2000));
	ASSERT_EQ(0, kmig_nl_ctx_stats(&self->nl, id, &st));
	EXPECT_EQ(1, st.waiters);
	usleep(3000);
	ASSERT_EQ(0, __kmig_install(fd, 0, KMIG_INSTALL_ZERO, &page, NULL,
				    NULL, 1, NULL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));

	ASSERT_EQ(0, kmig_nl_ctx_stats(&self->nl, id, &st));
	EXPECT_EQ(1, st.faults);
	EXPECT_EQ(1, st.installed_zero);
	EXPECT_EQ(0, st.waiters);
	for (int i = 0; i < 32; i++)
		total += st.latency_us[i];
	EXPECT_EQ(1, total);
	/* 3 ms or more: nothing below 2^11 µs. */
	for (int i = 0; i < 11; i++)
		EXPECT_EQ(0, st.latency_us[i]);

	munmap(p, 4 * PAGE_SZ);
	close(ffd);
	close(fd);
	EXPECT_EQ(-ENOENT, kmig_nl_ctx_get(&self->nl, id, &c));
	EXPECT_STRNE("", self->nl.err_msg);
	EXPECT_EQ(-ENOENT, kmig_nl_ctx_stats(&self->nl, id, &st));
}

TEST_F(ctxnl, policies_refuse_bad_requests_with_extack)
{
	struct nlmsghdr *nlh;

	/* The id is required, must be a u32, and is never 0. */
	nlh = kmig_nl_msg(&self->nl, self->buf, KMIG_CMD_CTX_STATS, 0);
	EXPECT_EQ(-EINVAL, kmig_nl_call(&self->nl, nlh, NULL, NULL));
	EXPECT_STRNE("", self->nl.err_msg);
	nlh = kmig_nl_msg(&self->nl, self->buf, KMIG_CMD_CTX_GET, 0);
	mnl_attr_put_u8(nlh, KMIG_A_CTX_ID, 1);
	EXPECT_EQ(-EINVAL, kmig_nl_call(&self->nl, nlh, NULL, NULL));
	EXPECT_STRNE("", self->nl.err_msg);
	nlh = kmig_nl_msg(&self->nl, self->buf, KMIG_CMD_CTX_GET, 0);
	mnl_attr_put_u32(nlh, KMIG_A_CTX_ID, 0);
	EXPECT_EQ(-ERANGE, kmig_nl_call(&self->nl, nlh, NULL, NULL));
	EXPECT_STRNE("", self->nl.err_msg);
	/* An attribute the op does not take. */
	nlh = kmig_nl_msg(&self->nl, self->buf, KMIG_CMD_CTX_GET, 0);
	mnl_attr_put_u32(nlh, KMIG_A_CTX_ID, 1);
	mnl_attr_put_u64(nlh, KMIG_A_CTX_PAGE_LIMIT, 1);
	EXPECT_EQ(-EINVAL, kmig_nl_call(&self->nl, nlh, NULL, NULL));
	EXPECT_STRNE("", self->nl.err_msg);
	/* SET without its value; a value out of range. */
	nlh = kmig_nl_msg(&self->nl, self->buf, KMIG_CMD_CTX_SET, 0);
	mnl_attr_put_u32(nlh, KMIG_A_CTX_ID, 1);
	EXPECT_EQ(-EINVAL, kmig_nl_call(&self->nl, nlh, NULL, NULL));
	EXPECT_STRNE("", self->nl.err_msg);
	EXPECT_EQ(-ERANGE, kmig_nl_ctx_set_page_limit(&self->nl, 1, ~0ULL));
	EXPECT_STRNE("", self->nl.err_msg);
	/* Events are not requests. */
	nlh = kmig_nl_msg(&self->nl, self->buf, KMIG_CMD_CTX_NEW, 0);
	EXPECT_EQ(-EOPNOTSUPP, kmig_nl_call(&self->nl, nlh, NULL, NULL));
}

/* Slot ids of context @id seen in the replies, and in how many messages. */
struct slot_seen {
	uint32_t id;
	int msgs;
	uint8_t seen[KMIG_MAX_SLOTS];
};

static int collect_slots(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *attr, *slot, *a;
	struct slot_seen *s = data;
	uint32_t id = 0;

	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(attr) == KMIG_A_CTX_ID)
			id = mnl_attr_get_u32(attr);
	if (id != s->id)
		return MNL_CB_OK;
	s->msgs++;
	mnl_attr_for_each(attr, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(attr) != KMIG_A_CTX_SLOTS)
			continue;
		mnl_attr_for_each_nested(slot, attr)
			mnl_attr_for_each_nested(a, slot)
				if (mnl_attr_get_type(a) == KMIG_A_SLOT_ID &&
				    mnl_attr_get_u32(a) < KMIG_MAX_SLOTS)
					s->seen[mnl_attr_get_u32(a)]++;
	}
	return MNL_CB_OK;
}

static void expect_each_slot_once(struct __test_metadata *_metadata,
				  const struct slot_seen *s, int nslots)
{
	int i, bad = 0;

	for (i = 0; i < KMIG_MAX_SLOTS; i++)
		bad += s->seen[i] != (i < nslots);
	EXPECT_EQ(0, bad);
}

TEST_F(ctxnl, context_of_200_slots_fits_get_and_dump)
{
	static struct slot_seen s;
	struct kmig_nl_ctx c[16];
	struct nlmsghdr *nlh;
	int fd, i, n;

	fd = kmig_open();
	for (i = 0; i < 200; i++)
		kmig_set_memslot(fd, i, KMIG_SLOT_DIRTY_LOG, i * PAGE_SZ,
				 PAGE_SZ);
	s.id = newest_id(&self->nl);
	ASSERT_NE(0, s.id);

	nlh = kmig_nl_msg(&self->nl, self->buf, KMIG_CMD_CTX_GET, 0);
	mnl_attr_put_u32(nlh, KMIG_A_CTX_ID, s.id);
	EXPECT_EQ(0, kmig_nl_call(&self->nl, nlh, collect_slots, &s));
	TH_LOG("get: %s", self->nl.err_msg);
	EXPECT_EQ(1, s.msgs);
	expect_each_slot_once(_metadata, &s, 200);

	memset(s.seen, 0, sizeof(s.seen));
	s.msgs = 0;
	nlh = kmig_nl_msg(&self->nl, self->buf, KMIG_CMD_CTX_GET, NLM_F_DUMP);
	EXPECT_EQ(0, kmig_nl_call(&self->nl, nlh, collect_slots, &s));
	EXPECT_LE(1, s.msgs);
	expect_each_slot_once(_metadata, &s, 200);

	/* The library folds the messages of one context into one entry. */
	ASSERT_EQ(0, kmig_nl_ctx_list(&self->nl, c, 16, &n));
	ASSERT_EQ(1, n);
	EXPECT_EQ(s.id, c[0].id);
	EXPECT_EQ(200, c[0].nslots);
	ASSERT_EQ(0, kmig_nl_ctx_get(&self->nl, s.id, &c[0]));
	EXPECT_EQ(200, c[0].nslots);
	close(fd);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct walker {
	uint32_t id;
	int rounds;
	volatile bool done;
};

/* Reports context @id over its own socket, again and again. */
static void *walk(void *arg)
{
	struct walker *w = arg;
	struct kmig_nl_ctx c;
	struct kmig_nl nl;

	if (!kmig_nl_open(&nl)) {
		for (int i = 0; i < w->rounds; i++)
			if (kmig_nl_ctx_get(&nl, w->id, &c))
				break;
		kmig_nl_close(&nl);
	}
	w->done = true;
	return NULL;
}

/*
 * Counting the pages of a huge slot takes a while (O(slot size), but
 * preemptible and killable), and it holds no lock meanwhile: another
 * request, here GET_INFO, is answered at once rather than after the walk.
 * Five walks (4.1 s each on the debug kernel) and freeing the slot's
 * page array outlast the harness's default 30 s there.
 */
TEST_F_TIMEOUT(ctxnl, a_huge_slot_holds_up_no_other_request, 180)
{
	const uint64_t size = 64ULL << 30;
	struct walker w = { .rounds = 4 };
	struct kmig_nl_ctx c;
	struct kmig_info info;
	double t0, one, worst = 0, t;
	pthread_t thread;
	int fd, ret, asked = 0;

	fd = kmig_open();
	ret = __kmig_set_memslot(fd, 0, KMIG_SLOT_DIRTY_LOG, 0, size);
	if (ret == -ENOMEM)
		SKIP(return, "no memory for a 64 GiB slot's page array");
	ASSERT_EQ(0, ret);
	w.id = newest_id(&self->nl);
	ASSERT_NE(0, w.id);
	t0 = now();
	ASSERT_EQ(0, kmig_nl_ctx_get(&self->nl, w.id, &c));
	one = now() - t0;
	EXPECT_EQ(size, c.slots[0].size);
	TH_LOG("one report of a 64 GiB slot: %.3f s", one);
	if (one < 0.05)
		SKIP(goto out, "the walk is too quick to tell");

	ASSERT_EQ(0, pthread_create(&thread, NULL, walk, &w));
	while (!w.done) {
		t0 = now();
		ASSERT_EQ(0, kmig_nl_get_info(&self->nl, &info));
		t = now() - t0;
		worst = t > worst ? t : worst;
		asked++;
		usleep(1000);
	}
	pthread_join(thread, NULL);
	TH_LOG("%d GET_INFO during %d reports: slowest %.3f s", asked,
	       w.rounds, worst);
	EXPECT_GT(one / 2, worst) TH_LOG("GET_INFO waited for the walk");
out:
	close(fd);
}

/* Owner of context @id as this process sees it, or ~0 on error. */
static uint32_t owner_of(uint32_t id)
{
	struct kmig_nl_ctx c;
	struct kmig_nl nl;
	uint32_t owner = ~0u;

	if (kmig_nl_open(&nl))
		return owner;
	if (!kmig_nl_ctx_get(&nl, id, &c))
		owner = c.owner;
	kmig_nl_close(&nl);
	return owner;
}

/* pid 1 of a new pid namespace: opens a context, sends its id. */
static int pidns_init(int out, int in, uint32_t parent_id)
{
	uint32_t id = 0;
	int fd;

	if (getpid() != 1)
		return 1;
	fd = kmig_open();
	{
		struct kmig_nl nl;

		if (kmig_nl_open(&nl))
			return 2;
		id = newest_id(&nl);
		kmig_nl_close(&nl);
	}
	if (!id || owner_of(id) != 1)
		return 3;
	/* The parent's process is not in this namespace. */
	if (owner_of(parent_id) != 0)
		return 4;
	if (write(out, &id, sizeof(id)) != sizeof(id))
		return 5;
	if (read(in, &id, 1) != 0)
		return 6;
	close(fd);
	return 0;
}

/*
 * Two writers, two pipes: the middle child reports the pid of its child,
 * which itself reports its context's id, and either may run first.
 */
TEST_F(ctxnl, owner_is_a_pid_in_the_readers_namespace)
{
	int to[2], from[2], pids[2], fd, status;
	uint32_t parent_id, id = 0;
	pid_t pid, inner = 0;

	fd = kmig_open();
	parent_id = newest_id(&self->nl);
	ASSERT_EQ(getpid(), owner_of(parent_id));
	ASSERT_EQ(0, pipe(to));
	ASSERT_EQ(0, pipe(from));
	ASSERT_EQ(0, pipe(pids));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int st;

		close(to[1]);
		close(from[0]);
		close(pids[0]);
		if (unshare(CLONE_NEWPID))
			_exit(100);
		inner = fork();
		if (inner < 0)
			_exit(101);
		if (!inner) {
			close(pids[1]);
			_exit(pidns_init(from[1], to[0], parent_id));
		}
		close(from[1]);
		if (write(pids[1], &inner, sizeof(inner)) != sizeof(inner))
			_exit(102);
		if (waitpid(inner, &st, 0) != inner || !WIFEXITED(st))
			_exit(103);
		_exit(WEXITSTATUS(st));
	}
	close(to[0]);
	close(from[1]);
	close(pids[1]);
	ASSERT_EQ(sizeof(inner), read(pids[0], &inner, sizeof(inner)));
	EXPECT_EQ(sizeof(id), read(from[0], &id, sizeof(id)));
	EXPECT_EQ(inner, owner_of(id));
	close(to[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(pids[0]);
	close(from[0]);
	close(fd);
}

static int drop_net_admin(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[CAP_NET_ADMIN / 32].effective &= ~(1U << (CAP_NET_ADMIN % 32));
	d[CAP_NET_ADMIN / 32].permitted &= ~(1U << (CAP_NET_ADMIN % 32));
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

TEST_F(ctxnl, get_and_set_need_cap_net_admin)
{
	struct kmig_nl_ctx c;
	int fd, status;
	uint32_t id;
	pid_t pid;

	fd = kmig_open();
	id = newest_id(&self->nl);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct kmig_nl nl;

		if (drop_net_admin() || kmig_nl_open(&nl))
			_exit(1);
		if (kmig_nl_ctx_set_page_limit(&nl, id, 5) != -EPERM)
			_exit(2);
		/* Reading another's context needs it too. */
		if (kmig_nl_ctx_get(&nl, id, &c) != -EPERM)
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, kmig_nl_ctx_get(&self->nl, id, &c));
	EXPECT_EQ(0, c.page_limit);

	ASSERT_EQ(0, kmig_nl_ctx_set_page_limit(&self->nl, id, 7));
	ASSERT_EQ(0, kmig_nl_ctx_get(&self->nl, id, &c));
	EXPECT_EQ(7, c.page_limit);
	close(fd);
}

static int next_event(struct kmig_nl *nl, struct kmig_nl_event *ev,
		      uint32_t id)
{
	int ret;

	/* Skip events of other processes' contexts, and of other ids. */
	do {
		ret = kmig_nl_event_recv(nl, ev, 2000);
	} while (!ret && (ev->owner != (uint32_t)getpid() ||
			  (id && ev->id != id)));
	return ret;
}

TEST_F(ctxnl, events_for_created_destroyed_and_server_lost)
{
	struct kmig_nl_event ev;
	struct kmig_nl events;
	int fd, ffd;
	uint32_t id;

	ASSERT_EQ(0, kmig_nl_open(&events));
	ASSERT_NE(0, events.mcgrp_events);
	ASSERT_EQ(0, kmig_nl_events_join(&events));

	fd = kmig_open();
	ASSERT_EQ(0, next_event(&events, &ev, 0));
	EXPECT_EQ(KMIG_CMD_CTX_NEW, ev.cmd);
	EXPECT_EQ(getpid(), ev.owner);
	id = ev.id;
	EXPECT_EQ(id, newest_id(&self->nl));

	ffd = __kmig_fault_fd(fd, 0);
	ASSERT_LE(0, ffd);
	close(ffd);
	ASSERT_EQ(0, next_event(&events, &ev, id));
	EXPECT_EQ(KMIG_CMD_CTX_SERVER_LOST, ev.cmd);
	EXPECT_EQ(id, ev.id);

	close(fd);
	ASSERT_EQ(0, next_event(&events, &ev, id));
	EXPECT_EQ(KMIG_CMD_CTX_DEL, ev.cmd);
	EXPECT_EQ(id, ev.id);
	EXPECT_EQ(-ETIMEDOUT, kmig_nl_event_recv(&events, &ev, 100));
	kmig_nl_close(&events);
}

TEST_HARNESS_MAIN
