// SPDX-License-Identifier: GPL-2.0
/*
 * SPIKE, not kmig: guest memory as unevictable page cache with large
 * folios, mapped through .fault and .map_pages only (the "guest view" of
 * Documentation/memory-model.rst, model (b)). It exists to run section 5's
 * spikes in the 6.12 test bed: GUP-fast, re-dirty and harvest cost under
 * KVM's dirty log, and PMD mappings. No error path here is meant to
 * survive into kmig; see spike_mm.h for the interface.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/huge_mm.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/uaccess.h>

#include "spike_mm.h"

/* The folio order of an inode, kept in i_private. */
static unsigned int spike_order(struct inode *inode)
{
	return (unsigned long)inode->i_private;
}

/*
 * Returns the locked, uptodate folio that holds @index, allocating and
 * zeroing one of the inode's order when there is none.
 */
static struct folio *spike_get_folio(struct inode *inode, pgoff_t index)
{
	unsigned int order = spike_order(inode);
	struct address_space *mapping = inode->i_mapping;
	pgoff_t start = round_down(index, 1UL << order);
	struct folio *folio;

	folio = __filemap_get_folio(mapping, start,
				    FGP_LOCK | FGP_CREAT |
				    fgf_set_order(PAGE_SIZE << order),
				    mapping_gfp_mask(mapping));
	if (IS_ERR(folio))
		return folio;
	if (!folio_test_uptodate(folio)) {
		folio_zero_range(folio, 0, folio_size(folio));
		folio_mark_uptodate(folio);
	}
	return folio;
}

static vm_fault_t spike_fault(struct vm_fault *vmf)
{
	struct inode *inode = file_inode(vmf->vma->vm_file);
	struct folio *folio;

	if (vmf->pgoff >= DIV_ROUND_UP(i_size_read(inode), PAGE_SIZE))
		return VM_FAULT_SIGBUS;
	folio = spike_get_folio(inode, vmf->pgoff);
	if (IS_ERR(folio))
		return vmf_error(PTR_ERR(folio));
	vmf->page = folio_file_page(folio, vmf->pgoff);
	return VM_FAULT_LOCKED;
}

static const struct vm_operations_struct spike_guest_view_ops = {
	.fault = spike_fault,
	.map_pages = filemap_map_pages,
};

static int spike_mmap(struct file *file, struct vm_area_struct *vma)
{
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	vma->vm_ops = &spike_guest_view_ops;
	return 0;
}

static const struct file_operations spike_mem_fops = {
	.owner = THIS_MODULE,
	.mmap = spike_mmap,
	.get_unmapped_area = thp_get_unmapped_area,
};

static const struct address_space_operations spike_aops = {
	.dirty_folio = noop_dirty_folio,
	.migrate_folio = filemap_migrate_folio,
};

static long spike_create(const struct spike_mm_create __user *argp)
{
	struct spike_mm_create args;
	unsigned int order = 0;
	struct inode *inode;
	struct file *file;
	int fd;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags & ~SPIKE_MM_FLAGS || args.pad)
		return -EINVAL;
	if (args.flags & SPIKE_MM_HUGE)
		order = HPAGE_PMD_ORDER;
	if (!args.size || args.size > MAX_LFS_FILESIZE ||
	    !IS_ALIGNED(args.size, PAGE_SIZE << order))
		return -EINVAL;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	file = anon_inode_create_getfile("[kmig_spike]", &spike_mem_fops,
					 NULL, O_RDWR, NULL);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	file->f_flags |= O_LARGEFILE;
	inode = file_inode(file);
	inode->i_private = (void *)(unsigned long)order;
	inode->i_mode |= S_IFREG;
	inode->i_mapping->a_ops = &spike_aops;
	i_size_write(inode, args.size);
	mapping_set_gfp_mask(inode->i_mapping, GFP_HIGHUSER_MOVABLE);
	mapping_set_unevictable(inode->i_mapping);
	mapping_set_folio_order_range(inode->i_mapping, 0, order);
	fd_install(fd, file);
	return fd;
}

static long spike_ioctl(struct file *file, unsigned int cmd,
			unsigned long arg)
{
	switch (cmd) {
	case SPIKE_MM_CREATE:
		return spike_create((const void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations spike_dev_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = spike_ioctl,
};

static struct miscdevice spike_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kmig_spike",
	.fops = &spike_dev_fops,
	.mode = 0600,
};

module_misc_device(spike_dev);
MODULE_DESCRIPTION("kmig spike: page-cache guest memory (throwaway)");
MODULE_LICENSE("GPL");
