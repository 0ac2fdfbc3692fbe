// SPDX-License-Identifier: GPL-2.0
/*
 * Views of a context's memory (memory-model.rst, model (b)): fds on the
 * context's inode, sharing its address_space, whose mappings are guest
 * views (KVM memslots only: writable from the first fault, vCPU writes
 * logged by KVM), tracked views (every other writer: logged by kmig's
 * .page_mkwrite, as an mmap of the context fd is) or staging views (the
 * agent's, mapping only pages staged for KMIG_INSTALL_STAGED: mem.c).
 *
 * Re-arming a tracked view must leave the guest views mapped: zapping them
 * would be an MMU-notifier unmap for KVM. unmap_mapping_range() zaps every
 * VMA of the mapping, so kmig lists the tracked VMAs itself (from .mmap,
 * vm_ops->open and ->close) and zaps them one by one.
 *
 * Locking: tv_lock nests inside the mmap lock (the core calls .mmap, open
 * and close under the mmap write lock). The zap takes an mm's mmap lock
 * for read, then tv_lock: while it holds both, no VMA of that mm can be
 * listed or unlisted, so the listed VMAs of that mm are alive.
 *
 * The list needs ->close for every VMA that .mmap listed. On 6.1 and 6.12
 * mmap_region() has no failure after a successful .mmap; its one other
 * exit frees the new VMA unclosed when the VMA merges into its neighbour,
 * and the VM_DONTEXPAND that .mmap sets (VM_SPECIAL) forbids that merge.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/falloc.h>	/* needs fs.h's types */
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "context.h"
#include "kmig.h"

struct kmig_tview {
	struct list_head node;
	struct vm_area_struct *vma;
};

void kmig_view_ctx_init(struct kmig_ctx *ctx)
{
	mutex_init(&ctx->tv_lock);
	INIT_LIST_HEAD(&ctx->tviews);
}

/*
 * List @vma, a tracked VMA. If that fails, every later re-arm falls back
 * to unmap_mapping_range(): correct, only dearer for the guest views.
 */
int kmig_view_tracked_add(struct vm_area_struct *vma)
{
	struct kmig_slot *slot = vma->vm_private_data;
	struct kmig_ctx *ctx = slot->ctx;
	struct kmig_tview *tv;

	tv = kmalloc(sizeof(*tv), GFP_KERNEL_ACCOUNT);
	mutex_lock(&ctx->tv_lock);
	if (tv) {
		tv->vma = vma;
		list_add(&tv->node, &ctx->tviews);
		ctx->nr_tviews++;
	} else {
		WRITE_ONCE(ctx->tv_overflow, true);
	}
	mutex_unlock(&ctx->tv_lock);
	return tv ? 0 : -ENOMEM;
}

void kmig_view_tracked_del(struct vm_area_struct *vma)
{
	struct kmig_slot *slot = vma->vm_private_data;
	struct kmig_ctx *ctx = slot->ctx;
	struct kmig_tview *tv;

	mutex_lock(&ctx->tv_lock);
	list_for_each_entry(tv, &ctx->tviews, node) {
		if (tv->vma == vma) {
			list_del(&tv->node);
			ctx->nr_tviews--;
			kfree(tv);
			break;
		}
	}
	mutex_unlock(&ctx->tv_lock);
}

/* Zap the pages of @spans (slot pages) that @vma maps. */
static void zap_vma_spans(struct vm_area_struct *vma, struct kmig_slot *slot,
			  const struct kmig_span *spans, unsigned int n)
{
	unsigned long vfirst = vma->vm_pgoff, vend = vfirst + vma_pages(vma);
	unsigned long s, e;
	unsigned int i;

	for (i = 0; i < n; i++) {
		s = max(slot->pgoff + spans[i].first, vfirst);
		e = min(slot->pgoff + spans[i].end, vend);
		if (s < e)
			kmig_zap_vma_range(vma, vma->vm_start +
					   ((s - vfirst) << PAGE_SHIFT),
					   (e - s) << PAGE_SHIFT);
	}
}

/*
 * The mms with a tracked VMA of @slot, each grabbed, in a new array of
 * *@n entries; NULL on allocation failure.
 */
static struct mm_struct **tracked_mms(struct kmig_slot *slot, unsigned int *n)
{
	struct kmig_ctx *ctx = slot->ctx;
	struct mm_struct **mms = NULL;
	unsigned int cap = 0, i;
	struct kmig_tview *tv;

	for (;;) {
		mutex_lock(&ctx->tv_lock);
		if (ctx->nr_tviews <= cap)
			break;
		cap = ctx->nr_tviews;
		mutex_unlock(&ctx->tv_lock);
		kfree(mms);
		mms = kmalloc_array(cap, sizeof(*mms), GFP_KERNEL);
		if (!mms)
			return NULL;
	}
	*n = 0;
	list_for_each_entry(tv, &ctx->tviews, node) {
		if (tv->vma->vm_private_data != slot)
			continue;
		for (i = 0; i < *n && mms[i] != tv->vma->vm_mm; i++)
			;
		if (i == *n) {
			mms[(*n)++] = tv->vma->vm_mm;
			mmgrab(tv->vma->vm_mm);
		}
	}
	mutex_unlock(&ctx->tv_lock);
	return mms ? mms : kmalloc(sizeof(*mms), GFP_KERNEL);
}

/* Zap @spans in the tracked VMAs of @slot in @mm; false if it could not. */
static bool zap_mm(struct kmig_slot *slot, struct mm_struct *mm,
		   const struct kmig_span *spans, unsigned int n)
{
	struct kmig_ctx *ctx = slot->ctx;
	struct kmig_tview *tv;

	/* An mm with no user left runs no thread that could write. */
	if (!mmget_not_zero(mm))
		return true;
	if (mmap_read_lock_killable(mm)) {
		mmput(mm);
		return false;
	}
	mutex_lock(&ctx->tv_lock);
	list_for_each_entry(tv, &ctx->tviews, node) {
		if (tv->vma->vm_mm == mm && tv->vma->vm_private_data == slot)
			zap_vma_spans(tv->vma, slot, spans, n);
	}
	mutex_unlock(&ctx->tv_lock);
	mmap_read_unlock(mm);
	mmput(mm);
	return true;
}

/*
 * Remove the user PTEs of the slot pages in @spans (in increasing order)
 * from every tracked view, leaving the guest views
 * mapped. A VMA listed after this starts is new: it has no PTE of a page
 * whose bit the caller cleared before the call. When a VMA went unlisted,
 * or a fatal signal stops the wait for an mmap lock, every mapping of the
 * spans is zapped instead.
 */
void kmig_view_zap_tracked(struct kmig_slot *slot,
			   const struct kmig_span *spans, unsigned int n)
{
	struct address_space *mapping = slot->ctx->inode->i_mapping;
	bool ok = !READ_ONCE(slot->ctx->tv_overflow);
	struct mm_struct **mms;
	unsigned int i, nmm = 0;

	if (!n)
		return;
	mms = ok ? tracked_mms(slot, &nmm) : NULL;
	ok = ok && mms;
	for (i = 0; i < nmm; i++) {
		if (ok)
			ok = zap_mm(slot, mms[i], spans, n);
		mmdrop(mms[i]);
	}
	kfree(mms);
	if (ok)
		return;
	for (i = 0; i < n; i++)
		unmap_mapping_range(mapping,
				    (loff_t)(slot->pgoff + spans[i].first) <<
				    PAGE_SHIFT,
				    (loff_t)(spans[i].end - spans[i].first) <<
				    PAGE_SHIFT, 0);
}

/* A view's private_data is the context's /dev/kmig file, referenced. */
static struct kmig_ctx *view_ctx(struct file *file)
{
	struct file *ctx_file = file->private_data;

	return ctx_file->private_data;
}

static int view_guest_mmap(struct file *file, struct vm_area_struct *vma)
{
	return kmig_mem_map(view_ctx(file), vma, KMIG_MAP_GUEST);
}

static int view_tracked_mmap(struct file *file, struct vm_area_struct *vma)
{
	return kmig_mem_map(view_ctx(file), vma, KMIG_MAP_TRACKED);
}

static int view_staging_mmap(struct file *file, struct vm_area_struct *vma)
{
	return kmig_mem_map(view_ctx(file), vma, KMIG_MAP_STAGING);
}

/* Only hole punching; vfs_fallocate() checked @off and @len. */
static long view_fallocate(struct file *file, int mode, loff_t off,
			   loff_t len)
{
	if (mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	return kmig_mem_punch(view_ctx(file), off, len);
}

/*
 * The context file lives as long as its views: its release frees the
 * slots, which a view's mappings still use.
 */
static int view_release(struct inode *inode, struct file *file)
{
	fput(file->private_data);
	return 0;
}

/*
 * The guest view is placed as a huge slot needs for PMDs: its address
 * 2 MiB aligned where the offset is (thp_get_unmapped_area()).
 */
static const struct file_operations kmig_view_guest_fops = {
	.owner		= THIS_MODULE,
	.mmap		= view_guest_mmap,
	.get_unmapped_area = thp_get_unmapped_area,
	.release	= view_release,
	.fallocate	= view_fallocate,
	.llseek		= noop_llseek,
};

static const struct file_operations kmig_view_tracked_fops = {
	.owner		= THIS_MODULE,
	.mmap		= view_tracked_mmap,
	.release	= view_release,
	.fallocate	= view_fallocate,
	.llseek		= noop_llseek,
};

static const struct file_operations kmig_view_staging_fops = {
	.owner		= THIS_MODULE,
	.mmap		= view_staging_mmap,
	.release	= view_release,
	.fallocate	= view_fallocate,
	.llseek		= noop_llseek,
};

/* The views by KMIG_VIEW_* flag: their file operations and names. */
static const struct {
	u32 flag;
	const struct file_operations *fops;
	const char *name;
} view_kinds[] = {
	{ KMIG_VIEW_GUEST, &kmig_view_guest_fops, "[kmig-guest-view]" },
	{ KMIG_VIEW_TRACKED, &kmig_view_tracked_fops, "[kmig-tracked-view]" },
	{ KMIG_VIEW_STAGING, &kmig_view_staging_fops, "[kmig-staging-view]" },
};

/* KMIG_VIEW_FD on the context file @file. */
long kmig_view_fd(struct file *file, void __user *argp)
{
	struct kmig_ctx *ctx = file->private_data;
	struct kmig_view args;
	struct file *view;
	unsigned int k;
	int fd;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.pad)
		return -EINVAL;
	for (k = 0; k < ARRAY_SIZE(view_kinds); k++)
		if (args.flags == view_kinds[k].flag)
			break;
	if (k == ARRAY_SIZE(view_kinds))
		return -EINVAL;
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	/*
	 * A file on the context's own inode: same f_mapping. Unlike
	 * anon_inode_getfile(), alloc_file_pseudo() takes no reference to
	 * the module of @fops, which the file's last fput() drops.
	 */
	__module_get(THIS_MODULE);
	ihold(ctx->inode);
	view = alloc_file_pseudo(ctx->inode, kmig_mnt, view_kinds[k].name,
				 O_RDWR, view_kinds[k].fops);
	if (IS_ERR(view)) {
		iput(ctx->inode);
		module_put(THIS_MODULE);
		put_unused_fd(fd);
		return PTR_ERR(view);
	}
	view->private_data = get_file(file);
	fd_install(fd, view);
	return fd;
}
