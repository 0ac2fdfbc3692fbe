/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the COLO selftests check of the primary's and the secondary's
 * guests and agents. Each returns 0 when they agree, or -1 (or -errno)
 * with what differs on stderr, in the harness's "# " lines.
 */
#ifndef KMIG_TEST_COLO_CHECK_H
#define KMIG_TEST_COLO_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "proc.h"

/* A COLO test's two VMMs, its two agents and their logs. */
struct colo_pair {
	struct vmm_proc a, b;		/* the primary's VMM, the secondary's */
	pid_t pri, sec;			/* the agents, 0 once reaped */
	char pri_log[64], sec_log[64];
};

/* Nothing started yet; the agents' logs in /dev/shm, named after @name. */
void colo_pair_init(struct colo_pair *c, const char *name);
/* Stop whatever of @c still runs, and remove the logs. */
void colo_pair_stop(struct colo_pair *c);
/*
 * Both agents over 127.0.0.1:@port, the secondary's on the VMM at
 * @sec_vmm logging to @sec_log, the primary's likewise; each command
 * line with the heartbeat as patient as these tests' checkpoint
 * connections (30 s: a loaded bed stalls an agent for seconds, and some
 * tests stop one on purpose), then @sec_args or @pri_args (which may
 * give their own --heartbeat-timeout). Their pids in *@sec and *@pri.
 */
void colo_start_agents(pid_t *sec, pid_t *pri, const char *sec_log,
		       const char *pri_log, const char *sec_vmm,
		       const char *pri_vmm, unsigned int port,
		       const char *sec_args, const char *pri_args);
/*
 * In @text, a primary's log: the memory CRC it logged at checkpoint
 * @seq's pause (whether or not its ACK came). 0, or -1 without one.
 */
int colo_pause_crc(const char *text, unsigned long long seq,
		   unsigned int *crc);
/*
 * In @text, a secondary's log: the checkpoint it took over at and the
 * memory CRC it took before resuming. 0, or -1 without a takeover.
 */
int colo_takeover_crc(const char *text, unsigned long long *seq,
		      unsigned int *crc);
/*
 * Kill the primary's VMM @v and let its agent *@pri, stopped, go on: 0
 * when the agent then exits 1 saying the guest is lost, else -1 (logged,
 * with its log). *@pri is 0 once reaped.
 */
int colo_kill_primary_vmm(struct vmm_proc *v, pid_t *pri,
			  const char *pri_log);
/* Wait until the primary's @log says checkpoint @seq committed. */
bool colo_wait_committed(const char *log, unsigned long long seq);
/* Every slot of both VMMs' guests, byte for byte. */
int colo_same_memory(struct vmm_proc *a, struct vmm_proc *b);
/* CRC32C of all of @v's guest memory, as `kmig colo` computes it. */
int colo_memory_crc(struct vmm_proc *v, uint32_t *crc);
/*
 * vCPU 0's state on both VMMs, part for part. MSRS and LAPIC are left
 * out: each KVM's TSC and APIC timer count move on their own while
 * paused, so a save after a load never repeats them.
 */
int colo_same_vcpus(struct vmm_proc *a, struct vmm_proc *b);

#endif /* KMIG_TEST_COLO_CHECK_H */
