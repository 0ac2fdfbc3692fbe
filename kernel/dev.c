// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/kmig: the misc device through which bulk data moves.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include <linux/kmig.h>

#include "context.h"
#include "kmig.h"

struct kmig_objects kmig_objects;

/* Each open is a guest memory context (context.c). */
static int kmig_dev_open(struct inode *inode, struct file *file)
{
	int ret;

	ret = kmig_ctx_open(file);
	if (ret)
		return ret;
	atomic_long_inc(&kmig_objects.files);
	return 0;
}

static int kmig_dev_release(struct inode *inode, struct file *file)
{
	kmig_ctx_release(file);
	atomic_long_dec(&kmig_objects.files);
	return 0;
}

static long kmig_dev_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	if (_IOC_TYPE(cmd) == KMIG_IOC_MAGIC &&
	    _IOC_NR(cmd) >= KMIG_DEVICE_IOC_FIRST &&
	    _IOC_NR(cmd) <= KMIG_DEVICE_IOC_LAST)
		return kmig_region_ioctl(file, cmd, arg);
	return kmig_ctx_ioctl(file, cmd, arg);
}

static const struct file_operations kmig_dev_fops = {
	.owner		= THIS_MODULE,
	.open		= kmig_dev_open,
	.release	= kmig_dev_release,
	.unlocked_ioctl	= kmig_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
	.mmap		= kmig_mem_mmap,
	.read_iter	= kmig_mem_read_iter,
	.write_iter	= kmig_mem_write_iter,
};

static struct miscdevice kmig_miscdev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= KMIG_DEVICE_NAME,
	.fops	= &kmig_dev_fops,
	.mode	= 0600,
};

int kmig_dev_init(void)
{
	return misc_register(&kmig_miscdev);
}

void kmig_dev_uninit(void)
{
	misc_deregister(&kmig_miscdev);
}
