// SPDX-License-Identifier: GPL-2.0
/*
 * KMIG_INSTALL: the server's answer to faults. Pages are given memory
 * (copied from the server, zeroed, or handed over from the staging view)
 * and their waiters woken through kmig_fault_installed() (fault.c), which
 * owns the waiting side.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "context.h"
#include "kmig.h"

/* Page lists up to this long are read onto the stack: a fault's install. */
#define INSTALL_ONSTACK	16

static void install_pages_free(u64 *pages, u64 *onstack)
{
	if (pages != onstack)
		kvfree(pages);
}

/*
 * Copy the page numbers of @args from userspace, into @onstack if they
 * fit (INSTALL_ONSTACK), and check them; install_pages_free() frees them.
 */
static u64 *install_pages(struct kmig_slot *slot,
			  const struct kmig_install *args, u64 *onstack)
{
	u64 *pages = onstack;
	int err = -EFAULT;
	u32 i;

	if (args->count > INSTALL_ONSTACK) {
		pages = kvmalloc_array(args->count, sizeof(*pages),
				       GFP_KERNEL);
		if (!pages)
			return ERR_PTR(-ENOMEM);
	}
	if (copy_from_user(pages, u64_to_user_ptr(args->pages),
			   args->count * sizeof(*pages)))
		goto err;
	err = -EINVAL;
	for (i = 0; i < args->count; i++)
		if (pages[i] >= slot->npages)
			goto err;
	return pages;

err:
	install_pages_free(pages, onstack);
	return ERR_PTR(err);
}

/*
 * Install page @idx from @src, or zeros; as kmig_page_install(), but
 * returning a KMIG_INSTALL_* status or -errno.
 */
static int install_one(struct kmig_slot *slot, unsigned long idx, bool zero,
		       char __user *src)
{
	struct iov_iter iter;
	int r;

	if (zero) {
		r = kmig_page_install(slot, idx, NULL, 0, PAGE_SIZE);
	} else {
		iov_iter_ubuf(&iter, ITER_SOURCE, src, PAGE_SIZE);
		r = kmig_page_install(slot, idx, &iter, 0, PAGE_SIZE);
	}
	if (r < 0)
		return r;
	return r ? KMIG_INSTALL_DONE : KMIG_INSTALL_PRESENT;
}

/*
 * Whether @pages[@i..] of @n starts with a whole aligned block of a huge
 * slot, in order.
 */
static bool block_run(struct kmig_slot *slot, const u64 *pages, u32 i,
		      u32 n)
{
	u32 k;

	if (!(slot->flags & KMIG_SLOT_HUGE) || pages[i] % KMIG_HUGE_NR ||
	    n - i < KMIG_HUGE_NR)
		return false;
	for (k = 1; k < KMIG_HUGE_NR; k++)
		if (pages[i + k] != pages[i] + k)
			return false;
	return true;
}

/* Write @n results @r from @status[@i] on, unless @status is NULL. */
static int put_status(u8 __user *status, u32 i, u32 n, u8 r)
{
	if (!status)
		return 0;
	for (; n; n--, i++)
		if (put_user(r, status + i))
			return -EFAULT;
	return 0;
}

/*
 * Install the @a->count pages @pages from @a->buf, or zeros; whole
 * aligned blocks of a huge slot as one folio each. Counts the pages
 * installed in *@installed. Returns 0 or -errno.
 */
static int install_copies(struct kmig_slot *slot, const u64 *pages,
			  const struct kmig_install *a, u32 *installed)
{
	u8 __user *status = u64_to_user_ptr(a->status);
	char __user *buf = u64_to_user_ptr(a->buf);
	bool zero = a->flags & KMIG_INSTALL_ZERO;
	u32 i;
	int r;

	for (i = 0; i < a->count; i++) {
		if (block_run(slot, pages, i, a->count)) {
			r = kmig_block_install(slot, pages[i], zero ? NULL :
					       buf + (size_t)i * PAGE_SIZE);
			if (r < 0)
				return r;
			if (r) {
				*installed += KMIG_HUGE_NR;
				if (put_status(status, i, KMIG_HUGE_NR,
					       KMIG_INSTALL_DONE))
					return -EFAULT;
				i += KMIG_HUGE_NR - 1;
				continue;
			}
		}
		r = install_one(slot, pages[i], zero,
				buf + (size_t)i * PAGE_SIZE);
		if (r < 0)
			return r;
		*installed += r == KMIG_INSTALL_DONE;
		if (put_status(status, i, 1, r))
			return -EFAULT;
		if (!(i % 64))
			cond_resched();
	}
	return 0;
}

/*
 * Hand over the @a->count staged pages @pages, a run of consecutive
 * pages at a time (kmig_staged_install()). Counts the pages installed in
 * *@installed. Returns 0 or -errno.
 */
static int install_staged(struct kmig_slot *slot, const u64 *pages,
			  const struct kmig_install *a, u32 *installed)
{
	u8 __user *status = u64_to_user_ptr(a->status);
	u8 st[KMIG_STAGED_RUN];
	u32 i, n, k;
	int r;

	for (i = 0; i < a->count; i += r) {
		for (n = 1; n < KMIG_STAGED_RUN && i + n < a->count &&
		     pages[i + n] == pages[i] + n; n++)
			;
		r = kmig_staged_install(slot, pages[i], n, st);
		if (r < 0)
			return r;
		for (k = 0; k < r; k++) {
			*installed += st[k] == KMIG_INSTALL_DONE;
			if (status && put_user(st[k], status + i + k))
				return -EFAULT;
		}
		cond_resched();
	}
	return 0;
}

/*
 * Each page's waiters are woken by kmig_page_install(),
 * kmig_staged_install() or kmig_block_install() before its status is
 * written, so a fault on @status strands nobody.
 */
long kmig_fault_install(struct kmig_ctx *ctx, void __user *argp)
{
	struct kmig_install __user *uargs = argp;
	u64 *pages, onstack[INSTALL_ONSTACK];
	struct kmig_install args;
	struct kmig_slot *slot;
	u32 installed = 0;
	int ret;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags & ~KMIG_INSTALL_FLAGS_ALL ||
	    args.count > KMIG_INSTALL_MAX)
		return -EINVAL;
	/* A staged install has no buffer: the pages are where they go. */
	if (args.flags & KMIG_INSTALL_STAGED &&
	    (args.flags & KMIG_INSTALL_ZERO || args.buf))
		return -EINVAL;

	slot = kmig_slot_find(ctx, args.slot);
	if (!slot)
		return -ENOENT;
	pages = install_pages(slot, &args, onstack);
	if (IS_ERR(pages)) {
		ret = PTR_ERR(pages);
		goto err_pages;
	}
	if (args.flags & KMIG_INSTALL_STAGED)
		ret = install_staged(slot, pages, &args, &installed);
	else
		ret = install_copies(slot, pages, &args, &installed);
	install_pages_free(pages, onstack);
err_pages:
	kmig_slot_put(slot);
	if (put_user(installed, &uargs->installed))
		return -EFAULT;
	return ret;
}
