/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The KVM log provider played by hand (model (b), memory-model.rst): the
 * test's thread attaches as the VMM's provider and reads and answers
 * each request itself, while a second thread makes kmig's call, as the
 * agent would (kvm_log.c, kvm_log_huge.c). lib/kvmlog.h is the provider
 * that answers with KVM's own log instead.
 */
#ifndef KMIG_TEST_LOGPROV_H
#define KMIG_TEST_LOGPROV_H

#include <pthread.h>
#include <stdint.h>

#include <linux/kmig.h>

/* Bitmap words of a call: slots of up to 1024 pages (4 MiB). */
#define LOG_CALL_WORDS	16

/*
 * A kmig call made from a thread of its own: KMIG_SET_DIRTY_LOGGING of
 * @slot with @flags, or a KMIG_GET_DIRTY_LOG of @slot into @bm.
 */
struct log_call {
	int fd;
	unsigned long cmd;
	uint32_t slot, flags;
	uint64_t bm[LOG_CALL_WORDS];
	pthread_t t;
	int ret;
};

/* Start call @cmd on context @fd; end: wait for it, 0 or -errno. */
void log_call_start(struct log_call *c, int fd, unsigned long cmd,
		    uint32_t slot, uint32_t flags);
int log_call_end(struct log_call *c);
/* Start a harvest of slot 0 with clear. */
void log_harvest_start(struct log_call *c, int fd);

/* A provider fd of context @fd, or -errno. */
int log_provider_fd(int fd);
/* The next request on provider fd @pfd, waiting up to 10 s: 0 or -errno. */
int log_next_request(int pfd, struct kmig_log_request *rq);
/*
 * Answer request @seq with @status and @nslots bitmaps at @bm, @size
 * bytes in all: 0 or -errno.
 */
int log_provide(int pfd, uint64_t seq, int status, uint32_t nslots,
		const uint64_t *bm, uint64_t size);

/*
 * A harvest of slot 0 with clear, answered by provider @pfd with KVM's
 * bits @kvm_bm (NULL: none), @words words of them: the bits in @c->bm,
 * 0 or -errno.
 */
int log_harvest_answered(int fd, int pfd, const uint64_t *kvm_bm,
			 struct log_call *c, unsigned int words);
/*
 * Start slot @slot's log through provider @pfd, answering its one
 * KMIG_LOG_START request: 0, or -errno (a request not as expected is
 * said on stderr, -EPROTO).
 */
int log_start_slot(int fd, int pfd, uint32_t slot);
/* Attach a provider and start slot 0's log through it: its fd, or -errno. */
int log_start_logging(int fd);

#endif /* KMIG_TEST_LOGPROV_H */
