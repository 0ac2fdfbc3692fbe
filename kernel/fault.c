// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy fault servicing.
 *
 * A fault on an absent page of a missing-mode range blocks here. The first
 * thread to fault a page queues a record (on its stack) for the fault fd;
 * later threads on the same page only wait (slot->requested is the "already
 * reported" bit). Waiters sleep killably on a wait queue hashed by page:
 * first for up to fault_hold_us with the mmap/VMA lock held, and a page
 * installed meanwhile is returned by the fault itself; then without the
 * lock, returning VM_FAULT_RETRY when woken, so the fault is retried and
 * maps the page. Installing a page clears its requested bit and wakes its
 * waiters (a wake-up keyed by page).
 *
 * Every waiter ends: on install, KMIG_WAKE, a server attaching or leaving,
 * an unmap of its slot (the retried fault finds no mapping), or a fatal
 * signal. Kernel threads get no signals, so they wait only while a server
 * is attached.
 *
 * Locking: ctx->server_mutex serialises attaching and losing a server,
 * ctx->fault_lock protects the fault queue and the server fields; their
 * order is in the block above struct kmig_ctx (context.h).
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/hash.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/poll.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "context.h"
#include "kmig.h"

struct kmig_waiter {
	struct list_head node;		/* in ctx->fault_queue until read */
	wait_queue_entry_t wq;		/* on the page's queue while asleep */
	struct kmig_slot *slot;		/* the page the thread waits for */
	unsigned long idx;
	bool queued;			/* on a list of ctx->fault_lock */
	bool reported;			/* this thread queued the record */
	bool told;			/* ... and woke the fault fd's readers */
	bool on_request;		/* the page's requested bit was set */
	u32 gen;			/* ctx->server_gen when it slept */
	u32 wake_seq;			/* ctx->wake_seq when it slept */
	struct kmig_fault rec;
};

/*
 * How long a fault waits for its page with the mmap or VMA lock held, at
 * least, in timer ticks (one more tick at most). The round trip to a
 * server is tens of microseconds on hardware: a page installed within
 * this is mapped by the fault that asked for it, where a fault that
 * dropped the lock must be taken again, its page tables walked again, and
 * on 6.4 and later under mmap_lock (a VMA-locked fault's retry takes the
 * mmap lock). What it costs: a writer of the lock (an munmap or mprotect
 * of the faulting process; on 6.1 any mmap) waits that long at most
 * behind a slow fault. A timer-wheel timeout, not an hrtimer: it reads no
 * clock, which under an emulator cost more than the retry it saves.
 */
static unsigned int fault_hold_us = 1000;
module_param(fault_hold_us, uint, 0644);
MODULE_PARM_DESC(fault_hold_us,
		 "microseconds (rounded up to timer ticks, plus one) a fault waits for its page before it drops the mmap/VMA lock; 0: at once");

void kmig_fault_ctx_init(struct kmig_ctx *ctx)
{
	int i;

	spin_lock_init(&ctx->fault_lock);
	INIT_LIST_HEAD(&ctx->fault_queue);
	init_waitqueue_head(&ctx->fault_readers);
	for (i = 0; i < ARRAY_SIZE(ctx->page_wait); i++)
		init_waitqueue_head(&ctx->page_wait[i]);
}

/* Every waiter of @ctx, whatever its page (a NULL key). */
static void wake_all(struct kmig_ctx *ctx)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(ctx->page_wait); i++)
		wake_up_all(&ctx->page_wait[i]);
}

static wait_queue_head_t *page_queue(struct kmig_slot *slot,
				     unsigned long idx)
{
	return &slot->ctx->page_wait[hash_64(((u64)slot->id <<
					      KMIG_SLOT_SHIFT) + idx,
					     KMIG_WAIT_HASH_BITS)];
}

/* A wake-up of one page's waiters, which its queue shares with others. */
struct kmig_wake_key {
	const struct kmig_slot *slot;
	unsigned long idx;
};

/*
 * A waiter's wake function: a keyed wake-up wakes only its page's
 * waiters, as the page cache's wake_page_function() does, so a page
 * installed does not wake the threads of the other pages hashed to its
 * queue; a wake-up without a key (wake_all(), KMIG_WAKE) wakes them all.
 */
static int page_wake(wait_queue_entry_t *wq, unsigned int mode, int sync,
		     void *key)
{
	const struct kmig_waiter *w = container_of(wq, struct kmig_waiter,
						   wq);
	const struct kmig_wake_key *k = key;

	if (k && (k->slot != w->slot || k->idx != w->idx))
		return 0;
	return autoremove_wake_function(wq, mode, sync, key);
}

static void wake_page(struct kmig_slot *slot, unsigned long idx)
{
	struct kmig_wake_key key = { .slot = slot, .idx = idx };

	__wake_up(page_queue(slot, idx), TASK_NORMAL, 0, &key);
}

/* The serving side is gone and faults must fail rather than wait. */
static bool server_dead(struct kmig_ctx *ctx)
{
	return READ_ONCE(ctx->server_lost) && !READ_ONCE(ctx->keep_waiting);
}

/*
 * The latency histogram's clock is local_clock(): the wait may end on
 * another CPU, where it can be behind by a little; a log2 histogram of
 * microseconds does not see it, and unlike ktime_get() it never reads a
 * slow clock source (the HPET: an exit to the hypervisor each).
 */
static void record_latency(struct kmig_ctx *ctx, u64 start)
{
	s64 us = div_s64((s64)(local_clock() - start), NSEC_PER_USEC);
	unsigned int b = us > 1 ? ilog2(us) : 0;

	atomic64_inc(&ctx->stats.lat_us[min(b, KMIG_LAT_BUCKETS - 1U)]);
}

/*
 * The page cache lookup last: the install of a requested page clears its
 * bit after publishing it, so a woken reporter does not look the page up
 * here (kmig_fault_missing() does, once).
 */
static bool wait_done(struct kmig_slot *slot, unsigned long idx,
		      const struct kmig_waiter *w)
{
	struct kmig_ctx *ctx = slot->ctx;

	return (w->on_request && !test_bit(idx, slot->requested)) ||
	       READ_ONCE(ctx->server_gen) != w->gen ||
	       READ_ONCE(ctx->wake_seq) != w->wake_seq ||
	       kmig_page_present(slot, idx);
}

/*
 * Whether the current thread may sleep for a page. Kernel threads (KVM's
 * async-PF worker, vhost on 6.1) never see a signal, and the VMM's exit
 * may wait for them: they wait only while a server is attached. Others
 * wait unless the server was lost without KMIG_FAULT_FD_KEEP_WAITING.
 */
static bool may_wait(struct kmig_ctx *ctx)
{
	lockdep_assert_held(&ctx->fault_lock);
	if (current->flags & PF_KTHREAD)
		return !!ctx->server;
	return !ctx->server_lost || ctx->keep_waiting;
}

/*
 * Register the current thread as a waiter of page @idx: unless the server
 * was lost (then the next server hears of the page), the first thread to
 * fault the page queues its record. Sets *@sleep if the thread is to
 * sleep; otherwise returns the fault's result: 0 with the page present,
 * VM_FAULT_SIGBUS if the thread may not wait.
 */
static vm_fault_t fault_enqueue(struct kmig_slot *slot, unsigned long idx,
				struct kmig_waiter *w, bool *sleep)
{
	struct kmig_ctx *ctx = slot->ctx;

	lockdep_assert_held(&ctx->fault_lock);
	*sleep = false;
	if (kmig_page_present(slot, idx))
		return 0;
	if (!may_wait(ctx))
		return VM_FAULT_SIGBUS;
	if (!ctx->server_lost) {
		if (!test_and_set_bit(idx, slot->requested)) {
			list_add_tail(&w->node, &ctx->fault_queue);
			w->queued = true;
			w->reported = true;
		}
		w->on_request = true;
	}
	w->gen = ctx->server_gen;
	w->wake_seq = ctx->wake_seq;
	*sleep = true;
	return 0;
}

/*
 * The wait of @w for page @idx is over: withdraw its record if unread.
 * A record read (fault_read()) or dropped (fault_release()) is off every
 * list before its queued flag is released, and never queued again: then
 * there is nothing to withdraw, and no lock to take.
 */
static void fault_dequeue(struct kmig_slot *slot, unsigned long idx,
			  struct kmig_waiter *w)
{
	struct kmig_ctx *ctx = slot->ctx;

	/* Pairs with fault_unqueue(): the list is done with @w's node. */
	if (!smp_load_acquire(&w->queued))
		return;
	spin_lock(&ctx->fault_lock);
	if (w->queued) {
		/* Never read: let the next fault of the page report it. */
		list_del(&w->node);
		w->queued = false;
		clear_bit(idx, slot->requested);
		wake_page(slot, idx);
	}
	spin_unlock(&ctx->fault_lock);
}

/* @w is off the fault queue for good: its thread may return. */
static void fault_unqueue(struct kmig_waiter *w)
{
	list_del(&w->node);
	/* After list_del()'s writes: the thread's stack may go at once. */
	smp_store_release(&w->queued, false);
}

/*
 * Sleep in @state until wait_done(), or for @timeout jiffies at most
 * (MAX_SCHEDULE_TIMEOUT: no limit); returns whether the wait is done. As
 * in handle_userfault(), the thread is on its page's queue and no longer
 * running before the server hears of its record (once, if it queued it):
 * an install that comes first only makes it runnable again.
 */
static bool fault_wait(struct kmig_slot *slot, unsigned long idx,
		       struct kmig_waiter *w, unsigned int state, long timeout)
{
	struct kmig_ctx *ctx = slot->ctx;
	wait_queue_head_t *wq = page_queue(slot, idx);
	bool done;

	might_sleep();
	init_wait(&w->wq);
	w->wq.func = page_wake;
	for (;;) {
		long err = prepare_to_wait_event(wq, &w->wq, state);

		done = wait_done(slot, idx, w);
		if (done || err)
			break;
		if (w->reported && !w->told) {
			w->told = true;
			wake_up_poll(&ctx->fault_readers, EPOLLIN | EPOLLRDNORM);
		}
		timeout = schedule_timeout(timeout);
		if (!timeout)
			break;
	}
	finish_wait(wq, &w->wq);
	return done;
}

/*
 * Called by .fault for an absent page of a missing-mode range, with the
 * mmap or VMA lock held. Returns 0 if the page is present now (lock still
 * held: it came within fault_hold_us), VM_FAULT_RETRY after waiting longer
 * (lock dropped) or when the caller may not wait (FAULT_FLAG_RETRY_NOWAIT,
 * lock held), VM_FAULT_SIGBUS if nobody will serve the page or the caller
 * cannot drop the lock.
 */
vm_fault_t kmig_fault_missing(struct vm_fault *vmf, struct kmig_slot *slot,
			      unsigned long idx)
{
	struct kmig_ctx *ctx = slot->ctx;
	struct kmig_waiter w = {
		.slot = slot,
		.idx = idx,
		.rec = {
			.slot = slot->id,
			.page = idx,
			.tid = task_pid_vnr(current),
			.flags = (vmf->flags & FAULT_FLAG_WRITE ?
				  KMIG_FAULT_WRITE : 0) |
				 (slot->flags & KMIG_SLOT_HUGE ?
				  KMIG_FAULT_HUGE : 0),
		},
	};
	/* GUP for KVM asks to be interruptible: KVM_RUN then sees -EINTR. */
	unsigned int state = vmf->flags & FAULT_FLAG_INTERRUPTIBLE ?
			     TASK_INTERRUPTIBLE : TASK_KILLABLE;
	unsigned int hold_us = READ_ONCE(fault_hold_us);
	struct file *file;
	vm_fault_t ret;
	u64 start;
	bool sleep;

	if (server_dead(ctx))
		return VM_FAULT_SIGBUS;
	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
		return VM_FAULT_RETRY;
	if (!(vmf->flags & FAULT_FLAG_ALLOW_RETRY))
		return VM_FAULT_SIGBUS;

	spin_lock(&ctx->fault_lock);
	ret = fault_enqueue(slot, idx, &w, &sleep);
	spin_unlock(&ctx->fault_lock);
	if (!sleep)
		return ret;
	if (w.reported)
		atomic64_inc(&ctx->stats.faults);
	atomic_inc(&ctx->stats.waiters);
	start = local_clock();

	if (hold_us &&
	    fault_wait(slot, idx, &w, state, usecs_to_jiffies(hold_us) + 1) &&
	    kmig_page_present(slot, idx)) {
		fault_dequeue(slot, idx, &w);
		if (w.reported)
			record_latency(ctx, start);
		atomic_dec(&ctx->stats.waiters);
		return 0;
	}

	/*
	 * Once the lock is dropped the VMA may go: the slot must stay, and
	 * the file keeps the context and the module's code. Its last fput()
	 * releases it later (task work or a worker), after this returns.
	 */
	file = get_file(vmf->vma->vm_file);
	kref_get(&slot->ref);
	release_fault_lock(vmf);
	fault_wait(slot, idx, &w, state, MAX_SCHEDULE_TIMEOUT);
	fault_dequeue(slot, idx, &w);
	if (kmig_page_present(slot, idx)) {
		/* The retry maps the page alone (kmig_fault_map_pages()). */
		if (!test_bit(idx, slot->waited))
			set_bit(idx, slot->waited);
		if (w.reported)
			record_latency(ctx, start);
	}
	atomic_dec(&ctx->stats.waiters);
	kmig_slot_put(slot);
	fput(file);
	return VM_FAULT_RETRY;
}

/*
 * Fault-around for a missing page: none before .fault (the fault waits and
 * is retried), and the retry of a fault that waited (slot->waited) maps
 * its page alone, on the latency path, as userfaultfd maps one page;
 * present neighbours are mapped by their own faults' fault-around. A huge
 * slot keeps the window, where its PMD may be mapped whole. The waiter
 * saw the page present when it set its bit: the retry does not look it
 * up again before filemap_map_pages() does (a page gone meanwhile is not
 * mapped, and .fault sees it absent).
 */
vm_fault_t kmig_fault_map_pages(struct vm_fault *vmf, pgoff_t start,
				pgoff_t end)
{
	struct kmig_slot *slot = vmf->vma->vm_private_data;
	unsigned long idx = vmf->pgoff - slot->pgoff;

	if (idx < slot->npages && test_bit(idx, slot->missing)) {
		if (test_bit(idx, slot->waited) &&
		    test_and_clear_bit(idx, slot->waited)) {
			if (!(slot->flags & KMIG_SLOT_HUGE)) {
				start = vmf->pgoff;
				end = vmf->pgoff;
			}
		} else if (!kmig_page_present(slot, idx)) {
			return 0;
		}
	}
	return filemap_map_pages(vmf, start, end);
}

/*
 * Page @idx of @slot, in missing mode, is present: newly installed by the
 * caller (@installed, with zeros if @zero) or found present. Withdraw its
 * request, count it, and wake its waiters.
 */
void kmig_fault_installed(struct kmig_slot *slot, unsigned long idx,
			  bool installed, bool zero)
{
	struct kmig_ctx *ctx = slot->ctx;

	if (installed) {
		if (!test_and_clear_bit(idx, slot->requested))
			atomic64_inc(&ctx->stats.installed_background);
		atomic64_inc(zero ? &ctx->stats.installed_zero :
				    &ctx->stats.installed_copy);
	}
	/*
	 * The page and its bit are published (by a full barrier, a
	 * value-returning atomic); the barrier of wq_has_sleeper() pairs
	 * with the one set_current_state() takes in prepare_to_wait_event()
	 * before the waiter looks (wait_done()): it either sees the page or
	 * is on the queue here. A page pushed with nobody waiting takes no
	 * lock.
	 */
	if (wq_has_sleeper(page_queue(slot, idx)))
		wake_page(slot, idx);
}

/* Make every waiter of @ctx retry its fault. */
static void wake_retry(struct kmig_ctx *ctx)
{
	spin_lock(&ctx->fault_lock);
	WRITE_ONCE(ctx->wake_seq, ctx->wake_seq + 1);
	spin_unlock(&ctx->fault_lock);
	wake_all(ctx);
}

/*
 * A mapping of @slot went away. Its waiters retry: whoever faulted through
 * it finds no mapping and ends; nobody could serve it otherwise once the
 * slot is deleted.
 */
void kmig_fault_unmapped(struct kmig_slot *slot)
{
	wake_retry(slot->ctx);
}

static bool fault_queued(struct kmig_ctx *ctx)
{
	return !list_empty_careful(&ctx->fault_queue);
}

static ssize_t fault_read(struct file *file, char __user *buf, size_t count,
			  loff_t *ppos)
{
	struct kmig_ctx *ctx = file->private_data;
	struct kmig_fault recs[32];
	struct kmig_waiter *w, *tmp;
	LIST_HEAD(taken);
	size_t n = 0, max;
	bool copied;
	int ret;

	max = min(count / sizeof(recs[0]), ARRAY_SIZE(recs));
	if (!max)
		return -EINVAL;
	for (;;) {
		spin_lock(&ctx->fault_lock);
		while (n < max && !list_empty(&ctx->fault_queue)) {
			w = list_first_entry(&ctx->fault_queue,
					     struct kmig_waiter, node);
			list_move_tail(&w->node, &taken);
			recs[n++] = w->rec;
		}
		spin_unlock(&ctx->fault_lock);
		if (n || file->f_flags & O_NONBLOCK)
			break;
		ret = wait_event_interruptible(ctx->fault_readers,
					       fault_queued(ctx));
		if (ret)
			return ret;
	}
	if (!n)
		return -EAGAIN;

	/*
	 * The records stay queued (on @taken, where a waiter that ends
	 * withdraws its own) until they reached the reader; if they cannot,
	 * they go back to the head of the queue, in order.
	 */
	copied = !copy_to_user(buf, recs, n * sizeof(recs[0]));
	spin_lock(&ctx->fault_lock);
	if (copied) {
		list_for_each_entry_safe(w, tmp, &taken, node)
			fault_unqueue(w);
	} else {
		list_splice(&taken, &ctx->fault_queue);
	}
	spin_unlock(&ctx->fault_lock);
	if (!copied)
		return -EFAULT;
	return n * sizeof(recs[0]);
}

static __poll_t fault_poll(struct file *file, poll_table *pt)
{
	struct kmig_ctx *ctx = file->private_data;

	poll_wait(file, &ctx->fault_readers, pt);
	return fault_queued(ctx) ? EPOLLIN | EPOLLRDNORM : 0;
}

/* The first slot of @ctx with an id at least *@id, referenced, or NULL. */
static struct kmig_slot *next_slot(struct kmig_ctx *ctx, unsigned long *id)
{
	struct kmig_slot *slot;

	down_read(&ctx->lock);
	slot = xa_find(&ctx->slots, id, KMIG_MAX_SLOTS - 1, XA_PRESENT);
	if (slot)
		kref_get(&slot->ref);
	up_read(&ctx->lock);
	return slot;
}

/*
 * The server is lost: forget what it was told, so the next one is told
 * again. No fault sets a requested bit while the server is lost and the
 * queue is empty, so the bitmaps are cleared without fault_lock, a slot at
 * a time, preemptibly.
 */
static void requests_forget(struct kmig_ctx *ctx)
{
	const unsigned long chunk = 8 * PAGE_SIZE * BITS_PER_BYTE;
	struct kmig_slot *slot;
	unsigned long id, i;

	lockdep_assert_held(&ctx->server_mutex);
	for (id = 0; (slot = next_slot(ctx, &id)); id++) {
		for (i = 0; i < slot->npages; i += chunk) {
			bitmap_clear(slot->requested, i,
				     min(chunk, slot->npages - i));
			cond_resched();
		}
		kmig_slot_put(slot);
	}
}

static int fault_release(struct inode *inode, struct file *file)
{
	struct kmig_ctx *ctx = file->private_data;
	struct kmig_waiter *w, *tmp;

	mutex_lock(&ctx->server_mutex);
	spin_lock(&ctx->fault_lock);
	WRITE_ONCE(ctx->server, NULL);
	WRITE_ONCE(ctx->server_gen, ctx->server_gen + 1);
	WRITE_ONCE(ctx->server_lost, true);
	/* Records nobody read: the next server hears of them again. */
	list_for_each_entry_safe(w, tmp, &ctx->fault_queue, node)
		fault_unqueue(w);
	spin_unlock(&ctx->fault_lock);
	wake_all(ctx);
	requests_forget(ctx);
	mutex_unlock(&ctx->server_mutex);

	kmig_nl_ctx_event(ctx, KMIG_CMD_CTX_SERVER_LOST);
	kmig_ctx_put(ctx);
	atomic_long_dec(&kmig_objects.fault_files);
	return 0;
}

static const struct file_operations kmig_fault_fops = {
	.owner		= THIS_MODULE,
	.read		= fault_read,
	.poll		= fault_poll,
	.release	= fault_release,
	.llseek		= noop_llseek,
};

int kmig_fault_fd(struct kmig_ctx *ctx, unsigned long arg)
{
	struct kmig_fault_fd args;
	struct file *file;
	int fd, ret;

	if (copy_from_user(&args, (void __user *)arg, sizeof(args)))
		return -EFAULT;
	if (args.flags & ~KMIG_FAULT_FD_FLAGS_ALL || args.reserved)
		return -EINVAL;

	mutex_lock(&ctx->server_mutex);
	if (READ_ONCE(ctx->server)) {
		ret = -EBUSY;
		goto err_busy;
	}
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto err_fd;
	}
	file = anon_inode_getfile("[kmig-fault]", &kmig_fault_fops, ctx,
				  O_RDONLY);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_file;
	}
	kref_get(&ctx->ref);
	atomic_long_inc(&kmig_objects.fault_files);

	/* Waiters of a lost server wake and report to this one. */
	spin_lock(&ctx->fault_lock);
	WRITE_ONCE(ctx->server, file);
	WRITE_ONCE(ctx->server_gen, ctx->server_gen + 1);
	WRITE_ONCE(ctx->keep_waiting,
		   !!(args.flags & KMIG_FAULT_FD_KEEP_WAITING));
	WRITE_ONCE(ctx->server_lost, false);
	spin_unlock(&ctx->fault_lock);
	mutex_unlock(&ctx->server_mutex);

	wake_all(ctx);
	fd_install(fd, file);
	return fd;

err_file:
	put_unused_fd(fd);
err_fd:
err_busy:
	mutex_unlock(&ctx->server_mutex);
	return ret;
}

static long range_args(struct kmig_ctx *ctx, void __user *argp,
		       struct kmig_range *r, struct kmig_slot **slotp,
		       u32 flags_ok)
{
	struct kmig_slot *slot;

	if (copy_from_user(r, argp, sizeof(*r)))
		return -EFAULT;
	if (r->flags & ~flags_ok)
		return -EINVAL;
	slot = kmig_slot_find(ctx, r->slot);
	if (!slot)
		return -ENOENT;
	if (r->first_page > slot->npages ||
	    r->num_pages > slot->npages - r->first_page) {
		kmig_slot_put(slot);
		return -EINVAL;
	}
	*slotp = slot;
	return 0;
}

/* Wake the waiters of a range without installing: they fault again. */
long kmig_fault_wake(struct kmig_ctx *ctx, void __user *argp)
{
	struct kmig_slot *slot;
	struct kmig_range r;
	long ret;

	ret = range_args(ctx, argp, &r, &slot, 0);
	if (ret)
		return ret;
	spin_lock(&ctx->fault_lock);
	WRITE_ONCE(ctx->wake_seq, ctx->wake_seq + 1);
	spin_unlock(&ctx->fault_lock);
	if (r.num_pages >= ARRAY_SIZE(ctx->page_wait)) {
		wake_all(ctx);
	} else {
		for (; r.num_pages; r.num_pages--, r.first_page++)
			wake_up_all(page_queue(slot, r.first_page));
	}
	kmig_slot_put(slot);
	return 0;
}

/*
 * Put a range in missing mode: its absent pages block until installed;
 * with KMIG_SET_MISSING_DISCARD its present pages leave the cache first
 * (a postcopy destination's stale pages). Only while the slot is
 * unmapped: a fault could otherwise fill a page with zeros just before
 * its bit is set, and the later install would find it present. A map
 * count of -1 keeps it unmapped meanwhile (.mmap and punches count only a
 * count that is not negative) and makes this the only writer of
 * slot->missing, so the fill, O(range), runs under no lock.
 */
long kmig_fault_set_missing(struct kmig_ctx *ctx, void __user *argp)
{
	const unsigned long chunk = 8 * PAGE_SIZE * BITS_PER_BYTE;
	struct kmig_slot *slot;
	struct kmig_range r;
	unsigned long n;
	long ret;

	ret = range_args(ctx, argp, &r, &slot, KMIG_SET_MISSING_DISCARD);
	if (ret)
		return ret;
	if (atomic_cmpxchg(&slot->nr_maps, 0, -1)) {
		kmig_slot_put(slot);
		return -EBUSY;
	}
	if (r.flags & KMIG_SET_MISSING_DISCARD && r.num_pages) {
		ret = kmig_mem_discard(slot, r.first_page,
				       r.first_page + r.num_pages, true);
	} else {
		for (; r.num_pages; r.num_pages -= n, r.first_page += n) {
			n = min_t(u64, r.num_pages, chunk);
			bitmap_set(slot->missing, r.first_page, n);
			cond_resched();
		}
	}
	atomic_set_release(&slot->nr_maps, 0);
	kmig_slot_put(slot);
	return ret;
}

long kmig_fault_get_stats(struct kmig_ctx *ctx, void __user *argp)
{
	struct kmig_ctx_stats st = {};

	kmig_fault_stats(ctx, &st);
	return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
}

void kmig_fault_stats(struct kmig_ctx *ctx, struct kmig_ctx_stats *st)
{
	int i;

	st->faults = atomic64_read(&ctx->stats.faults);
	st->installed_copy = atomic64_read(&ctx->stats.installed_copy);
	st->installed_zero = atomic64_read(&ctx->stats.installed_zero);
	st->installed_background =
		atomic64_read(&ctx->stats.installed_background);
	st->waiters = atomic_read(&ctx->stats.waiters);
	st->pages = kmig_ctx_pages(ctx);
	for (i = 0; i < KMIG_LAT_BUCKETS; i++)
		st->lat_us[i] = atomic64_read(&ctx->stats.lat_us[i]);
}
