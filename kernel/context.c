// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory contexts and their memslots.
 *
 * A context is created by each open of /dev/kmig and lives as long as its
 * file, any fault fd and any slot hold a reference. The file's mappings and
 * every thread blocked in a fault hold the file, so the pages go when the
 * last of them and the last fd are gone.
 *
 * Locking: ctx->lock (rwsem) protects the slot table; every lock's place
 * in the order is in the block above struct kmig_ctx (context.h). A mapped
 * slot cannot be deleted, so the fault path reaches its slot through
 * vma->vm_private_data without the lock. Slots are allocated before and
 * freed after taking it.
 */
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/memcontrol.h>
#include <linux/mount.h>
#include <linux/nsproxy.h>
#include <linux/pagemap.h>
#include <linux/pagevec.h>
#include <linux/pid.h>
#include <linux/pseudo_fs.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>
#include <linux/vmalloc.h>
#include <net/net_namespace.h>

#include "context.h"
#include "kmig.h"

#define KMIG_FS_MAGIC	0x6b6d6967

struct vfsmount *kmig_mnt;
/*
 * Context ids only grow (a u32 would take years of opens to wrap) and are
 * given out under kmig_ctx_list_lock, so the context list is in id order
 * and a netlink dump can resume by id.
 */
static atomic_t kmig_ctx_last_id = ATOMIC_INIT(0);

/* Protects kmig_ctx_list, which netlink walks by id. */
static DEFINE_MUTEX(kmig_ctx_list_lock);
static LIST_HEAD(kmig_ctx_list);

/*
 * Slot arrays can be large (8 bytes per page): vmalloc them, and fail with
 * ENOMEM rather than warn or call the OOM killer when they are too big.
 */
static void *slot_array(unsigned long nbytes)
{
	return kvzalloc(nbytes, GFP_KERNEL_ACCOUNT | __GFP_NOWARN |
			 __GFP_RETRY_MAYFAIL);
}

static void slot_arrays_free(struct kmig_slot *slot)
{
	kvfree(slot->missing);
	kvfree(slot->requested);
	kvfree(slot->waited);
	kvfree(slot->dirty);
	kvfree(slot->kvm_bits);
}

/*
 * Free the pages of @slot: its range of the page cache, which no other
 * slot uses until its id leaves ctx->dying. O(pages present), preemptible.
 */
static void slot_pages_free(struct kmig_slot *slot)
{
	loff_t start = (loff_t)slot->pgoff << PAGE_SHIFT;

	struct xarray *poison = &slot->ctx->poison;
	unsigned long index;
	void *entry;

	truncate_inode_pages_range(kmig_slot_mapping(slot), start,
				   start + ((loff_t)slot->npages << PAGE_SHIFT) -
				   1);
	xa_for_each_range(poison, index, entry, slot->pgoff,
			  slot->pgoff + slot->npages - 1)
		xa_erase(poison, index);
}

/* The last reference is gone; never called under a lock (it may sleep). */
static void slot_free(struct kref *ref)
{
	struct kmig_slot *slot = container_of(ref, struct kmig_slot, ref);

	might_sleep();
	if (slot->listed) {
		slot_pages_free(slot);
		/* The pages are gone before the id can be used again. */
		smp_mb__before_atomic();
		clear_bit(slot->id, slot->ctx->dying);
	}
	slot_arrays_free(slot);
	kmig_ctx_put(slot->ctx);
	kfree(slot);
	atomic_long_dec(&kmig_objects.slots);
}

void kmig_slot_put(struct kmig_slot *slot)
{
	kref_put(&slot->ref, slot_free);
}

/* The slot with id @id, referenced, or NULL. */
struct kmig_slot *kmig_slot_find(struct kmig_ctx *ctx, u32 id)
{
	struct kmig_slot *slot;

	down_read(&ctx->lock);
	slot = xa_load(&ctx->slots, id);
	if (slot)
		kref_get(&slot->ref);
	up_read(&ctx->lock);
	return slot;
}

static struct kmig_slot *slot_alloc(struct kmig_ctx *ctx,
				    const struct kmig_memslot *ms)
{
	unsigned long npages = ms->memory_size >> PAGE_SHIFT;
	struct kmig_slot *slot;

	slot = kzalloc(sizeof(*slot), GFP_KERNEL_ACCOUNT);
	if (!slot)
		return NULL;
	slot->missing = slot_array(BITS_TO_LONGS(npages) * sizeof(long));
	slot->requested = slot_array(BITS_TO_LONGS(npages) * sizeof(long));
	slot->waited = slot_array(BITS_TO_LONGS(npages) * sizeof(long));
	if (ms->flags & KMIG_SLOT_DIRTY_LOG)
		slot->dirty = slot_array(BITS_TO_LONGS(npages) * sizeof(long));
	if (!slot->missing || !slot->requested || !slot->waited ||
	    ((ms->flags & KMIG_SLOT_DIRTY_LOG) && !slot->dirty)) {
		slot_arrays_free(slot);
		kfree(slot);
		return NULL;
	}
	if (ms->flags & KMIG_SLOT_MISSING)
		bitmap_fill(slot->missing, npages);
	kmig_policy_init(slot);
	kref_init(&slot->ref);
	kref_get(&ctx->ref);
	slot->ctx = ctx;
	slot->id = ms->slot;
	slot->flags = ms->flags;
	/* A KVM_LOG slot starts stopped: its provider has heard nothing. */
	slot->logging = slot->dirty && !(ms->flags & KMIG_SLOT_KVM_LOG);
	slot->gpa = ms->guest_phys_addr;
	slot->npages = npages;
	slot->pgoff = KMIG_SLOT_OFFSET(ms->slot) >> PAGE_SHIFT;
	atomic_long_inc(&kmig_objects.slots);
	return slot;
}

/* Unlist slot @id; the caller puts *@slotp after dropping the lock. */
static int slot_delete(struct kmig_ctx *ctx, u32 id,
		       struct kmig_slot **slotp)
{
	struct kmig_slot *slot;

	lockdep_assert_held_write(&ctx->lock);
	slot = xa_load(&ctx->slots, id);
	if (!slot)
		return -ENOENT;
	if (atomic_read(&slot->nr_maps))
		return -EBUSY;
	xa_erase(&ctx->slots, id);
	set_bit(id, ctx->dying);
	*slotp = slot;
	return 0;
}

/*
 * List the new slot @slot (allocated without the lock: its arrays are
 * O(slot size)). On failure the caller puts it after dropping the lock.
 */
static int slot_insert(struct kmig_ctx *ctx, struct kmig_slot *slot)
{
	u64 end = slot->gpa + (slot->npages << PAGE_SHIFT);
	struct kmig_slot *other;
	unsigned long id;
	int ret;

	lockdep_assert_held_write(&ctx->lock);
	if (xa_load(&ctx->slots, slot->id))
		return -EEXIST;
	/* A deleted slot of this id still has pages in its range. */
	if (test_bit(slot->id, ctx->dying))
		return -EBUSY;
	xa_for_each(&ctx->slots, id, other) {
		u64 s = other->gpa;
		u64 e = other->gpa + (other->npages << PAGE_SHIFT);

		if (slot->gpa < e && s < end)
			return -EEXIST;
	}
	ret = xa_insert(&ctx->slots, slot->id, slot, GFP_KERNEL_ACCOUNT);
	slot->listed = !ret;
	return ret;
}

/*
 * The context's inode holds guest memory as page cache: a regular file
 * (GUP, fallocate and memory failure treat it as one) as large as every
 * slot's offset range, its folios unevictable and movable.
 */
static void ctx_inode_init(struct inode *inode)
{
	struct address_space *mapping = inode->i_mapping;

	inode->i_mode = S_IFREG | 0600;
	i_size_write(inode, KMIG_SLOT_OFFSET(KMIG_MAX_SLOTS));
	mapping->a_ops = &kmig_aops;
	mapping_set_gfp_mask(mapping, GFP_HIGHUSER_MOVABLE);
	mapping_set_unevictable(mapping);
	/* KMIG_SLOT_HUGE slots' 2 MiB folios; others add order 0 only. */
	mapping_set_large_folios(mapping);
}

/*
 * A KMIG_SLOT_HUGE slot: gpa and size whole 2 MiB pages (the offset is),
 * and if it logs, KVM logs the vCPUs' writes. kmig's own log of a
 * guest's writes (model (a)) would re-arm by unmapping, tearing KVM's
 * 2 MiB mappings at every harvest, and its PG_dirty fold would cost a
 * huge folio's dirty flag, which mem.c keeps set.
 */
static bool huge_slot_ok(const struct kmig_memslot *ms)
{
	if (!IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE))
		return false;
	if (!IS_ALIGNED(ms->guest_phys_addr, KMIG_HUGE_SIZE) ||
	    !IS_ALIGNED(ms->memory_size, KMIG_HUGE_SIZE))
		return false;
	return !(ms->flags & KMIG_SLOT_DIRTY_LOG) ||
	       (ms->flags & KMIG_SLOT_KVM_LOG);
}

static long set_memslot(struct kmig_ctx *ctx, void __user *argp)
{
	struct kmig_slot *slot = NULL;
	struct kmig_memslot ms;
	int ret;

	if (copy_from_user(&ms, argp, sizeof(ms)))
		return -EFAULT;
	if (ms.flags & ~KMIG_SLOT_FLAGS_ALL || ms.slot >= KMIG_MAX_SLOTS ||
	    ((ms.flags & KMIG_SLOT_KVM_LOG) && !(ms.flags & KMIG_SLOT_DIRTY_LOG)) ||
	    !PAGE_ALIGNED(ms.guest_phys_addr) || !PAGE_ALIGNED(ms.memory_size))
		return -EINVAL;
	if ((ms.flags & KMIG_SLOT_HUGE) && !huge_slot_ok(&ms))
		return -EINVAL;
	if (ms.memory_size > KMIG_MAX_SLOT_SIZE ||
	    ms.guest_phys_addr + ms.memory_size < ms.guest_phys_addr)
		return -EFBIG;

	if (ms.memory_size) {
		slot = slot_alloc(ctx, &ms);
		if (!slot)
			return -ENOMEM;
	}
	down_write(&ctx->lock);
	if (slot) {
		ret = slot_insert(ctx, slot);
		if (!ret)
			slot = NULL;
	} else {
		ret = slot_delete(ctx, ms.slot, &slot);
	}
	up_write(&ctx->lock);
	if (slot)
		kmig_slot_put(slot);
	if (ret)
		return ret;

	ms.offset = KMIG_SLOT_OFFSET(ms.slot);
	if (copy_to_user(argp, &ms, sizeof(ms)))
		return -EFAULT;
	return 0;
}

static long set_page_limit(struct kmig_ctx *ctx, void __user *argp)
{
	u64 limit;

	if (copy_from_user(&limit, argp, sizeof(limit)))
		return -EFAULT;
	if (limit > LONG_MAX)
		return -EINVAL;
	atomic_long_set(&ctx->page_limit, limit);
	return 0;
}

long kmig_ctx_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kmig_ctx *ctx = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case KMIG_SET_MEMSLOT:
		return set_memslot(ctx, argp);
	case KMIG_SET_PAGE_LIMIT:
		return set_page_limit(ctx, argp);
	case KMIG_FAULT_FD:
		return kmig_fault_fd(ctx, arg);
	case KMIG_INSTALL:
		return kmig_fault_install(ctx, argp);
	case KMIG_WAKE:
		return kmig_fault_wake(ctx, argp);
	case KMIG_SET_MISSING:
		return kmig_fault_set_missing(ctx, argp);
	case KMIG_GET_STATS:
		return kmig_fault_get_stats(ctx, argp);
	case KMIG_GET_DIRTY_LOG:
	case KMIG_GET_DIRTY_LOGS:
	case KMIG_CLEAR_DIRTY_LOG:
	case KMIG_MERGE_DIRTY_LOG:
	case KMIG_SET_DIRTY_LOGGING:
	case KMIG_GET_PRESENT_BITMAP:
		return kmig_dirty_ioctl(ctx, cmd, argp);
	case KMIG_VIEW_FD:
		return kmig_view_fd(file, argp);
	case KMIG_LOG_PROVIDER_FD:
		return kmig_provider_fd(ctx, argp);
	}
	return -ENOTTY;
}

static void ctx_free(struct kref *ref)
{
	struct kmig_ctx *ctx = container_of(ref, struct kmig_ctx, ref);

	KMIG_DEBUG_ON(!xa_empty(&ctx->slots));
	KMIG_DEBUG_ON(kmig_ctx_pages(ctx));
	xa_destroy(&ctx->slots);
	xa_destroy(&ctx->poison);
	put_pid(ctx->owner);
	put_net(ctx->net);
	put_user_ns(ctx->user_ns);
	iput(ctx->inode);
	mem_cgroup_put(ctx->memcg);
	kfree(ctx);
	atomic_long_dec(&kmig_objects.contexts);
}

void kmig_ctx_put(struct kmig_ctx *ctx)
{
	kref_put(&ctx->ref, ctx_free);
}

int kmig_ctx_open(struct file *file)
{
	struct kmig_ctx *ctx;
	int ret;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return -ENOMEM;
	ctx->inode = alloc_anon_inode(kmig_mnt->mnt_sb);
	if (IS_ERR(ctx->inode)) {
		ret = PTR_ERR(ctx->inode);
		goto err_inode;
	}
	ctx_inode_init(ctx->inode);
	kref_init(&ctx->ref);
	ctx->owner = get_pid(task_tgid(current));
	ctx->net = get_net(current->nsproxy->net_ns);
	ctx->user_ns = get_user_ns(file->f_cred->user_ns);
	ctx->memcg = get_mem_cgroup_from_mm(current->mm);
	init_rwsem(&ctx->lock);
	mutex_init(&ctx->server_mutex);
	xa_init(&ctx->slots);
	xa_init(&ctx->poison);
	ctx->inode->i_private = ctx;
	kmig_fault_ctx_init(ctx);
	kmig_provider_ctx_init(ctx);
	kmig_view_ctx_init(ctx);

	file->private_data = ctx;
	file->f_mapping = ctx->inode->i_mapping;
	atomic_long_inc(&kmig_objects.contexts);

	mutex_lock(&kmig_ctx_list_lock);
	do {
		ctx->id = atomic_inc_return(&kmig_ctx_last_id);
	} while (!ctx->id);
	list_add_tail(&ctx->node, &kmig_ctx_list);
	mutex_unlock(&kmig_ctx_list_lock);
	kmig_nl_ctx_event(ctx, KMIG_CMD_CTX_NEW);
	return 0;

err_inode:
	kfree(ctx);
	return ret;
}

/* The last reference to the /dev/kmig file is gone: no mapping is left. */
void kmig_ctx_release(struct file *file)
{
	struct kmig_ctx *ctx = file->private_data;
	struct kmig_slot *slot;
	unsigned long id;

	mutex_lock(&kmig_ctx_list_lock);
	list_del(&ctx->node);
	mutex_unlock(&kmig_ctx_list_lock);
	kmig_nl_ctx_event(ctx, KMIG_CMD_CTX_DEL);
	/* Every fault waiter holds the file: none is left. */
	KMIG_DEBUG_ON(atomic_read(&ctx->stats.waiters));

	/* Free the slots one by one, outside the lock. */
	for (id = 0;; id++) {
		down_write(&ctx->lock);
		slot = xa_find(&ctx->slots, &id, KMIG_MAX_SLOTS - 1,
			       XA_PRESENT);
		if (slot)
			xa_erase(&ctx->slots, id);
		up_write(&ctx->lock);
		if (!slot)
			break;
		kmig_slot_put(slot);
	}
	kmig_ctx_put(ctx);
}

/* The live context with the lowest id >= @first, referenced, or NULL. */
struct kmig_ctx *kmig_ctx_get_from(u32 first)
{
	struct kmig_ctx *ctx;

	mutex_lock(&kmig_ctx_list_lock);
	list_for_each_entry(ctx, &kmig_ctx_list, node) {
		if (ctx->id >= first) {
			kref_get(&ctx->ref);
			mutex_unlock(&kmig_ctx_list_lock);
			return ctx;
		}
	}
	mutex_unlock(&kmig_ctx_list_lock);
	return NULL;
}

void kmig_ctx_set_page_limit(struct kmig_ctx *ctx, unsigned long limit)
{
	atomic_long_set(&ctx->page_limit, limit);
}

/* Set bits of @bits from bit @first on, @n bits, @first a word boundary. */
static unsigned long bits_weight(const unsigned long *bits,
				 unsigned long first, unsigned long n)
{
	return bitmap_weight(bits + first / BITS_PER_LONG, n);
}

/*
 * Counts one slot's pages. The caller holds a slot reference but no lock:
 * the cache and the bitmaps stay while the slot lives, so racing updates
 * only make the counts stale. The bitmaps are counted a word at a time
 * and the cache walked over present pages only; it yields and stops for
 * a fatal signal.
 */
static int slot_count(struct kmig_slot *slot, struct kmig_slot_snapshot *s,
		      bool *postcopy)
{
	const unsigned long chunk = 32768;
	pgoff_t index = slot->pgoff, last = slot->pgoff + slot->npages - 1;
	struct folio_batch fbatch;
	unsigned long i, n, p;
	struct folio *folio;
	unsigned int j;

	for (i = 0; i < slot->npages; i += n) {
		if (fatal_signal_pending(current))
			return -EINTR;
		n = min(chunk, slot->npages - i);
		s->missing += bits_weight(slot->missing, i, n);
		if (slot->dirty)
			s->dirty += bits_weight(slot->dirty, i, n);
		cond_resched();
	}
	*postcopy |= !!s->missing;
	folio_batch_init(&fbatch);
	while (filemap_get_folios(kmig_slot_mapping(slot), &index, last,
				  &fbatch)) {
		for (j = 0; j < folio_batch_count(&fbatch); j++) {
			folio = fbatch.folios[j];
			if (!kmig_folio_present(folio))
				continue;	/* staged */
			p = max(folio->index, slot->pgoff);
			for (; p < folio_next_index(folio) && p <= last; p++) {
				s->pages++;
				/* Counted as missing above, but present. */
				if (test_bit(p - slot->pgoff, slot->missing))
					s->missing--;
			}
		}
		folio_batch_release(&fbatch);
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

/* References to every slot of @ctx, by id, in a new array. */
static struct kmig_slot **slots_get(struct kmig_ctx *ctx, u32 *n)
{
	struct kmig_slot **slots, *slot;
	unsigned long id;
	u32 i = 0;

	down_read(&ctx->lock);
	xa_for_each(&ctx->slots, id, slot)
		i++;
	slots = kvmalloc_array(max(i, 1U), sizeof(*slots), GFP_KERNEL);
	if (slots) {
		*n = i;
		i = 0;
		xa_for_each(&ctx->slots, id, slot) {
			kref_get(&slot->ref);
			slots[i++] = slot;
		}
	}
	up_read(&ctx->lock);
	return slots;
}

static void slot_snapshot_fill(struct kmig_slot_snapshot *s,
			       const struct kmig_slot *slot)
{
	s->id = slot->id;
	s->flags = slot->flags;
	s->gpa = slot->gpa;
	s->size = (u64)slot->npages << PAGE_SHIFT;
}

/*
 * Fills @snap with @ctx as it is now, the owner as the current task sees
 * it. Slot references are taken under ctx->lock; the pages are counted
 * outside it. Returns 0, -ENOMEM or -EINTR.
 */
int kmig_ctx_snapshot(struct kmig_ctx *ctx, struct kmig_ctx_snapshot *snap)
{
	struct kmig_slot **slots;
	bool postcopy = false;
	int ret = 0;
	u32 i, n;

	memset(snap, 0, sizeof(*snap));
	slots = slots_get(ctx, &n);
	if (!slots)
		return -ENOMEM;
	snap->slots = kvcalloc(max(n, 1U), sizeof(*snap->slots), GFP_KERNEL);
	if (!snap->slots)
		ret = -ENOMEM;
	for (i = 0; i < n; i++) {
		struct kmig_slot_snapshot *s = &snap->slots[i];

		if (!ret) {
			slot_snapshot_fill(s, slots[i]);
			ret = slot_count(slots[i], s, &postcopy);
			if (slots[i]->dirty && READ_ONCE(slots[i]->logging))
				snap->mode |= KMIG_CTX_MODE_DIRTY_LOG;
			snap->pages += s->pages;
			snap->dirty += s->dirty;
			snap->missing += s->missing;
		}
		kmig_slot_put(slots[i]);
	}
	kvfree(slots);
	if (ret) {
		kmig_ctx_snapshot_free(snap);
		return ret;
	}
	snap->nslots = n;
	snap->id = ctx->id;
	snap->owner = pid_vnr(ctx->owner);
	snap->page_limit = atomic_long_read(&ctx->page_limit);
	if (postcopy)
		snap->mode |= KMIG_CTX_MODE_POSTCOPY;
	if (READ_ONCE(ctx->server))
		snap->mode |= KMIG_CTX_MODE_SERVED;
	if (READ_ONCE(ctx->server_lost))
		snap->mode |= KMIG_CTX_MODE_SERVER_LOST;
	return 0;
}

void kmig_ctx_snapshot_free(struct kmig_ctx_snapshot *snap)
{
	kvfree(snap->slots);
	snap->slots = NULL;
	snap->nslots = 0;
}

static int kmig_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, KMIG_FS_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type kmig_fs_type = {
	.name			= "kmig",
	.init_fs_context	= kmig_fs_init_fs_context,
	.kill_sb		= kill_anon_super,
};

int kmig_ctx_init(void)
{
	kmig_mnt = kern_mount(&kmig_fs_type);
	return PTR_ERR_OR_ZERO(kmig_mnt);
}

void kmig_ctx_uninit(void)
{
	kern_unmount(kmig_mnt);
}
