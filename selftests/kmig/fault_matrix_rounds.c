// SPDX-License-Identifier: GPL-2.0
/*
 * Precopy's fault matrix, the rows of the setup and the rounds, in
 * the order of Documentation/testing.rst's table
 * (the test: lib/matrix.h).
 */
#include "matrix.h"

ROW(setup_kill_src_agent, KILL_SRC_AGENT, "setup", ON_A, KILLED, 1,
    NULL, "the guest was not resumed here", AGAIN);
ROW(setup_kill_dst_agent, KILL_DST_AGENT, "setup", ON_A, 1, KILLED,
    "kmig migrate: ", NULL);
ROW(setup_kill_src_vmm, KILL_SRC_VMM, "setup", NOWHERE, 1, 1,
    "cannot pause the guest: no answer from the VMM",
    "the guest was not resumed here");
ROW(setup_kill_dst_vmm, KILL_DST_VMM, "setup", ON_A, 1, 1,
    "the VMM did not take the vCPU state: no answer",
    "the VMM did not take the vCPU state: no answer");
ROW(setup_link_down, LINK_DOWN, "setup", ON_A, 1, 1,
    "kmig migrate: ", "the guest was not resumed here");
ROW(setup_loss, LOSS, "setup", ON_A, 1, 1,
    "kmig migrate: ", "the guest was not resumed here");

ROW(rounds_kill_src_agent, KILL_SRC_AGENT, "rounds", ON_A, KILLED, 1,
    NULL, "the guest was not resumed here", AGAIN);
ROW(rounds_kill_dst_agent, KILL_DST_AGENT, "rounds", ON_A, 1, KILLED,
    "kmig migrate: ", NULL);
ROW(rounds_kill_src_vmm, KILL_SRC_VMM, "rounds", NOWHERE, 1, 1,
    "cannot pause the guest: no answer from the VMM",
    "the guest was not resumed here");
ROW(rounds_kill_dst_vmm, KILL_DST_VMM, "rounds", ON_A, 1, 1,
    "the VMM did not take the vCPU state: no answer",
    "the VMM did not take the vCPU state: no answer");
ROW(rounds_link_down, LINK_DOWN, "rounds", ON_A, 1, 1,
    "kmig migrate: ", "the guest was not resumed here", AGAIN);
ROW(rounds_loss, LOSS, "rounds", ON_A, 1, 1,
    "kmig migrate: ", "the guest was not resumed here");
ROW(rounds_delay, DELAY, "rounds", ON_B, 0, 0, NULL, NULL);
ROW(rounds_reorder, REORDER, "rounds", ON_B, 0, 0, NULL, NULL);
ROW(rounds_page_limit, PAGE_LIMIT, NULL, ON_A, 1, 1,
    "No space left on device", "No space left on device", AGAIN);
ROW(rounds_rmmod, RMMOD, "rounds", ON_B, 0, 0, NULL, NULL);

TEST_HARNESS_MAIN
