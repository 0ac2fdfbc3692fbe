// SPDX-License-Identifier: GPL-2.0
/*
 * `kmig incoming` against a crafted source that breaks the channel rules:
 * a page channel that ends before its round sync, one that corrupts a
 * page, carries a vCPU section or a foreign capability, or falls silent.
 * Each must end the incoming migration at once, naming the channel and
 * the cause, and never leave it waiting: the destination guest is not
 * resumed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "enc.h"
#include "handshake.h"
#include "hello.h"
#include "kselftest_harness.h"
#include "proc.h"

#define VMM_SOCK	"@kmig-peer-vmm"
#define RAM_SECTION	1000u		/* + channel, as kmig migrate */

FIXTURE(peer) {
	struct vmm_proc vmm;
	pid_t incoming;
	unsigned int n;			/* channels, main included */
	int sock[4];
	struct kmig_enc enc[4];
	uint8_t uuid[16];
};

FIXTURE_SETUP(peer)
{
	/* The destination may close a channel while this side still writes. */
	signal(SIGPIPE, SIG_IGN);
	memset(self, 0, sizeof(*self));
	vmm_start(&self->vmm, VMM_SOCK, "vmm.log", "--mem", "4",
		  "--incoming");
}

FIXTURE_TEARDOWN(peer)
{
	unsigned int i;

	for (i = 0; i < self->n; i++) {
		kmig_enc_free(&self->enc[i]);
		close(self->sock[i]);
	}
	proc_stop(&self->incoming);
	vmm_stop(&self->vmm);
}

/* `kmig incoming` on @port with --io-timeout @io_timeout. */
static void spawn_incoming(FIXTURE_DATA(peer) *self, int port,
			   const char *io_timeout)
{
	char listen[32];
	const char *inc[] = { proc_bin("kmig"), "incoming", "--vmm", VMM_SOCK,
			      "--listen", listen, "--timeout", "60",
			      "--io-timeout", io_timeout, NULL };
	unsigned int i;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	self->incoming = proc_spawn(NULL, "incoming.log", inc);
	for (i = 0; i < 16; i++)
		self->uuid[i] = 0xa0 + i;
}

/* Connect channel @chan of @n to @port and say its hello: its fd. */
static int say_hello(int port, const uint8_t uuid[16], unsigned int chan,
		     unsigned int n)
{
	struct kmig_hello h = { .channel = chan, .nchannels = n };
	uint8_t hello[KMIG_HELLO_SIZE];
	int fd = proc_connect(port);

	memcpy(h.uuid, uuid, 16);
	if (fd < 0 || kmig_hello_encode(&h, hello) ||
	    write(fd, hello, sizeof(hello)) != sizeof(hello))
		return -1;
	return fd;
}

/* Channel @chan of 1 + @npc joins and starts its stream with a header. */
static void join(struct __test_metadata *_metadata, FIXTURE_DATA(peer) *self,
		 int port, unsigned int chan, unsigned int npc)
{
	self->sock[chan] = say_hello(port, self->uuid, chan, 1 + npc);
	ASSERT_LE(0, self->sock[chan]);
	self->n++;
	kmig_enc_init_fd(&self->enc[chan], self->sock[chan]);
	ASSERT_EQ(0, kmig_enc_header(&self->enc[chan]));
}

/* The main stream's CAPS, CHANNELS for @npc page channels, and
 * OPEN_RETURN_PATH. */
static void open_main(struct __test_metadata *_metadata,
		      FIXTURE_DATA(peer) *self, unsigned int npc)
{
	struct kmig_scmd cmd = { .id = KMIG_SCMD_CHANNELS };

	ASSERT_EQ(0, kmig_enc_caps(&self->enc[0], KMIG_SCAP_RETURN_PATH |
				   (npc ? KMIG_SCAP_MULTI_CHANNEL : 0), 0));
	if (npc) {
		cmd.channels.count = npc;
		memcpy(cmd.channels.uuid, self->uuid, 16);
		ASSERT_EQ(0, kmig_enc_cmd(&self->enc[0], &cmd));
	}
	cmd.id = KMIG_SCMD_OPEN_RETURN_PATH;
	ASSERT_EQ(0, kmig_enc_cmd(&self->enc[0], &cmd));
	ASSERT_EQ(0, kmig_enc_flush(&self->enc[0]));
}

/*
 * `kmig incoming` on @port with --io-timeout @io_timeout, and a source of
 * @npc page channels connected to it: hellos sent, every stream's header
 * and CAPS written, the main one announcing the page channels and opening
 * the return path.
 */
static void start(struct __test_metadata *_metadata, FIXTURE_DATA(peer) *self,
		  int port, unsigned int npc, const char *io_timeout)
{
	unsigned int i;

	spawn_incoming(self, port, io_timeout);
	for (i = 0; i <= npc; i++)
		join(_metadata, self, port, i, npc);
	open_main(_metadata, self, npc);
}

static int caps(struct kmig_enc *e, uint64_t required)
{
	int ret = kmig_enc_caps(e, required, 0);

	return ret ? ret : kmig_enc_flush(e);
}

static int cmd(struct kmig_enc *e, uint16_t id, uint64_t round)
{
	struct kmig_scmd c = { .id = id };
	int ret;

	if (id == KMIG_SCMD_ROUND_SYNC)
		c.round = round;
	ret = kmig_enc_cmd(e, &c);
	return ret ? ret : kmig_enc_flush(e);
}

/* A RAM section part of channel @chan with page @page of slot 0. */
static int ram_part(struct kmig_enc *e, unsigned int chan, uint8_t type,
		    uint64_t page)
{
	struct kmig_section s = {
		.type = type, .id = RAM_SECTION + chan, .kind = KMIG_SEC_RAM,
		.version = 1, .name = "ram",
	};
	uint8_t data[4096];
	int ret;

	memset(data, 0x5a, sizeof(data));
	ret = kmig_enc_section(e, &s);
	if (!ret)
		ret = kmig_enc_page(e, 0, page, data);
	s.type = KMIG_REC_SECTION_FOOTER;
	if (!ret)
		ret = kmig_enc_section(e, &s);
	return ret ? ret : kmig_enc_flush(e);
}

/*
 * Keep the main channel alive with PINGs until `kmig incoming` exits or
 * @ms pass: its exit status, or -ETIMEDOUT.
 */
static int ping_until_exit(FIXTURE_DATA(peer) *self, int ms)
{
	int t, ret;

	for (t = 0; t < ms; t += 200) {
		ret = proc_wait_exit(self->incoming, 0);
		if (ret >= 0) {
			self->incoming = 0;
			return ret;
		}
		cmd(&self->enc[0], KMIG_SCMD_PING, 0);
		usleep(200000);
	}
	return -ETIMEDOUT;
}

/* `kmig incoming` ended with 1 and said every one of @says. */
static void incoming_failed(struct __test_metadata *_metadata,
			    FIXTURE_DATA(peer) *self, int ms,
			    const char *const says[])
{
	struct vmm_status st;
	unsigned int i;

	ASSERT_EQ(1, ping_until_exit(self, ms))
		TH_LOG("kmig incoming: %s", file_text("incoming.log"));
	for (i = 0; says[i]; i++) {
		EXPECT_TRUE(file_has("incoming.log", says[i]))
			TH_LOG("kmig incoming did not say '%s': %s", says[i],
			       file_text("incoming.log"));
	}
	ASSERT_EQ(0, vmm_status_of(VMM_SOCK, &st));
	EXPECT_STREQ("incoming", st.state);
}

/* The FAILED message on the return path: its text, or "" if none came. */
static const char *return_path_failed(FIXTURE_DATA(peer) *self)
{
	static struct mig_hs_msg m;
	struct timeval tv = { .tv_sec = 5 };
	char err[256];

	setsockopt(self->sock[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (mig_hs_recv(self->sock[0], self->uuid, &m, err, sizeof(err)) ||
	    m.type != MIG_HS_FAILED)
		return "";
	return m.text;
}

/*
 * Page channel 1 ends its stream without the round's sync while channel 2
 * waits for it there: the round can never complete.
 */
TEST_F_TIMEOUT(peer, page_channel_ending_before_its_round_sync, 60)
{
	const char *const says[] = { "page channel 1", "ROUND_SYNC 0", NULL };

	start(_metadata, self, 4470, 2, "10");
	ASSERT_EQ(0, caps(&self->enc[1], KMIG_SCAP_MULTI_CHANNEL));
	ASSERT_EQ(0, caps(&self->enc[2], KMIG_SCAP_MULTI_CHANNEL));
	ASSERT_EQ(0, ram_part(&self->enc[2], 2, KMIG_REC_SECTION_START, 2));
	ASSERT_EQ(0, cmd(&self->enc[2], KMIG_SCMD_ROUND_SYNC, 0));
	ASSERT_EQ(0, ram_part(&self->enc[1], 1, KMIG_REC_SECTION_FULL, 1));
	ASSERT_EQ(0, kmig_enc_eos(&self->enc[1]));
	ASSERT_EQ(0, kmig_enc_flush(&self->enc[1]));
	/* The destination may have failed already: this may not arrive. */
	cmd(&self->enc[0], KMIG_SCMD_ROUND_SYNC, 0);
	incoming_failed(_metadata, self, 15000, says);
}

/* A page whose CRC does not match on page channel 1: that is the cause. */
TEST_F_TIMEOUT(peer, page_channel_crc_mismatch_is_the_cause, 60)
{
	const char *const says[] = { "page channel 1", "CRC mismatch", NULL };
	struct kmig_enc m;
	const uint8_t *p;
	uint8_t *bad;
	size_t len;

	start(_metadata, self, 4471, 1, "20");
	ASSERT_EQ(0, kmig_enc_flush(&self->enc[1]));	/* its header */
	kmig_enc_init_mem(&m);
	ASSERT_EQ(0, kmig_enc_caps(&m, KMIG_SCAP_MULTI_CHANNEL, 0));
	ASSERT_EQ(0, ram_part(&m, 1, KMIG_REC_SECTION_START, 3));
	p = kmig_enc_mem(&m, &len);
	bad = malloc(len);
	ASSERT_NE(NULL, bad);
	memcpy(bad, p, len);
	bad[len - 100] ^= 0xff;		/* inside the page's data */
	ASSERT_EQ(len, write(self->sock[1], bad, len));
	free(bad);
	kmig_enc_free(&m);
	incoming_failed(_metadata, self, 10000, says);
	/* The source hears it on the return path, with the text. */
	p = (const uint8_t *)return_path_failed(self);
	EXPECT_NE(NULL, strstr((const char *)p, "page channel 1"))
		TH_LOG("FAILED says '%s'", p);
	EXPECT_NE(NULL, strstr((const char *)p, "CRC mismatch"));
}

/* A vCPU section on a page channel is refused, not dropped. */
TEST_F_TIMEOUT(peer, vcpu_section_on_a_page_channel_is_refused, 60)
{
	const char *const says[] = { "page channel 1", "vCPU", NULL };
	struct kmig_section s = {
		.type = KMIG_REC_SECTION_FULL, .id = 1, .kind = KMIG_SEC_VCPU,
		.version = 1, .name = "vcpu",
	};
	uint8_t regs[64] = { 0 };

	start(_metadata, self, 4472, 1, "20");
	ASSERT_EQ(0, caps(&self->enc[1], KMIG_SCAP_MULTI_CHANNEL));
	ASSERT_EQ(0, kmig_enc_section(&self->enc[1], &s));
	ASSERT_EQ(0, kmig_enc_vcpu(&self->enc[1], 0, KMIG_VCPU_REGS, regs,
				   sizeof(regs)));
	s.type = KMIG_REC_SECTION_FOOTER;
	ASSERT_EQ(0, kmig_enc_section(&self->enc[1], &s));
	ASSERT_EQ(0, kmig_enc_flush(&self->enc[1]));
	incoming_failed(_metadata, self, 10000, says);
}

/* A page channel may require MULTI_CHANNEL and nothing else. */
TEST_F_TIMEOUT(peer, foreign_capability_on_a_page_channel_is_refused, 60)
{
	const char *const says[] = { "page channel 1", "DEVICE_STATE", NULL };

	start(_metadata, self, 4473, 1, "20");
	ASSERT_EQ(0, caps(&self->enc[1], KMIG_SCAP_MULTI_CHANNEL |
			  KMIG_SCAP_DEVICE_STATE));
	incoming_failed(_metadata, self, 10000, says);
}

/* A page channel silent for --io-timeout is lost, PINGs on main or not. */
TEST_F_TIMEOUT(peer, silent_page_channel_is_found, 60)
{
	const char *const says[] = { "page channel 1", NULL };

	start(_metadata, self, 4474, 1, "3");
	ASSERT_EQ(0, caps(&self->enc[1], KMIG_SCAP_MULTI_CHANNEL));
	incoming_failed(_metadata, self, 10000, says);
}

/*
 * While the page channel is awaited, hellos of another migration, of a
 * channel already there, junk and a silent connection come first: each is
 * turned away and logged, and the real page channel 1 joins (its foreign
 * capability is then the cause, which only its decoder can find).
 */
TEST_F_TIMEOUT(peer, strangers_do_not_stop_the_page_channels, 60)
{
	const char *const says[] = {
		"rejected a connection from 127.0.0.1:",
		"channel 1 of 2 of another migration",
		"channel 1 of 3 of another migration",
		"channel 0 of 2, which is already connected",
		"bad magic",
		"page channel 1", "DEVICE_STATE", NULL };
	uint8_t other[16], junk[64];
	int fd[5], silent, i;

	spawn_incoming(self, 4475, "20");
	join(_metadata, self, 4475, 0, 1);
	open_main(_metadata, self, 1);
	silent = proc_connect(4475);
	ASSERT_LE(0, silent);
	memset(other, 0x11, sizeof(other));
	memset(junk, 0xee, sizeof(junk));
	fd[0] = say_hello(4475, other, 1, 2);
	fd[1] = say_hello(4475, self->uuid, 1, 3);
	fd[2] = say_hello(4475, self->uuid, 0, 2);
	fd[3] = proc_connect(4475);
	ASSERT_EQ(sizeof(junk), write(fd[3], junk, sizeof(junk)));
	fd[4] = proc_connect(4475);	/* a port scan */
	close(fd[4]);
	join(_metadata, self, 4475, 1, 1);
	ASSERT_EQ(0, caps(&self->enc[1], KMIG_SCAP_MULTI_CHANNEL |
			  KMIG_SCAP_DEVICE_STATE));
	incoming_failed(_metadata, self, 10000, says);
	for (i = 0; i < 4; i++)
		close(fd[i]);
	close(silent);
}

TEST_HARNESS_MAIN
