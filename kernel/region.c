// SPDX-License-Identifier: GPL-2.0
/*
 * The device migration region: a device fd (anon inode) with VFIO v1's
 * migration region layout at offset 0 and the data area behind it.
 * Documentation/device-region.rst is the specification; this file follows
 * it access by access. Every access holds dev->lock, which serialises it
 * with every other access and with unregistering.
 */
#include <linux/anon_inodes.h>
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "device.h"
#include "kmig.h"

#define KMIG_REGION_DATA_OFFSET	PAGE_SIZE
#define KMIG_REGION_DATA_MAX	SZ_256K

#define STOP		KMIG_DEVICE_STATE_STOP
#define RUNNING		KMIG_DEVICE_STATE_RUNNING
#define SAVING		KMIG_DEVICE_STATE_SAVING
#define RESUMING	KMIG_DEVICE_STATE_RESUMING
#define ERROR		KMIG_DEVICE_STATE_ERROR

/* One open device fd. Fields below dev are guarded by dev->lock. */
struct kmig_region {
	struct kmig_device *dev;
	void *data;		/* the data area, vmalloc_user() */
	size_t staged;		/* SAVING: length of the staged chunk */
	bool has_staged;	/* SAVING: data_offset staged a chunk */
	bool armed;		/* RESUMING: data_offset was read */
};

/*
 * VFIO v1's transitions between valid states. Index: current state; bit n
 * set: state n may follow. A state never "transitions" to itself (a write
 * of the current state is accepted and does nothing).
 */
static const u8 kmig_region_transitions[8] = {
	[STOP]			= BIT(RUNNING) | BIT(SAVING) | BIT(RESUMING),
	[RUNNING]		= BIT(STOP) | BIT(SAVING) |
				  BIT(RUNNING | SAVING) | BIT(RESUMING),
	[RUNNING | SAVING]	= BIT(SAVING) | BIT(RUNNING),
	[SAVING]		= BIT(STOP) | BIT(RUNNING),
	[RESUMING]		= BIT(STOP) | BIT(RUNNING),
};

static void kmig_region_reset_protocol(struct kmig_region *region)
{
	region->has_staged = false;
	region->staged = 0;
	region->armed = false;
}

static int kmig_region_set_state(struct kmig_region *region, u32 new)
{
	struct kmig_device *dev = region->dev;
	u32 old = dev->state;
	int ret;

	lockdep_assert_held(&dev->lock);
	if (new & ~KMIG_DEVICE_STATE_MASK || old == ERROR ||
	    (old != new && !(kmig_region_transitions[old] & BIT(new))))
		return -EINVAL;
	if (old == new)
		return 0;

	kmig_region_reset_protocol(region);
	dev->pending_bytes = 0;
	ret = dev->ops->set_state(dev, old, new);
	if (ret)
		return kmig_device_fail(dev, ret);
	dev->state = new;
	return 0;
}

/* Stages the next chunk of save data in the data area. */
static int kmig_region_stage(struct kmig_region *region)
{
	struct kmig_device *dev = region->dev;
	ssize_t len;

	lockdep_assert_held(&dev->lock);
	region->has_staged = false;
	len = dev->ops->save_chunk(dev, region->data, KMIG_REGION_DATA_MAX);
	if (len < 0)
		return kmig_device_fail(dev, len);
	if (len > KMIG_REGION_DATA_MAX)
		return kmig_device_fail(dev, -EOVERFLOW);
	if (!len)
		return -ENODATA;
	region->staged = len;
	region->has_staged = true;
	return 0;
}

static int kmig_region_read_field(struct kmig_region *region, loff_t pos,
				  size_t count, u64 *val)
{
	struct kmig_device *dev = region->dev;
	bool saving = kmig_device_saving(dev->state);
	int ret;

	switch (pos) {
	case offsetof(struct kmig_device_region, device_state):
		if (count != sizeof(u32))
			return -EINVAL;
		*val = dev->state;
		return 0;
	case offsetof(struct kmig_device_region, reserved):
		if (count != sizeof(u32))
			return -EINVAL;
		*val = 0;
		return 0;
	case offsetof(struct kmig_device_region, pending_bytes):
		if (count != sizeof(u64) || !saving)
			return -EINVAL;
		ret = dev->ops->pending_bytes(dev, val);
		if (ret)
			return kmig_device_fail(dev, ret);
		dev->pending_bytes = *val;
		return 0;
	case offsetof(struct kmig_device_region, data_offset):
		if (count != sizeof(u64))
			return -EINVAL;
		if (saving) {
			ret = kmig_region_stage(region);
			if (ret)
				return ret;
		} else if (dev->state == RESUMING) {
			region->armed = true;
		} else {
			return -EINVAL;
		}
		*val = KMIG_REGION_DATA_OFFSET;
		return 0;
	case offsetof(struct kmig_device_region, data_size):
		if (count != sizeof(u64) || !saving || !region->has_staged)
			return -EINVAL;
		*val = region->staged;
		return 0;
	}
	return -EINVAL;
}

static int kmig_region_write_field(struct kmig_region *region, loff_t pos,
				   size_t count, u64 val)
{
	struct kmig_device *dev = region->dev;
	int ret;

	switch (pos) {
	case offsetof(struct kmig_device_region, device_state):
		if (count != sizeof(u32))
			return -EINVAL;
		return kmig_region_set_state(region, val);
	case offsetof(struct kmig_device_region, reserved):
		return count == sizeof(u32) ? 0 : -EINVAL;
	case offsetof(struct kmig_device_region, data_size):
		if (count != sizeof(u64) || dev->state != RESUMING ||
		    !region->armed || !val || val > KMIG_REGION_DATA_MAX)
			return -EINVAL;
		region->armed = false;
		ret = dev->ops->load_chunk(dev, region->data, val);
		return ret ? kmig_device_fail(dev, ret) : 0;
	}
	return -EINVAL;
}

static ssize_t kmig_region_read_locked(struct kmig_region *region,
				       char __user *buf, size_t count,
				       loff_t pos)
{
	u64 val;
	u32 val32;
	int ret;

	if (pos >= KMIG_REGION_DATA_OFFSET) {
		pos -= KMIG_REGION_DATA_OFFSET;
		if (!kmig_device_saving(region->dev->state) ||
		    !region->has_staged || !count || pos >= region->staged ||
		    count > region->staged - pos)
			return -EINVAL;
		if (copy_to_user(buf, region->data + pos, count))
			return -EFAULT;
		return count;
	}

	ret = kmig_region_read_field(region, pos, count, &val);
	if (ret)
		return ret;
	if (count == sizeof(u32)) {
		val32 = val;
		ret = copy_to_user(buf, &val32, sizeof(val32));
	} else {
		ret = copy_to_user(buf, &val, sizeof(val));
	}
	return ret ? -EFAULT : count;
}

static ssize_t kmig_region_write_locked(struct kmig_region *region,
					const char __user *buf, size_t count,
					loff_t pos)
{
	u64 val = 0;
	u32 val32;
	int ret;

	if (pos >= KMIG_REGION_DATA_OFFSET) {
		pos -= KMIG_REGION_DATA_OFFSET;
		if (region->dev->state != RESUMING || !count ||
		    pos >= KMIG_REGION_DATA_MAX ||
		    count > KMIG_REGION_DATA_MAX - pos)
			return -EINVAL;
		if (copy_from_user(region->data + pos, buf, count))
			return -EFAULT;
		return count;
	}

	if (count == sizeof(u32)) {
		if (copy_from_user(&val32, buf, sizeof(val32)))
			return -EFAULT;
		val = val32;
	} else if (count == sizeof(u64)) {
		if (copy_from_user(&val, buf, sizeof(val)))
			return -EFAULT;
	} else {
		return -EINVAL;
	}
	ret = kmig_region_write_field(region, pos, count, val);
	return ret ? ret : count;
}

/* One access under the device lock; the driver may be gone (ENODEV). */
static ssize_t kmig_region_rw(struct file *file, char __user *buf,
			      size_t count, loff_t *ppos, bool write)
{
	struct kmig_region *region = file->private_data;
	struct kmig_device *dev = region->dev;
	ssize_t ret;

	if (*ppos < 0)
		return -EINVAL;
	ret = mutex_lock_killable(&dev->lock);
	if (ret)
		return ret;
	if (!dev->ops)
		ret = -ENODEV;
	else if (write)
		ret = kmig_region_write_locked(region, buf, count, *ppos);
	else
		ret = kmig_region_read_locked(region, buf, count, *ppos);
	mutex_unlock(&dev->lock);
	if (ret > 0)
		*ppos += ret;
	return ret;
}

static ssize_t kmig_region_read(struct file *file, char __user *buf,
				size_t count, loff_t *ppos)
{
	return kmig_region_rw(file, buf, count, ppos, false);
}

static ssize_t kmig_region_write(struct file *file, const char __user *buf,
				 size_t count, loff_t *ppos)
{
	return kmig_region_rw(file, (char __user *)buf, count, ppos, true);
}

/*
 * The data area stays allocated as long as the file, so a mapping outlives
 * nothing it points to, even after the device is gone. No dev->lock here:
 * mmap runs under mmap_lock, which copy_to_user() may take under dev->lock.
 */
static int kmig_region_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct kmig_region *region = file->private_data;
	unsigned long size = vma->vm_end - vma->vm_start;

	if (!READ_ONCE(region->dev->ops))
		return -ENODEV;
	if (!(vma->vm_flags & VM_SHARED) ||
	    vma->vm_pgoff != KMIG_REGION_DATA_OFFSET >> PAGE_SHIFT ||
	    size > KMIG_REGION_DATA_MAX)
		return -EINVAL;
	return remap_vmalloc_range(vma, region->data, 0);
}

static long kmig_region_get_config(struct kmig_region *region,
				   struct kmig_device_config __user *uarg)
{
	struct kmig_device *dev = region->dev;
	struct kmig_device_config arg;
	ssize_t len;
	void *buf;
	long ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	buf = kvzalloc(KMIG_DEVICE_CONFIG_MAX, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;

	ret = mutex_lock_killable(&dev->lock);
	if (ret)
		goto err_lock;
	if (!dev->ops) {
		ret = -ENODEV;
		goto err_state;
	}
	if (dev->state != STOP && dev->state != SAVING) {
		ret = -EINVAL;
		goto err_state;
	}
	len = dev->ops->save_config(dev, buf, KMIG_DEVICE_CONFIG_MAX);
	if (len < 0 || len > KMIG_DEVICE_CONFIG_MAX) {
		ret = kmig_device_fail(dev, len < 0 ? len : -EOVERFLOW);
		goto err_state;
	}
	mutex_unlock(&dev->lock);

	arg.len = len;
	ret = 0;
	if (len > arg.size)
		ret = -ENOSPC;
	else if (copy_to_user(u64_to_user_ptr(arg.data), buf, len))
		ret = -EFAULT;
	if (ret != -EFAULT && put_user(arg.len, &uarg->len))
		ret = -EFAULT;
	kvfree(buf);
	return ret;

err_state:
	mutex_unlock(&dev->lock);
err_lock:
	kvfree(buf);
	return ret;
}

static long kmig_region_set_config(struct kmig_region *region,
				   struct kmig_device_config __user *uarg)
{
	struct kmig_device *dev = region->dev;
	struct kmig_device_config arg;
	void *buf;
	long ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (!arg.size || arg.size > KMIG_DEVICE_CONFIG_MAX)
		return -EINVAL;
	buf = vmemdup_user(u64_to_user_ptr(arg.data), arg.size);
	if (IS_ERR(buf))
		return PTR_ERR(buf);

	ret = mutex_lock_killable(&dev->lock);
	if (ret)
		goto err_lock;
	if (!dev->ops) {
		ret = -ENODEV;
	} else if (dev->state != RESUMING) {
		ret = -EINVAL;
	} else {
		ret = dev->ops->load_config(dev, buf, arg.size);
		if (ret)
			kmig_device_fail(dev, ret);
	}
	mutex_unlock(&dev->lock);
err_lock:
	kvfree(buf);
	return ret;
}

static long kmig_region_reset(struct kmig_region *region)
{
	struct kmig_device *dev = region->dev;
	long ret;

	ret = mutex_lock_killable(&dev->lock);
	if (ret)
		return ret;
	if (!dev->ops) {
		ret = -ENODEV;
		goto out_unlock;
	}
	kmig_region_reset_protocol(region);
	dev->pending_bytes = 0;
	ret = dev->ops->set_state(dev, ERROR, RUNNING);
	if (ret)
		kmig_device_fail(dev, ret);
	else
		dev->state = RUNNING;
out_unlock:
	mutex_unlock(&dev->lock);
	return ret;
}

static long kmig_region_file_ioctl(struct file *file, unsigned int cmd,
				   unsigned long arg)
{
	struct kmig_region *region = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case KMIG_DEVICE_RESET:
		return kmig_region_reset(region);
	case KMIG_DEVICE_GET_CONFIG:
		return kmig_region_get_config(region, uarg);
	case KMIG_DEVICE_SET_CONFIG:
		return kmig_region_set_config(region, uarg);
	}
	return -ENOTTY;
}

static int kmig_region_release(struct inode *inode, struct file *file)
{
	struct kmig_region *region = file->private_data;
	struct kmig_device *dev = region->dev;

	mutex_lock(&dev->lock);
	dev->open = false;
	mutex_unlock(&dev->lock);
	kmig_device_put(dev);
	vfree(region->data);
	kfree(region);
	atomic_long_dec(&kmig_objects.device_files);
	return 0;
}

static const struct file_operations kmig_region_fops = {
	.owner		= THIS_MODULE,
	.read		= kmig_region_read,
	.write		= kmig_region_write,
	.mmap		= kmig_region_mmap,
	.unlocked_ioctl	= kmig_region_file_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.release	= kmig_region_release,
	.llseek		= noop_llseek,
};

/* Claims @dev for a new fd: -ENOENT once unregistered, -EBUSY if open. */
static int kmig_region_claim(struct kmig_device *dev)
{
	int ret;

	ret = mutex_lock_killable(&dev->lock);
	if (ret)
		return ret;
	if (!dev->ops)
		ret = -ENOENT;
	else if (dev->open)
		ret = -EBUSY;
	else
		dev->open = true;
	mutex_unlock(&dev->lock);
	return ret;
}

static void kmig_region_unclaim(struct kmig_device *dev)
{
	mutex_lock(&dev->lock);
	dev->open = false;
	mutex_unlock(&dev->lock);
}

static long kmig_region_open(struct kmig_device_open __user *uarg)
{
	struct kmig_device_open arg;
	struct kmig_region *region;
	struct kmig_device *dev;
	struct file *file;
	int fd, ret;

	/* Whoever may migrate devices; the device fd it gets is the grant. */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags ||
	    strnlen(arg.name, sizeof(arg.name)) == sizeof(arg.name))
		return -EINVAL;

	dev = kmig_device_find(arg.name, arg.instance);
	if (!dev)
		return -ENOENT;

	ret = -ENOMEM;
	region = kzalloc(sizeof(*region), GFP_KERNEL);
	if (!region)
		goto err_alloc_region;
	region->dev = dev;
	region->data = vmalloc_user(KMIG_REGION_DATA_MAX);
	if (!region->data)
		goto err_alloc_data;

	ret = kmig_region_claim(dev);
	if (ret)
		goto err_claim;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto err_fd;
	}
	file = anon_inode_getfile("[kmig-device]", &kmig_region_fops, region,
				  O_RDWR | O_CLOEXEC);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_file;
	}
	file->f_mode |= FMODE_PREAD | FMODE_PWRITE;
	atomic_long_inc(&kmig_objects.device_files);

	/* From here on, the file owns region and the device reference. */
	arg.data_max = KMIG_REGION_DATA_MAX;
	if (copy_to_user(uarg, &arg, sizeof(arg))) {
		put_unused_fd(fd);
		fput(file);
		return -EFAULT;
	}
	fd_install(fd, file);
	return fd;

err_file:
	put_unused_fd(fd);
err_fd:
	kmig_region_unclaim(dev);
err_claim:
	vfree(region->data);
err_alloc_data:
	kfree(region);
err_alloc_region:
	kmig_device_put(dev);
	return ret;
}

/* Device ioctls on /dev/kmig; -ENOTTY for any other command. */
long kmig_region_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case KMIG_DEVICE_OPEN:
		return kmig_region_open((void __user *)arg);
	}
	return -ENOTTY;
}
