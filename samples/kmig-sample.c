// SPDX-License-Identifier: GPL-2.0
/*
 * kmig-sample: a software device that kmig can migrate, for tests and as
 * an example of the driver API (Documentation/driver-api.rst).
 *
 * Each instance has eight registers, a 256-byte FIFO and 8 MiB of RAM. While
 * it runs, a kernel thread keeps changing all three at a settable rate:
 * each step draws from a generator whose seed lives in the registers,
 * writes a word of RAM, counts the write and pushes a byte into the FIFO.
 *
 * State format, version 1 (little-endian):
 *   config: struct sample_config: registers and FIFO;
 *   data:   chunks of struct sample_chunk, then le32 page indexes, then
 *           the 4 KiB pages. Every chunk and the config carry the magic,
 *           the version, the RAM size and a CRC32 of what follows.
 * Saving sends every page once, then the pages written since they were
 * sent. Resuming loads into a shadow copy and swaps it in only when the
 * config and every page have arrived, so a partial or corrupt stream never
 * touches the device, and a complete one defines all of its state.
 *
 * debugfs, under kmig-sample/:
 *   create, destroy   write an instance id
 *   ID/checksum       CRC32 of the instance's whole state
 *   ID/rate           mutator steps per second (0: idle)
 *   ID/writes         steps done so far (register 2)
 *   ID/fail_pending   an errno that pending_bytes returns (0: none)
 */
#include <linux/bitmap.h>
#include <linux/crc32.h>
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/sizes.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include "kmig_device.h"

#define SAMPLE_NAME		"kmig-sample"
#define SAMPLE_VERSION		1
#define SAMPLE_CHUNK_MAGIC	0x444d4b73	/* "sKMD" */
#define SAMPLE_CONFIG_MAGIC	0x434d4b73	/* "sKMC" */
#define SAMPLE_PAGE		4096
#define SAMPLE_RAM		SZ_8M
#define SAMPLE_PAGES		(SAMPLE_RAM / SAMPLE_PAGE)
#define SAMPLE_NREGS		8
#define SAMPLE_FIFO		256
#define SAMPLE_RATE_MAX		1000000
#define SAMPLE_TICK_MS		10

enum {
	REG_CTRL,
	REG_STATUS,
	REG_WRITES,
	REG_LAST_PAGE,
	REG_SEED_LO,
	REG_SEED_HI,
	REG_SCRATCH0,
	REG_SCRATCH1,
};

struct sample_header {
	__le32 magic;
	__le16 version;
	__le16 reserved;
	__le32 ram_size;
	__le32 crc;		/* of everything after the header */
};

struct sample_config {
	struct sample_header hdr;
	__le32 regs[SAMPLE_NREGS];
	__le32 fifo_head;
	__le32 fifo_count;
	u8 fifo[SAMPLE_FIFO];
};

struct sample_chunk {
	struct sample_header hdr;
	__le32 npages;
	__le32 reserved;
	/* __le32 index[npages]; then npages pages */
};

#define SAMPLE_PAGE_COST	(sizeof(__le32) + SAMPLE_PAGE)

struct sample_state {
	u32 regs[SAMPLE_NREGS];
	u32 fifo_head;
	u32 fifo_count;
	u8 fifo[SAMPLE_FIFO];
	u8 *ram;
};

/* A resume in progress: the state being loaded, and what has arrived. */
struct sample_shadow {
	struct sample_state state;
	unsigned long *loaded;		/* pages received */
	bool config;			/* config received */
};

struct sample_dev {
	struct list_head node;		/* on sample_devs */
	u32 id;
	struct mutex lock;		/* guards everything below */
	struct sample_state live;
	unsigned long *dirty;		/* while saving: pages not yet sent */
	bool running;
	bool saving;
	struct sample_shadow *shadow;	/* while resuming */
	u32 rate;
	int fail_pending;		/* pending_bytes fails with -this */
	wait_queue_head_t wake;
	struct task_struct *mutator;
	struct kmig_device *kdev;
	struct dentry *dir;
};

static LIST_HEAD(sample_devs);
static DEFINE_MUTEX(sample_devs_lock);
static struct dentry *sample_root;

#define sample_warn(s, fmt, ...) \
	pr_warn_ratelimited("instance %u: " fmt, (s)->id, ##__VA_ARGS__)

static u32 sample_crc(u32 crc, const void *p, size_t len)
{
	return crc32_le(crc, p, len);
}

static u64 sample_seed(struct sample_state *st)
{
	return (u64)st->regs[REG_SEED_HI] << 32 | st->regs[REG_SEED_LO];
}

static u64 sample_next(struct sample_state *st)
{
	u64 x = sample_seed(st);

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	st->regs[REG_SEED_LO] = lower_32_bits(x);
	st->regs[REG_SEED_HI] = upper_32_bits(x);
	return x;
}

static void sample_step(struct sample_dev *s)
{
	struct sample_state *st = &s->live;
	u64 x = sample_next(st);
	u32 page = x % SAMPLE_PAGES;
	u32 word = (x >> 32) % (SAMPLE_PAGE / sizeof(u64));

	lockdep_assert_held(&s->lock);
	((u64 *)st->ram)[page * (SAMPLE_PAGE / sizeof(u64)) + word] = x;
	if (s->saving)
		set_bit(page, s->dirty);
	st->regs[REG_WRITES]++;
	st->regs[REG_LAST_PAGE] = page;
	if (st->fifo_count == SAMPLE_FIFO) {
		st->fifo_head = (st->fifo_head + 1) % SAMPLE_FIFO;
		st->fifo_count--;
	}
	st->fifo[(st->fifo_head + st->fifo_count) % SAMPLE_FIFO] = x >> 56;
	st->fifo_count++;
}

static int sample_mutator(void *data)
{
	struct sample_dev *s = data;
	u32 steps;

	while (!kthread_should_stop()) {
		wait_event_interruptible(s->wake, kthread_should_stop() ||
					 (READ_ONCE(s->running) &&
					  READ_ONCE(s->rate)));
		if (kthread_should_stop())
			break;
		mutex_lock(&s->lock);
		if (s->running) {
			steps = DIV_ROUND_UP(s->rate, 1000 / SAMPLE_TICK_MS);
			while (steps--)
				sample_step(s);
		}
		mutex_unlock(&s->lock);
		schedule_timeout_interruptible(msecs_to_jiffies(SAMPLE_TICK_MS));
	}
	return 0;
}

static int sample_state_alloc(struct sample_state *st)
{
	st->ram = vzalloc(SAMPLE_RAM);
	return st->ram ? 0 : -ENOMEM;
}

static void sample_shadow_free(struct sample_shadow *sh)
{
	if (!sh)
		return;
	vfree(sh->state.ram);
	bitmap_free(sh->loaded);
	kfree(sh);
}

static struct sample_shadow *sample_shadow_alloc(void)
{
	struct sample_shadow *sh;

	sh = kzalloc(sizeof(*sh), GFP_KERNEL);
	if (!sh)
		return NULL;
	sh->loaded = bitmap_zalloc(SAMPLE_PAGES, GFP_KERNEL);
	if (!sh->loaded || sample_state_alloc(&sh->state)) {
		sample_shadow_free(sh);
		return NULL;
	}
	return sh;
}

/* Swaps a complete shadow in. Returns -ENODATA if anything is missing. */
static int sample_commit(struct sample_dev *s)
{
	struct sample_shadow *sh = s->shadow;
	u8 *ram;

	lockdep_assert_held(&s->lock);
	if (!sh->config || !bitmap_full(sh->loaded, SAMPLE_PAGES)) {
		sample_warn(s, "resume incomplete (config %s, %u of %u pages), state unchanged\n",
			    sh->config ? "loaded" : "missing",
			    bitmap_weight(sh->loaded, SAMPLE_PAGES),
			    SAMPLE_PAGES);
		return -ENODATA;
	}
	ram = s->live.ram;
	s->live = sh->state;
	sh->state.ram = ram;
	return 0;
}

static int sample_set_state(struct kmig_device *kdev, u32 old, u32 new)
{
	struct sample_dev *s = kmig_device_priv(kdev);
	struct sample_shadow *sh = NULL;
	int ret = 0;

	if (new == KMIG_DEVICE_STATE_RESUMING) {
		sh = sample_shadow_alloc();
		if (!sh)
			return -ENOMEM;
	}

	mutex_lock(&s->lock);
	if (old == KMIG_DEVICE_STATE_RESUMING)
		ret = sample_commit(s);
	/* Whether or not the commit worked, the resume is over. */
	swap(sh, s->shadow);
	if (!ret) {
		s->running = new & KMIG_DEVICE_STATE_RUNNING;
		if (!(new & KMIG_DEVICE_STATE_SAVING))
			s->saving = false;
		else if (!s->saving && old != KMIG_DEVICE_STATE_ERROR)
			bitmap_fill(s->dirty, SAMPLE_PAGES);
		s->saving = new & KMIG_DEVICE_STATE_SAVING;
	}
	mutex_unlock(&s->lock);
	sample_shadow_free(sh);
	wake_up(&s->wake);
	return ret;
}

static int sample_pending_bytes(struct kmig_device *kdev, u64 *pending)
{
	struct sample_dev *s = kmig_device_priv(kdev);
	int err = READ_ONCE(s->fail_pending);

	if (err)
		return -err;
	mutex_lock(&s->lock);
	*pending = s->saving ?
		(u64)bitmap_weight(s->dirty, SAMPLE_PAGES) * SAMPLE_PAGE : 0;
	mutex_unlock(&s->lock);
	return 0;
}

static void sample_header_fill(struct sample_header *hdr, u32 magic, u32 crc)
{
	hdr->magic = cpu_to_le32(magic);
	hdr->version = cpu_to_le16(SAMPLE_VERSION);
	hdr->reserved = 0;
	hdr->ram_size = cpu_to_le32(SAMPLE_RAM);
	hdr->crc = cpu_to_le32(crc);
}

/* Checks a received header; @crc is that of the bytes that follow it. */
static int sample_header_check(struct sample_dev *s,
			       const struct sample_header *hdr, u32 magic,
			       u32 crc)
{
	const char *what = magic == SAMPLE_CHUNK_MAGIC ? "chunk" : "config";

	if (le32_to_cpu(hdr->magic) != magic) {
		sample_warn(s, "%s has bad magic %#x\n", what,
			    le32_to_cpu(hdr->magic));
		return -EINVAL;
	}
	if (le16_to_cpu(hdr->version) != SAMPLE_VERSION) {
		sample_warn(s, "%s has version %u, not %u\n", what,
			    le16_to_cpu(hdr->version), SAMPLE_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (hdr->reserved || le32_to_cpu(hdr->ram_size) != SAMPLE_RAM) {
		sample_warn(s, "%s is for a RAM of %u bytes, not %u\n", what,
			    le32_to_cpu(hdr->ram_size), SAMPLE_RAM);
		return -EINVAL;
	}
	if (le32_to_cpu(hdr->crc) != crc) {
		sample_warn(s, "%s fails its CRC\n", what);
		return -EBADMSG;
	}
	return 0;
}

static ssize_t sample_save_chunk(struct kmig_device *kdev, void *buf,
				 size_t size)
{
	struct sample_dev *s = kmig_device_priv(kdev);
	struct sample_chunk *chunk = buf;
	size_t max = (size - sizeof(*chunk)) / SAMPLE_PAGE_COST;
	__le32 *index = (__le32 *)(chunk + 1);
	unsigned long page = 0;
	u32 n = 0, i;
	u8 *pages;

	if (size < sizeof(*chunk) + SAMPLE_PAGE_COST)
		return -ENOSPC;

	mutex_lock(&s->lock);
	if (!s->saving)
		goto out_unlock;
	/* How many pages go in, then the indexes and the pages. */
	for (n = 0; n < max; n++, page++) {
		page = find_next_bit(s->dirty, SAMPLE_PAGES, page);
		if (page >= SAMPLE_PAGES)
			break;
	}
	pages = (u8 *)(index + n);
	page = 0;
	for (i = 0; i < n; i++, page++) {
		page = find_next_bit(s->dirty, SAMPLE_PAGES, page);
		index[i] = cpu_to_le32(page);
		memcpy(pages + (size_t)i * SAMPLE_PAGE,
		       s->live.ram + page * SAMPLE_PAGE, SAMPLE_PAGE);
		clear_bit(page, s->dirty);
	}
out_unlock:
	mutex_unlock(&s->lock);
	if (!n)
		return 0;

	chunk->npages = cpu_to_le32(n);
	chunk->reserved = 0;
	sample_header_fill(&chunk->hdr, SAMPLE_CHUNK_MAGIC,
			   sample_crc(~0, &chunk->npages,
				      sizeof(*chunk) - sizeof(chunk->hdr) +
				      n * SAMPLE_PAGE_COST));
	return sizeof(*chunk) + n * SAMPLE_PAGE_COST;
}

static int sample_load_chunk(struct kmig_device *kdev, const void *buf,
			     size_t len)
{
	struct sample_dev *s = kmig_device_priv(kdev);
	const struct sample_chunk *chunk = buf;
	const __le32 *index = (const __le32 *)(chunk + 1);
	const u8 *pages;
	u32 n, i, crc;
	int ret;

	if (len < sizeof(*chunk)) {
		sample_warn(s, "chunk of %zu bytes is too short\n", len);
		return -EINVAL;
	}
	crc = sample_crc(~0, &chunk->npages, len - sizeof(chunk->hdr));
	ret = sample_header_check(s, &chunk->hdr, SAMPLE_CHUNK_MAGIC, crc);
	if (ret)
		return ret;
	n = le32_to_cpu(chunk->npages);
	if (chunk->reserved || !n || n > SAMPLE_PAGES ||
	    len != sizeof(*chunk) + (size_t)n * SAMPLE_PAGE_COST) {
		sample_warn(s, "chunk of %zu bytes claims %u pages\n", len, n);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (le32_to_cpu(index[i]) >= SAMPLE_PAGES) {
			sample_warn(s, "chunk names page %u of %u\n",
				    le32_to_cpu(index[i]), SAMPLE_PAGES);
			return -EINVAL;
		}
	}

	pages = (const u8 *)(index + n);
	mutex_lock(&s->lock);
	if (!s->shadow) {
		ret = -EINVAL;
		goto out_unlock;
	}
	for (i = 0; i < n; i++) {
		/* userspace may change a mapped buffer: check what is used */
		u32 p = le32_to_cpu(READ_ONCE(index[i]));

		if (p >= SAMPLE_PAGES) {
			ret = -EINVAL;
			break;
		}
		memcpy(s->shadow->state.ram + (size_t)p * SAMPLE_PAGE,
		       pages + (size_t)i * SAMPLE_PAGE, SAMPLE_PAGE);
		set_bit(p, s->shadow->loaded);
	}
out_unlock:
	mutex_unlock(&s->lock);
	return ret;
}

static ssize_t sample_save_config(struct kmig_device *kdev, void *buf,
				  size_t size)
{
	struct sample_dev *s = kmig_device_priv(kdev);
	struct sample_config *cfg = buf;
	int i;

	if (size < sizeof(*cfg))
		return -ENOSPC;
	mutex_lock(&s->lock);
	for (i = 0; i < SAMPLE_NREGS; i++)
		cfg->regs[i] = cpu_to_le32(s->live.regs[i]);
	cfg->fifo_head = cpu_to_le32(s->live.fifo_head);
	cfg->fifo_count = cpu_to_le32(s->live.fifo_count);
	memcpy(cfg->fifo, s->live.fifo, SAMPLE_FIFO);
	mutex_unlock(&s->lock);
	sample_header_fill(&cfg->hdr, SAMPLE_CONFIG_MAGIC,
			   sample_crc(~0, cfg->regs,
				      sizeof(*cfg) - sizeof(cfg->hdr)));
	return sizeof(*cfg);
}

static int sample_load_config(struct kmig_device *kdev, const void *buf,
			      size_t len)
{
	struct sample_dev *s = kmig_device_priv(kdev);
	const struct sample_config *cfg = buf;
	struct sample_state *st;
	int ret, i;

	if (len != sizeof(*cfg)) {
		sample_warn(s, "config of %zu bytes, not %zu\n", len,
			    sizeof(*cfg));
		return -EINVAL;
	}
	ret = sample_header_check(s, &cfg->hdr, SAMPLE_CONFIG_MAGIC,
				  sample_crc(~0, cfg->regs,
					     sizeof(*cfg) - sizeof(cfg->hdr)));
	if (ret)
		return ret;
	if (le32_to_cpu(cfg->fifo_head) >= SAMPLE_FIFO ||
	    le32_to_cpu(cfg->fifo_count) > SAMPLE_FIFO) {
		sample_warn(s, "config has a bad FIFO position\n");
		return -EINVAL;
	}

	mutex_lock(&s->lock);
	if (!s->shadow) {
		ret = -EINVAL;
		goto out_unlock;
	}
	st = &s->shadow->state;
	for (i = 0; i < SAMPLE_NREGS; i++)
		st->regs[i] = le32_to_cpu(cfg->regs[i]);
	st->fifo_head = le32_to_cpu(cfg->fifo_head);
	st->fifo_count = le32_to_cpu(cfg->fifo_count);
	memcpy(st->fifo, cfg->fifo, SAMPLE_FIFO);
	s->shadow->config = true;
out_unlock:
	mutex_unlock(&s->lock);
	return ret;
}

static const struct kmig_device_ops sample_ops = {
	.set_state	= sample_set_state,
	.pending_bytes	= sample_pending_bytes,
	.save_chunk	= sample_save_chunk,
	.load_chunk	= sample_load_chunk,
	.save_config	= sample_save_config,
	.load_config	= sample_load_config,
};

static int sample_checksum_get(void *data, u64 *val)
{
	struct sample_dev *s = data;
	struct sample_state *st = &s->live;
	u32 crc;

	mutex_lock(&s->lock);
	crc = sample_crc(~0, st->regs, sizeof(st->regs));
	crc = sample_crc(crc, &st->fifo_head, sizeof(st->fifo_head));
	crc = sample_crc(crc, &st->fifo_count, sizeof(st->fifo_count));
	crc = sample_crc(crc, st->fifo, sizeof(st->fifo));
	crc = sample_crc(crc, st->ram, SAMPLE_RAM);
	mutex_unlock(&s->lock);
	*val = crc;
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(sample_checksum_fops, sample_checksum_get, NULL,
			 "0x%08llx\n");

static int sample_rate_get(void *data, u64 *val)
{
	struct sample_dev *s = data;

	*val = READ_ONCE(s->rate);
	return 0;
}

static int sample_rate_set(void *data, u64 val)
{
	struct sample_dev *s = data;

	if (val > SAMPLE_RATE_MAX)
		return -EINVAL;
	WRITE_ONCE(s->rate, val);
	wake_up(&s->wake);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(sample_rate_fops, sample_rate_get, sample_rate_set,
			 "%llu\n");

static int sample_writes_get(void *data, u64 *val)
{
	struct sample_dev *s = data;

	mutex_lock(&s->lock);
	*val = s->live.regs[REG_WRITES];
	mutex_unlock(&s->lock);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(sample_writes_fops, sample_writes_get, NULL,
			 "%llu\n");

static int sample_fail_pending_get(void *data, u64 *val)
{
	struct sample_dev *s = data;

	*val = READ_ONCE(s->fail_pending);
	return 0;
}

static int sample_fail_pending_set(void *data, u64 val)
{
	struct sample_dev *s = data;

	if (val >= MAX_ERRNO)
		return -EINVAL;
	WRITE_ONCE(s->fail_pending, val);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(sample_fail_pending_fops, sample_fail_pending_get,
			 sample_fail_pending_set, "%llu\n");

static struct sample_dev *sample_find(u32 id)
{
	struct sample_dev *s;

	lockdep_assert_held(&sample_devs_lock);
	list_for_each_entry(s, &sample_devs, node) {
		if (s->id == id)
			return s;
	}
	return NULL;
}

static void sample_free(struct sample_dev *s)
{
	vfree(s->live.ram);
	bitmap_free(s->dirty);
	kfree(s);
}

/* Every instance starts with its own contents, drawn from its id. */
static void sample_init_state(struct sample_dev *s)
{
	struct sample_state *st = &s->live;
	u64 *ram = (u64 *)st->ram;
	size_t i;

	st->regs[REG_SEED_LO] = 0x9e3779b9 ^ s->id;
	st->regs[REG_SEED_HI] = 0x7f4a7c15 + s->id;
	for (i = 0; i < SAMPLE_RAM / sizeof(u64); i += 61)
		ram[i] = sample_next(st);
	st->regs[REG_CTRL] = 1;
	st->regs[REG_STATUS] = KMIG_DEVICE_STATE_RUNNING;
}

static int sample_create(void *data, u64 val)
{
	struct kmig_device_desc desc = {
		.name = SAMPLE_NAME,
		.version = SAMPLE_VERSION,
		.ops = &sample_ops,
	};
	struct sample_dev *s;
	char dirname[16];
	int ret;

	if (val > U32_MAX)
		return -EINVAL;
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	s->id = val;
	s->running = true;
	mutex_init(&s->lock);
	init_waitqueue_head(&s->wake);
	s->dirty = bitmap_zalloc(SAMPLE_PAGES, GFP_KERNEL);
	ret = -ENOMEM;
	if (!s->dirty || sample_state_alloc(&s->live))
		goto err_alloc;
	sample_init_state(s);

	mutex_lock(&sample_devs_lock);
	if (sample_find(s->id)) {
		ret = -EEXIST;
		goto err_exists;
	}
	s->mutator = kthread_run(sample_mutator, s, "kmig-sample/%u", s->id);
	if (IS_ERR(s->mutator)) {
		ret = PTR_ERR(s->mutator);
		goto err_thread;
	}
	desc.instance = s->id;
	desc.priv = s;
	s->kdev = kmig_device_register(&desc);
	if (IS_ERR(s->kdev)) {
		ret = PTR_ERR(s->kdev);
		goto err_register;
	}
	snprintf(dirname, sizeof(dirname), "%u", s->id);
	s->dir = debugfs_create_dir(dirname, sample_root);
	debugfs_create_file_unsafe("checksum", 0400, s->dir, s,
				   &sample_checksum_fops);
	debugfs_create_file_unsafe("rate", 0600, s->dir, s,
				   &sample_rate_fops);
	debugfs_create_file_unsafe("writes", 0400, s->dir, s,
				   &sample_writes_fops);
	debugfs_create_file_unsafe("fail_pending", 0600, s->dir, s,
				   &sample_fail_pending_fops);
	list_add_tail(&s->node, &sample_devs);
	mutex_unlock(&sample_devs_lock);
	return 0;

err_register:
	kthread_stop(s->mutator);
err_thread:
err_exists:
	mutex_unlock(&sample_devs_lock);
err_alloc:
	sample_free(s);
	return ret;
}
DEFINE_DEBUGFS_ATTRIBUTE(sample_create_fops, NULL, sample_create, "%llu\n");

static void sample_destroy_one(struct sample_dev *s)
{
	lockdep_assert_held(&sample_devs_lock);
	list_del(&s->node);
	debugfs_remove_recursive(s->dir);
	kmig_device_unregister(s->kdev);
	kthread_stop(s->mutator);
	sample_shadow_free(s->shadow);
	mutex_destroy(&s->lock);
	sample_free(s);
}

static int sample_destroy(void *data, u64 val)
{
	struct sample_dev *s;
	int ret = -ENOENT;

	if (val > U32_MAX)
		return -EINVAL;
	mutex_lock(&sample_devs_lock);
	s = sample_find(val);
	if (s) {
		sample_destroy_one(s);
		ret = 0;
	}
	mutex_unlock(&sample_devs_lock);
	return ret;
}
DEFINE_DEBUGFS_ATTRIBUTE(sample_destroy_fops, NULL, sample_destroy, "%llu\n");

static int __init sample_init(void)
{
	sample_root = debugfs_create_dir(SAMPLE_NAME, NULL);
	if (IS_ERR(sample_root))
		return PTR_ERR(sample_root);
	debugfs_create_file_unsafe("create", 0200, sample_root, NULL,
				   &sample_create_fops);
	debugfs_create_file_unsafe("destroy", 0200, sample_root, NULL,
				   &sample_destroy_fops);
	return 0;
}

static void __exit sample_exit(void)
{
	struct sample_dev *s, *tmp;

	mutex_lock(&sample_devs_lock);
	list_for_each_entry_safe(s, tmp, &sample_devs, node)
		sample_destroy_one(s);
	mutex_unlock(&sample_devs_lock);
	debugfs_remove_recursive(sample_root);
}

module_init(sample_init);
module_exit(sample_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmig sample device: registers, a FIFO and 8 MiB of RAM");
MODULE_AUTHOR("The kmig developers");
