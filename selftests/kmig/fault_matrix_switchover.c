// SPDX-License-Identifier: GPL-2.0
/*
 * Precopy's fault matrix, the rows of the switchover and of after the
 * destination's RUN, in the order of Documentation/testing.rst's table
 * (the test: lib/matrix.h).
 */
#include "matrix.h"

ROW(switchover_kill_src_agent, KILL_SRC_AGENT, "switchover", PAUSED_ON_A,
    KILLED, 1, NULL, "the guest was not resumed here", AGAIN);
ROW(switchover_kill_dst_agent, KILL_DST_AGENT, "switchover", ON_A, 1,
    KILLED, "kmig migrate: ", NULL);
ROW(switchover_kill_src_vmm, KILL_SRC_VMM, "switchover", ON_B, 0, 0,
    NULL, NULL);
ROW(switchover_kill_dst_vmm, KILL_DST_VMM, "switchover", ON_A, 1, 1,
    "the VMM did not take the vCPU state: no answer",
    "the VMM did not take the vCPU state: no answer");
ROW(switchover_link_down, LINK_DOWN, "switchover", ON_A, 1, 1,
    "kmig migrate: ", "the guest was not resumed here");
ROW(switchover_loss, LOSS, "switchover", ON_A, 1, 1,
    "kmig migrate: ", "the guest was not resumed here", AGAIN);
ROW(switchover_src_disk_full, SRC_DISK_FULL, NULL, ON_A, 1, 1,
    "No space left on device", "the guest was not resumed here", AGAIN);
ROW(switchover_dst_disk_full, DST_DISK_FULL, NULL, ON_A, 1, 1,
    "No space left on device", "No space left on device");
ROW(switchover_src_eio, SRC_EIO, NULL, ON_A, 1, 1,
    "Input/output error", "the guest was not resumed here");
ROW(switchover_dst_eio, DST_EIO, NULL, ON_A, 1, 1,
    "Input/output error", "Input/output error", AGAIN);
ROW(switchover_rmmod, RMMOD, "switchover", ON_B, 0, 0, NULL, NULL);

ROW(run_kill_src_agent, KILL_SRC_AGENT, "run", ON_B, KILLED, 0,
    NULL, "completed");
ROW(run_kill_dst_agent, KILL_DST_AGENT, "run", ON_B, 3, KILLED,
    "stays paused here", NULL);
ROW(run_kill_src_vmm, KILL_SRC_VMM, "run", ON_B, 0, 0, NULL, NULL);
ROW(run_kill_dst_vmm, KILL_DST_VMM, "run", NOWHERE, 0, 0, NULL, NULL);
ROW(run_link_down, LINK_DOWN, "run", ON_B, 3, 0,
    "stays paused here", "completed");
ROW(run_loss, LOSS, "run", ON_B, 3, 0, "stays paused here", "completed");

TEST_HARNESS_MAIN
