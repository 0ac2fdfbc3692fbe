// SPDX-License-Identifier: GPL-2.0
/*
 * vCPU threads. Each runs KVM_RUN until the VMM leaves the RUNNING state;
 * then it parks on vmm->cond. Pause kicks threads out of the guest with
 * immediate_exit plus a signal (no lost wake-up: immediate_exit is cleared
 * under the lock, before KVM_RUN, and set under the lock by pause) and
 * waits until every thread has parked, so state can be read afterwards.
 *
 * The payload OUTs to GUEST_PORT_TICK after each batch; that is where the
 * VMM paces it to the configured rate and throttles it.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vmm.h"

#define PAUSE_TIMEOUT_S		10
#define CSUM_TIMEOUT_S		60
#define IDLE_TICK_NS		1000000ull
#define NSEC			1000000000ull

/* Timed wait on vmm->cond: CLOCK_REALTIME, as the condvar is default. */
static int wait_until(struct vmm *vmm, uint64_t ns_from_now)
{
	struct timespec ts;
	uint64_t t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = ts.tv_sec * NSEC + ts.tv_nsec + ns_from_now;
	ts.tv_sec = t / NSEC;
	ts.tv_nsec = t % NSEC;
	return pthread_cond_timedwait(&vmm->cond, &vmm->lock, &ts);
}

/* Sleep up to @ns unless the VMM stops running. Called with the lock. */
static uint64_t nap(struct vmm *vmm, uint64_t ns)
{
	uint64_t start = kmig_now_ns(), now = start;

	while (vmm->state == VMM_RUNNING && !vmm->quit && now - start < ns) {
		wait_until(vmm, ns - (now - start));
		now = kmig_now_ns();
	}
	return now - start;
}

static void kick_all(struct vmm *vmm)
{
	unsigned int i;

	for (i = 0; i < vmm->nvcpus; i++) {
		__atomic_store_n(&vmm->vcpu[i].run->immediate_exit, 1,
				 __ATOMIC_SEQ_CST);
		if (vmm->vcpu[i].thread)
			pthread_kill(vmm->vcpu[i].thread, SIGUSR1);
	}
}

void vmm_fail(struct vmm *vmm, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vmm->lock);
	if (vmm->state != VMM_FAILED) {
		va_start(ap, fmt);
		vsnprintf(vmm->error, sizeof(vmm->error), fmt, ap);
		va_end(ap);
		fprintf(stderr, "kmig-vmm: %s\n", vmm->error);
		vmm->state = VMM_FAILED;
		kick_all(vmm);
	}
	pthread_cond_broadcast(&vmm->cond);
	pthread_mutex_unlock(&vmm->lock);
}

/*
 * A batch is done: pace to the rate, then throttle. The throttle works as
 * QEMU's cpu-throttle does: the vCPU is kept off for that share of all the
 * time since its last tick, pacing included, and that time is lost to the
 * pacing too. --rate is what the guest does while it runs: throttled by
 * t%, a guest paced to R pages/s dirties R * (100 - t) / 100.
 */
static void tick(struct vmm_vcpu *v)
{
	struct vmm *vmm = v->vmm;
	uint64_t now, per, step, slept;
	uint32_t pattern = __atomic_load_n(&vmm->params->pattern,
					   __ATOMIC_RELAXED);
	uint32_t batch = __atomic_load_n(&vmm->params->batch,
					 __ATOMIC_RELAXED);

	pthread_mutex_lock(&vmm->lock);
	if (pattern == GUEST_PATTERN_NONE || !batch) {
		nap(vmm, IDLE_TICK_NS);
	} else if (vmm->rate) {
		per = vmm->rate / vmm->nvcpus ? vmm->rate / vmm->nvcpus : 1;
		step = batch * NSEC / per;
		now = kmig_now_ns();
		if (!v->deadline_ns || now > v->deadline_ns + NSEC / 10)
			v->deadline_ns = now;
		v->deadline_ns += step;
		if (v->deadline_ns > now)
			nap(vmm, v->deadline_ns - now);
	}
	now = kmig_now_ns();
	if (vmm->throttle && v->tick_ns) {
		slept = nap(vmm, (now - v->tick_ns) * vmm->throttle /
				 (100 - vmm->throttle));
		v->throttled_ns += slept;
		if (v->deadline_ns)
			v->deadline_ns += slept;
		now += slept;
	}
	v->tick_ns = now;
	pthread_mutex_unlock(&vmm->lock);
}

/* Returns true when KVM must still complete the exit's I/O. */
static bool handle_exit(struct vmm_vcpu *v)
{
	struct kvm_run *run = v->run;
	struct vmm *vmm = v->vmm;
	int ret;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		if (run->io.direction != KVM_EXIT_IO_OUT)
			break;
		if (run->io.port == GUEST_PORT_TICK) {
			tick(v);
			return true;
		}
		if (run->io.port == GUEST_PORT_CSUM) {
			pthread_mutex_lock(&vmm->lock);
			pthread_cond_broadcast(&vmm->cond);
			pthread_mutex_unlock(&vmm->lock);
			return true;
		}
		if (run->io.port == GUEST_PORT_YIELD)
			return true;
		if (run->io.port == GUEST_PORT_NET) {
			vmm_net_out(vmm, run->io.size, run->io.count,
				    (uint8_t *)run + run->io.data_offset);
			return true;
		}
		if (run->io.port == GUEST_PORT_PANIC) {
			vmm_fail(vmm, "vCPU %u: the payload refused its parameters",
				 v->index);
			return true;
		}
		break;
	case KVM_EXIT_INTR:
		return false;
	case KVM_EXIT_DIRTY_RING_FULL:
		/* KVM refuses to enter until the ring has room: reap, reset. */
		ret = vmm_dring_reap(vmm, true);
		if (ret)
			vmm_fail(vmm, "vCPU %u: reaping a full dirty ring: %s",
				 v->index, strerror(-ret));
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		vmm_fail(vmm, "vCPU %u: entry failed, reason 0x%llx", v->index,
			 (unsigned long long)
			 run->fail_entry.hardware_entry_failure_reason);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		vmm_fail(vmm, "vCPU %u: KVM internal error %u", v->index,
			 run->internal.suberror);
		return false;
	}
	vmm_fail(vmm, "vCPU %u: unexpected exit %u (port 0x%x)", v->index,
		 run->exit_reason,
		 run->exit_reason == KVM_EXIT_IO ? run->io.port : 0);
	return false;
}

/*
 * KVM finishes an I/O exit (advances RIP past the OUT) only on the next
 * KVM_RUN. Before parking, enter once with immediate_exit set: KVM
 * completes the instruction and returns -EINTR at once, so the state a
 * save reads is the state after the instruction.
 */
static void complete_io(struct vmm_vcpu *v)
{
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (ioctl(v->fd, KVM_RUN, 0) < 0 && errno != EINTR)
		vmm_fail(v->vmm, "vCPU %u: completing I/O before a pause: %s",
			 v->index, strerror(errno));
}

static void *vcpu_thread(void *arg)
{
	struct vmm_vcpu *v = arg;
	struct vmm *vmm = v->vmm;
	bool io_pending = false;
	int ret;

	pthread_mutex_lock(&vmm->lock);
	v->tid = gettid();
	pthread_cond_broadcast(&vmm->cond);
	for (;;) {
		while (vmm->state != VMM_RUNNING && !vmm->quit) {
			if (!v->parked && io_pending) {
				io_pending = false;
				pthread_mutex_unlock(&vmm->lock);
				complete_io(v);
				pthread_mutex_lock(&vmm->lock);
				continue;
			}
			if (!v->parked) {
				v->parked = true;
				pthread_cond_broadcast(&vmm->cond);
			}
			pthread_cond_wait(&vmm->cond, &vmm->lock);
		}
		if (vmm->quit)
			break;
		v->parked = false;
		__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		pthread_mutex_unlock(&vmm->lock);

		ret = ioctl(v->fd, KVM_RUN, 0);
		if (ret < 0 && errno != EINTR)
			vmm_fail(vmm, "vCPU %u: KVM_RUN: %s", v->index,
				 strerror(errno));
		else if (!ret)
			io_pending = handle_exit(v);
		pthread_mutex_lock(&vmm->lock);
	}
	v->parked = true;
	pthread_cond_broadcast(&vmm->cond);
	pthread_mutex_unlock(&vmm->lock);
	return NULL;
}

static void on_kick(int sig)
{
	(void)sig;
}

int vmm_vcpus_start(struct vmm *vmm)
{
	struct sigaction sa = { .sa_handler = on_kick };
	unsigned int i;
	int ret;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL))
		return -errno;
	for (i = 0; i < vmm->nvcpus; i++) {
		ret = pthread_create(&vmm->vcpu[i].thread, NULL, vcpu_thread,
				     &vmm->vcpu[i]);
		if (ret) {
			vmm_fail(vmm, "vCPU %u: no thread: %s", i, strerror(ret));
			return -ret;
		}
	}
	return 0;
}

void vmm_vcpus_stop(struct vmm *vmm)
{
	unsigned int i;

	pthread_mutex_lock(&vmm->lock);
	vmm->quit = true;
	kick_all(vmm);
	pthread_cond_broadcast(&vmm->cond);
	pthread_mutex_unlock(&vmm->lock);
	for (i = 0; i < vmm->nvcpus; i++)
		if (vmm->vcpu[i].thread)
			pthread_join(vmm->vcpu[i].thread, NULL);
}

static bool all_parked(struct vmm *vmm)
{
	unsigned int i;

	for (i = 0; i < vmm->nvcpus; i++)
		if (!vmm->vcpu[i].parked)
			return false;
	return true;
}

int vmm_pause(struct vmm *vmm)
{
	uint64_t end = kmig_now_ns() + PAUSE_TIMEOUT_S * NSEC;
	int ret = 0;

	pthread_mutex_lock(&vmm->lock);
	if (vmm->state == VMM_RUNNING) {
		vmm->state = VMM_PAUSED;
		kick_all(vmm);
		pthread_cond_broadcast(&vmm->cond);
	}
	while (!all_parked(vmm) && !ret) {
		if (kmig_now_ns() > end)
			ret = -ETIMEDOUT;
		else
			wait_until(vmm, NSEC / 10);
	}
	if (vmm->state == VMM_FAILED)
		ret = -EIO;
	pthread_mutex_unlock(&vmm->lock);
	return ret;
}

/* The armed `dirtylog at-resume`, with the vCPUs still stopped. */
static int log_at_resume(struct vmm *vmm, char *err, size_t n)
{
	uint64_t t0 = kmig_now_ns();
	int ret;

	if (!vmm->log_at_resume)
		return 0;
	ret = vmm_mem_log_restart(&vmm->mem, err, n);
	if (ret)
		return ret;
	vmm->log_at_resume = false;
	fprintf(stderr, "kmig-vmm: dirty log of %u slot%s restarted at resume in %.1f ms\n",
		vmm->mem.nslots, vmm->mem.nslots > 1 ? "s" : "",
		(kmig_now_ns() - t0) / 1e6);
	return 0;
}

int vmm_resume(struct vmm *vmm, bool force, char *err, size_t n)
{
	unsigned int i;
	int ret = 0;

	pthread_mutex_lock(&vmm->lock);
	if (vmm->state == VMM_FAILED) {
		ret = -EIO;
		snprintf(err, n, "%s", vmm->error);
	} else if (vmm->state == VMM_MIGRATED && !force) {
		ret = -EPERM;
		snprintf(err, n, "the guest was handed over and may run elsewhere; 'resume force' runs it here too");
	} else if (vmm->state != VMM_RUNNING) {
		ret = log_at_resume(vmm, err, n);
	}
	if (!ret) {
		for (i = 0; i < vmm->nvcpus; i++) {
			vmm->vcpu[i].deadline_ns = 0;
			vmm->vcpu[i].tick_ns = 0;
		}
		vmm->state = VMM_RUNNING;
		pthread_cond_broadcast(&vmm->cond);
	}
	pthread_mutex_unlock(&vmm->lock);
	return ret;
}

int vmm_migrated(struct vmm *vmm)
{
	int ret = 0;

	pthread_mutex_lock(&vmm->lock);
	if (vmm->state == VMM_PAUSED)
		vmm->state = VMM_MIGRATED;
	else if (vmm->state != VMM_MIGRATED)
		ret = -EBUSY;
	pthread_mutex_unlock(&vmm->lock);
	return ret;
}

int vmm_guest_checksum(struct vmm *vmm, uint64_t *csum)
{
	struct guest_params *p = vmm->params;
	uint64_t end = kmig_now_ns() + CSUM_TIMEOUT_S * NSEC;
	uint32_t req;
	int ret = 0;

	pthread_mutex_lock(&vmm->lock);
	if (vmm->state != VMM_RUNNING) {
		pthread_mutex_unlock(&vmm->lock);
		return -EBUSY;
	}
	req = __atomic_add_fetch(&p->csum_req, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&p->csum_done, __ATOMIC_SEQ_CST) != req) {
		if (vmm->state != VMM_RUNNING)
			ret = vmm->state == VMM_FAILED ? -EIO : -EINTR;
		else if (kmig_now_ns() > end)
			ret = -ETIMEDOUT;
		if (ret)
			break;
		wait_until(vmm, NSEC / 10);
	}
	if (!ret)
		*csum = __atomic_load_n(&p->csum, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vmm->lock);
	return ret;
}
