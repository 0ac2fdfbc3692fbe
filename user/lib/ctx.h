/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The single door to a kmig memory context (/dev/kmig, uapi/linux/kmig.h):
 * every ioctl, mapping and page write of the agent goes through here.
 * Functions return 0 or -errno.
 */
#ifndef KMIG_CTX_H
#define KMIG_CTX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Slot @slot's dirty log since the last clearing harvest, into @bitmap
 * (@npages bits); cleared with @clear. */
int kmig_ctx_dirty_log(int fd, uint32_t slot, uint64_t npages,
		       uint64_t *bitmap, bool clear);
/*
 * The dirty logs of the @n slots @slots (@npages[i] pages each, at most
 * KMIG_LOG_MAX_SLOTS) into @bitmaps[i], in one call: KVM's part of them
 * (model (b)) costs one request to the VMM. -ENOTTY from a module
 * without KMIG_FEATURE_HARVEST_SET.
 */
int kmig_ctx_dirty_logs(int fd, unsigned int n, const uint32_t *slots,
			const uint64_t *npages, uint64_t *const *bitmaps,
			bool clear);
/* Start (@on) or stop logging slot @slot's writes. */
int kmig_ctx_set_logging(int fd, uint32_t slot, bool on);
/* The pages of slot @slot that have memory, into @bitmap. */
int kmig_ctx_present(int fd, uint32_t slot, uint64_t npages,
		     uint64_t *bitmap);
/* Slot @slot mapped shared with @prot (@size bytes), or NULL with errno set. */
void *kmig_ctx_map(int fd, uint32_t slot, uint64_t size, int prot);
/*
 * A KMIG_SLOT_HUGE slot to write, mapped as kmig_ctx_map() does but 2 MiB
 * aligned and advised MADV_HUGEPAGE, which clears the tracked view's
 * VM_NOHUGEPAGE: the first write fault on a 2 MiB folio maps all of it
 * with one writable PMD and logs its 512 pages (Documentation/uapi.rst,
 * KMIG_SLOT_HUGE), where the plain mapping takes one write fault, and
 * logs one page, per 4 KiB. For a writer of whole blocks, such as the
 * destination's receive. A kernel without transparent huge pages refuses
 * the advice, and the mapping works at 4 KiB as kmig_ctx_map()'s.
 */
void *kmig_ctx_map_huge(int fd, uint32_t slot, uint64_t size, int prot);
/*
 * Give @n pages of slot @slot (page numbers in @pages) memory, zero-filled
 * where they had none: a later write through a mapping then cannot fail
 * for want of memory (it would be a SIGBUS), where this is -ENOSPC past
 * the context's page limit, or -ENOMEM.
 */
int kmig_ctx_install_zero(int fd, uint32_t slot, const uint64_t *pages,
			  unsigned int n);
/*
 * Write @n whole pages from @iov (one page each) into slot @slot from page
 * @first: 0, or -errno with *@done pages written (the next write says
 * why a short one was short).
 */
int kmig_ctx_write_pages(int fd, uint32_t slot, uint64_t first,
			 const struct iovec *iov, unsigned int n,
			 unsigned int *done);
/*
 * Postcopy: install @n pages of slot @slot (page numbers in @pages) from
 * @buf (@n whole pages), or zeros when @buf is NULL. A page already
 * present is left as it is: a late copy never overwrites the guest's
 * newer write. Waiters of every page are woken.
 */
int kmig_ctx_install(int fd, uint32_t slot, const uint64_t *pages,
		     const void *buf, unsigned int n);
/* ... and the number of pages it gave memory in *@installed. */
int kmig_ctx_install_n(int fd, uint32_t slot, const uint64_t *pages,
		       const void *buf, unsigned int n,
		       unsigned int *installed);
/*
 * Zero-copy installs (KMIG_FEATURE_STAGED_INSTALL, Documentation/uapi.rst):
 * the context's staging view (KMIG_VIEW_STAGING), an fd to map slots of
 * with kmig_ctx_map() and then close; -EOPNOTSUPP from a module without
 * the feature (it refuses the view with EINVAL).
 */
int kmig_ctx_staging_fd(int fd);
/*
 * Stage @len bytes at @addr of a staging view's mapping: each page there
 * gets its staged page, zeroed, mapped writable, so that writes to it
 * cannot fault. -EFAULT where a page cannot be staged (present, not in
 * missing mode, poisoned), -ENOMEM, or -errno.
 */
int kmig_ctx_stage(void *addr, size_t len);
/*
 * Hand over the staged pages @pages (@n, page numbers of slot @slot) with
 * KMIG_INSTALL_STAGED: each page's KMIG_INSTALL_* status in @status (DONE,
 * PRESENT or NOT_STAGED), the pages installed in *@installed. 0 or -errno.
 */
int kmig_ctx_install_staged(int fd, uint32_t slot, const uint64_t *pages,
			    unsigned int n, uint8_t *status,
			    unsigned int *installed);
/* Pages @first .. @first + @n - 1 of slot @slot into missing mode (the
 * slot must be unmapped everywhere: -EBUSY). */
int kmig_ctx_set_missing(int fd, uint32_t slot, uint64_t first, uint64_t n);
/*
 * The pages of slot @slot whose bits are set in @bm (@npages bits) into
 * missing mode, a run per call with @flags (KMIG_SET_MISSING_DISCARD: the
 * present ones are discarded first): 0, or -errno with the run that
 * failed in *@first and *@n.
 */
int kmig_ctx_set_missing_runs(int fd, uint32_t slot, const uint64_t *bm,
			      uint64_t npages, uint32_t flags, uint64_t *first,
			      uint64_t *n);
struct kmig_ctx_stats;
/* The context's postcopy statistics (KMIG_GET_STATS). */
int kmig_ctx_stats(int fd, struct kmig_ctx_stats *st);
/*
 * A new fault fd (KMIG_FAULT_FD_* @flags), non-blocking: a read finds
 * nothing (-EAGAIN) where the record poll() reported was withdrawn
 * meanwhile. Or -errno.
 */
int kmig_ctx_fault_fd(int fd, uint32_t flags);
struct kmig_fault;
/*
 * Wait for fault records on the fault fd @ffd, or for @stop_fd to be
 * readable: the number of records read into @rec (at most @max), 0 once
 * @stop_fd is readable, or -errno (-EIO: the fault fd was closed).
 */
int kmig_fault_wait(int ffd, int stop_fd, struct kmig_fault *rec,
		    unsigned int max);
/*
 * The thread @t that waits in kmig_fault_wait() on the stop pipe whose
 * write end is @stop_wr, if *@started: told to stop, then joined;
 * *@started becomes false. @who begins the message of a stop that cannot
 * be written ("kmig incoming").
 */
void kmig_fault_thread_stop(pthread_t t, bool *started, int stop_wr,
			    const char *who);
/* @len bytes of slot @slot from byte @off. */
int kmig_ctx_read(int fd, uint32_t slot, uint64_t off, void *buf,
		  size_t len);

#endif /* KMIG_CTX_H */
