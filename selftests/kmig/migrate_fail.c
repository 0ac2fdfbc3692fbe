// SPDX-License-Identifier: GPL-2.0
/*
 * Migrations that go wrong: the link is cut, the stream is corrupted on the
 * way, or one of the agents is killed. Whatever happens, the source guest
 * keeps running untouched, the destination never resumes a half-loaded
 * guest, and both agents end with a clear error instead of hanging.
 *
 * Then the switchover handshake (MIG_HS_* in user/kmig/mig.h), broken at
 * each step: the guest never runs on both hosts, and when neither side
 * can know whether it runs on the other, it stays paused on the source,
 * intact, until someone resumes it there.
 *
 * The link cut runs between two network namespaces joined by veth
 * (selftests/qemu/hosts.sh); the other cases run over loopback.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kmig.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "kselftest_harness.h"
#include "netlink.h"

#define RUN_DIR		"/run/kmig-migrate-fail"
#define VMM_A		RUN_DIR "/vm-a.sock"
#define VMM_B		RUN_DIR "/vm-b.sock"

static char project[512];

static const char *bin(const char *rel)
{
	static char path[4][640];
	static int i;

	i = (i + 1) % 4;
	snprintf(path[i], sizeof(path[i]), "%s/build/%s", project, rel);
	return path[i];
}

/* Start @argv (NULL-terminated) in network namespace @ns (or none), its
 * output in @log.
 */
static pid_t spawn(const char *ns, const char *log, const char *const argv[])
{
	const char *full[32];
	int n = 0, i, fd;
	pid_t pid;

	if (ns) {
		full[n++] = "ip";
		full[n++] = "netns";
		full[n++] = "exec";
		full[n++] = ns;
	}
	for (i = 0; argv[i] && n < 31; i++)
		full[n++] = argv[i];
	full[n] = NULL;

	pid = fork();
	if (pid)
		return pid;
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	execvp(full[0], (char *const *)full);
	_exit(127);
}

/* Exit status of @pid, waiting at most @timeout_s; -1 if it still runs. */
static int wait_exit(pid_t pid, int timeout_s)
{
	int status, i;

	for (i = 0; i < timeout_s * 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) :
						   128 + WTERMSIG(status);
		usleep(100000);
	}
	return -1;
}

static void stop(pid_t pid)
{
	if (pid > 0 && !kill(pid, SIGKILL))
		waitpid(pid, NULL, 0);
}

/* The first 16 KiB of @path, or "" (static: valid until the next call). */
static const char *file_text(const char *path)
{
	static char buf[16384];
	ssize_t n = -1;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int file_has(const char *path, const char *needle)
{
	return strstr(file_text(path), needle) != NULL;
}

static int vmm_status(const char *sock, struct vmm_status *st)
{
	struct vmm_client c;
	int ret;

	ret = vmm_client_connect(&c, sock, 5000);
	if (ret)
		return ret;
	ret = vmm_client_status(&c, st);
	vmm_client_close(&c);
	return ret;
}

/*
 * Netlink in the network namespace of process @pid: a context shows only
 * in its opener's namespace.
 */
static int nl_open_at(pid_t pid, struct kmig_nl *nl)
{
	int here, there, ret = -EIO;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	here = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	there = open(path, O_RDONLY | O_CLOEXEC);
	if (here >= 0 && there >= 0 && !setns(there, CLONE_NEWNET)) {
		ret = kmig_nl_open(nl) ? -EIO : 0;
		if (setns(here, CLONE_NEWNET))
			abort();
	}
	if (here >= 0)
		close(here);
	if (there >= 0)
		close(there);
	return ret;
}

/* At most @limit pages for the context of the VMM with process id @pid. */
static int ctx_page_limit(pid_t pid, uint64_t limit)
{
	struct kmig_nl_ctx ctx[16];
	struct kmig_nl nl;
	int n, i, ret = -ENOENT;

	if (nl_open_at(pid, &nl))
		return -EIO;
	if (!kmig_nl_ctx_list(&nl, ctx, 16, &n)) {
		for (i = 0; i < n && i < 16; i++)
			if (ctx[i].owner == (uint32_t)pid)
				ret = kmig_nl_ctx_set_page_limit(&nl, ctx[i].id,
								 limit);
	}
	kmig_nl_close(&nl);
	return ret;
}

/* The context of the VMM with process id @pid logs dirty pages. */
static int ctx_tracking(pid_t pid)
{
	struct kmig_nl_ctx ctx[16];
	struct kmig_nl nl;
	int n, i, ret = -ENOENT;

	if (nl_open_at(pid, &nl))
		return -EIO;
	if (!kmig_nl_ctx_list(&nl, ctx, 16, &n)) {
		for (i = 0; i < n && i < 16; i++)
			if (ctx[i].owner == (uint32_t)pid)
				ret = !!(ctx[i].mode & KMIG_CTX_MODE_DIRTY_LOG);
	}
	kmig_nl_close(&nl);
	return ret;
}

FIXTURE(fail) {
	pid_t vmm_a, vmm_b, incoming, migrate, proxy;
	bool netns;
};

FIXTURE_SETUP(fail)
{
	const char *p = getenv("KMIG_PROJECT");

	ASSERT_NE(NULL, p);
	snprintf(project, sizeof(project), "%s", p);
	mkdir(RUN_DIR, 0700);
	unlink(VMM_A);
	unlink(VMM_B);
	memset(self, 0, sizeof(*self));
}

FIXTURE_TEARDOWN(fail)
{
	stop(self->migrate);
	stop(self->incoming);
	stop(self->proxy);
	stop(self->vmm_a);
	stop(self->vmm_b);
	if (self->netns)
		ASSERT_EQ(0, system(". \"$KMIG_PROJECT/selftests/qemu/hosts.sh\" && hosts_down"));
}

/*
 * A source guest of @mem MiB dirtying @rate pages/s, a destination of
 * @vcpus_b vCPUs waiting, an incoming agent on @listen and a migration to
 * @to, capped at @bandwidth MiB/s unless NULL.
 */
struct setup {
	const char *ns_a, *ns_b;
	const char *mem, *rate, *vcpus_b, *bandwidth;
	const char *listen, *to;
	uint64_t page_limit_b;		/* pages the destination may have */
};

static void start(struct __test_metadata *_metadata, FIXTURE_DATA(fail) *self,
		  const struct setup *u)
{
	const char *vmm_a[] = { bin("vmm/kmig-vmm"), "--ctl", VMM_A,
				"--mem", u->mem, "--pattern", "random",
				"--rate", u->rate, NULL };
	const char *vmm_b[] = { bin("vmm/kmig-vmm"), "--ctl", VMM_B,
				"--mem", u->mem, "--vcpus", u->vcpus_b,
				"--incoming", NULL };
	const char *inc[] = { bin("kmig"), "incoming", "--vmm", VMM_B,
			      "--listen", u->listen, "--timeout", "60", NULL };
	const char *mig[] = { bin("kmig"), "migrate", "--vmm", VMM_A,
			      "--to", u->to, "--timeout", "60",
			      u->bandwidth ? "--bandwidth" : NULL, u->bandwidth,
			      NULL };
	struct vmm_status st;

	self->vmm_a = spawn(u->ns_a, "vmm-a.log", vmm_a);
	self->vmm_b = spawn(u->ns_b, "vmm-b.log", vmm_b);
	ASSERT_EQ(0, vmm_status(VMM_A, &st));
	ASSERT_STREQ("running", st.state);
	ASSERT_EQ(0, vmm_status(VMM_B, &st));
	ASSERT_STREQ("incoming", st.state);
	if (u->page_limit_b)
		ASSERT_EQ(0, ctx_page_limit(self->vmm_b, u->page_limit_b));
	self->incoming = spawn(u->ns_b, "incoming.log", inc);
	usleep(500000);
	self->migrate = spawn(u->ns_a, "migrate.log", mig);
}

/*
 * A migration capped at 1 MiB/s of a guest dirtying memory fast, so that
 * precopy lasts well beyond the moment the test breaks something.
 */
static void start_migration(struct __test_metadata *_metadata,
			    FIXTURE_DATA(fail) *self, const char *ns_a,
			    const char *ns_b, const char *listen,
			    const char *to)
{
	const struct setup u = {
		.ns_a = ns_a, .ns_b = ns_b, .mem = "32", .rate = "20000",
		.vcpus_b = "1", .bandwidth = "1", .listen = listen, .to = to,
	};

	start(_metadata, self, &u);
	sleep(2);
	/* Still in precopy. */
	ASSERT_EQ(-1, wait_exit(self->migrate, 0));
}

/*
 * Both agents end: the source with @mig_status, the destination with 1,
 * each within @secs seconds and saying @mig_says and @in_says (if given).
 */
static void agents_end(struct __test_metadata *_metadata,
		       FIXTURE_DATA(fail) *self, int mig_status, int secs,
		       const char *mig_says, const char *in_says)
{
	EXPECT_EQ(mig_status, wait_exit(self->migrate, secs));
	self->migrate = 0;
	EXPECT_EQ(1, wait_exit(self->incoming, secs));
	self->incoming = 0;
	if (mig_says)
		EXPECT_TRUE(file_has("migrate.log", mig_says))
			TH_LOG("kmig migrate did not say '%s': %s", mig_says,
			       file_text("migrate.log"));
	if (in_says)
		EXPECT_TRUE(file_has("incoming.log", in_says))
			TH_LOG("kmig incoming did not say '%s': %s", in_says,
			       file_text("incoming.log"));
}

/* Exit status of `kmig resume --vmm @sock`, its output in resume.log. */
static int kmig_resume(const char *sock)
{
	const char *argv[] = { bin("kmig"), "resume", "--vmm", sock, NULL };

	return wait_exit(spawn(NULL, "resume.log", argv), 30);
}

/* The source guest still runs on its own, with dirty tracking off. */
static void source_untouched(struct __test_metadata *_metadata,
			     FIXTURE_DATA(fail) *self, bool tracking_off)
{
	struct vmm_status st;
	uint64_t c1;

	ASSERT_EQ(0, vmm_status(VMM_A, &st));
	EXPECT_STREQ("running", st.state);
	c1 = st.counter;
	usleep(500000);
	ASSERT_EQ(0, vmm_status(VMM_A, &st));
	EXPECT_LT(c1, st.counter);
	if (tracking_off)
		EXPECT_EQ(0, ctx_tracking(self->vmm_a));
}

/* The destination never resumed a half-loaded guest. */
static void destination_not_resumed(struct __test_metadata *_metadata)
{
	struct vmm_status st;

	ASSERT_EQ(0, vmm_status(VMM_B, &st));
	EXPECT_STREQ("incoming", st.state);
}

TEST_F_TIMEOUT(fail, link_cut_during_precopy, 240)
{
	self->netns = true;
	ASSERT_EQ(0, system(". \"$KMIG_PROJECT/selftests/qemu/hosts.sh\" && hosts_down && hosts_up"));
	start_migration(_metadata, self, "kmig-a", "kmig-b",
			"198.18.0.2:4450", "198.18.0.2:4450");

	ASSERT_EQ(0, system(". \"$KMIG_PROJECT/selftests/qemu/hosts.sh\" && link_cut"));
	agents_end(_metadata, self, 1, 45, "kmig migrate: ", "kmig incoming: ");
	source_untouched(_metadata, self, true);
	destination_not_resumed(_metadata);
}

TEST_F_TIMEOUT(fail, corrupt_stream_is_refused, 240)
{
	const char *proxy[] = { bin("tools/tcpproxy"), "4452", "127.0.0.1",
				"4451", "3000", NULL };

	self->proxy = spawn(NULL, "proxy.log", proxy);
	usleep(300000);
	start_migration(_metadata, self, NULL, NULL, "127.0.0.1:4451",
			"127.0.0.1:4452");

	agents_end(_metadata, self, 1, 45, "kmig migrate: ", "record #");
	source_untouched(_metadata, self, true);
	destination_not_resumed(_metadata);
}

/*
 * SIGKILL for one agent, *@victim, in precopy: the other, *@survivor,
 * ends with 1 and says why in @log.
 */
static void kill_agent(struct __test_metadata *_metadata, pid_t *victim,
		       pid_t *survivor, const char *log, const char *says)
{
	kill(*victim, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, wait_exit(*victim, 5));
	*victim = 0;
	EXPECT_EQ(1, wait_exit(*survivor, 30));
	*survivor = 0;
	EXPECT_TRUE(file_has(log, says)) TH_LOG("%s", file_text(log));
}

TEST_F_TIMEOUT(fail, source_agent_killed, 240)
{
	start_migration(_metadata, self, NULL, NULL, "127.0.0.1:4453",
			"127.0.0.1:4453");

	kill_agent(_metadata, &self->migrate, &self->incoming, "incoming.log",
		   "kmig incoming: ");
	/* Tracking is left on: nobody was there to turn it off. */
	source_untouched(_metadata, self, false);
	destination_not_resumed(_metadata);
}

TEST_F_TIMEOUT(fail, destination_agent_killed, 240)
{
	start_migration(_metadata, self, NULL, NULL, "127.0.0.1:4454",
			"127.0.0.1:4454");

	kill_agent(_metadata, &self->incoming, &self->migrate, "migrate.log",
		   "kmig migrate: ");
	source_untouched(_metadata, self, true);
	destination_not_resumed(_metadata);
}

/*
 * A migration that completes quickly unless something breaks it: a small
 * guest, no bandwidth cap. @vcpus_b vCPUs on the destination.
 */
static void start_switchover(struct __test_metadata *_metadata,
			     FIXTURE_DATA(fail) *self, const char *listen,
			     const char *to, const char *vcpus_b)
{
	const struct setup u = {
		.mem = "16", .rate = "2000", .vcpus_b = vcpus_b,
		.listen = listen, .to = to,
	};

	start(_metadata, self, &u);
}

/*
 * The destination may have 256 pages of the guest's 4096: installing the
 * rest fails with a clear error, and the source takes its guest back.
 */
TEST_F_TIMEOUT(fail, destination_out_of_memory_refuses_cleanly, 240)
{
	const struct setup u = {
		.mem = "16", .rate = "2000", .vcpus_b = "1",
		.listen = "127.0.0.1:4461", .to = "127.0.0.1:4461",
		.page_limit_b = 256,
	};

	start(_metadata, self, &u);
	agents_end(_metadata, self, 1, 60, "kmig migrate: ",
		   "No space left on device");
	source_untouched(_metadata, self, true);
	destination_not_resumed(_metadata);
}

static void start_proxy(FIXTURE_DATA(fail) *self, const char *port,
			const char *target_port, const char *cut)
{
	const char *proxy[] = { bin("tools/tcpproxy"), port, "127.0.0.1",
				target_port, "-1", cut, NULL };

	self->proxy = spawn(NULL, "proxy.log", proxy);
	usleep(300000);
}

/* LOADED never reaches the source: it takes its guest back. */
TEST_F_TIMEOUT(fail, lost_loaded_resumes_the_source, 240)
{
	start_proxy(self, "4456", "4457", "before-reply");
	start_switchover(_metadata, self, "127.0.0.1:4457", "127.0.0.1:4456",
			 "1");

	agents_end(_metadata, self, 1, 90,
		   "the destination did not load the guest",
		   "no go-ahead from the source");
	source_untouched(_metadata, self, true);
	destination_not_resumed(_metadata);
}

/*
 * The source sent GO, which never arrived: the guest may run on the
 * destination as far as the source can tell, so it stays paused there;
 * the destination never got GO, so it does not run there either. Nothing
 * is lost: resumed with kmig resume, the source guest goes on.
 */
TEST_F_TIMEOUT(fail, lost_go_leaves_the_guest_paused_and_whole, 240)
{
	struct vmm_status st;
	uint64_t c1;

	start_proxy(self, "4458", "4459", "after-reply");
	start_switchover(_metadata, self, "127.0.0.1:4459", "127.0.0.1:4458",
			 "1");

	agents_end(_metadata, self, 3, 90, "stays paused here",
		   "no go-ahead from the source");
	destination_not_resumed(_metadata);
	ASSERT_EQ(0, vmm_status(VMM_A, &st));
	EXPECT_STREQ("paused", st.state);
	EXPECT_EQ(0, ctx_tracking(self->vmm_a));
	c1 = st.counter;
	usleep(300000);
	ASSERT_EQ(0, vmm_status(VMM_A, &st));
	EXPECT_EQ(c1, st.counter);

	/* kmig resume refuses a VMM with no guest, and resumes ours. */
	EXPECT_EQ(1, kmig_resume(VMM_B));
	EXPECT_TRUE(file_has("resume.log", "is incoming: it has no guest to resume"))
		TH_LOG("%s", file_text("resume.log"));
	EXPECT_EQ(0, kmig_resume(VMM_A));
	EXPECT_TRUE(file_has("resume.log", "the guest runs here"))
		TH_LOG("%s", file_text("resume.log"));
	source_untouched(_metadata, self, true);
	destination_not_resumed(_metadata);
}

/* The destination cannot take the state (one vCPU short): it says so. */
TEST_F_TIMEOUT(fail, destination_refusing_the_state_resumes_the_source, 240)
{
	start_switchover(_metadata, self, "127.0.0.1:4460", "127.0.0.1:4460",
			 "2");

	agents_end(_metadata, self, 1, 90,
		   "the destination failed to load the guest",
		   "the VMM refused the vCPU state");
	source_untouched(_metadata, self, true);
	destination_not_resumed(_metadata);
}

TEST_HARNESS_MAIN
