// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy's fault matrix, in the order of Documentation/testing.rst's
 * table (the test: lib/matrix.h): the rows of the switch (the source's
 * guest paused and marked migrated, nothing of the switch sent yet), and
 * two of after RUN at the destination, before the source heard RESUMED,
 * whose user recovers the guest there. The other faults after RUN are
 * the tests of migrate_pcrecover.c, migrate_pcvmm.c and
 * migrate_postcopy.c (the table names them).
 */
#define TO		"198.18.0.2:24740"
#define RECOVER_TO	"198.18.0.2:24741"
#include "matrix.h"

ROW(pc_switchover_kill_src_agent, KILL_SRC_AGENT, "switchover", PAUSED_ON_A,
    KILLED, 1, NULL, "the guest was not resumed here", POSTCOPY, AGAIN);
ROW(pc_switchover_kill_dst_agent, KILL_DST_AGENT, "switchover", PAUSED_ON_A,
    3, KILLED, "kmig migrate: ", NULL, POSTCOPY, OR_ON_A);
ROW(pc_switchover_kill_src_vmm, KILL_SRC_VMM, "switchover", ON_B, 0, 0,
    "completed", "completed", POSTCOPY);
ROW(pc_switchover_kill_dst_vmm, KILL_DST_VMM, "switchover", ON_A, 1, 1,
    "the destination could not resume the guest",
    "the guest was not resumed here", POSTCOPY);
ROW(pc_switchover_loss, LOSS, "switchover", PAUSED_ON_A, 3, 1,
    "the return path from the destination: silent",
    "the guest was not resumed here", POSTCOPY);

ROW(pc_run_kill_dst_agent, KILL_DST_AGENT, "run", RECOVER_ON_B, 3, KILLED,
    "the return path from the destination", NULL, POSTCOPY);
ROW(pc_run_link_down, LINK_DOWN, "run", RECOVER_ON_B, 3, 3,
    "the return path from the destination: silent",
    "the guest may run here", POSTCOPY);

TEST_HARNESS_MAIN
