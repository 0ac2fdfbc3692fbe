// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's command line: usage, help, unknown commands, and a clear word
 * when the module is not there. Runs the agent named by $KMIG_AGENT.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"

struct run {
	int status;
	char out[4096];
	char err[4096];
};

static void drain(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	buf[len] = '\0';
}

/* Run the agent with @args (NULL-terminated); collect exit code and output. */
static int agent(struct run *run, const char *const args[])
{
	const char *path = getenv("KMIG_AGENT") ?: "build/kmig";
	char *argv[16] = { (char *)path };
	int out[2], err[2], i;
	pid_t pid;

	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = (char *)args[i];
	if (pipe(out) || pipe(err))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(path, argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	drain(out[0], run->out, sizeof(run->out));
	drain(err[0], run->err, sizeof(run->err));
	close(out[0]);
	close(err[0]);
	if (waitpid(pid, &run->status, 0) != pid || !WIFEXITED(run->status))
		return -1;
	run->status = WEXITSTATUS(run->status);
	return 0;
}

TEST(no_command_prints_usage_and_fails)
{
	const char *const args[] = { NULL };
	struct run run;

	ASSERT_EQ(0, agent(&run, args));
	EXPECT_EQ(2, run.status);
	EXPECT_NE(NULL, strstr(run.err, "Usage: kmig"));
}

TEST(help_lists_every_command)
{
	const char *const args[] = { "--help", NULL };
	struct run run;

	ASSERT_EQ(0, agent(&run, args));
	EXPECT_EQ(0, run.status);
	EXPECT_NE(NULL, strstr(run.out, "version"));
}

TEST(unknown_command_is_named)
{
	const char *const args[] = { "frobnicate", NULL };
	struct run run;

	ASSERT_EQ(0, agent(&run, args));
	EXPECT_EQ(2, run.status);
	EXPECT_NE(NULL, strstr(run.err, "unknown command 'frobnicate'"));
}

TEST(version_rejects_extra_arguments)
{
	const char *const args[] = { "version", "--bogus", NULL };
	struct run run;

	ASSERT_EQ(0, agent(&run, args));
	EXPECT_EQ(2, run.status);
	EXPECT_NE(NULL, strstr(run.err, "unexpected argument '--bogus'"));
}

TEST(version_without_module_says_so)
{
	const char *const args[] = { "version", NULL };
	struct run run;
	struct stat st;

	if (!stat("/sys/module/kmig", &st))
		SKIP(return, "the kmig module is loaded on this machine");
	ASSERT_EQ(0, agent(&run, args));
	EXPECT_EQ(0, run.status) TH_LOG("%s", run.err);
	EXPECT_NE(NULL, strstr(run.out, "kmig agent"));
	EXPECT_NE(NULL, strstr(run.out, "kmig module: not loaded"))
		TH_LOG("%s", run.out);
}

TEST(dash_dash_version_is_the_agents)
{
	const char *const args[] = { "--version", NULL };
	struct run run;

	ASSERT_EQ(0, agent(&run, args));
	EXPECT_EQ(0, run.status);
	EXPECT_NE(NULL, strstr(run.out, "kmig agent")) TH_LOG("%s", run.err);
}

TEST(stats_options_are_not_context_ids)
{
	const char *const help[] = { "stats", "-h", NULL };
	const char *const bogus[] = { "stats", "--bogus", NULL };
	struct run run;

	ASSERT_EQ(0, agent(&run, help));
	EXPECT_EQ(0, run.status) TH_LOG("%s", run.err);
	EXPECT_NE(NULL, strstr(run.out, "Usage: kmig stats"));
	ASSERT_EQ(0, agent(&run, bogus));
	EXPECT_EQ(2, run.status);
	EXPECT_NE(NULL, strstr(run.err, "unknown option '--bogus'"))
		TH_LOG("%s", run.err);
}

TEST(stats_and_devices_take_json)
{
	const char *const stats[] = { "stats", "--json", NULL };
	const char *const devices[] = { "devices", "--json", NULL };
	struct run run;
	struct stat st;

	if (!stat("/sys/module/kmig", &st))
		SKIP(return, "the kmig module is loaded on this machine");
	ASSERT_EQ(0, agent(&run, stats));
	EXPECT_EQ(1, run.status);
	EXPECT_NE(NULL, strstr(run.err, "the kmig module is not loaded"))
		TH_LOG("%s", run.err);
	ASSERT_EQ(0, agent(&run, devices));
	EXPECT_EQ(1, run.status);
	EXPECT_NE(NULL, strstr(run.err, "the kmig module is not loaded"))
		TH_LOG("%s", run.err);
}

/* Without the module: --json still reports, and libkmod stays quiet. */
TEST(json_reports_an_early_failure)
{
	const char *const args[] = { "migrate", "--vmm", "@kmig-cli-none",
				     "--to", "127.0.0.1:9", "--json", NULL };
	struct run run;
	struct stat st;

	if (!stat("/sys/module/kmig", &st))
		SKIP(return, "the kmig module is loaded on this machine");
	ASSERT_EQ(0, agent(&run, args));
	EXPECT_EQ(1, run.status);
	EXPECT_NE(NULL, strstr(run.out, "\"status\": \"failed\""))
		TH_LOG("stdout: %s", run.out);
	EXPECT_NE(NULL, strstr(run.out, "\"error\": \"the kmig module is not loaded"));
	EXPECT_EQ(NULL, strstr(run.err, "libkmod")) TH_LOG("%s", run.err);
}

/* Every option of migrate and incoming is checked before anything runs. */
static const struct {
	const char *args[12];
	const char *msg;
} bad_usage[] = {
	{ { "migrate", NULL }, "--vmm SOCK is required" },
	{ { "migrate", "--vmm", "@x", NULL }, "--to ADDR:PORT is required" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1", NULL },
	  "'10.0.0.1' is not ADDR:PORT" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0:1", NULL },
	  "'10.0.0' is not an IPv4 address" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:0", NULL },
	  "port 0 is outside 1..65535" },
	{ { "migrate", "--vmm", "@x", "--to", "::1:7", NULL },
	  "put an IPv6 address in brackets: [::1]:7" },
	{ { "migrate", "--vmm", "@x", "--to", "[::1]", NULL },
	  "'[::1]' is not ADDR:PORT" },
	{ { "migrate", "--vmm", "@x", "--to", "[::g]:7", NULL },
	  "'::g' is not an IPv6 address" },
	{ { "migrate", "--vmm", "@x", "--to", "[::1:7", NULL },
	  "'[::1:7' is not ADDR:PORT" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--channels", "17",
	    NULL }, "--channels 17 is outside 1..16" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--channels", "x",
	    NULL }, "--channels 'x' is not a number" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--max-downtime",
	    "0", NULL }, "--max-downtime 0 is outside" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--bandwidth",
	    "-5", NULL }, "--bandwidth '-5' is not a number" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--timeout", "0",
	    NULL }, "--timeout 0 is outside" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--io-timeout",
	    "1", NULL }, "--io-timeout 1 is outside 2..3600" },
	{ { "incoming", "--vmm", "@x", "--listen", "127.0.0.1:7",
	    "--io-timeout",
	    "3601", NULL }, "--io-timeout 3601 is outside 2..3600" },
	{ { "incoming", "--vmm", "@x", "--listen", "127.0.0.1:7",
	    "--io-timeout", NULL },
	  "--io-timeout needs a value" },
	{ { "resume", NULL }, "--vmm SOCK is required" },
	{ { "resume", "--vmm", "@x", "--to", "10.0.0.1:7", NULL },
	  "unknown option '--to'" },
	{ { "resume", "--vmm", "@x", "--device", "d", NULL },
	  "--device 'd' is not NAME:INSTANCE" },
	{ { "resume", "--vmm", "@x", "stray", NULL },
	  "unexpected argument 'stray'" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--device", "dev",
	    NULL }, "--device 'dev' is not NAME:INSTANCE" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--device",
	    "dev:70000", NULL }, "--device instance 70000 is outside" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--device", "d:1",
	    "--device", "d:1", NULL }, "--device d:1 given twice" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7",
	    "--save-at-switchover", "/nonexistent/dir", NULL },
	  "'/nonexistent/dir' is not a directory" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--frob", NULL },
	  "unknown option '--frob'" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "extra", NULL },
	  "unexpected argument 'extra'" },
	{ { "incoming", "--vmm", "@x", NULL }, "--listen ADDR:PORT is required" },
	{ { "incoming", "--vmm", "@x", "--listen", "7000", NULL },
	  "--listen 7000 has no address: give the one to listen on, e.g. 192.0.2.1:7000 or [2001:db8::1]:7000 (every address: 0.0.0.0:7000 or [::]:7000)" },
	{ { "incoming", "--vmm", "@x", "--listen", "127.0.0.1:65536", NULL },
	  "port 65536 is outside 1..65535" },
	{ { "incoming", "--vmm", "@x", "--listen", "localhost:7000", NULL },
	  "--listen 'localhost' is not an IP address" },
	{ { "incoming", "--listen", "0.0.0.0:7000", NULL },
	  "--vmm SOCK is required" },
	{ { "incoming", "--vmm", "@x", "--listen", "[::]:7000", "--channels", "2",
	    NULL }, "unknown option '--channels'" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--tls-creds",
	    "/tmp", "--tls-psk", "/tmp/k", NULL },
	  "--tls-creds and --tls-psk exclude each other" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--tls-creds",
	    "/nonexistent", NULL },
	  "TLS credentials /nonexistent/ca-cert.pem: No such file" },
	{ { "incoming", "--vmm", "@x", "--listen", "0.0.0.0:7", "--tls-psk",
	    "/nonexistent/keys.psk", NULL },
	  "TLS key file /nonexistent/keys.psk: No such file" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--postcopy-after",
	    "0", NULL }, "--postcopy-after 0 is outside 1..1000000" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--postcopy-after",
	    "0s", NULL }, "--postcopy-after 0 is outside 1..86400" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--postcopy-after",
	    "s", NULL }, "--postcopy-after '' is not a number" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7",
	    "--postcopy-bandwidth", "0", NULL },
	  "--postcopy-bandwidth 0 is outside 1..1048576" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--postcopy",
	    "--postcopy-prefetch", "97", NULL },
	  "--postcopy-prefetch 97 is outside 0..96" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7",
	    "--postcopy-prefetch", "4", NULL },
	  "--postcopy-prefetch needs --postcopy" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--resume",
	    "--postcopy", NULL },
	  "--resume takes only --vmm, --to, --channels, --timeout, --io-timeout, --tls-creds or --tls-psk, and --json" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--resume",
	    "--channels", "17", NULL }, "--channels 17 is outside 1..16" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--resume",
	    "--timeout", "0", NULL }, "--timeout 0 is outside 1..86400" },
	{ { "migrate", "--vmm", "@x", "--to", "10.0.0.1:7", "--postcopy-after",
	    "start", NULL }, "--postcopy-after start needs --ctl SOCK" },
	{ { "postcopy-recover", "--vmm", "@x", NULL },
	  "--listen ADDR:PORT is required" },
	{ { "postcopy-recover", "--vmm", "@x", "--listen", "127.0.0.1:7",
	    "--channels", "0", NULL }, "--channels 0 is outside 1..16" },
	{ { "postcopy-recover", "--vmm", "@x", "--listen", "127.0.0.1:7",
	    "--tls-psk", "/nonexistent/psk", NULL }, "/nonexistent/psk" },
	{ { "postcopy-recover", "--listen", "127.0.0.1:7", NULL },
	  "--vmm SOCK is required" },
	{ { "postcopy-recover", "--vmm", "@x", "--listen", "127.0.0.1:7",
	    "extra", NULL }, "unexpected argument 'extra'" },
	{ { "postcopy-start", NULL }, "--ctl SOCK is required" },
	{ { "postcopy-start", "--ctl", "@c", "--frob", NULL },
	  "kmig postcopy-start: unknown option '--frob'" },
	{ { "postcopy-start", "--ctl", NULL },
	  "kmig postcopy-start: --ctl needs a value" },
	/* COLO's roles take the same options the same way */
	{ { "colo", "primary", NULL }, "--vmm SOCK is required" },
	{ { "colo", "primary", "--vmm", "", "--to", "10.0.0.1:7", NULL },
	  "--vmm is empty" },
	{ { "colo", "primary", "--vmm", "@x", NULL },
	  "--to ADDR:PORT is required" },
	{ { "colo", "primary", "--vmm", "@x", "--to", "10.0.0.1", NULL },
	  "'10.0.0.1' is not ADDR:PORT" },
	{ { "colo", "primary", "--vmm", "@x", "--to", NULL },
	  "kmig colo primary: --to needs a value" },
	{ { "colo", "primary", "--vmm", "@x", "--to", "10.0.0.1:7",
	    "--timeout", "3601", NULL }, "--timeout 3601 is outside 1..3600" },
	{ { "colo", "primary", "--vmm", "@x", "--to", "10.0.0.1:7",
	    "--checkpoint-ms", "0", NULL },
	  "--checkpoint-ms 0 is outside 1..60000" },
	{ { "colo", "primary", "--vmm", "@x", "--to", "10.0.0.1:7",
	    "--checkpoints", "x", NULL }, "--checkpoints 'x' is not a number" },
	{ { "colo", "primary", "--vmm", "@x", "--to", "10.0.0.1:7",
	    "--stream", "x", NULL }, "--stream 'x' is not a number" },
	{ { "colo", "primary", "--vmm", "@x", "--to", "10.0.0.1:7",
	    "--checkpoint-ms", "100", "--stream", "100", NULL },
	  "--stream 100 ms must be shorter than --checkpoint-ms 100" },
	{ { "colo", "primary", "--vmm", "@x", "--to", "10.0.0.1:7",
	    "--heartbeat", "10001", NULL },
	  "--heartbeat 10001 is outside 0..10000" },
	{ { "colo", "primary", "--vmm", "@x", "--to", "10.0.0.1:7",
	    "--heartbeat-timeout", "5", NULL },
	  "--heartbeat-timeout 5 is outside 10..3600000" },
	{ { "colo", "secondary", "--vmm", "@x", "--listen", "127.0.0.1:7",
	    "--threads", "17", NULL }, "--threads 17 is outside 1..16" },
	{ { "colo", "secondary", "--vmm", "@x", "--listen", "127.0.0.1:7",
	    "--heartbeat", "500", "--heartbeat-timeout", "999", NULL },
	  "--heartbeat-timeout 999 ms is under two beats of --heartbeat 500 ms" },
	{ { "colo", "primary", "--vmm", "@x", "--to", "10.0.0.1:7", "--frob",
	    NULL }, "kmig colo primary: unknown option '--frob'" },
	{ { "colo", "primary", "--vmm", "@x", "--to", "10.0.0.1:7",
	    "--listen", "127.0.0.1:7", NULL }, "unknown option '--listen'" },
	{ { "colo", "primary", "--vmm", "@x", "--to", "10.0.0.1:7", "extra",
	    NULL }, "(see 'kmig colo primary --help')" },
	{ { "colo", "secondary", "--listen", "127.0.0.1:7", NULL },
	  "--vmm SOCK is required" },
	{ { "colo", "secondary", "--vmm", "@x", NULL },
	  "--listen ADDR:PORT is required" },
	{ { "colo", "secondary", "--vmm", "@x", "--listen", "7000", NULL },
	  "--listen 7000 has no address" },
	{ { "colo", "secondary", "--vmm", "@x", "--listen", "127.0.0.1:7",
	    "--fence", "", NULL }, "--fence is empty" },
	{ { "colo", "secondary", "--vmm", "@x", "--listen", "127.0.0.1:7",
	    "--timeout", "0", NULL }, "--timeout 0 is outside 1..3600" },
	{ { "colo", "secondary", "--vmm", "@x", "--listen", "127.0.0.1:7",
	    "--to", "10.0.0.1:7", NULL }, "unknown option '--to'" },
	{ { "colo", "secondary", "--vmm", "@x", "--listen", "127.0.0.1:7",
	    "--control", NULL }, "kmig colo secondary: --control needs a value" },
	{ { "colo", "failover", NULL }, "--control SOCK is required" },
	{ { "colo", "failover", "--control", "@c", "--vmm", "@x", NULL },
	  "kmig colo failover: unknown option '--vmm'" },
	{ { "colo", "failover", "--control", "@c", "extra", NULL },
	  "unexpected argument 'extra'" },
	{ { "colo", "failover", "--control", "", NULL },
	  "--control : not a socket path" },
	{ { "stats", "0", NULL }, "'0' is not a context id" },
	{ { "stats", "1", "2", NULL }, "unexpected argument '2'" },
};

TEST(migration_options_are_validated)
{
	struct run run;
	size_t i;

	for (i = 0; i < sizeof(bad_usage) / sizeof(bad_usage[0]); i++) {
		ASSERT_EQ(0, agent(&run, bad_usage[i].args));
		EXPECT_EQ(2, run.status) TH_LOG("case %zu: %s", i, run.err);
		EXPECT_NE(NULL, strstr(run.err, bad_usage[i].msg))
			TH_LOG("case %zu: want '%s', got '%s'", i,
			       bad_usage[i].msg, run.err);
	}
}

TEST(migration_commands_have_help)
{
	static const char *const cmds[][2] = {
		{ "migrate" }, { "incoming" }, { "stats" },
		{ "postcopy-recover" }, { "colo", "primary" },
		{ "colo", "secondary" }, { "colo", "failover" },
		{ "postcopy-start" },
	};
	const char *args[4];
	char usage[64];
	struct run run;
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		args[0] = cmds[i][0];
		args[1] = cmds[i][1] ? cmds[i][1] : "--help";
		args[2] = cmds[i][1] ? "--help" : NULL;
		args[3] = NULL;
		snprintf(usage, sizeof(usage), "Usage: kmig %s%s%s ", cmds[i][0],
			 cmds[i][1] ? " " : "", cmds[i][1] ? cmds[i][1] : "");
		ASSERT_EQ(0, agent(&run, args));
		EXPECT_EQ(0, run.status) TH_LOG("%s: %s", usage, run.err);
		EXPECT_NE(NULL, strstr(run.out, usage)) TH_LOG("%s", run.out);
	}
}

TEST_HARNESS_MAIN
