// SPDX-License-Identifier: GPL-2.0
/*
 * `kmig colo primary`'s output plug (Documentation/colo.rst): with
 * --output IFACE the guest's network output is held in a plug qdisc on
 * IFACE (plug.h) from the start; each pause closes an epoch, each ACK
 * releases the epoch of its checkpoint (Remus's order), a lost
 * secondary releases everything, and a lost guest (its VMM gone) drops
 * what is held: the secondary emits it again from its last commit. Each step is logged for the tests:
 * install and hold with the VMM's network counts at that instant,
 * release with its times. Also here: the guest's progress while
 * protected, reported at the end.
 */
#include <stdio.h>

#include "colo_primary.h"
#include "plug.h"
#include "util.h"

/* The VMM's status, for its network device's counts. */
static int net_status(struct colo_pri *p, struct vmm_status *st)
{
	int ret = vmm_client_status(&p->vm.vmm, st);

	p->guest_lost |= vmm_client_gone(&p->vm.vmm, ret);
	return ret ? fail(p, ret, "cannot read the VMM's status: %s",
			  vmm_client_why(&p->vm.vmm, ret)) : 0;
}

/*
 * At the pause: close the output epoch. What the guest sent until now
 * belongs to this checkpoint, and leaves when its ACK comes. Logged with
 * the VMM's counts at this instant, for the tests.
 */
int colo_pri_output_hold(struct colo_pri *p)
{
	struct vmm_status st;
	int ret;

	if (!p->plug)
		return 0;
	ret = kmig_plug_buffer(p->plug, p->err, sizeof(p->err));
	if (ret)
		return ret;
	ret = net_status(p, &st);
	if (ret)
		return ret;
	fprintf(stderr, "kmig colo primary: checkpoint %llu: output held at %llu ns, frames sent %llu, guest seq %llu\n",
		(unsigned long long)p->seq, (unsigned long long)kmig_now_ns(),
		(unsigned long long)st.net_sent, (unsigned long long)st.net_seq);
	return 0;
}

/* The ACK came: release this checkpoint's epoch (the oldest held). */
int colo_pri_output_release(struct colo_pri *p)
{
	uint64_t t0 = kmig_now_ns(), t1;
	int ret;

	if (!p->plug)
		return 0;
	ret = kmig_plug_release_one(p->plug, p->err, sizeof(p->err));
	if (ret)
		return ret;
	t1 = kmig_now_ns();
	fprintf(stderr, "kmig colo primary: checkpoint %llu: output released, acked at %llu ns, released at %llu ns\n",
		(unsigned long long)p->seq, (unsigned long long)t0,
		(unsigned long long)t1);
	colo_pri_stop_point(p, "released");
	return 0;
}

/*
 * Install the plug, the guest paused meanwhile: an interface drops what
 * is sent while its root qdisc is being replaced. On failure the guest
 * is left paused for cleanup() to resume. Nothing without --output.
 */
int colo_pri_output_install(struct colo_pri *p)
{
	struct vmm_status st;
	int ret;

	if (!p->output)
		return 0;
	ret = colo_pri_vmm_req(p, "pause");
	if (ret)
		return ret;
	p->paused = true;
	ret = kmig_plug_install(p->output, &p->plug, p->err, sizeof(p->err));
	if (ret)
		return ret;
	ret = net_status(p, &st);
	if (ret)
		return ret;
	/* Frames after this number are built with the plug in. */
	fprintf(stderr, "kmig colo primary: output on %s held from now on, guest seq %llu\n",
		p->output, (unsigned long long)st.net_seq);
	ret = colo_pri_vmm_req(p, "resume");
	if (!ret)
		p->paused = false;
	return ret;
}

/*
 * No secondary to commit to any more (@ret), or the end: let the output
 * go, and give the interface its default root qdisc back.
 */
void colo_pri_output_remove(struct colo_pri *p, int ret)
{
	bool paused = false;
	char why[256];

	if (!p->plug)
		return;
	if (p->guest_lost || p->yielded) {
		if (kmig_plug_drop(p->plug, why, sizeof(why)))
			fprintf(stderr, "kmig colo primary: %s\n", why);
		else
			fprintf(stderr, "kmig colo primary: output on %s held since the last commit dropped: %s\n",
				p->output, p->guest_lost ? "the guest is lost" :
				"the secondary takes over");
		p->plug = NULL;
		return;
	}
	if (ret && !kmig_plug_release_all(p->plug, why, sizeof(why)))
		fprintf(stderr, "kmig colo primary: output on %s released: no longer held, the guest runs unprotected\n",
			p->output);
	/* Paused while the qdisc goes, as while it came (if its VMM
	 * still answers). */
	if (!p->paused && !mig_vmm_req(&p->vm.vmm, "pause", why, sizeof(why)))
		paused = true;
	if (kmig_plug_remove(p->plug, why, sizeof(why)))
		fprintf(stderr, "kmig colo primary: %s\n", why);
	p->plug = NULL;
	if (paused && mig_vmm_req(&p->vm.vmm, "resume", why, sizeof(why)))
		fprintf(stderr, "kmig colo primary: cannot resume the guest: %s\n",
			why);
}

/*
 * The guest's progress while protected: its counter after checkpoint 1
 * (checkpoint 0's long first copy left out), and at the end. Not the
 * plug's, but read from the VMM's status as its counts are.
 */
void colo_pri_progress_mark(struct colo_pri *p)
{
	struct vmm_status st;

	if (!vmm_client_status(&p->vm.vmm, &st)) {
		p->counter1 = st.counter;
		p->t1_ns = kmig_now_ns();
	}
}

void colo_pri_progress_end(struct colo_pri *p)
{
	struct vmm_status st;

	if (p->t1_ns && !vmm_client_status(&p->vm.vmm, &st)) {
		p->counter_end = st.counter;
		p->t_end_ns = kmig_now_ns();
	}
}

void colo_pri_progress_print(const struct colo_pri *p)
{
	double s = (p->t_end_ns - p->t1_ns) / 1e9;

	if (p->t_end_ns)
		printf("guest counter +%llu in %.2f s since checkpoint 1: %.0f a second\n",
		       (unsigned long long)(p->counter_end - p->counter1), s,
		       (p->counter_end - p->counter1) / s);
}
