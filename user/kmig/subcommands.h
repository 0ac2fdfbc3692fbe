/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent's subcommands, one file each. Each returns the process exit
 * status: 0 on success, 1 on failure, 2 on bad usage.
 */
#ifndef KMIG_SUBCOMMANDS_H
#define KMIG_SUBCOMMANDS_H

int version_main(int argc, char *argv[]);
int devices_main(int argc, char *argv[]);
int migrate_main(int argc, char *argv[]);
int incoming_main(int argc, char *argv[]);
int resume_main(int argc, char *argv[]);
int stats_main(int argc, char *argv[]);

#endif /* KMIG_SUBCOMMANDS_H */
