// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy blocktime on the destination (blocktime.h): each fault read
 * opens an entry, the first install of its page closes it and charges
 * the time between to the thread's vCPU, or to the other threads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocktime.h"
#include "util.h"

void mig_lat_add(__u64 *h, uint64_t us)
{
	unsigned int b = us > 1 ? 63 - __builtin_clzll(us) : 0;

	h[b < MIG_LAT_BUCKETS ? b : MIG_LAT_BUCKETS - 1]++;
}

uint64_t mig_lat_percentile(const __u64 *h, unsigned int n,
			    unsigned int pct)
{
	uint64_t total = 0, seen = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		total += h[i];
	for (i = 0; i < n && total; i++) {
		seen += h[i];
		if (seen * 100 >= total * pct)
			return 2ull << i;
	}
	return 0;
}

int mig_bt_init(struct mig_blocktime *bt, const struct mig_vm *vm)
{
	unsigned int i;

	memset(bt, 0, sizeof(*bt));
	pthread_mutex_init(&bt->lock, NULL);
	bt->vm = vm;
	for (i = 0; i < vm->nslots; i++) {
		bt->flag[i] = calloc(kmig_bitmap_words(vm->slots[i].npages), 8);
		if (!bt->flag[i])
			return -ENOMEM;
	}
	return 0;
}

void mig_bt_free(struct mig_blocktime *bt)
{
	unsigned int i;

	for (i = 0; i < MIG_MAX_SLOTS; i++)
		free(bt->flag[i]);
	free(bt->opens);
	pthread_mutex_destroy(&bt->lock);
	memset(bt, 0, sizeof(*bt));
}

int mig_bt_set_vcpus(struct mig_blocktime *bt, const pid_t *tids,
		     unsigned int n)
{
	if (n > MIG_BT_MAX_VCPUS)
		return -E2BIG;
	pthread_mutex_lock(&bt->lock);
	memcpy(bt->tids, tids, n * sizeof(*tids));
	bt->st.nvcpus = n;
	pthread_mutex_unlock(&bt->lock);
	return 0;
}

int mig_bt_parse_vcpus(const char *reply, pid_t *tids, unsigned int max)
{
	const char *p = strstr(reply, "tids=");
	unsigned int n = 0;
	char *end;
	long v;

	if (!p)
		return -EBADMSG;
	for (p += 5; *p && *p != ' '; p = *end == ',' ? end + 1 : end) {
		v = strtol(p, &end, 10);
		if (end == p || v <= 0 || n == max)
			return -EBADMSG;
		tids[n++] = v;
	}
	return n ? (int)n : -EBADMSG;
}

void mig_bt_ask_vcpus(struct mig_blocktime *bt, struct vmm_client *c,
		      const char *cmd)
{
	pid_t tids[MIG_BT_MAX_VCPUS];
	int ret, n;

	ret = vmm_client_cmd(c, "vcpus");
	n = ret ? ret : mig_bt_parse_vcpus(c->reply, tids, MIG_BT_MAX_VCPUS);
	if (n > 0)
		ret = mig_bt_set_vcpus(bt, tids, n);
	if (n <= 0 || ret)
		fprintf(stderr, "kmig %s: the VMM named no vCPU threads (%s): blocktime counts every fault as a non-vCPU one\n",
			cmd, ret ? vmm_client_why(c, ret) : c->reply);
}

static int vcpu_of(const struct mig_blocktime *bt, uint32_t tid)
{
	unsigned int i;

	for (i = 0; i < bt->st.nvcpus; i++)
		if ((uint32_t)bt->tids[i] == tid)
			return i;
	return -1;
}

/* Every vCPU blocked at once: its clock starts and stops here. */
static void vcpu_blocks(struct mig_blocktime *bt, int vcpu, bool on,
			uint64_t now)
{
	if (vcpu < 0)
		return;
	if (on) {
		if (bt->vcpu_open[vcpu]++)
			return;
		if (++bt->blocked == bt->st.nvcpus)
			bt->all_since_ns = now;
		return;
	}
	if (--bt->vcpu_open[vcpu])
		return;
	if (bt->blocked-- == bt->st.nvcpus)
		bt->st.all_us += (now - bt->all_since_ns) / 1000;
}

void mig_bt_fault(struct mig_blocktime *bt, uint32_t slot, uint64_t page,
		  uint32_t tid)
{
	int i = mig_vm_slot_index(bt->vm, slot);
	struct mig_bt_open *o;
	uint64_t now = kmig_now_ns();

	if (i < 0 || page >= bt->vm->slots[i].npages)
		return;		/* the request will say so */
	pthread_mutex_lock(&bt->lock);
	if (bt->nopen == bt->cap) {
		size_t cap = bt->cap ? 2 * bt->cap : 64;

		o = realloc(bt->opens, cap * sizeof(*o));
		if (!o) {
			pthread_mutex_unlock(&bt->lock);
			return;	/* not counted; the fault is served */
		}
		bt->opens = o;
		bt->cap = cap;
	}
	o = &bt->opens[bt->nopen++];
	*o = (struct mig_bt_open) {
		.slot = i, .page = page, .vcpu = vcpu_of(bt, tid),
		.read_ns = now,
	};
	vcpu_blocks(bt, o->vcpu, true, now);
	__atomic_fetch_or(&bt->flag[i][page / 64], 1ull << (page % 64),
			  __ATOMIC_RELEASE);
	__atomic_fetch_add(&bt->open, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&bt->lock);
}

/* Close the open fault of page @page of slot @slot, if one is. */
static void close_fault(struct mig_blocktime *bt, unsigned int slot,
			uint64_t page, uint64_t now)
{
	struct mig_bt_open *o;
	uint64_t us;
	size_t i;

	for (i = 0; i < bt->nopen; i++)
		if (bt->opens[i].slot == slot && bt->opens[i].page == page)
			break;
	if (i == bt->nopen)
		return;
	o = &bt->opens[i];
	us = (now - o->read_ns) / 1000;
	if (o->vcpu >= 0) {
		bt->st.vcpu_faults[o->vcpu]++;
		bt->st.vcpu_us[o->vcpu] += us;
		bt->st.vcpu_total_us += us;
	} else {
		bt->st.other_faults++;
		bt->st.other_us += us;
	}
	bt->st.resolved++;
	mig_lat_add(bt->st.lat_us, us);
	if (us > bt->st.max_us)
		bt->st.max_us = us;
	vcpu_blocks(bt, o->vcpu, false, now);
	*o = bt->opens[--bt->nopen];
	__atomic_fetch_sub(&bt->open, 1, __ATOMIC_RELAXED);
}

void mig_bt_installed(struct mig_blocktime *bt, unsigned int slot,
		      const uint64_t *pages, unsigned int n)
{
	uint64_t bit, now = 0;
	unsigned int i;
	bool locked = false;

	if (!bt || !__atomic_load_n(&bt->open, __ATOMIC_ACQUIRE))
		return;
	for (i = 0; i < n; i++) {
		uint64_t *w = &bt->flag[slot][pages[i] / 64];

		bit = 1ull << (pages[i] % 64);
		if (!(__atomic_load_n(w, __ATOMIC_ACQUIRE) & bit))
			continue;
		if (!locked) {
			pthread_mutex_lock(&bt->lock);
			locked = true;
			now = kmig_now_ns();
		}
		if (__atomic_fetch_and(w, ~bit, __ATOMIC_RELAXED) & bit)
			close_fault(bt, slot, pages[i], now);
	}
	if (locked)
		pthread_mutex_unlock(&bt->lock);
}

void mig_bt_stats(struct mig_blocktime *bt, struct mig_bt_stats *st)
{
	pthread_mutex_lock(&bt->lock);
	*st = bt->st;
	if (st->nvcpus && bt->blocked == st->nvcpus)
		st->all_us += (kmig_now_ns() - bt->all_since_ns) / 1000;
	pthread_mutex_unlock(&bt->lock);
}
