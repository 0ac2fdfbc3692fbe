// SPDX-License-Identifier: GPL-2.0
/*
 * kmig: the agent. Dispatches to one subcommand per file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kmig.h>

#include "subcommands.h"
#include "version.h"

static const struct {
	const char *name;
	int (*main)(int argc, char *argv[]);
	const char *description;
} subcommands[] = {
	{ "version", version_main, "Show the agent's and the module's versions" },
	{ "devices", devices_main, "List migratable devices and their state" },
	{ "migrate", migrate_main, "Live-migrate a VM to another host" },
	{ "incoming", incoming_main, "Receive a live migration" },
	{ "postcopy-start", postcopy_start_main, "Switch a running migration to postcopy" },
	{ "postcopy-recover", postcopy_recover_main, "Recover a postcopy migration whose link was lost" },
	{ "resume", resume_main, "Run a guest here again after an unconfirmed switchover" },
	{ "stats", stats_main, "Show the module's per-context statistics" },
	{ "save", save_main, "Save a guest into a snapshot file" },
	{ "restore", restore_main, "Restore a guest from a snapshot file" },
	{ "colo", colo_main, "Fault tolerance: checkpoint a guest into a secondary" },
	{ "job", job_main, "Start, follow and cancel jobs of kmigd, the agent as a service" },
};

/*
 * Under kmigd, the exit status into $KMIG_JOB_DIR/exit as well: a kmigd
 * restarted while the job ran is no longer its parent and reads it there.
 */
static int job_exit(int status)
{
	const char *dir = getenv("KMIG_JOB_DIR");
	char path[4096];
	FILE *f;

	if (!dir)
		return status;
	snprintf(path, sizeof(path), "%s/exit", dir);
	f = fopen(path, "we");
	if (f) {
		fprintf(f, "%d\n", status);
		fclose(f);
	}
	return status;
}

/*
 * kmig --daemon[=SOCKET] COMMAND ARGS...: the command as a kmigd job,
 * followed to its end (--json among ARGS: its record as JSON).
 */
static int daemon_run(int argc, char *argv[])
{
	const char *socket = argv[1][8] ? argv[1] + 9 : NULL;
	bool json = false;
	char **run;
	int i, status;

	if (argc < 3) {
		fprintf(stderr, "kmig --daemon: a command is required\n");
		return 2;
	}
	run = calloc(argc, sizeof(*run));
	if (!run)
		return 1;
	run[0] = "run";
	for (i = 2; i < argc; i++) {
		run[i - 1] = argv[i];
		json |= !strcmp(argv[i], "--json");
	}
	status = job_run(socket, json, argc - 1, run);
	free(run);
	return status;
}

static void show_usage(FILE *file)
{
	size_t i;

	fprintf(file, "Usage: kmig <command> [<args>]\n\nCommands:\n");
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(file, "  %-17s %s\n", subcommands[i].name,
			subcommands[i].description);
	fprintf(file, "\n'kmig <command> --help' shows a command's options.\n"
		"'kmig --daemon[=SOCKET] <command> ...' runs it as a job of kmigd\n"
		"(kmig job run <command> ...).\n");
}

int main(int argc, char *argv[])
{
	size_t i;

	if (argc < 2) {
		show_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("kmig agent %s (api %d)\n", KMIG_AGENT_VERSION,
		       KMIG_API_VERSION);
		return 0;
	}
	if (!strncmp(argv[1], "--daemon", 8) &&
	    (!argv[1][8] || argv[1][8] == '='))
		return daemon_run(argc, argv);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		show_usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (!strcmp(argv[1], subcommands[i].name))
			return job_exit(subcommands[i].main(argc - 1, argv + 1));
	}
	fprintf(stderr, "kmig: unknown command '%s'\n\n", argv[1]);
	show_usage(stderr);
	return 2;
}
