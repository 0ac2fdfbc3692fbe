/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent's subcommands, one file each. Each returns the process exit
 * status: 0 on success, 1 on failure, 2 on bad usage.
 */
#ifndef KMIG_SUBCOMMANDS_H
#define KMIG_SUBCOMMANDS_H

#include <stdbool.h>
#include <stdint.h>

struct mig_opts;

int version_main(int argc, char *argv[]);
int devices_main(int argc, char *argv[]);
int migrate_main(int argc, char *argv[]);
int incoming_main(int argc, char *argv[]);
int postcopy_recover_main(int argc, char *argv[]);
int postcopy_start_main(int argc, char *argv[]);
int resume_main(int argc, char *argv[]);
int stats_main(int argc, char *argv[]);
int save_main(int argc, char *argv[]);
int restore_main(int argc, char *argv[]);
int colo_main(int argc, char *argv[]);
int job_main(int argc, char *argv[]);
/*
 * `kmig job` with @argv (a command and its arguments) against kmigd at
 * @socket (NULL: the default), printing its replies as JSON with @json.
 */
int job_run(const char *socket, bool json, int argc, char *argv[]);

/*
 * Their command lines, parsed: 0, 1 after printing the help (--help), or
 * -EINVAL after saying on stderr what is wrong. Each can be called again
 * (getopt starts afresh).
 */
int version_parse(int argc, char *argv[]);
int devices_parse(int argc, char *argv[], bool *json);
int migrate_parse(struct mig_opts *o, int argc, char *argv[]);
int incoming_parse(struct mig_opts *o, int argc, char *argv[]);
int resume_parse(struct mig_opts *o, bool *force, int argc, char *argv[]);
int stats_parse(int argc, char *argv[], bool *json, uint32_t *id);

#endif /* KMIG_SUBCOMMANDS_H */
