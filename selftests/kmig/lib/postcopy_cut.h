/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A postcopy migration cut right after RUN, the fixture of
 * migrate_postcopy.c's cut tests and of migrate_pcrecover.c: two hosts
 * (selftests/qemu/hosts.sh), a kmig-vmm and an agent on each, `kmig
 * incoming` on B stopped (KMIG_STOP_AT=postcopy) once its guest runs
 * with pages still missing, `kmig migrate --postcopy` from A holding its
 * push until the first fault (KMIG_PUSH_AFTER_FAULT=1), which never
 * comes. Then something breaks (pc_cut_break()), and the test checks
 * how each side ends.
 *
 * __x() returns the raw result (-errno, the cause in @why); x() asserts
 * it with the harness (it takes _metadata; include kselftest_harness.h
 * first).
 */
#ifndef KMIG_TEST_POSTCOPY_CUT_H
#define KMIG_TEST_POSTCOPY_CUT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Where an idle cut's missing pages start: the guest's working set,
 * which a guest without a pattern leaves without memory. */
#define PC_CUT_IDLE_GPA	0x100000u

/* B on the hosts' link, and where its agent listens. */
#define PC_CUT_B	"198.18.0.2"
#define PC_CUT_ADDR	PC_CUT_B ":4470"

struct pc_cut {
	char sock_a[96], sock_b[96];	/* the VMMs' control sockets */
	pid_t vmm_a, vmm_b, incoming, migrate;
	pid_t recover, resume;		/* a recovery's agents, if the test
					 * starts one (0: none) */
};

/* How the two guests and the migration run. */
struct pc_cut_cfg {
	const char *rate_a, *rate_b;	/* pages each guest writes per s */
	const char *bandwidth;		/* precopy's MiB/s, or NULL: no cap */
	bool dirtylog_b;		/* B's dirty log restarts at the resume */
	const char *tls;		/* both agents' TLS options, or NULL */
	/*
	 * 0, or B's guest is idle with this many pages missing that it
	 * never touches: both guests run no pattern (--pattern none), and
	 * the source, held after its first pass (KMIG_STOP_AT=rounds), has
	 * that many pages of the working set written through its context
	 * then: their first memory, so the first pass did not send them
	 * and the final harvest lists them, missing at B. The push is held
	 * throughout (KMIG_PUSH_AFTER_FAULT=never): only faults are served.
	 */
	unsigned int idle_missing;
	/*
	 * The push starts at RUN, with no cap (not held until the first
	 * fault, nor at 1 MiB/s): every page may arrive before B's agent
	 * looks at its VMM again.
	 */
	bool push_now;
	const char *delay_b;		/* B's agent's KMIG_DELAY_AT, or NULL */
	/* B's agent's KMIG_STOP_AT, or NULL: "postcopy", RESUMED out */
	const char *stop_b;
	bool huge;			/* both VMMs on huge slots (--huge) */
};

/*
 * @c empty, its sockets in @dir (0700; no socket left from before). Its
 * logs are the test's: vmm-a.log, vmm-b.log, incoming.log, migrate.log.
 */
void pc_cut_init(struct pc_cut *c, const char *dir);
/* Hosts up (healed), the VMMs, then the agents, until B's guest runs
 * after RUN. */
int __pc_cut_start(struct pc_cut *c, const struct pc_cut_cfg *cfg,
		   char *why, size_t n);
/*
 * Right after RUN: @fault "silent" (netem drops every packet: no RST,
 * no FIN), "link_cut" (the link deleted), the agent "incoming" or
 * "migrate" killed, or the VMM "vmm_a" or "vmm_b" killed; then B's agent
 * goes on.
 */
int __pc_cut_break(struct pc_cut *c, const char *fault, char *why, size_t n);
/*
 * A's copy, paused ("migrated"), run by hand (`kmig resume --force`,
 * resume.log) until its guest's counter moves.
 */
int __pc_cut_force_a(struct pc_cut *c, char *why, size_t n);
/*
 * Every process killed, then reaped within PROC_STOP_MS (proc_stop_all()):
 * 0, or -ETIMEDOUT when a process did not end (logged, left behind). The
 * hosts stay for the next test, which heals them (or makes new ones when
 * the link was cut); they go when the program ends.
 */
int pc_cut_stop(struct pc_cut *c);

#define pc_cut_start(c, cfg) ({						\
	char __why[512] = "";						\
	ASSERT_EQ(0, __pc_cut_start(c, cfg, __why, sizeof(__why)))	\
		TH_LOG("%s", __why);					\
})

#define pc_cut_break(c, fault) ({					\
	char __why[128] = "";						\
	ASSERT_EQ(0, __pc_cut_break(c, fault, __why, sizeof(__why)))	\
		TH_LOG("%s", __why);					\
})

#define pc_cut_force_a(c) ({					\
	char __why[512] = "";						\
	ASSERT_EQ(0, __pc_cut_force_a(c, __why, sizeof(__why)))	\
		TH_LOG("%s", __why);					\
})

#endif /* KMIG_TEST_POSTCOPY_CUT_H */
