/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * kmig: live migration of KVM guests - the one contract between the
 * kmig kernel module and userspace.
 *
 * Two channels reach the module:
 *
 * /dev/kmig (misc device, root only by default)
 *   Bulk data: guest memory, faults, pages, bitmaps and device data move
 *   through file descriptors derived from it, with the ioctls below.
 *
 * Generic netlink family "kmig", version 1
 *   Control and statistics. Every request is validated strictly: an
 *   attribute the command does not know is an error, reported with an
 *   extended ACK message.
 *
 *   Access. The family answers in every network namespace, but a context
 *   exists only in its opener's network namespace, and only for a
 *   requester with CAP_NET_ADMIN over the opener's user namespace
 *   (elsewhere: ENOENT, as if there were none). Every context command
 *   needs CAP_NET_ADMIN over the requester's network namespace (EPERM).
 *   Devices are host objects: listed only in the initial network
 *   namespace (elsewhere the dump is empty and a doit ENOENT) and only to
 *   CAP_NET_ADMIN in the initial user namespace (EPERM).
 *
 *   KMIG_CMD_GET_INFO (doit, unprivileged; objects only for CAP_NET_ADMIN)
 *     request:  no attributes
 *     reply:    KMIG_A_INFO_VERSION        string, module version
 *               KMIG_A_INFO_API_VERSION    u32, KMIG_API_VERSION
 *               KMIG_A_INFO_FEATURES       u64, KMIG_FEATURE_* bits
 *               KMIG_A_INFO_OBJECTS        nest, live object counters:
 *                 KMIG_A_OBJ_FILES         u64, open /dev/kmig files
 *                 KMIG_A_OBJ_CONTEXTS      u64, live guest memory contexts
 *                 KMIG_A_OBJ_SLOTS         u64, live memslots
 *                 KMIG_A_OBJ_PAGES         u64, guest pages the module owns
 *                 KMIG_A_OBJ_FAULT_FILES   u64, open fault fds
 *                 KMIG_A_OBJ_DEVICES       u64, live struct kmig_device
 *                 KMIG_A_OBJ_DEVICE_FILES  u64, open device fds
 *
 *   Object counters let tests prove that every object a test created is
 *   gone once it is closed; they are cheap and always on.
 *
 *   KMIG_CMD_CTX_GET (dump: every context; doit: KMIG_A_CTX_ID)
 *     reply:    KMIG_A_CTX_ID          u32, context id (>= 1)
 *               KMIG_A_CTX_OWNER       u32, the opener's tgid in the
 *                                      requester's pid namespace, 0 if
 *                                      it is not there
 *               KMIG_A_CTX_MODE        u32, KMIG_CTX_MODE_* bits
 *               KMIG_A_CTX_PAGES       u64, pages present
 *               KMIG_A_CTX_DIRTY       u64, pages whose dirty bit is set
 *               KMIG_A_CTX_MISSING     u64, absent pages in missing mode
 *               KMIG_A_CTX_PAGE_LIMIT  u64, 0: none
 *               KMIG_A_CTX_SLOTS       nest of KMIG_A_SLOT nests:
 *                 KMIG_A_SLOT_ID, _FLAGS (u32), _GPA, _SIZE, _PAGES,
 *                 _DIRTY, _MISSING (u64)
 *     A dump splits a context with more slots than fit in one message
 *     across consecutive messages, each with every KMIG_A_CTX_* attribute
 *     and the next slots; a doit answers in one message of any size.
 *     errors:   EPERM, ENOENT no such context (or not the requester's)
 *   KMIG_CMD_CTX_STATS (doit: KMIG_A_CTX_ID)
 *     reply:    KMIG_A_CTX_ID, KMIG_A_CTX_STATS nest: KMIG_A_STATS_* u64;
 *               KMIG_A_STATS_LATENCY_US nest, attribute i + 1 holds the
 *               count of fault-to-install latencies in [2^i, 2^(i+1)) µs
 *               (KMIG_A_LAT_PAD may appear there as padding)
 *   KMIG_CMD_CTX_SET (doit)
 *     request:  KMIG_A_CTX_ID, KMIG_A_CTX_PAGE_LIMIT
 *   Multicast group "events" (KMIG_MCGRP_EVENTS, CAP_NET_ADMIN over the
 *     network namespace to join): KMIG_CMD_CTX_NEW, KMIG_CMD_CTX_DEL,
 *     KMIG_CMD_CTX_SERVER_LOST, KMIG_CMD_CTX_PROVIDER_LOST (its KVM log
 *     provider fd was closed), each with KMIG_A_CTX_ID and
 *     KMIG_A_CTX_OWNER (the opener's pid in its own pid namespace). Sent
 *     in the context's network namespace.
 *
 *   KMIG_CMD_DEV_GET (dump or doit)
 *     Migratable devices registered by drivers (see the device region
 *     below). One message per device:
 *               KMIG_A_DEV                 nest:
 *                 KMIG_A_DEV_NAME          string, driver-chosen name
 *                 KMIG_A_DEV_INSTANCE      u32, instance id
 *                 KMIG_A_DEV_VERSION       u32, version of its state format
 *                 KMIG_A_DEV_STATE         u32, KMIG_DEVICE_STATE_* bits
 *                 KMIG_A_DEV_PENDING_BYTES u64, pending_bytes as last read
 *                                          through the device fd in this
 *                                          state (0 before); netlink never
 *                                          calls into the driver
 *                 KMIG_A_DEV_OPEN          u8, 1 while a device fd is open
 *     doit request: KMIG_A_DEV nest with KMIG_A_DEV_NAME and
 *     KMIG_A_DEV_INSTANCE selects one device (-ENOENT if none).
 *
 * Guest memory contexts (ioctls on an open /dev/kmig file)
 *   Each open of /dev/kmig is one context: the guest RAM of one VM. Slots
 *   are declared with KMIG_SET_MEMSLOT; slot S is mapped (MAP_SHARED) at
 *   file offset KMIG_SLOT_OFFSET(S), and the same offsets work for
 *   pread/pwrite. The fd may be passed to another process (SCM_RIGHTS).
 *
 *   KMIG_SET_MEMSLOT   create (memory_size > 0) or delete (memory_size 0)
 *     EINVAL     unknown flags, slot id >= KMIG_MAX_SLOTS, gpa or size not
 *                page aligned
 *     EFBIG      memory_size > KMIG_MAX_SLOT_SIZE, or gpa + size wraps
 *     EEXIST     slot id in use, or its gpa range overlaps another slot
 *     ENOENT     delete of a slot that does not exist
 *     EBUSY      delete of a slot that is still mapped; create of a
 *                slot whose id a deleted slot still holds (its pages
 *                are being freed: retry)
 *   KMIG_SET_PAGE_LIMIT  at most this many pages (0: no limit); an
 *                allocation beyond it fails: ENOSPC for writes and
 *                installs, SIGBUS for faults
 *   mmap               ENXIO offset in no slot; ERANGE the mapping runs past
 *                      the end of its slot; EOPNOTSUPP not MAP_SHARED
 *   pread/pwrite       ENXIO offset in no slot (or at its end); a transfer
 *                      is cut at the end of its slot. Reading an absent
 *                      page gives zeros and allocates nothing.
 */
#ifndef _UAPI_LINUX_KMIG_H
#define _UAPI_LINUX_KMIG_H

#include <linux/const.h>
#include <linux/types.h>
#include <linux/ioctl.h>

#define KMIG_DEVICE_NAME	"kmig"
#define KMIG_API_VERSION	4

/* Feature bits reported by KMIG_CMD_GET_INFO. */
#define KMIG_FEATURE_NETLINK		_BITULL(0)
#define KMIG_FEATURE_DEVICE_REGION	_BITULL(1)
/* Guest memory is page cache: GUP-fast, migration, memory failure work. */
#define KMIG_FEATURE_PAGECACHE		_BITULL(2)
/* KMIG_GET_DIRTY_LOGS: several slots' logs, one KVM log request. */
#define KMIG_FEATURE_HARVEST_SET	_BITULL(3)
/*
 * Postcopy on a KMIG_SLOT_HUGE slot: faults say KMIG_FAULT_HUGE, and a
 * KMIG_INSTALL of a whole aligned block caches one 2 MiB folio.
 */
#define KMIG_FEATURE_HUGE_INSTALL	_BITULL(4)
/*
 * Zero-copy postcopy install (API version 4): KMIG_VIEW_STAGING views and
 * KMIG_INSTALL_STAGED.
 */
#define KMIG_FEATURE_STAGED_INSTALL	_BITULL(5)

#define KMIG_FEATURES_ALL	(KMIG_FEATURE_NETLINK | \
				 KMIG_FEATURE_DEVICE_REGION | \
				 KMIG_FEATURE_PAGECACHE | \
				 KMIG_FEATURE_HARVEST_SET | \
				 KMIG_FEATURE_HUGE_INSTALL | \
				 KMIG_FEATURE_STAGED_INSTALL)

/* Generic netlink family. */
#define KMIG_GENL_NAME		"kmig"
#define KMIG_GENL_VERSION	1

enum kmig_cmd {
	KMIG_CMD_UNSPEC,
	KMIG_CMD_GET_INFO,
	KMIG_CMD_CTX_GET,
	KMIG_CMD_CTX_STATS,
	KMIG_CMD_CTX_SET,
	KMIG_CMD_CTX_NEW,		/* event */
	KMIG_CMD_CTX_DEL,		/* event */
	KMIG_CMD_CTX_SERVER_LOST,	/* event */
	KMIG_CMD_DEV_GET,
	KMIG_CMD_CTX_PROVIDER_LOST,	/* event */

	__KMIG_CMD_MAX,
	KMIG_CMD_MAX = __KMIG_CMD_MAX - 1
};

enum kmig_attr {
	KMIG_A_UNSPEC,
	KMIG_A_PAD,
	KMIG_A_INFO_VERSION,
	KMIG_A_INFO_API_VERSION,
	KMIG_A_INFO_FEATURES,
	KMIG_A_INFO_OBJECTS,
	KMIG_A_CTX_ID,
	KMIG_A_CTX_OWNER,
	KMIG_A_CTX_MODE,
	KMIG_A_CTX_PAGES,
	KMIG_A_CTX_DIRTY,
	KMIG_A_CTX_MISSING,
	KMIG_A_CTX_PAGE_LIMIT,
	KMIG_A_CTX_SLOTS,
	KMIG_A_CTX_STATS,
	KMIG_A_DEV,

	__KMIG_A_MAX,
	KMIG_A_MAX = __KMIG_A_MAX - 1
};

enum kmig_obj_attr {
	KMIG_A_OBJ_UNSPEC,
	KMIG_A_OBJ_PAD,
	KMIG_A_OBJ_FILES,
	KMIG_A_OBJ_CONTEXTS,
	KMIG_A_OBJ_SLOTS,
	KMIG_A_OBJ_PAGES,
	KMIG_A_OBJ_FAULT_FILES,
	KMIG_A_OBJ_DEVICES,
	KMIG_A_OBJ_DEVICE_FILES,

	__KMIG_A_OBJ_MAX,
	KMIG_A_OBJ_MAX = __KMIG_A_OBJ_MAX - 1
};

/*
 * Every kmig ioctl has type KMIG_IOC_MAGIC, free in the kernel's
 * Documentation/userspace-api/ioctl/ioctl-number.rst: numbers 0x00 to 0x3f
 * are guest memory contexts (an open /dev/kmig file), 0x40 to 0x5f the
 * device region (KMIG_DEVICE_IOC_FIRST..LAST).
 */
#define KMIG_IOC_MAGIC		0xC4

/* Guest memory contexts: ioctls on an open /dev/kmig file. */

#define KMIG_MAX_SLOTS		32768
#define KMIG_SLOT_SHIFT		40
#define KMIG_MAX_SLOT_SIZE	_BITULL(KMIG_SLOT_SHIFT)
/* The mmap/pread/pwrite file offset of byte 0 of slot @slot. */
#define KMIG_SLOT_OFFSET(slot)	((__u64)(slot) << KMIG_SLOT_SHIFT)

/* Absent pages of the slot block faults until installed (postcopy). */
#define KMIG_SLOT_MISSING	_BITUL(0)
/* Track writes to the slot for KMIG_GET_DIRTY_LOG. */
#define KMIG_SLOT_DIRTY_LOG	_BITUL(1)
#define KMIG_SLOT_FLAGS_ALL	(KMIG_SLOT_MISSING | KMIG_SLOT_DIRTY_LOG | \
				 KMIG_SLOT_KVM_LOG | KMIG_SLOT_HUGE)

/* struct kvm_userspace_memory_region without the user address. */
struct kmig_memslot {
	__u32 slot;
	__u32 flags;			/* KMIG_SLOT_* */
	__u64 guest_phys_addr;
	__u64 memory_size;		/* bytes; 0 deletes the slot */
	__u64 offset;			/* out: KMIG_SLOT_OFFSET(slot) */
};

#define KMIG_SET_MEMSLOT	_IOWR(KMIG_IOC_MAGIC, 0x00, struct kmig_memslot)
#define KMIG_SET_PAGE_LIMIT	_IOW(KMIG_IOC_MAGIC, 0x01, __u64)

/*
 * Postcopy. KMIG_FAULT_FD returns a new fd (O_CLOEXEC) from which the agent
 * reads struct kmig_fault records (poll: POLLIN while any is queued). Only
 * one fault fd is attached at a time (EBUSY). Closing it is "the serving side
 * went away": blocked and later faults on absent missing-mode pages end in
 * SIGBUS, or, with KMIG_FAULT_FD_KEEP_WAITING, wait (killably) for the next
 * fault fd, to which they are reported again. Kernel threads (KVM's async-PF
 * worker) wait only while a fault fd is attached. KMIG_SET_MISSING puts a
 * range in missing mode only while its slot is unmapped (EBUSY); present
 * pages of the range stay present, unless KMIG_SET_MISSING_DISCARD.
 */
#define KMIG_FAULT_FD_KEEP_WAITING	_BITUL(0)
#define KMIG_FAULT_FD_FLAGS_ALL		(KMIG_FAULT_FD_KEEP_WAITING)

struct kmig_fault_fd {
	__u32 flags;			/* KMIG_FAULT_FD_* */
	__u32 reserved;			/* must be 0 */
};

#define KMIG_FAULT_WRITE	_BITUL(0)
/*
 * The slot is KMIG_SLOT_HUGE: the page wants its whole block, the
 * KMIG_HUGE_SIZE aligned around it, installed by one KMIG_INSTALL (its
 * pages in order), which gives it one 2 MiB folio.
 */
#define KMIG_FAULT_HUGE		_BITUL(1)

/* One blocked page; a page faulted by many threads is reported once. */
struct kmig_fault {
	__u32 slot;
	__u32 flags;			/* KMIG_FAULT_* */
	__u64 page;			/* page number within the slot */
	__u32 tid;			/* first thread that faulted */
	__u32 reserved;
};

/*
 * KMIG_SET_MISSING: the range's present pages leave the cache first and
 * enter missing mode too (a postcopy destination's stale pages); a
 * logging slot logs them, as a punched hole.
 */
#define KMIG_SET_MISSING_DISCARD	_BITUL(0)

/* A page range of one slot: KMIG_SET_MISSING, KMIG_WAKE. */
struct kmig_range {
	__u32 slot;
	__u32 flags;			/* KMIG_SET_MISSING_*, else 0 */
	__u64 first_page;
	__u64 num_pages;
};

#define KMIG_INSTALL_ZERO	_BITUL(0)	/* zero pages, @buf unused */
/* Hand over the pages staged in a KMIG_VIEW_STAGING view; @buf 0. */
#define KMIG_INSTALL_STAGED	_BITUL(1)
#define KMIG_INSTALL_FLAGS_ALL	(KMIG_INSTALL_ZERO | KMIG_INSTALL_STAGED)
#define KMIG_INSTALL_MAX	4096

/* Per-page result in @status. */
#define KMIG_INSTALL_DONE	0
#define KMIG_INSTALL_PRESENT	1	/* already present, left untouched */
#define KMIG_INSTALL_NOT_STAGED	2	/* STAGED: no staged page, nothing done */

/*
 * Install @count pages of @slot: page @pages[i] gets the i-th page of @buf
 * (or zeros). Wakes the waiters of each page, installed or present, before
 * writing its @status. On a KMIG_SLOT_HUGE slot, a run of @pages that is
 * a whole aligned block (KMIG_HUGE_SIZE / page size pages, ascending),
 * none of it present, becomes one 2 MiB folio; other pages, or a block
 * when 2 MiB cannot be had in one piece, are installed a page at a time.
 *
 * KMIG_INSTALL_STAGED: each page is the one the agent wrote through a
 * KMIG_VIEW_STAGING view; its staging PTEs are zapped (writes after the
 * call fault, SIGBUS) and it becomes present, nothing copied. A present
 * page is PRESENT, a page with nothing staged NOT_STAGED. A page staged
 * but not installed is absent to everyone else: faults wait for it,
 * pread reads zeros, the present bitmap has no bit for it; a copy or
 * zero install of it, or a pwrite, fails EBUSY, as does a hole punched
 * over it; KMIG_SET_MISSING_DISCARD drops it.
 *   EINVAL  flags (STAGED with ZERO or a @buf), count > KMIG_INSTALL_MAX,
 *           a page number past the slot
 *   ENOENT  no such slot; EFAULT bad pointers; ENOSPC page limit
 *   EBUSY   a page staged, not by KMIG_INSTALL_STAGED
 *   EIO     a page taken by memory failure
 * On an error after some pages were installed, @installed says how many.
 */
struct kmig_install {
	__u32 slot;
	__u32 flags;			/* KMIG_INSTALL_* */
	__u64 pages;			/* __u64 page numbers [count] */
	__u64 buf;			/* count * page size bytes */
	__u64 status;			/* __u8 [count], optional (0) */
	__u32 count;
	__u32 installed;		/* out: pages newly installed */
};

#define KMIG_LAT_BUCKETS	32
/*
 * KMIG_A_STATS_LATENCY_US holds bucket i as attribute i + 1; attribute
 * KMIG_A_LAT_PAD (KMIG_LAT_BUCKETS + 1) may appear there as padding.
 */
#define KMIG_A_LAT_PAD		33

/* Per-context statistics. lat_us[i]: fault-to-install latencies in
 * [2^i, 2^(i+1)) µs (bucket 0 also holds < 1 µs).
 */
struct kmig_ctx_stats {
	__u64 faults;
	__u64 installed_copy;
	__u64 installed_zero;
	__u64 installed_background;
	__u64 waiters;
	__u64 pages;
	__u64 lat_us[KMIG_LAT_BUCKETS];
};

#define KMIG_FAULT_FD		_IOW(KMIG_IOC_MAGIC, 0x10, struct kmig_fault_fd)
#define KMIG_INSTALL		_IOWR(KMIG_IOC_MAGIC, 0x11, struct kmig_install)
#define KMIG_WAKE		_IOW(KMIG_IOC_MAGIC, 0x12, struct kmig_range)
#define KMIG_SET_MISSING	_IOW(KMIG_IOC_MAGIC, 0x13, struct kmig_range)
#define KMIG_GET_STATS		_IOR(KMIG_IOC_MAGIC, 0x14, struct kmig_ctx_stats)

/*
 * Dirty logging (slots created with KMIG_SLOT_DIRTY_LOG). Bitmaps are in
 * KVM's layout: bit i is page i of the slot, 64-bit little-endian words,
 * ALIGN(npages, 64) / 8 bytes for a whole slot.
 *
 * KMIG_GET_DIRTY_LOG  whole slot into @bitmap; with KMIG_DIRTY_LOG_CLEAR the
 *                     returned bits are cleared and their pages re-armed
 * KMIG_CLEAR_DIRTY_LOG  clear and re-arm the bits set in @bitmap, which
 *                     covers pages [first_page, first_page + num_pages)
 * KMIG_MERGE_DIRTY_LOG  OR @bitmap (same range rules) back into the log,
 *                     for a consumer whose round failed
 * first_page and num_pages are multiples of 64, except that a range may end
 * at the slot end. Errors: ENOENT no slot, EINVAL range or flags, ENODEV the
 * slot has no dirty log, EFAULT.
 */
#define KMIG_DIRTY_LOG_CLEAR	_BITUL(0)

struct kmig_dirty_log {
	__u32 slot;
	__u32 flags;
	__u64 first_page;
	__u64 num_pages;
	__u64 bitmap;			/* user pointer */
};

#define KMIG_GET_DIRTY_LOG	_IOW(KMIG_IOC_MAGIC, 0x20, struct kmig_dirty_log)
#define KMIG_CLEAR_DIRTY_LOG	_IOW(KMIG_IOC_MAGIC, 0x21, struct kmig_dirty_log)
#define KMIG_MERGE_DIRTY_LOG	_IOW(KMIG_IOC_MAGIC, 0x22, struct kmig_dirty_log)

/*
 * KMIG_SET_DIRTY_LOGGING: stop or restart logging the writes of a slot
 * created with KMIG_SLOT_DIRTY_LOG (which starts logging). Either way the
 * log is emptied. Starting write-protects the whole slot first, so every
 * write after the call returns is logged; a migration starts logging,
 * then copies every page. While stopped, writes cost nothing after a
 * page's first. Errors: ENOENT no slot, ENODEV the slot has no dirty log,
 * EINVAL flags or reserved.
 */
#define KMIG_DIRTY_LOGGING_ON	_BITUL(0)

struct kmig_dirty_logging {
	__u32 slot;
	__u32 flags;			/* KMIG_DIRTY_LOGGING_ON or 0 */
};

#define KMIG_SET_DIRTY_LOGGING	_IOW(KMIG_IOC_MAGIC, 0x23, struct kmig_dirty_logging)

/*
 * KMIG_GET_PRESENT_BITMAP: which pages of [first_page, first_page +
 * num_pages) of any slot have memory, into @bitmap, in the same layout and
 * with the same range rules; @flags must be 0. Pages are never taken away
 * but may arrive at any time: a page absent here that gets written shows
 * in the dirty log. A migration reads only present pages and sends the
 * others as zero pages. Errors: ENOENT no slot, EINVAL range or flags,
 * EFAULT.
 */
#define KMIG_GET_PRESENT_BITMAP	_IOW(KMIG_IOC_MAGIC, 0x24, struct kmig_dirty_log)

/*
 * --- Model (b): vCPU writes logged by KVM (memory-model.rst, section 4) ---
 *
 * KMIG_SLOT_KVM_LOG (with KMIG_SLOT_DIRTY_LOG): KVM logs the vCPUs' writes
 * to the slot, made through a guest view; kmig logs every other writer
 * (tracked views, pwrite, installs) and asks the context's KVM log
 * provider for KVM's bits at each harvest. Such a slot starts with logging
 * stopped. KMIG_GET_DIRTY_LOG reports the OR of both logs; a
 * harvest without a provider fails with EPIPE and reports nothing.
 */
#define KMIG_SLOT_KVM_LOG	_BITUL(2)

/*
 * KMIG_SLOT_HUGE: the slot's pages come in 2 MiB folios (KMIG_HUGE_SIZE),
 * which a guest view maps with PMDs and KVM with 2 MiB entries; gpa and
 * size must be multiples of KMIG_HUGE_SIZE. With KMIG_SLOT_DIRTY_LOG it
 * needs KMIG_SLOT_KVM_LOG. Logs and page counts stay in 4 KiB pages.
 */
#define KMIG_SLOT_HUGE		_BITUL(3)
#define KMIG_HUGE_SIZE		_BITULL(21)

/*
 * KMIG_VIEW_FD: a new fd (O_CLOEXEC, the return value) on the context's
 * memory, for mmap at the same offsets as the context fd.
 *   KMIG_VIEW_GUEST    only for KVM_SET_USER_MEMORY_REGION and read-only
 *                      mappings: writable PTEs from the first fault,
 *                      writes logged by KVM, never by kmig; mmap fails
 *                      EINVAL on a slot without KMIG_SLOT_KVM_LOG
 *   KMIG_VIEW_TRACKED  every other user: writes logged by kmig. An mmap of
 *                      the context fd is a tracked view too.
 *   KMIG_VIEW_STAGING  the agent's, to receive postcopy pages in place
 *                      (KMIG_FEATURE_STAGED_INSTALL): a fault on an
 *                      absent page in missing mode caches a zeroed page
 *                      that only this view maps, and only until
 *                      KMIG_INSTALL_STAGED hands it over; a fault on any
 *                      other page is SIGBUS
 * Re-arming the tracked views never unmaps a guest view.
 * Errors: EINVAL not exactly one of the flags, or pad not 0.
 */
#define KMIG_VIEW_GUEST		_BITUL(0)
#define KMIG_VIEW_TRACKED	_BITUL(1)
#define KMIG_VIEW_STAGING	_BITUL(2)

struct kmig_view {
	__u32 flags;			/* one KMIG_VIEW_* */
	__u32 pad;
};

#define KMIG_VIEW_FD		_IOW(KMIG_IOC_MAGIC, 0x28, struct kmig_view)

/*
 * KMIG_LOG_PROVIDER_FD: attach the context's KVM log provider (the VMM, the
 * only process that may read KVM's log); returns its fd (O_CLOEXEC). EBUSY
 * if one is attached, EINVAL flags or reserved. read() (blocking unless
 * O_NONBLOCK, poll for POLLIN) gives one struct kmig_log_request at a time:
 *   KMIG_LOG_START    start KVM's log of the slots (KVM_MEM_LOG_DIRTY_PAGES)
 *   KMIG_LOG_STOP     stop it
 *   KMIG_LOG_HARVEST  get and clear KVM's log of the slots
 * (EINVAL for a buffer shorter than the struct). KMIG_LOG_PROVIDED on the
 * provider fd answers the request read last: @seq its seq, @status 0 or a
 * negative errno (which the caller of kmig gets), and for a HARVEST with
 * status 0, @bitmaps pointing to @nslots bitmaps back to back, one per
 * slot in the request's order, each ALIGN(npages, 64) / 8 bytes, @size
 * their total. EINVAL: no request read, wrong seq, wrong nslots or size,
 * status above 0 or below -4095; the request then stays open for a
 * correct answer. A caller of kmig waits killably, at most
 * KMIG_LOG_TIMEOUT_S seconds (ETIMEDOUT). Closing the fd fails pending and
 * later requests with EPIPE and sends KMIG_CMD_CTX_PROVIDER_LOST.
 */
#define KMIG_LOG_START		1
#define KMIG_LOG_STOP		2
#define KMIG_LOG_HARVEST	3
#define KMIG_LOG_MAX_SLOTS	64	/* slots in one request */
#define KMIG_LOG_TIMEOUT_S	10

struct kmig_log_provider {
	__u32 flags;			/* none yet: 0 */
	__u32 reserved;
};

struct kmig_log_request {
	__u32 op;			/* KMIG_LOG_* */
	__u32 nslots;
	__u64 seq;			/* echoed by the answer */
	__u32 slots[KMIG_LOG_MAX_SLOTS];
};

struct kmig_log_provided {
	__u64 seq;
	__s32 status;			/* 0 or -errno */
	__u32 nslots;
	__u64 bitmaps;			/* user pointer */
	__u64 size;			/* bytes at @bitmaps */
};

#define KMIG_LOG_PROVIDER_FD	_IOW(KMIG_IOC_MAGIC, 0x29, struct kmig_log_provider)
#define KMIG_LOG_PROVIDED	_IOW(KMIG_IOC_MAGIC, 0x2a, struct kmig_log_provided)

/*
 * KMIG_GET_DIRTY_LOGS (KMIG_FEATURE_HARVEST_SET): KMIG_GET_DIRTY_LOG of
 * @count slots in one call, for a harvest pass. @logs points to @count
 * struct kmig_dirty_log, each a whole slot: @flags 0, @first_page 0,
 * @num_pages the slot's page count, @bitmap its buffer. @flags is
 * KMIG_DIRTY_LOG_CLEAR or 0, for every slot. The KMIG_SLOT_KVM_LOG slots
 * that are logging get KVM's bits in one provider request, slots in the
 * order of @logs. Every entry is checked before any log is touched.
 * Errors: EINVAL @flags, an entry's flags or range, a slot named
 * twice, @count 0; E2BIG @count above KMIG_LOG_MAX_SLOTS; ENOENT no such
 * slot; ENODEV a slot without a dirty log; then KMIG_GET_DIRTY_LOG's
 * (the provider's errno, EPIPE, ETIMEDOUT: nothing reported, nothing
 * lost). EFAULT on a bitmap: the slots before it were harvested.
 */
struct kmig_dirty_logs {
	__u32 count;
	__u32 flags;			/* KMIG_DIRTY_LOG_CLEAR or 0 */
	__u64 logs;			/* user pointer: struct kmig_dirty_log[] */
};

#define KMIG_GET_DIRTY_LOGS	_IOW(KMIG_IOC_MAGIC, 0x2b, struct kmig_dirty_logs)
/* --- end of model (b) --- */

/* KMIG_A_CTX_SLOTS: a nest of KMIG_A_SLOT nests. */
enum kmig_slots_attr {
	KMIG_A_SLOTS_UNSPEC,
	KMIG_A_SLOT,

	__KMIG_A_SLOTS_MAX,
	KMIG_A_SLOTS_MAX = __KMIG_A_SLOTS_MAX - 1
};

enum kmig_slot_attr {
	KMIG_A_SLOT_UNSPEC,
	KMIG_A_SLOT_PAD,
	KMIG_A_SLOT_ID,
	KMIG_A_SLOT_FLAGS,
	KMIG_A_SLOT_GPA,
	KMIG_A_SLOT_SIZE,
	KMIG_A_SLOT_PAGES,
	KMIG_A_SLOT_DIRTY,
	KMIG_A_SLOT_MISSING,

	__KMIG_A_SLOT_MAX,
	KMIG_A_SLOT_MAX = __KMIG_A_SLOT_MAX - 1
};

/* KMIG_A_CTX_MODE bits. */
#define KMIG_CTX_MODE_POSTCOPY	_BITUL(0)	/* a range is in missing mode */
#define KMIG_CTX_MODE_DIRTY_LOG	_BITUL(1)	/* a slot logs writes */
#define KMIG_CTX_MODE_SERVED	_BITUL(2)	/* a fault fd is attached */
#define KMIG_CTX_MODE_SERVER_LOST _BITUL(3)	/* its fault fd was closed */

enum kmig_stats_attr {
	KMIG_A_STATS_UNSPEC,
	KMIG_A_STATS_PAD,
	KMIG_A_STATS_FAULTS,
	KMIG_A_STATS_INSTALLED_COPY,
	KMIG_A_STATS_INSTALLED_ZERO,
	KMIG_A_STATS_INSTALLED_BACKGROUND,
	KMIG_A_STATS_WAITERS,
	KMIG_A_STATS_LATENCY_US,	/* nest: attr i + 1 = bucket i, u64 */

	__KMIG_A_STATS_MAX,
	KMIG_A_STATS_MAX = __KMIG_A_STATS_MAX - 1
};

#define KMIG_MCGRP_EVENTS	"events"
enum kmig_dev_attr {
	KMIG_A_DEV_UNSPEC,
	KMIG_A_DEV_PAD,
	KMIG_A_DEV_NAME,
	KMIG_A_DEV_INSTANCE,
	KMIG_A_DEV_VERSION,
	KMIG_A_DEV_STATE,
	KMIG_A_DEV_PENDING_BYTES,
	KMIG_A_DEV_OPEN,

	__KMIG_A_DEV_MAX,
	KMIG_A_DEV_MAX = __KMIG_A_DEV_MAX - 1
};

/*
 * Device migration region (Documentation/device-region.rst).
 *
 * KMIG_DEVICE_OPEN on /dev/kmig opens a registered device by name and
 * instance and returns a new file descriptor for it (O_RDWR | O_CLOEXEC).
 * The caller needs CAP_SYS_ADMIN in the initial user namespace (EPERM):
 * a /dev/kmig fd alone, as a VMM holds for its guest memory, opens no
 * device. The device fd is the grant; whoever holds it may drive it.
 * A device has at most one such fd at a time: a second open gets -EBUSY.
 * Once its driver unregisters the device, every access gets -ENODEV.
 *
 * At offset 0 of the device fd lies struct kmig_device_region, the layout
 * of VFIO's v1 migration region. Each field is read or written on its own
 * with pread/pwrite of exactly its size at exactly its offset; anything
 * else is -EINVAL. The data area lies at data_offset in the same fd: pread
 * and pwrite always work there, and it can be mmapped (shared, offset
 * data_offset, at most data_max bytes).
 *
 * The device fd also takes the ioctls KMIG_DEVICE_RESET (leave the error
 * state: the device runs again), KMIG_DEVICE_GET_CONFIG (device stopped:
 * STOP or SAVING) and KMIG_DEVICE_SET_CONFIG (RESUMING) for the device's
 * config state, which travels apart from its data (DEV_CONFIG_STATE).
 */
#define KMIG_DEVICE_NAME_MAX	32	/* with the terminating NUL */
#define KMIG_DEVICE_CONFIG_MAX	65536

#define KMIG_DEVICE_STATE_STOP		0
#define KMIG_DEVICE_STATE_RUNNING	_BITUL(0)
#define KMIG_DEVICE_STATE_SAVING	_BITUL(1)
#define KMIG_DEVICE_STATE_RESUMING	_BITUL(2)
#define KMIG_DEVICE_STATE_MASK		(KMIG_DEVICE_STATE_RUNNING | \
					 KMIG_DEVICE_STATE_SAVING | \
					 KMIG_DEVICE_STATE_RESUMING)
#define KMIG_DEVICE_STATE_ERROR		(KMIG_DEVICE_STATE_SAVING | \
					 KMIG_DEVICE_STATE_RESUMING)

struct kmig_device_region {
	__u32 device_state;	/* rw: KMIG_DEVICE_STATE_* */
	__u32 reserved;		/* reads 0, writes ignored */
	__u64 pending_bytes;	/* ro, SAVING: save data not yet staged */
	__u64 data_offset;	/* ro: SAVING stages the next chunk */
	__u64 data_size;	/* SAVING: ro, staged length; RESUMING: wo */
};

/* Stream markers of a device's state (be64 on the wire). */
#define KMIG_DEV_END_OF_STATE		0xffffffffef100001ULL
#define KMIG_DEV_CONFIG_STATE		0xffffffffef100002ULL
#define KMIG_DEV_SETUP_STATE		0xffffffffef100003ULL
#define KMIG_DEV_DATA_STATE		0xffffffffef100004ULL

struct kmig_device_open {
	char name[KMIG_DEVICE_NAME_MAX];	/* in, NUL-terminated */
	__u32 instance;				/* in */
	__u32 flags;				/* in, must be 0 */
	__u64 data_max;				/* out: data area size */
};

struct kmig_device_config {
	__u64 data;	/* user pointer to the config bytes */
	__u32 size;	/* GET: buffer size; SET: bytes to load */
	__u32 len;	/* GET, out: config length (also on -ENOSPC) */
};

/*
 * Device region ioctls: type KMIG_IOC_MAGIC, numbers 0x40 to 0x5f.
 * KMIG_DEVICE_OPEN goes to /dev/kmig, the others to a device fd.
 */
#define KMIG_DEVICE_IOC_FIRST	0x40
#define KMIG_DEVICE_IOC_LAST	0x5f
#define KMIG_DEVICE_OPEN	_IOWR(KMIG_IOC_MAGIC, 0x40, \
				      struct kmig_device_open)
#define KMIG_DEVICE_RESET	_IO(KMIG_IOC_MAGIC, 0x41)
#define KMIG_DEVICE_GET_CONFIG	_IOWR(KMIG_IOC_MAGIC, 0x42, \
				      struct kmig_device_config)
#define KMIG_DEVICE_SET_CONFIG	_IOW(KMIG_IOC_MAGIC, 0x43, \
				     struct kmig_device_config)

#endif /* _UAPI_LINUX_KMIG_H */
