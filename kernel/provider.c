// SPDX-License-Identifier: GPL-2.0
/*
 * The KVM log provider of a context (memory-model.rst, model (b)).
 *
 * Only the VMM can read KVM's dirty log (kvm_vm_ioctl() refuses another
 * mm), so the VMM attaches a provider fd, and kmig asks it for KVM's bits
 * of its KMIG_SLOT_KVM_LOG slots: start, stop, or harvest (get and clear).
 * A request is one struct kmig_log_request the provider read()s; the
 * answer comes back with KMIG_LOG_PROVIDED on the same fd.
 *
 * One request is in flight at a time (call_mutex). Its life, under lock:
 *
 *   PROV_IDLE --call--> PROV_QUEUED --read--> PROV_READ --answer--> PROV_DONE
 *
 * and back to PROV_IDLE when the caller takes the answer, gives up (fatal
 * signal, KMIG_LOG_TIMEOUT_S) or finds the provider gone. The caller owns
 * the bitmaps the answer fills; it takes them back under lock, so a late
 * answer never writes into freed memory. A bad answer is refused and the
 * request stays open for a good one.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>

#include "context.h"
#include "kmig.h"

enum {
	PROV_IDLE,
	PROV_QUEUED,
	PROV_READ,
	PROV_DONE,
};

void kmig_provider_ctx_init(struct kmig_ctx *ctx)
{
	struct kmig_log_prov *p = &ctx->prov;

	mutex_init(&p->call_mutex);
	mutex_init(&p->lock);
	init_waitqueue_head(&p->readers);
	init_waitqueue_head(&p->answer);
}

/* True once the request of generation @gen is answered or orphaned. */
static bool answered(struct kmig_log_prov *p, u32 gen)
{
	return READ_ONCE(p->state) == PROV_DONE || READ_ONCE(p->gen) != gen;
}

/*
 * Ask the provider of @ctx to do @op on the @n slots @slots (at most
 * KMIG_LOG_MAX_SLOTS, each named once, referenced by the caller) in one
 * request and wait for the answer; for KMIG_LOG_HARVEST it fills
 * @bitmaps[i] (BITS_TO_LONGS(npages) words of @slots[i]).
 * Returns 0, the provider's -errno, -EPIPE without a provider (or when it
 * closed meanwhile), -ETIMEDOUT, or -EINTR on a fatal signal.
 */
int kmig_provider_call(struct kmig_ctx *ctx, u32 op, struct kmig_slot **slots,
		       unsigned int n, u64 **bitmaps)
{
	struct kmig_log_prov *p = &ctx->prov;
	unsigned int i;
	long left;
	u32 gen, seq;
	int ret;

	if (WARN_ON_ONCE(!n || n > KMIG_LOG_MAX_SLOTS))
		return -EINVAL;
	if (mutex_lock_killable(&p->call_mutex))
		return -EINTR;
	mutex_lock(&p->lock);
	if (!p->file) {
		mutex_unlock(&p->lock);
		ret = -EPIPE;
		goto out;
	}
	seq = p->req.seq + 1;
	memset(&p->req, 0, sizeof(p->req));
	p->req.op = op;
	p->req.nslots = n;
	p->req.seq = seq;
	for (i = 0; i < n; i++)
		p->req.slots[i] = slots[i]->id;
	p->bitmaps = op == KMIG_LOG_HARVEST ? bitmaps : NULL;
	p->slots = slots;
	p->status = 0;
	gen = p->gen;
	WRITE_ONCE(p->state, PROV_QUEUED);
	mutex_unlock(&p->lock);
	wake_up_interruptible_poll(&p->readers, EPOLLIN | EPOLLRDNORM);

	left = wait_event_killable_timeout(p->answer, answered(p, gen),
					   KMIG_LOG_TIMEOUT_S * HZ);
	mutex_lock(&p->lock);
	if (p->state == PROV_DONE)	/* answered, even if closed since */
		ret = p->status;
	else if (p->gen != gen)
		ret = -EPIPE;
	else
		ret = left < 0 ? -EINTR : -ETIMEDOUT;
	WRITE_ONCE(p->state, PROV_IDLE);
	p->bitmaps = NULL;
	p->slots = NULL;
	mutex_unlock(&p->lock);
out:
	mutex_unlock(&p->call_mutex);
	return ret;
}

static ssize_t prov_read(struct file *file, char __user *buf, size_t len,
			 loff_t *ppos)
{
	struct kmig_ctx *ctx = file->private_data;
	struct kmig_log_prov *p = &ctx->prov;
	struct kmig_log_request req;
	int ret;

	if (len < sizeof(req))
		return -EINVAL;
	for (;;) {
		mutex_lock(&p->lock);
		if (p->state == PROV_QUEUED)
			break;
		mutex_unlock(&p->lock);
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(p->readers, READ_ONCE(p->state) ==
					       PROV_QUEUED);
		if (ret)
			return ret;
	}
	req = p->req;
	WRITE_ONCE(p->state, PROV_READ);
	mutex_unlock(&p->lock);
	if (copy_to_user(buf, &req, sizeof(req))) {
		/* Not delivered: offer it again. */
		mutex_lock(&p->lock);
		if (p->state == PROV_READ && p->req.seq == req.seq)
			WRITE_ONCE(p->state, PROV_QUEUED);
		mutex_unlock(&p->lock);
		return -EFAULT;
	}
	return sizeof(req);
}

static __poll_t prov_poll(struct file *file, poll_table *wait)
{
	struct kmig_ctx *ctx = file->private_data;

	poll_wait(file, &ctx->prov.readers, wait);
	return READ_ONCE(ctx->prov.state) == PROV_QUEUED ?
	       EPOLLIN | EPOLLRDNORM : 0;
}

/* Check the answer @a against the request read last and take it. */
static long provided(struct kmig_log_prov *p, const struct kmig_log_provided *a)
{
	u64 __user *ubuf = u64_to_user_ptr(a->bitmaps);
	unsigned long nwords;
	u64 size = 0;
	u32 i;

	lockdep_assert_held(&p->lock);
	if (p->state != PROV_READ || a->seq != p->req.seq)
		return -EINVAL;
	if (a->status > 0 || a->status < -MAX_ERRNO)
		return -EINVAL;
	if (!a->status && p->bitmaps) {
		for (i = 0; i < p->req.nslots; i++)
			size += BITS_TO_LONGS(p->slots[i]->npages) * sizeof(u64);
		if (a->nslots != p->req.nslots || a->size != size)
			return -EINVAL;
		for (i = 0; i < p->req.nslots; i++) {
			nwords = BITS_TO_LONGS(p->slots[i]->npages);
			if (copy_from_user(p->bitmaps[i], ubuf,
					   nwords * sizeof(u64)))
				return -EFAULT;
			ubuf += nwords;
		}
	}
	p->status = a->status;
	WRITE_ONCE(p->state, PROV_DONE);
	return 0;
}

static long prov_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kmig_ctx *ctx = file->private_data;
	struct kmig_log_provided a;
	long ret;

	if (cmd != KMIG_LOG_PROVIDED)
		return -ENOTTY;
	if (copy_from_user(&a, (void __user *)arg, sizeof(a)))
		return -EFAULT;
	mutex_lock(&ctx->prov.lock);
	ret = provided(&ctx->prov, &a);
	mutex_unlock(&ctx->prov.lock);
	if (!ret)
		wake_up(&ctx->prov.answer);
	return ret;
}

static int prov_release(struct inode *inode, struct file *file)
{
	struct kmig_ctx *ctx = file->private_data;
	struct kmig_log_prov *p = &ctx->prov;

	mutex_lock(&p->lock);
	p->file = NULL;
	p->gen++;
	/* The caller of a request in flight finds the new gen: EPIPE. */
	if (p->state != PROV_DONE)
		WRITE_ONCE(p->state, PROV_IDLE);
	mutex_unlock(&p->lock);
	wake_up(&p->answer);
	kmig_nl_ctx_event(ctx, KMIG_CMD_CTX_PROVIDER_LOST);
	kmig_ctx_put(ctx);
	return 0;
}

static const struct file_operations kmig_prov_fops = {
	.owner		= THIS_MODULE,
	.read		= prov_read,
	.poll		= prov_poll,
	.unlocked_ioctl	= prov_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.release	= prov_release,
	.llseek		= noop_llseek,
};

/* KMIG_LOG_PROVIDER_FD */
int kmig_provider_fd(struct kmig_ctx *ctx, void __user *argp)
{
	struct kmig_log_prov *p = &ctx->prov;
	struct kmig_log_provider args;
	struct file *file;
	int fd, ret;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags || args.reserved)
		return -EINVAL;
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	mutex_lock(&p->lock);
	if (p->file) {
		ret = -EBUSY;
		goto err_busy;
	}
	file = anon_inode_getfile("[kmig-log-provider]", &kmig_prov_fops, ctx,
				  O_RDWR);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_busy;
	}
	kref_get(&ctx->ref);
	p->file = file;
	p->gen++;
	mutex_unlock(&p->lock);
	fd_install(fd, file);
	return fd;

err_busy:
	mutex_unlock(&p->lock);
	put_unused_fd(fd);
	return ret;
}
