// SPDX-License-Identifier: GPL-2.0
/*
 * How the source's rounds converge (precopy.h): the bandwidth the rounds
 * measure, the test that what is left fits --max-downtime, and
 * auto-converge, which throttles a guest that dirties memory faster than
 * the link takes it. precopy_run()'s round loop asks them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mig.h"
#include "precopy.h"

uint64_t sent_bytes(struct precopy_src *s, bool dev)
{
	uint64_t b = 0;
	unsigned int i;

	for (i = 0; i < s->o.channels; i++)
		b += __atomic_load_n(&s->ch[i].bytes, __ATOMIC_RELAXED);
	for (i = 0; dev && i < s->o.ndevs; i++)
		b += s->o.devs[i].bytes;
	return b;
}

void bandwidth_estimate(struct precopy_src *s, struct estimate *e,
			uint64_t round_ns)
{
	e->send_ns += round_ns;
	if (e->send_ns)
		e->bw = sent_bytes(s, true) * 1000000000ull / e->send_ns;
	s->job.memory_bps = e->bw;
}

bool converged(struct precopy_src *s, const struct estimate *e,
	       uint64_t left, uint64_t harvest_ms)
{
	s->job.expected_downtime_ms = harvest_ms +
				      (e->bw ? left * 1000 / e->bw : 0);
	return !left || (e->bw && s->job.expected_downtime_ms <=
			 s->o.max_downtime_ms);
}

/* Throttle the guest to @pct percent of its vCPU time. */
static int set_throttle(struct precopy_src *s, unsigned int pct)
{
	char req[32];

	snprintf(req, sizeof(req), "throttle %u", pct);
	if (precopy_vmm_req(s, "throttle the guest", req))
		return -EIO;
	s->throttle = pct;
	return 0;
}

/*
 * Auto-converge: when the guest dirtied more than half of what a round
 * sent, twice in a row, throttle it in growing steps: 20, 40, 70, 99 %,
 * never beyond --max-throttle.
 */
int auto_converge(struct precopy_src *s, struct estimate *e, uint64_t dirty,
		  uint64_t round_bytes)
{
	unsigned int pct;
	int ret;

	if (!s->round || dirty * MIG_PAGE <= round_bytes / 2 ||
	    dirty < e->prev_dirty / 2) {
		e->bad = 0;
		e->prev_dirty = dirty;
		return 0;
	}
	e->prev_dirty = dirty;
	if (++e->bad < 2 || s->throttle >= s->o.max_throttle)
		return 0;
	pct = s->throttle ? s->throttle + 10 * e->steps : 20;
	ret = set_throttle(s, pct > s->o.max_throttle ? s->o.max_throttle :
			   pct);
	e->steps++;
	e->bad = 0;
	return ret;
}

uint64_t devices_pending(struct precopy_src *s)
{
	uint64_t sum = 0, pend;
	unsigned int i;

	for (i = 0; i < s->o.ndevs; i++)
		if (!mig_dev_pending(&s->o.devs[i], &pend))
			sum += pend;
	return sum;
}
