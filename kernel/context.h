/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest memory contexts: one per open of /dev/kmig, holding the memslots of
 * one VM, the pages behind them, the postcopy fault state and the dirty
 * bitmaps.
 */
#ifndef _KMIG_CONTEXT_H
#define _KMIG_CONTEXT_H

#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/mm_types.h>
#include <linux/nodemask.h>
#include <linux/page-flags.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include <linux/kmig.h>

struct iov_iter;
struct kiocb;
struct mem_cgroup;

#define KMIG_WAIT_HASH_BITS	6

/* A KMIG_SLOT_HUGE slot's folios: 2 MiB, KMIG_HUGE_NR pages. */
#define KMIG_HUGE_ORDER		(21 - PAGE_SHIFT)
#define KMIG_HUGE_NR		BIT(KMIG_HUGE_ORDER)

/*
 * A slot's NUMA policy (policy.c): a copy of the last mbind() on one of
 * its mappings, for the writers without a VMA policy.
 */
struct kmig_policy {
	spinlock_t lock;		/* the fields below */
	unsigned short mode;		/* MPOL_*; MPOL_DEFAULT: none */
	int home_node;			/* NUMA_NO_NODE: none */
	nodemask_t nodes;
};

/*
 * A slot's pages are folios in the page cache of the context's inode, at
 * file page offsets @pgoff to @pgoff + @npages - 1; an absent entry is an
 * absent page, and so is a folio not uptodate, a page staged in a staging
 * view (kmig_folio_present()). A folio can leave the cache (a slot freed;
 * later a hole punched, a folio migrated), so readers outside the fault
 * path take a folio reference: kmig_folio_get().
 */
struct kmig_slot {
	struct kref ref;
	struct kmig_ctx *ctx;
	u32 id;
	u32 flags;			/* KMIG_SLOT_*, fixed at creation */
	u64 gpa;
	unsigned long npages;
	pgoff_t pgoff;			/* file page offset of page 0 */
	bool listed;			/* was in ctx->slots: owns its range */
	unsigned long *missing;		/* absent page blocks faults */
	unsigned long *requested;	/* fault reported, page not installed */
	unsigned long *waited;		/* a waiter's retry maps just the page */
	unsigned long *dirty;		/* KMIG_SLOT_DIRTY_LOG: KVM layout */
	bool logging;			/* writes set bits in @dirty */
	u64 *kvm_bits;			/* spare buffer for KVM's bits (dirty.c) */
	/* VMAs mapping the slot; -1 while KMIG_SET_MISSING fills @missing. */
	atomic_t nr_maps;
	struct kmig_policy policy;	/* NUMA policy of new pages */
};

/*
 * The KVM log provider of a context (provider.c): one request at a time,
 * from the harvest to the VMM that reads KVM's log and back.
 */
struct kmig_log_prov {
	struct mutex call_mutex;	/* one request in flight */
	struct mutex lock;		/* the fields below */
	struct file *file;		/* the provider fd, if attached */
	u32 gen;			/* bumped on attach and detach */
	u32 state;			/* PROV_* in provider.c */
	int status;			/* the answer's */
	struct kmig_log_request req;
	u64 **bitmaps;			/* HARVEST: one per slot in @req */
	struct kmig_slot **slots;	/* @req's, each bitmap's length */
	wait_queue_head_t readers;	/* the provider, for a request */
	wait_queue_head_t answer;	/* the caller, for the answer */
};

struct kmig_stats {
	atomic64_t faults;		/* missing faults reported */
	atomic64_t installed_copy;
	atomic64_t installed_zero;
	atomic64_t installed_background; /* installed before any fault */
	atomic_t waiters;		/* threads blocked right now */
	atomic64_t lat_us[KMIG_LAT_BUCKETS]; /* log2 fault-to-install, µs */
};

/*
 * Every lock of kmig, outermost first; a lock is only taken while holding
 * those above it on its own branch, never the other way round.
 *
 *   kmig_ctx_list_lock		context.c: the list of live contexts;
 *					a leaf, held only to walk or edit it
 *   ctx->lock (rwsem)			the slot table: read to look a slot
 *					up, write to create or delete one.
 *					The fault path reaches its slot
 *					through the VMA and takes no kmig
 *					lock but fault_lock.
 *   kmig_devices_lock			device.c: the device registry
 *     dev->lock			one device's state and its ops
 *   mmap_lock or the VMA lock (the core's, held into .mmap and faults)
 *     ctx->lock (read)			.mmap counts the mapping of its slot
 *     folio lock			.fault and .page_mkwrite, held until
 *					the core installs the PTE
 *   folio locks, ascending		KMIG_INSTALL_STAGED: up to 64 held
 *     i_mmap_rwsem (the core's)	over the zap of their staging PTEs,
 *					as truncation holds a batch
 *     slot->policy.lock (spinlock)	policy.c: a leaf, held to copy the
 *					slot's NUMA policy in or out
 *     ctx->fault_lock (spinlock)	fault.c: the fault queue, the server
 *					fields and the requested bits
 *   ctx->inode's i_rwsem		a punch or a discard (mem.c), one at
 *					a time; then the core's truncation
 *					locks (i_mmap_rwsem, folio locks)
 *   ctx->server_mutex			attaching and losing a fault fd
 *     ctx->lock (read)			one slot at a time, to forget its
 *					requests
 *     ctx->fault_lock
 *
 * The harvest (dirty.c) holds no kmig lock: it waits for locked pages
 * (lock_page() then unlock) and only then zaps, under the core's
 * i_mmap_rwsem. Netlink operations run in parallel (parallel_ops), under
 * no lock of the core's. Nothing sleeps under fault_lock, and nothing
 * O(slot size) runs under any of these.
 */
struct kmig_ctx {
	struct kref ref;
	u32 id;
	/* Who opened it, fixed at open: netlink scopes the context by these. */
	struct pid *owner;		/* the opener's thread group */
	struct net *net;		/* the opener's network namespace */
	struct user_namespace *user_ns;	/* the opener's user namespace */
	struct list_head node;		/* in the global context list */
	struct inode *inode;		/* S_IFREG, its page cache the pages */
	struct mem_cgroup *memcg;	/* charged for the pages */

	struct rw_semaphore lock;	/* slots and their configuration */
	struct xarray slots;		/* slot id -> struct kmig_slot */
	/* File page offsets of pages memory failure took away. */
	struct xarray poison;
	/* Ids of deleted slots whose pages are not freed yet. */
	DECLARE_BITMAP(dying, KMIG_MAX_SLOTS);

	atomic_long_t allocating;	/* pages allocated, not yet cached */
	atomic_long_t page_limit;	/* 0: unlimited */

	/* Postcopy fault servicing, see fault.c. */
	spinlock_t fault_lock;
	struct list_head fault_queue;	/* unread struct kmig_waiter */
	wait_queue_head_t fault_readers;
	struct mutex server_mutex;	/* serialises attaching, losing a server */
	struct file *server;		/* the fault fd, if attached */
	u32 server_gen;			/* bumped on attach and detach */
	u32 wake_seq;			/* bumped by KMIG_WAKE */
	bool server_lost;		/* a server closed: fail or wait, unreported */
	bool keep_waiting;		/* on loss: wait for the next server */
	wait_queue_head_t page_wait[1 << KMIG_WAIT_HASH_BITS];

	struct kmig_log_prov prov;	/* KMIG_SLOT_KVM_LOG slots' vCPU log */
	/* Tracked VMAs (view.c), so a re-arm can spare the guest views. */
	struct mutex tv_lock;
	struct list_head tviews;	/* struct kmig_tview */
	unsigned int nr_tviews;
	bool tv_overflow;		/* one went unlisted: zap them all */
	struct kmig_stats stats;
};

/* One slot as a context snapshot reports it. */
struct kmig_slot_snapshot {
	u32 id;
	u32 flags;
	u64 gpa;
	u64 size;			/* bytes */
	u64 pages;			/* present */
	u64 dirty;			/* dirty bits set */
	u64 missing;			/* absent pages in missing mode */
};

/*
 * A context as netlink reports it, filled by kmig_ctx_snapshot() and freed
 * by kmig_ctx_snapshot_free().
 */
struct kmig_ctx_snapshot {
	u32 id;
	pid_t owner;			/* in the caller's pid namespace, or 0 */
	u32 mode;			/* KMIG_CTX_MODE_* */
	u64 page_limit;
	u64 pages, dirty, missing;	/* sums over the slots */
	u32 nslots;
	struct kmig_slot_snapshot *slots;	/* by slot id */
};

/* context.c */
int kmig_ctx_open(struct file *file);
void kmig_ctx_release(struct file *file);
long kmig_ctx_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
void kmig_ctx_put(struct kmig_ctx *ctx);
struct kmig_ctx *kmig_ctx_get_from(u32 first);
void kmig_ctx_set_page_limit(struct kmig_ctx *ctx, unsigned long limit);
int kmig_ctx_snapshot(struct kmig_ctx *ctx, struct kmig_ctx_snapshot *snap);
void kmig_ctx_snapshot_free(struct kmig_ctx_snapshot *snap);

void kmig_slot_put(struct kmig_slot *slot);
struct kmig_slot *kmig_slot_find(struct kmig_ctx *ctx, u32 id);
int kmig_ctx_init(void);
void kmig_ctx_uninit(void);

static inline struct address_space *kmig_slot_mapping(struct kmig_slot *slot)
{
	return slot->ctx->inode->i_mapping;
}

/*
 * Whether @folio, cached in a slot's range, holds present pages. A folio
 * cached not uptodate is a staged page (KMIG_VIEW_STAGING): absent to
 * every reader and writer but its staging view and KMIG_INSTALL_STAGED,
 * which marks it uptodate. Every test of presence asks this: faults,
 * pread/pwrite, installs, the present bitmap, counts, fold and discard.
 */
static inline bool kmig_folio_present(struct folio *folio)
{
	return folio_test_uptodate(folio);
}

/* Pages in the context's page cache, all slots, staged ones included. */
static inline unsigned long kmig_ctx_pages(struct kmig_ctx *ctx)
{
	return READ_ONCE(ctx->inode->i_mapping->nrpages);
}

/* mem.c */
extern const struct address_space_operations kmig_aops;
int kmig_mem_mmap(struct file *file, struct vm_area_struct *vma);
/* What a mapping of a slot is (view.c). */
enum kmig_map_kind {
	KMIG_MAP_TRACKED,	/* writes logged by .page_mkwrite */
	KMIG_MAP_GUEST,		/* KVM memslots: KVM logs the writes */
	KMIG_MAP_STAGING,	/* the agent's, maps staged pages only */
};

int kmig_mem_map(struct kmig_ctx *ctx, struct vm_area_struct *vma,
		 enum kmig_map_kind kind);
ssize_t kmig_mem_read_iter(struct kiocb *iocb, struct iov_iter *to);
ssize_t kmig_mem_write_iter(struct kiocb *iocb, struct iov_iter *from);
bool kmig_page_present(struct kmig_slot *slot, unsigned long idx);
bool kmig_page_poisoned(struct kmig_slot *slot, unsigned long idx);
struct folio *kmig_folio_get(struct kmig_slot *slot, unsigned long idx);
int kmig_page_install(struct kmig_slot *slot, unsigned long idx,
		      struct iov_iter *from, size_t off, size_t len);
/* Most pages kmig_staged_install() hands over at once, locked together. */
#define KMIG_STAGED_RUN		64
int kmig_staged_install(struct kmig_slot *slot, unsigned long first,
			unsigned int n, u8 *st);
int kmig_block_install(struct kmig_slot *slot, unsigned long first,
		       const char __user *src);
int kmig_mem_discard(struct kmig_slot *slot, unsigned long first,
		     unsigned long end, bool to_missing);
int kmig_mem_punch(struct kmig_ctx *ctx, loff_t off, loff_t len);

/* fault.c */
void kmig_fault_ctx_init(struct kmig_ctx *ctx);
vm_fault_t kmig_fault_missing(struct vm_fault *vmf, struct kmig_slot *slot,
			      unsigned long idx);
vm_fault_t kmig_fault_map_pages(struct vm_fault *vmf, pgoff_t start,
				pgoff_t end);
void kmig_fault_installed(struct kmig_slot *slot, unsigned long idx,
			  bool installed, bool zero);
void kmig_fault_unmapped(struct kmig_slot *slot);
int kmig_fault_fd(struct kmig_ctx *ctx, unsigned long arg);
long kmig_fault_wake(struct kmig_ctx *ctx, void __user *argp);
long kmig_fault_set_missing(struct kmig_ctx *ctx, void __user *argp);
long kmig_fault_get_stats(struct kmig_ctx *ctx, void __user *argp);
void kmig_fault_stats(struct kmig_ctx *ctx, struct kmig_ctx_stats *st);

/* install.c */
long kmig_fault_install(struct kmig_ctx *ctx, void __user *argp);

/* view.c */
extern struct vfsmount *kmig_mnt;
void kmig_view_ctx_init(struct kmig_ctx *ctx);
long kmig_view_fd(struct file *file, void __user *argp);
int kmig_view_tracked_add(struct vm_area_struct *vma);
void kmig_view_tracked_del(struct vm_area_struct *vma);
/* Pages [first, end) of a slot. */
struct kmig_span {
	unsigned long first, end;
};

void kmig_view_zap_tracked(struct kmig_slot *slot,
			   const struct kmig_span *spans, unsigned int n);

/* policy.c; kmig_policy_get() is in compat.h */
int kmig_policy_set(struct vm_area_struct *vma, struct mempolicy *new);
struct folio *kmig_policy_alloc(struct kmig_slot *slot, unsigned long idx,
				unsigned int order, struct vm_fault *vmf,
				gfp_t gfp);
void kmig_policy_init(struct kmig_slot *slot);

/* provider.c */
void kmig_provider_ctx_init(struct kmig_ctx *ctx);
int kmig_provider_fd(struct kmig_ctx *ctx, void __user *argp);
int kmig_provider_call(struct kmig_ctx *ctx, u32 op, struct kmig_slot **slots,
		       unsigned int n, u64 **bitmaps);

/* rearm.c */
/* Most bitmap words one kmig_rearm() takes, a harvest's step: 32768 pages. */
#define KMIG_REARM_WORDS	512

/*
 * Spans of pages to zap, in increasing order. A KVM_LOG slot zaps only its
 * tracked views (view.c), all spans of a step in one go; others zap every
 * mapping, span by span.
 */
struct kmig_zap {
	struct kmig_slot *slot;
	unsigned int n;
	struct kmig_span *spans;	/* NULL: zap at once */
};

void kmig_rearm_begin(struct kmig_zap *z, struct kmig_slot *slot);
void kmig_rearm(struct kmig_zap *z, unsigned long base, const u64 *bits,
		unsigned long nwords);
void kmig_rearm_end(struct kmig_zap *z);
void kmig_rearm_all(struct kmig_slot *slot);
void kmig_fold_pg_dirty(struct kmig_slot *slot, unsigned long w0,
			unsigned long n, u64 *pg);
void kmig_walk_folios(struct kmig_slot *slot, unsigned long first,
		      unsigned long end,
		      void (*fn)(struct folio *folio, void *arg), void *arg);

/* dirty.c */
void kmig_dirty_mark(struct kmig_slot *slot, unsigned long idx);
void kmig_dirty_mark_bits(struct kmig_slot *slot, unsigned long base,
			  const u64 *bits, unsigned long nwords);
void kmig_present_bits(struct kmig_slot *slot, unsigned long base,
		       unsigned long first, unsigned long end, u64 *bits);
long kmig_dirty_ioctl(struct kmig_ctx *ctx, unsigned int cmd,
		      void __user *argp);

#endif /* _KMIG_CONTEXT_H */
