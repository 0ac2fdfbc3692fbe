// SPDX-License-Identifier: GPL-2.0
/*
 * COLO's secondary lost, and the running primary protected again by a
 * new one (Documentation/colo.rst, "A new secondary"): a new incoming
 * VMM, a new `kmig colo secondary`, a new full entry filling its cache
 * from a new checkpoint 0, checkpoints verified equal, and a failover to
 * it at its last commit with the memory the primary had then.
 *
 * Two ways: `kmig colo primary` run again once the first one exited
 * (rerun), and one primary agent started --stay that waits, unprotected,
 * for `kmig colo protect` (protect_by_request), whose bad requests are
 * refused by name; --stay ended by a signal while unprotected.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "client.h"
#include "colo_check.h"
#include "kvm.h"
#include "proc.h"
#include "util.h"

#define TEST_TIMEOUT	180
#define VMM_ARGS	"--mem 8 --slots 2 --vcpus 1"
/* Each new secondary's checkpoints, verified, before the failover. */
#define CHECKPOINTS	5

FIXTURE(colo_rp) {
	struct vmm_proc a, b, c;	/* the primary's, the lost, the new */
	pid_t pri, sec;
	char pri_log[64], sec_log[64], log2[64];
	char ctl[48];			/* the primary's --control */
	uint64_t t0;
};

FIXTURE_SETUP(colo_rp)
{
	memset(self, 0, sizeof(*self));
	snprintf(self->pri_log, sizeof(self->pri_log),
		 "/dev/shm/colo-rp-%d.pri", getpid());
	snprintf(self->sec_log, sizeof(self->sec_log),
		 "/dev/shm/colo-rp-%d.sec", getpid());
	snprintf(self->log2, sizeof(self->log2),
		 "/dev/shm/colo-rp-%d.two", getpid());
	snprintf(self->ctl, sizeof(self->ctl), "@kmig-colo-rp-%d", getpid());
	self->t0 = kmig_now_ns();
}

FIXTURE_TEARDOWN(colo_rp)
{
	TH_LOG("%.1f s", (kmig_now_ns() - self->t0) / 1e9);
	proc_stop(&self->pri);
	proc_stop(&self->sec);
	vmm_stop(&self->a);
	vmm_stop(&self->b);
	vmm_stop(&self->c);
	unlink(self->pri_log);
	unlink(self->sec_log);
	unlink(self->log2);
}

/* What @log says after the last line holding @mark (all of it: NULL). */
static char *log_after(const char *log, const char *mark)
{
	char *t, *p, *last = NULL, *out;
	size_t len;

	t = file_read(log, &len);
	if (!t)
		return NULL;
	for (p = t; mark && (p = strstr(p, mark)); p++)
		last = p;
	out = strdup(mark ? (last ? last : "") : t);
	free(t);
	return out;
}

/* Whether @log holds @needle after the last @mark. */
static bool logged_after(const char *log, const char *mark,
			 const char *needle)
{
	char *t = log_after(log, mark);
	bool ret = t && strstr(t, needle);

	free(t);
	return ret;
}

/*
 * Wait until @log holds @needle after the last @mark (NULL: anywhere):
 * true, or false after PROC_WAIT_MS.
 */
static bool wait_logged(const char *log, const char *mark,
			const char *needle)
{
	int i;

	for (i = 0; i < PROC_WAIT_MS / 100; i++) {
		if (logged_after(log, mark, needle))
			return true;
		usleep(100 * 1000);
	}
	return false;
}

/* Wait until @log says checkpoint @seq committed after the last @mark. */
static bool wait_committed(const char *log, const char *mark,
			   unsigned int seq)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "checkpoint %u committed", seq);
	return wait_logged(log, mark, needle);
}

/*
 * The secondary's takeover (its checkpoint, the memory CRC it took
 * before resuming) against the CRC the primary logged at that
 * checkpoint's pause after @mark: 0 when they match, else -1 (logged).
 */
static int takeover_matches(struct __test_metadata *_metadata,
			    const char *pri_log, const char *mark,
			    const char *sec_log, unsigned long long *seq)
{
	unsigned int pri_crc, sec_crc;
	char *pri, *sec = log_after(sec_log, NULL);
	int ret = -1;

	if (colo_takeover_crc(sec, seq, &sec_crc)) {
		TH_LOG("no takeover: %s", sec ? sec : "");
		free(sec);
		return -1;
	}
	free(sec);
	pri = log_after(pri_log, mark);
	if (colo_pause_crc(pri, *seq, &pri_crc))
		TH_LOG("the primary logged no pause of checkpoint %llu", *seq);
	else if (pri_crc != sec_crc)
		TH_LOG("checkpoint %llu: crc %08x at the primary's pause, %08x at the takeover",
		       *seq, pri_crc, sec_crc);
	else
		ret = 0;
	free(pri);
	return ret;
}

/*
 * A new incoming VMM (@vmm_args: its layout) and `kmig colo secondary`
 * on it, at @port.
 */
static void start_secondary(struct __test_metadata *_metadata,
			    FIXTURE_DATA(colo_rp) *self, struct vmm_proc *v,
			    const char *name, unsigned int port,
			    const char *vmm_args)
{
	vmm_startf(v, vmm_sock(name), "/dev/null",
		   "%s --pattern random --rate 2000 --incoming", vmm_args);
	self->sec = proc_spawnf(NULL, self->sec_log,
				"%s colo secondary --vmm %s --listen 127.0.0.1:%u --timeout 30 --heartbeat-timeout 30000",
				proc_bin("kmig"), v->sock, port);
}

/*
 * The primary agent killed (its guest's host lost) once the secondary
 * committed CHECKPOINTS checkpoints after @mark in the primary's log:
 * the secondary @v takes over at its last commit, with the memory the
 * primary had at that checkpoint's pause, and its guest runs on.
 */
static void failover(struct __test_metadata *_metadata,
		     FIXTURE_DATA(colo_rp) *self, struct vmm_proc *v,
		     const char *pri_log, const char *mark)
{
	struct vmm_status st;
	unsigned long long seq = 0;

	ASSERT_TRUE(wait_committed(pri_log, mark, CHECKPOINTS))
		TH_LOG("%s\n%s", file_text(pri_log),
		       file_text(self->sec_log));
	proc_stop(&self->pri);
	vmm_stop(&self->a);
	ASSERT_EQ(0, proc_wait_exit(self->sec, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->sec_log));
	self->sec = 0;
	TH_LOG("%s", file_text(self->sec_log));
	ASSERT_EQ(0, takeover_matches(_metadata, pri_log, mark,
				      self->sec_log, &seq));
	EXPECT_LE(CHECKPOINTS, seq);
	ASSERT_EQ(0, vmm_status(v, &st));
	EXPECT_STREQ("running", st.state);
	vmm_wait_counter(v, st.counter, &st);
}

/* The first secondary's agent and VMM killed: its host is lost. */
static void lose_secondary(FIXTURE_DATA(colo_rp) *self)
{
	proc_stop(&self->sec);
	vmm_stop(&self->b);
}

/*
 * The primary's guest, dirtying (with @net_args its frames too), and
 * the first secondary at @port.
 */
static void start_pair(struct __test_metadata *_metadata,
		       FIXTURE_DATA(colo_rp) *self, unsigned int port,
		       const char *net_args)
{
	struct vmm_status st;

	vmm_startf(&self->a, vmm_sock("colo-rp-a"), "/dev/null",
		   "%s --pattern random --rate 2000 %s", VMM_ARGS, net_args);
	vmm_wait_counter(&self->a, 0, &st);
	start_secondary(_metadata, self, &self->b, "colo-rp-b", port, VMM_ARGS);
}

#define PRI_ARGS "--checkpoint-ms 100 --verify --timeout 30 --heartbeat-timeout 30000"

/* `kmig colo primary` to the secondary at @port, with @args, into @log. */
static void start_primary(FIXTURE_DATA(colo_rp) *self, const char *log,
			  unsigned int port, const char *args)
{
	self->pri = proc_spawnf(NULL, log,
				"%s colo primary --vmm %s --to 127.0.0.1:%u %s %s",
				proc_bin("kmig"), self->a.sock, port, args,
				PRI_ARGS);
}

/*
 * The secondary killed: the primary exits 1, its guest running here
 * unprotected (dirty logging off, its VMM free). `kmig colo primary`
 * again, to a new secondary, enters from a new checkpoint 0 and
 * protects the same guest: CHECKPOINTS verified commits, then the
 * failover.
 */
TEST_F_TIMEOUT(colo_rp, rerun, TEST_TIMEOUT)
{
	REQUIRE_BED();
	start_pair(_metadata, self, 24720, "");
	start_primary(self, self->pri_log, 24720, "");
	ASSERT_TRUE(wait_committed(self->pri_log, NULL, 2))
		TH_LOG("%s", file_text(self->pri_log));
	lose_secondary(self);
	EXPECT_EQ(1, proc_wait_exit(self->pri, PROC_WAIT_MS));
	self->pri = 0;
	EXPECT_TRUE(file_has(self->pri_log, "the guest runs here unprotected"))
		TH_LOG("%s", file_text(self->pri_log));
	vmm_expect_runs(self->a.sock);

	start_secondary(_metadata, self, &self->c, "colo-rp-c", 24721,
			VMM_ARGS);
	start_primary(self, self->log2, 24721, "");
	ASSERT_TRUE(wait_committed(self->log2, NULL, 0))
		TH_LOG("%s\n%s", file_text(self->log2),
		       file_text(self->sec_log));
	failover(_metadata, self, &self->c, self->log2, NULL);
}

/*
 * Frames the far end of the primary's veth received, or -1 (from
 * /proc/net/dev: /sys shows the bed's first network namespace).
 */
static long long frames_out(void)
{
	long long bytes, n = -1;
	char *t, *p;
	size_t len;

	t = file_read("/proc/net/dev", &len);
	p = t ? strstr(t, "kmr-p1:") : NULL;
	if (!p || sscanf(p, "kmr-p1: %lld %lld", &bytes, &n) != 2)
		n = -1;
	free(t);
	return n;
}

/* Whether kmr-p0's root qdisc is a plug. */
static bool plugged(void)
{
	return !system("tc qdisc show dev kmr-p0 root | grep -q '^qdisc plug'");
}

/*
 * `kmig colo @role --control @ctl @args` (split at spaces), its output
 * in @log: expected to exit @status, having said @want.
 */
static void ask(struct __test_metadata *_metadata, const char *log,
		const char *role, const char *ctl, const char *args,
		int status, const char *want)
{
	uint64_t t0 = kmig_now_ns();
	pid_t pid = proc_spawnf(NULL, log, "%s colo %s --control %s %s",
				proc_bin("kmig"), role, ctl, args);

	EXPECT_EQ(status, proc_wait_exit(pid, PROC_WAIT_MS))
		TH_LOG("%s", file_text(log));
	EXPECT_TRUE(file_has(log, want))
		TH_LOG("%s", file_text(log));
	TH_LOG("%s %s: %.0f ms", role, args, (kmig_now_ns() - t0) / 1e6);
}

/*
 * One primary agent, --stay: its secondary killed, it stays with its
 * guest running unprotected and its VMM free; checkpoints asked have
 * nowhere to go, a protect naming no address or a secondary that
 * refuses checkpoint 0 fails by name, and the one to a new
 * secondary answers once checkpoint 0 is
 * committed there; CHECKPOINTS verified commits and the failover
 * follow. While protected, a protect is refused. The guest's frames
 * (--output, a veth kmr-p0 == kmr-p1) are held while it is protected;
 * unprotected, the plug is gone and they flow.
 */
TEST_F_TIMEOUT(colo_rp, protect_by_request, TEST_TIMEOUT)
{
	const char *mark = "protecting the guest with the secondary at 127.0.0.1:24723";
	char args[96], *t;
	long long frames;

	REQUIRE_BED();
	ASSERT_EQ(0, system("ip link add kmr-p0 type veth peer name kmr-p1 && "
			    "ip link set kmr-p0 up && ip link set kmr-p1 up"));
	start_pair(_metadata, self, 24722, "--net-if kmr-p0");
	snprintf(args, sizeof(args), "--stay --control %s --output kmr-p0",
		 self->ctl);
	start_primary(self, self->pri_log, 24722, args);
	ASSERT_TRUE(wait_committed(self->pri_log, NULL, 2))
		TH_LOG("%s", file_text(self->pri_log));
	ask(_metadata, self->log2, "protect", self->ctl, "--to 127.0.0.1:24723", 1,
	    "err EISCONN the guest is protected already, by the secondary at 127.0.0.1:24722");

	lose_secondary(self);
	ASSERT_TRUE(wait_logged(self->pri_log, NULL, "unprotected: the guest is running here"))
		TH_LOG("%s", file_text(self->pri_log));
	EXPECT_EQ(-ETIMEDOUT, proc_wait_exit(self->pri, 0));
	vmm_expect_runs(self->a.sock);
	EXPECT_FALSE(plugged());
	frames = frames_out();
	usleep(1000 * 1000);
	EXPECT_LT(frames, frames_out());

	ask(_metadata, self->log2, "checkpoint", self->ctl, "", 1,
	    "err ENOTCONN the guest is unprotected");
	ask(_metadata, self->log2, "protect", self->ctl, "--to 24723", 2,
	    "is not ADDR:PORT");
	/* a secondary whose VMM has two vCPUs refuses checkpoint 0's one */
	start_secondary(_metadata, self, &self->b, "colo-rp-d", 24725,
			"--mem 8 --slots 2 --vcpus 2");
	ask(_metadata, self->log2, "protect", self->ctl, "--to 127.0.0.1:24725", 1,
	    "err ENODATA checkpoint 0: the secondary refused it");
	EXPECT_EQ(1, proc_wait_exit(self->sec, PROC_WAIT_MS));
	self->sec = 0;
	vmm_stop(&self->b);
	EXPECT_TRUE(wait_logged(self->pri_log, NULL, "the secondary refused it: No data available; the guest runs here unprotected"))
		TH_LOG("%s", file_text(self->pri_log));
	EXPECT_EQ(2, file_count(self->pri_log, "unprotected: the guest is running here"));

	start_secondary(_metadata, self, &self->c, "colo-rp-c", 24723,
			VMM_ARGS);
	ask(_metadata, self->log2, "protect", self->ctl, "--to 127.0.0.1:24723", 0,
	    "ok protected by 127.0.0.1:24723, checkpoint 0 committed");
	/* the plug in for each of the three protections */
	EXPECT_TRUE(plugged());
	EXPECT_EQ(3, file_count(self->pri_log, "output on kmr-p0 held from now on"));
	EXPECT_TRUE(wait_committed(self->pri_log, mark, 2));
	EXPECT_TRUE(logged_after(self->pri_log, mark, "checkpoint 2: output released"))
		TH_LOG("%s", file_text(self->pri_log));
	t = log_after(self->pri_log, "unprotected: ");
	TH_LOG("%s", t ? t : "");
	free(t);
	failover(_metadata, self, &self->c, self->pri_log, mark);
}

/*
 * --stay, unprotected, ended by SIGTERM: status 0, saying so, the guest
 * running on; its control socket gone with it.
 */
TEST_F_TIMEOUT(colo_rp, stay_stopped_by_signal, TEST_TIMEOUT)
{
	char args[96];

	REQUIRE_BED();
	start_pair(_metadata, self, 24726, "");
	snprintf(args, sizeof(args), "--stay --control %s", self->ctl);
	start_primary(self, self->pri_log, 24726, args);
	ASSERT_TRUE(wait_committed(self->pri_log, NULL, 0))
		TH_LOG("%s", file_text(self->pri_log));
	lose_secondary(self);
	ASSERT_TRUE(wait_logged(self->pri_log, NULL, "unprotected: the guest is running here"))
		TH_LOG("%s", file_text(self->pri_log));
	ASSERT_EQ(0, kill(self->pri, SIGTERM));
	EXPECT_EQ(0, proc_wait_exit(self->pri, PROC_WAIT_MS));
	self->pri = 0;
	EXPECT_TRUE(file_has(self->pri_log, "stopped by SIGTERM while unprotected; the guest runs here"))
		TH_LOG("%s", file_text(self->pri_log));
	vmm_expect_runs(self->a.sock);
	ask(_metadata, self->log2, "protect", self->ctl, "--to 127.0.0.1:24727", 1,
	    "cannot reach the primary at");
}

TEST_HARNESS_MAIN
