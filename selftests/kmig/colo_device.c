// SPDX-License-Identifier: GPL-2.0
/*
 * Device state in COLO checkpoints (Documentation/colo.rst, "Devices"):
 * kmig-sample instances 1 and 2 on the primary (`--device`), 3 and 4 on
 * the secondary, every checkpoint carrying both devices' whole state.
 *
 * Checked: at every commit the secondary's devices equal the primary's
 * at its pause (--verify: the ACK carries a CRC of the secondary's
 * devices saved again), also when they ran and diverged between commits
 * (--run), and at the end by the driver's own checksum; a takeover
 * resumes with the last committed device state and runs it; a
 * checkpoint whose device state a device refuses is refused whole
 * (memory and devices as they were); device lists that differ are
 * refused at the hello.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "colo_check.h"
#include "kdev.h"
#include "kvm.h"
#include "proc.h"

#define TEST_TIMEOUT	180
#define VMM_ARGS	"--mem 8 --slots 2 --vcpus 1 --pattern random --rate 2000"
#define PRI_DEVS	"--device kmig-sample:1 --device kmig-sample:2"
#define SEC_DEVS	"--device kmig-sample:3 --device kmig-sample:4"

FIXTURE(colo_dev) {
	struct vmm_proc a, b;
	pid_t pri, sec;
	char pri_log[64], sec_log[64];
	bool samples;
};

FIXTURE_SETUP(colo_dev)
{
	memset(self, 0, sizeof(*self));
	snprintf(self->pri_log, sizeof(self->pri_log),
		 "/dev/shm/colo-dev-%d.pri", getpid());
	snprintf(self->sec_log, sizeof(self->sec_log),
		 "/dev/shm/colo-dev-%d.sec", getpid());
}

/*
 * Each test's start, after its REQUIRE_BED() (a skip in the setup would
 * not stop the test): kmig-sample with instances 1..4, the primary's
 * changing all the time, the secondary's not unless the test says so;
 * the primary's VMM running, the secondary's incoming.
 */
static void start_bed(struct __test_metadata *_metadata,
		      FIXTURE_DATA(colo_dev) *self)
{
	uint32_t id;

	ASSERT_EQ(0, sample_load());
	self->samples = true;
	for (id = 1; id <= 4; id++)
		ASSERT_EQ(0, sample_create(id));
	ASSERT_EQ(0, sample_set_rate(1, 2000));
	ASSERT_EQ(0, sample_set_rate(2, 3000));
	ASSERT_EQ(0, sample_set_rate(3, 0));
	ASSERT_EQ(0, sample_set_rate(4, 0));
	vmm_startf(&self->a, vmm_sock("colo-dev-a"), "/dev/null", "%s",
		   VMM_ARGS);
	vmm_startf(&self->b, vmm_sock("colo-dev-b"), "/dev/null",
		   "%s --incoming", VMM_ARGS);
}

FIXTURE_TEARDOWN(colo_dev)
{
	uint32_t id;

	proc_stop(&self->pri);
	proc_stop(&self->sec);
	vmm_stop(&self->a);
	vmm_stop(&self->b);
	unlink(self->pri_log);
	unlink(self->sec_log);
	if (!self->samples)
		return;
	for (id = 1; id <= 4; id++)
		sample_destroy(id);
	EXPECT_EQ(0, sample_unload());
}

/* Both agents (colo_check.h), checkpoints lost after 30 s of silence. */
static void start_agents(FIXTURE_DATA(colo_dev) *self, unsigned int port,
			 const char *sec_args, const char *pri_args)
{
	char sa[256], pa[256];

	snprintf(sa, sizeof(sa), "--timeout 30 %s", sec_args);
	snprintf(pa, sizeof(pa), "--timeout 30 %s", pri_args);
	colo_start_agents(&self->sec, &self->pri, self->sec_log, self->pri_log,
			  self->b.sock, self->a.sock, port, sa, pa);
}

/* Exit status of the agent *@pid (0: reaped), or -ETIMEDOUT. */
static int agent_exit(pid_t *pid, int ms)
{
	int ret = proc_wait_exit(*pid, ms);

	if (ret != -ETIMEDOUT)
		*pid = 0;
	return ret;
}

static uint32_t checksum(struct __test_metadata *_metadata, uint32_t id)
{
	uint32_t crc = 0;

	EXPECT_EQ(0, sample_checksum(id, &crc));
	return crc;
}

/* The hex number after @key in the line of @log holding @line, or -1. */
static long long logged_hex(const char *log, const char *line,
			    const char *key)
{
	char *t, *p, *nl;
	unsigned int v;
	long long ret = -1;
	size_t len;

	t = file_read(log, &len);
	p = t ? strstr(t, line) : NULL;
	nl = p ? strchr(p, '\n') : NULL;
	if (nl)
		*nl = 0;
	p = p ? strstr(p, key) : NULL;
	if (p && sscanf(p + strlen(key), "%x", &v) == 1)
		ret = v;
	free(t);
	return ret;
}

/*
 * 5 checkpoints of a dirtying guest and two mutating devices into a
 * secondary that runs between commits, its own devices mutating faster
 * than the primary's: every commit loads over diverged devices and the
 * ACK's device CRC equals the primary's at the pause (the primary fails
 * otherwise). At the BYE the secondary goes back to checkpoint 4 and
 * stops; the primary is paused at it: each device pair has the same
 * driver checksum, the guests the same memory and vCPUs.
 */
TEST_F_TIMEOUT(colo_dev, diverged_devices_follow_the_primary, TEST_TIMEOUT)
{
	REQUIRE_BED();
	start_bed(_metadata, self);
	ASSERT_EQ(0, sample_set_rate(3, 5000));
	ASSERT_EQ(0, sample_set_rate(4, 5000));
	start_agents(self, 24700, "--run " SEC_DEVS,
		     "--checkpoints 4 --checkpoint-ms 100 --verify " PRI_DEVS);
	ASSERT_EQ(0, agent_exit(&self->pri, 120000))
		TH_LOG("%s", file_text(self->pri_log));
	ASSERT_EQ(0, agent_exit(&self->sec, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->sec_log));
	TH_LOG("%s", file_text(self->pri_log));
	/* each checkpoint's pause line and its commit's */
	EXPECT_EQ(5, file_count(self->pri_log, "committed, memory crc "));
	EXPECT_EQ(10, file_count(self->pri_log, ", device crc "));
	EXPECT_TRUE(file_has(self->sec_log, "back at checkpoint 4: "))
		TH_LOG("%s", file_text(self->sec_log));
	/* the devices did change from one checkpoint to the next */
	EXPECT_NE(logged_hex(self->pri_log, "checkpoint 1 committed",
			     "device crc "),
		  logged_hex(self->pri_log, "checkpoint 4 committed",
			     "device crc "));

	EXPECT_EQ(checksum(_metadata, 1), checksum(_metadata, 3));
	EXPECT_EQ(checksum(_metadata, 2), checksum(_metadata, 4));
	EXPECT_NE(checksum(_metadata, 1), checksum(_metadata, 2));
	EXPECT_EQ(0, colo_same_memory(&self->a, &self->b));
	EXPECT_EQ(0, colo_same_vcpus(&self->a, &self->b));
}

/*
 * The primary agent stopped with checkpoint 3 sent and its ACK unread,
 * then killed; the secondary (--run) ran its devices on past commit 3,
 * away from it. Its takeover goes back to checkpoint 3: the device CRC
 * it logs is the one the primary logged at that pause, and then the
 * devices run.
 */
TEST_F_TIMEOUT(colo_dev, takeover_resumes_the_committed_devices,
	       TEST_TIMEOUT)
{
	long long pri_dev, sec_dev, pri_mem, sec_mem;
	uint32_t c1, c2;
	int status;

	REQUIRE_BED();
	start_bed(_metadata, self);
	ASSERT_EQ(0, sample_set_rate(3, 5000));
	setenv("KMIG_STOP_AT", "colo-before-ack-3", 1);
	start_agents(self, 24701, "--run " SEC_DEVS,
		     "--checkpoint-ms 100 --verify " PRI_DEVS);
	unsetenv("KMIG_STOP_AT");
	ASSERT_TRUE(proc_stopped(self->pri, &status, 120000))
		TH_LOG("%s", file_text(self->pri_log));
	/* checkpoint 3 committed there, and its device runs away from it */
	ASSERT_TRUE(colo_wait_committed(self->sec_log, 3))
		TH_LOG("%s", file_text(self->sec_log));
	c1 = checksum(_metadata, 3);
	usleep(300 * 1000);
	c2 = checksum(_metadata, 3);
	EXPECT_NE(c1, c2);

	proc_stop(&self->pri);
	ASSERT_EQ(0, agent_exit(&self->sec, PROC_WAIT_MS))
		TH_LOG("%s", file_text(self->sec_log));
	TH_LOG("%s", file_text(self->sec_log));
	EXPECT_TRUE(file_has(self->sec_log, "back at checkpoint 3: "));
	pri_mem = logged_hex(self->pri_log, "primary: checkpoint 3: ",
			     "memory crc ");
	pri_dev = logged_hex(self->pri_log, "primary: checkpoint 3: ",
			     "device crc ");
	sec_mem = logged_hex(self->sec_log, "takeover at checkpoint 3",
			     "memory crc ");
	sec_dev = logged_hex(self->sec_log, "takeover at checkpoint 3",
			     "device crc ");
	ASSERT_LE(0, pri_dev) TH_LOG("%s", file_text(self->pri_log));
	ASSERT_LE(0, sec_dev);
	EXPECT_EQ(pri_mem, sec_mem);
	EXPECT_EQ(pri_dev, sec_dev);

	/* taken over: the guest and the devices run (device 4 idles) */
	c1 = checksum(_metadata, 3);
	usleep(300 * 1000);
	EXPECT_NE(c1, checksum(_metadata, 3));
	vmm_expect_runs(self->b.sock);
}

/*
 * Checkpoint 3's second device state damaged under a right checkpoint
 * CRC: device 4 refuses it, so the checkpoint is refused whole. Device 3
 * had taken its part and gives it up: both devices keep checkpoint 2's
 * state and are stopped (no error state), the memory is checkpoint 2's,
 * the primary's guest runs on unprotected.
 */
TEST_F_TIMEOUT(colo_dev, refused_device_state_refuses_the_checkpoint,
	       TEST_TIMEOUT)
{
	uint32_t d3, d4, crc, state;
	long long mem2;
	int fd;

	REQUIRE_BED();
	start_bed(_metadata, self);
	setenv("KMIG_COLO_CORRUPT_DEVICE", "3", 1);
	start_agents(self, 24702, SEC_DEVS,
		     "--checkpoint-ms 100 --verify " PRI_DEVS);
	unsetenv("KMIG_COLO_CORRUPT_DEVICE");
	/* the secondary's devices idle: only a commit changes them */
	ASSERT_TRUE(colo_wait_committed(self->sec_log, 2))
		TH_LOG("%s", file_text(self->sec_log));
	d3 = checksum(_metadata, 3);
	d4 = checksum(_metadata, 4);
	EXPECT_EQ(1, agent_exit(&self->pri, 120000));
	EXPECT_EQ(1, agent_exit(&self->sec, PROC_WAIT_MS));
	EXPECT_TRUE(file_has(self->pri_log, "checkpoint 3: the secondary refused it"))
		TH_LOG("%s", file_text(self->pri_log));
	EXPECT_TRUE(file_has(self->sec_log, "checkpoint 3: device kmig-sample:4 refused its state"))
		TH_LOG("%s", file_text(self->sec_log));
	EXPECT_FALSE(file_has(self->sec_log, "checkpoint 3 committed"));

	EXPECT_EQ(d3, checksum(_metadata, 3));
	EXPECT_EQ(d4, checksum(_metadata, 4));
	fd = kdev_open(SAMPLE_NAME, 4, NULL);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, kdev_state(fd, &state));
	EXPECT_EQ(KMIG_DEVICE_STATE_STOP, state);
	close(fd);
	mem2 = logged_hex(self->pri_log, "checkpoint 2 committed",
			  "memory crc ");
	ASSERT_EQ(0, colo_memory_crc(&self->b, &crc));
	EXPECT_EQ(mem2, crc);
	vmm_expect_runs(self->a.sock);
}

/* Two devices against one: the secondary refuses the hello, names both. */
TEST_F_TIMEOUT(colo_dev, device_lists_differ, TEST_TIMEOUT)
{
	struct vmm_status st;

	REQUIRE_BED();
	start_bed(_metadata, self);
	start_agents(self, 24703, "--device kmig-sample:3",
		     "--checkpoint-ms 100 " PRI_DEVS);
	EXPECT_EQ(1, agent_exit(&self->sec, PROC_WAIT_MS));
	EXPECT_EQ(1, agent_exit(&self->pri, PROC_WAIT_MS));
	EXPECT_TRUE(file_has(self->sec_log, "the primary checkpoints devices (kmig-sample:1, kmig-sample:2), this secondary takes (kmig-sample:3)"))
		TH_LOG("%s", file_text(self->sec_log));
	EXPECT_TRUE(file_has(self->pri_log, "the guest runs here unprotected"))
		TH_LOG("%s", file_text(self->pri_log));
	ASSERT_EQ(0, vmm_status(&self->b, &st));
	EXPECT_STREQ("incoming", st.state);
	vmm_expect_runs(self->a.sock);
}

TEST_HARNESS_MAIN
