// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy fault servicing.
 *
 * A fault on an absent page of a missing-mode range blocks here. The first
 * thread to fault a page queues a record (on its stack) for the fault fd;
 * later threads on the same page only wait (slot->requested is the "already
 * reported" bit). Waiters sleep killably, without the mmap/VMA lock, on a
 * wait queue hashed by page, and return VM_FAULT_RETRY when woken, so the
 * fault is retried and maps the page. Installing a page clears its
 * requested bit and wakes its queue.
 *
 * Locking: ctx->fault_lock (spinlock) protects the fault queue and the
 * server fields. It nests inside ctx->lock. Nothing sleeps under it.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/hash.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "context.h"
#include "kmig.h"

struct kmig_waiter {
	struct list_head node;		/* in ctx->fault_queue until read */
	bool queued;
	struct kmig_fault rec;
};

void kmig_fault_ctx_init(struct kmig_ctx *ctx)
{
	int i;

	spin_lock_init(&ctx->fault_lock);
	INIT_LIST_HEAD(&ctx->fault_queue);
	init_waitqueue_head(&ctx->fault_readers);
	for (i = 0; i < ARRAY_SIZE(ctx->page_wait); i++)
		init_waitqueue_head(&ctx->page_wait[i]);
}

static void wake_all(struct kmig_ctx *ctx)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(ctx->page_wait); i++)
		wake_up_all(&ctx->page_wait[i]);
}

/*
 * The context's file is gone, so no server can attach any more: end the
 * waits of threads whose mapping went away while they slept.
 */
void kmig_fault_ctx_release(struct kmig_ctx *ctx)
{
	spin_lock(&ctx->fault_lock);
	WRITE_ONCE(ctx->server_gen, ctx->server_gen + 1);
	WRITE_ONCE(ctx->server_lost, true);
	WRITE_ONCE(ctx->keep_waiting, false);
	spin_unlock(&ctx->fault_lock);
	wake_all(ctx);
}

static unsigned int wait_hash(struct kmig_slot *slot, unsigned long idx)
{
	return hash_64(((u64)slot->id << KMIG_SLOT_SHIFT) + idx,
		       KMIG_WAIT_HASH_BITS);
}

/* The serving side is gone and faults must fail rather than wait. */
static bool server_dead(struct kmig_ctx *ctx)
{
	return READ_ONCE(ctx->server_lost) && !READ_ONCE(ctx->keep_waiting);
}

static void record_latency(struct kmig_ctx *ctx, ktime_t start)
{
	s64 us = ktime_us_delta(ktime_get(), start);
	unsigned int b = us > 1 ? ilog2(us) : 0;

	atomic64_inc(&ctx->stats.lat_us[min(b, KMIG_LAT_BUCKETS - 1U)]);
}

static bool wait_done(struct kmig_slot *slot, unsigned long idx, u32 gen,
		      u32 wake_seq)
{
	struct kmig_ctx *ctx = slot->ctx;

	return READ_ONCE(slot->pages[idx]) ||
	       !test_bit(idx, slot->requested) ||
	       READ_ONCE(ctx->server_gen) != gen ||
	       READ_ONCE(ctx->wake_seq) != wake_seq;
}

/*
 * Called by .fault for an absent page of a missing-mode range, with the
 * mmap or VMA lock held. Returns 0 if the page is present now (lock still
 * held), VM_FAULT_RETRY after waiting (lock dropped) or when the caller may
 * not wait (FAULT_FLAG_RETRY_NOWAIT, lock held), VM_FAULT_SIGBUS if nobody
 * will serve the page or the caller cannot drop the lock.
 */
vm_fault_t kmig_fault_missing(struct vm_fault *vmf, struct kmig_slot *slot,
			      unsigned long idx)
{
	struct kmig_ctx *ctx = slot->ctx;
	struct kmig_waiter w = {
		.rec = {
			.slot = slot->id,
			.page = idx,
			.tid = task_pid_vnr(current),
			.flags = vmf->flags & FAULT_FLAG_WRITE ?
				 KMIG_FAULT_WRITE : 0,
		},
	};
	wait_queue_head_t *wq = &ctx->page_wait[wait_hash(slot, idx)];
	bool reported = false;
	u32 gen, wake_seq;
	ktime_t start;

	if (server_dead(ctx))
		return VM_FAULT_SIGBUS;
	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
		return VM_FAULT_RETRY;
	if (!(vmf->flags & FAULT_FLAG_ALLOW_RETRY))
		return VM_FAULT_SIGBUS;

	spin_lock(&ctx->fault_lock);
	if (READ_ONCE(slot->pages[idx])) {
		spin_unlock(&ctx->fault_lock);
		return 0;
	}
	if (!test_and_set_bit(idx, slot->requested)) {
		list_add_tail(&w.node, &ctx->fault_queue);
		w.queued = true;
		reported = true;
	}
	gen = ctx->server_gen;
	wake_seq = ctx->wake_seq;
	spin_unlock(&ctx->fault_lock);
	if (reported) {
		atomic64_inc(&ctx->stats.faults);
		wake_up_poll(&ctx->fault_readers, EPOLLIN | EPOLLRDNORM);
	}

	/*
	 * The slot, the context and the module's code must outlive the VMA
	 * and the files once the lock is gone.
	 */
	__module_get(THIS_MODULE);
	kref_get(&slot->ref);
	release_fault_lock(vmf);
	atomic_inc(&ctx->stats.waiters);
	start = ktime_get();

	/* GUP for KVM asks to be interruptible: KVM_RUN then sees -EINTR. */
	if (vmf->flags & FAULT_FLAG_INTERRUPTIBLE)
		(void)wait_event_interruptible(*wq, wait_done(slot, idx, gen,
							      wake_seq));
	else
		(void)wait_event_killable(*wq, wait_done(slot, idx, gen,
							 wake_seq));

	spin_lock(&ctx->fault_lock);
	if (w.queued) {
		/* Never read: let the next fault of the page report it. */
		list_del(&w.node);
		clear_bit(idx, slot->requested);
		wake_up_all(wq);
	}
	spin_unlock(&ctx->fault_lock);
	if (reported && READ_ONCE(slot->pages[idx]))
		record_latency(ctx, start);
	atomic_dec(&ctx->stats.waiters);
	kmig_slot_put(slot);
	module_put(THIS_MODULE);
	return VM_FAULT_RETRY;
}

/* Page @idx was just installed: wake whoever waits for it. */
void kmig_fault_installed(struct kmig_slot *slot, unsigned long idx)
{
	struct kmig_ctx *ctx = slot->ctx;

	if (!test_and_clear_bit(idx, slot->requested))
		atomic64_inc(&ctx->stats.installed_background);
	atomic64_inc(&ctx->stats.installed_copy);
	wake_up_all(&ctx->page_wait[wait_hash(slot, idx)]);
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
	struct kmig_waiter *w;
	size_t n = 0, max;
	int ret;

	max = min(count / sizeof(recs[0]), ARRAY_SIZE(recs));
	if (!max)
		return -EINVAL;
	for (;;) {
		spin_lock(&ctx->fault_lock);
		while (n < max && !list_empty(&ctx->fault_queue)) {
			w = list_first_entry(&ctx->fault_queue,
					     struct kmig_waiter, node);
			list_del(&w->node);
			w->queued = false;
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
	if (copy_to_user(buf, recs, n * sizeof(recs[0])))
		return -EFAULT;
	return n * sizeof(recs[0]);
}

static __poll_t fault_poll(struct file *file, poll_table *pt)
{
	struct kmig_ctx *ctx = file->private_data;

	poll_wait(file, &ctx->fault_readers, pt);
	return fault_queued(ctx) ? EPOLLIN | EPOLLRDNORM : 0;
}

/* Forget what was reported, so waiters report again to a new server. */
static void requests_reset(struct kmig_ctx *ctx)
{
	struct kmig_slot *slot;
	unsigned long id;

	lockdep_assert_held(&ctx->lock);
	xa_for_each(&ctx->slots, id, slot)
		bitmap_zero(slot->requested, slot->npages);
}

static int fault_release(struct inode *inode, struct file *file)
{
	struct kmig_ctx *ctx = file->private_data;

	spin_lock(&ctx->fault_lock);
	WRITE_ONCE(ctx->server, NULL);
	WRITE_ONCE(ctx->server_gen, ctx->server_gen + 1);
	WRITE_ONCE(ctx->server_lost, true);
	spin_unlock(&ctx->fault_lock);
	wake_all(ctx);
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

	down_read(&ctx->lock);
	spin_lock(&ctx->fault_lock);
	WRITE_ONCE(ctx->server, file);
	WRITE_ONCE(ctx->server_gen, ctx->server_gen + 1);
	WRITE_ONCE(ctx->keep_waiting,
		   !!(args.flags & KMIG_FAULT_FD_KEEP_WAITING));
	WRITE_ONCE(ctx->server_lost, false);
	requests_reset(ctx);
	spin_unlock(&ctx->fault_lock);
	up_read(&ctx->lock);
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

/* Copy the page numbers of @args from userspace and check them. */
static u64 *install_pages(struct kmig_slot *slot,
			  const struct kmig_install *args)
{
	u64 *pages;
	u32 i;

	pages = kvmalloc_array(args->count, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(pages, u64_to_user_ptr(args->pages),
			   args->count * sizeof(*pages))) {
		kvfree(pages);
		return ERR_PTR(-EFAULT);
	}
	for (i = 0; i < args->count; i++) {
		if (pages[i] >= slot->npages) {
			kvfree(pages);
			return ERR_PTR(-EINVAL);
		}
	}
	return pages;
}

/* Install one page; 1 if installed, 0 if already present, or -errno. */
static int install_one(struct kmig_slot *slot, unsigned long idx,
		       const void __user *src)
{
	struct page *page;
	bool raced;
	void *dst;
	int ret;

	if (READ_ONCE(slot->pages[idx]))
		return 0;
	page = kmig_page_alloc(slot->ctx, !src);
	if (IS_ERR(page))
		return PTR_ERR(page);
	if (src) {
		dst = kmap_local_page(page);
		ret = copy_from_user(dst, src, PAGE_SIZE);
		kunmap_local(dst);
		if (ret) {
			kmig_page_free(slot->ctx, page);
			return -EFAULT;
		}
	}
	kmig_slot_install(slot, idx, page, &raced);
	if (raced)
		return 0;
	kmig_dirty_mark(slot, idx);
	return 1;
}

long kmig_fault_install(struct kmig_ctx *ctx, void __user *argp)
{
	struct kmig_install __user *uargs = argp;
	u8 __user *status;
	const char __user *buf;
	struct kmig_install args;
	struct kmig_slot *slot;
	u64 woken = 0, *pages;
	u32 i, installed = 0;
	bool zero;
	int ret = 0, r;
	u8 st;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags & ~KMIG_INSTALL_FLAGS_ALL ||
	    args.count > KMIG_INSTALL_MAX)
		return -EINVAL;
	zero = args.flags & KMIG_INSTALL_ZERO;
	buf = u64_to_user_ptr(args.buf);
	status = u64_to_user_ptr(args.status);

	slot = kmig_slot_find(ctx, args.slot);
	if (!slot)
		return -ENOENT;
	pages = install_pages(slot, &args);
	if (IS_ERR(pages)) {
		ret = PTR_ERR(pages);
		goto err_pages;
	}

	for (i = 0; i < args.count; i++) {
		r = install_one(slot, pages[i],
				zero ? NULL : buf + (size_t)i * PAGE_SIZE);
		if (r < 0) {
			ret = r;
			break;
		}
		st = r ? KMIG_INSTALL_DONE : KMIG_INSTALL_PRESENT;
		if (status && put_user(st, status + i)) {
			ret = -EFAULT;
			break;
		}
		if (!r)
			continue;
		installed++;
		atomic64_inc(zero ? &ctx->stats.installed_zero :
				    &ctx->stats.installed_copy);
		if (!test_and_clear_bit(pages[i], slot->requested))
			atomic64_inc(&ctx->stats.installed_background);
		woken |= 1ULL << wait_hash(slot, pages[i]);
	}
	for (i = 0; woken; i++, woken >>= 1)
		if (woken & 1)
			wake_up_all(&ctx->page_wait[i]);

	kvfree(pages);
err_pages:
	kmig_slot_put(slot);
	if (put_user(installed, &uargs->installed))
		return -EFAULT;
	return ret;
}

static long range_args(struct kmig_ctx *ctx, void __user *argp,
		       struct kmig_range *r, struct kmig_slot **slotp)
{
	struct kmig_slot *slot;

	if (copy_from_user(r, argp, sizeof(*r)))
		return -EFAULT;
	if (r->flags)
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

	ret = range_args(ctx, argp, &r, &slot);
	if (ret)
		return ret;
	spin_lock(&ctx->fault_lock);
	WRITE_ONCE(ctx->wake_seq, ctx->wake_seq + 1);
	spin_unlock(&ctx->fault_lock);
	if (r.num_pages >= ARRAY_SIZE(ctx->page_wait)) {
		wake_all(ctx);
	} else {
		for (; r.num_pages; r.num_pages--, r.first_page++)
			wake_up_all(&ctx->page_wait[wait_hash(slot,
							      r.first_page)]);
	}
	kmig_slot_put(slot);
	return 0;
}

/* Put a range in missing mode: its absent pages block until installed. */
long kmig_fault_set_missing(struct kmig_ctx *ctx, void __user *argp)
{
	struct kmig_slot *slot;
	struct kmig_range r;
	long ret;

	ret = range_args(ctx, argp, &r, &slot);
	if (ret)
		return ret;
	bitmap_set(slot->missing, r.first_page, r.num_pages);
	kmig_slot_put(slot);
	return 0;
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
	st->pages = atomic_long_read(&ctx->nr_pages);
	for (i = 0; i < KMIG_LAT_BUCKETS; i++)
		st->lat_us[i] = atomic64_read(&ctx->stats.lat_us[i]);
}
