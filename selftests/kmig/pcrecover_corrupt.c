// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy recovery against a forged peer (Documentation/postcopy.rst
 * "Recovery"): this test plays the destination for `kmig migrate
 * --resume`, and the source for `kmig postcopy-recover`, and breaks one
 * thing on the wire each time.
 *
 * A received-page bitmap with a bad CRC or an unknown version: the
 * source says so and sends nothing at all. A REQUEST for a page the VM
 * does not have, or with a bad CRC: the source says so and stops. A
 * page whose CRC does not match: the destination says so and installs
 * nothing (the page stays absent in its module context). Each failing
 * agent exits with status 3: the recovery can be run again. The forged
 * source opens its main channel only (its hello announces no page
 * channel); the forged destination leaves the source's page channel
 * unaccepted: it breaks the main one.
 *
 * The same page in missing mode (a postcopy's owed page), where the agent
 * receives it in place into its staged page (KMIG_INSTALL_STAGED) and,
 * with KMIG_STAGED_INSTALL=0, into a buffer to copy: the bad bytes never
 * reach the guest (the page stays absent, reads give zeros), staged or
 * not (the context's page count says which); and a second recovery that
 * brings the page again, whole or as a zero record, installs those bytes,
 * not the first one's.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "kselftest_harness.h"
#include "client.h"
#include "crc32c.h"
#include "ctx.h"
#include "enc.h"
#include "handshake.h"
#include "hello.h"
#include "kvm.h"
#include "le.h"
#include "proc.h"
#include "recover.h"
#include "util.h"

#define TEST_TIMEOUT	120

FIXTURE(forged) {
	struct vmm_proc v;
	pid_t agent;
	int lfd, fd;
};

FIXTURE_VARIANT(forged) {
	const char *what;	/* what this test breaks */
	const char *msg;	/* what the agent must say */
	unsigned int port;
};

FIXTURE_VARIANT_ADD(forged, bitmap_crc) {
	.what = "bitmap_crc", .msg = "received-page bitmap: CRC mismatch",
	.port = 24611,
};

FIXTURE_VARIANT_ADD(forged, bitmap_version) {
	.what = "bitmap_version", .msg = "version 2, this agent speaks 1",
	.port = 24612,
};

FIXTURE_VARIANT_ADD(forged, request_page) {
	.what = "request_page", .msg = "which this VM does not have",
	.port = 24613,
};

FIXTURE_VARIANT_ADD(forged, request_crc) {
	.what = "request_crc", .msg = "CRC", .port = 24614,
};

/* a page that fails its CRC: the receiver's "torn", which postcopy refuses */
FIXTURE_VARIANT_ADD(forged, page_crc) {
	.what = "page_crc", .msg = "damaged on the way", .port = 24615,
};

FIXTURE_SETUP(forged)
{
	memset(&self->v, 0, sizeof(self->v));
	self->agent = 0;
	self->lfd = self->fd = -1;
}

FIXTURE_TEARDOWN(forged)
{
	proc_stop(&self->agent);
	vmm_stop(&self->v);
	if (self->fd >= 0)
		close(self->fd);
	if (self->lfd >= 0)
		close(self->lfd);
}

static int listen_on(unsigned int port)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, 1))
		return -errno;
	return fd;
}

/* The VMM's slots in @vm (no fds, no maps), its paused guest's ctx. */
static int vm_of(struct vmm_proc *v, struct mig_vm *vm, int *ctx)
{
	struct vmm_client_slot cs[MIG_MAX_SLOTS];
	struct vmm_client c = { .fd = -1 };
	unsigned int i, n;
	int ret;

	memset(vm, 0, sizeof(*vm));
	ret = vmm_connect(v, &c);
	if (!ret)
		ret = vmm_client_ctx(&c, cs, MIG_MAX_SLOTS, &n, ctx);
	vmm_client_close(&c);
	if (ret)
		return ret;
	vm->nslots = n;
	for (i = 0; i < n; i++) {
		vm->slots[i].id = cs[i].id;
		vm->slots[i].npages = cs[i].size / 4096;
		vm->slots[i].present = calloc(vm->slots[i].npages / 64 + 1, 8);
		vm->slots[i].bitmap = calloc(vm->slots[i].npages / 64 + 1, 8);
		if (!vm->slots[i].present || !vm->slots[i].bitmap)
			return -ENOMEM;
	}
	return 0;
}

static void vm_free(struct mig_vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nslots; i++) {
		free(vm->slots[i].present);
		free(vm->slots[i].bitmap);
	}
}

/* Bytes that arrive on @fd until it closes (or 10 s of silence). */
static size_t drain(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t total = 0;
	char buf[65536];
	ssize_t n;

	while (poll(&p, 1, 10000) > 0) {
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		total += n;
	}
	return total;
}

/* The destination, forged: a bitmap or a REQUEST broken. */
static void forge_destination(struct __test_metadata *_metadata,
			      FIXTURE_DATA(forged) *self,
			      const FIXTURE_VARIANT(forged) *variant,
			      struct mig_vm *vm)
{
	uint8_t hello[KMIG_RESUME_HDR_SIZE + MIG_MAX_SLOTS * 16 + 4];
	uint8_t msg[MIG_HS_MAX_MSG], *bm;
	bool request = !strncmp(variant->what, "request", 7);
	struct pollfd p = { .events = POLLIN };
	struct kmig_hello h;
	unsigned int i;
	char err[256];
	size_t len;
	uint64_t w;

	p.fd = self->lfd;
	ASSERT_EQ(1, poll(&p, 1, 20000)) TH_LOG("%s", file_text("agent.log"));
	self->fd = accept4(self->lfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_LE(0, self->fd);
	/* the main channel's hello, then the resume hello */
	ASSERT_EQ(0, kmig_io_all(self->fd, hello, KMIG_HELLO_SIZE, false));
	ASSERT_EQ(0, kmig_hello_decode(&h, hello, err, sizeof(err)))
		TH_LOG("%s", err);
	ASSERT_EQ(0, h.channel);
	len = KMIG_RESUME_HDR_SIZE + vm->nslots * 16 + 4;
	ASSERT_EQ(0, kmig_io_all(self->fd, hello, len, false));
	ASSERT_EQ(KMIG_RESUME_MAGIC, get_le32(hello));
	/* request: everything is here; else nothing is */
	for (i = 0; i < vm->nslots; i++)
		for (w = 0; w < vm->slots[i].npages; w++)
			if (request)
				vm->slots[i].present[w / 64] |= 1ull << (w % 64);
	bm = mig_rc_bitmap_encode(vm, &len);
	ASSERT_NE(NULL, bm);
	if (!strcmp(variant->what, "bitmap_crc"))
		bm[KMIG_RBITMAP_HDR_SIZE + KMIG_RBITMAP_SLOT_SIZE] ^= 1;
	if (!strcmp(variant->what, "bitmap_version")) {
		put_le16(bm + 4, KMIG_RBITMAP_VERSION + 1);
		put_le32(bm + len - 4, kmig_crc32c(0, bm, len - 4));
	}
	ASSERT_EQ(0, kmig_io_all(self->fd, bm, len, true));
	free(bm);
	if (!request) {
		/* refused before anything of it was used: nothing sent */
		EXPECT_EQ(0, drain(self->fd));
		return;
	}
	len = mig_hs_encode(msg, hello + 8, MIG_HS_REQUEST,
			    MIG_HS_REQUEST_VALUE(vm->slots[0].id,
						 variant->what[8] == 'p' ?
						 vm->slots[0].npages : 0),
			    NULL);
	if (!strcmp(variant->what, "request_crc"))
		msg[len - 1] ^= 0x40;
	ASSERT_EQ(0, kmig_io_all(self->fd, msg, len, true));
	drain(self->fd);
}

/* How the forged source sends a page. */
enum forged_page { BAD_CRC, GOOD, ZERO };

/*
 * The source, forged: page @p of slot 0 (UINT64_MAX: the first one absent
 * there) sent as @how says, then the stream's end. Returns the page.
 */
static uint64_t send_page(struct __test_metadata *_metadata,
			  FIXTURE_DATA(forged) *self, unsigned int port,
			  struct mig_vm *vm, uint64_t p, enum forged_page how)
{
	struct kmig_section sec = {
		.type = KMIG_REC_SECTION_FULL, .id = KMIG_RECOVER_SECTION,
		.kind = KMIG_SEC_RAM, .version = 1, .name = "recover",
	};
	static uint8_t page[4096] = { 0x5a };
	const void *data[1] = { page };
	const struct mig_slot *sl = &vm->slots[0];
	uint8_t uuid[16] = { 1, 2, 3 }, *hello, chello[KMIG_HELLO_SIZE];
	struct kmig_hello h = { .channel = 0, .nchannels = 1 };
	struct kmig_enc e;
	uint32_t crc;
	const uint8_t *out;
	char err[256];
	size_t len;

	self->fd = proc_connect(port);
	if (self->fd < 0)
		return UINT64_MAX;
	memset(page, 0x5a, sizeof(page));
	memcpy(h.uuid, uuid, 16);
	ASSERT_EQ(0, kmig_hello_encode(&h, chello));
	ASSERT_EQ(0, kmig_io_all(self->fd, chello, sizeof(chello), true));
	hello = mig_rc_hello_encode(vm, uuid, &len);
	ASSERT_NE(NULL, hello);
	ASSERT_EQ(0, kmig_io_all(self->fd, hello, len, true));
	free(hello);
	ASSERT_EQ(0, mig_rc_recv_bitmap(self->fd, vm, err, sizeof(err)))
		TH_LOG("%s", err);
	for (p = p == UINT64_MAX ? 0 : p; p < sl->npages; p++)
		if (!(sl->bitmap[p / 64] & (1ull << (p % 64))))
			break;
	if (p >= sl->npages)
		return UINT64_MAX;
	crc = kmig_crc32c(0, page, sizeof(page)) ^ (how == BAD_CRC);
	kmig_enc_init_mem(&e);
	if (kmig_enc_header(&e) ||
	    kmig_enc_caps(&e, KMIG_SCAP_POSTCOPY, 0) ||
	    kmig_enc_section(&e, &sec) ||
	    (how == ZERO ? kmig_enc_zero(&e, sl->id, p, 1) :
	     kmig_enc_pages_crc(&e, sl->id, &p, 1, data, &crc)))
		p = UINT64_MAX;
	sec.type = KMIG_REC_SECTION_FOOTER;
	if (kmig_enc_section(&e, &sec) || kmig_enc_eos(&e))
		p = UINT64_MAX;
	out = kmig_enc_mem(&e, &len);
	if (kmig_io_all(self->fd, (void *)out, len, true))
		p = UINT64_MAX;
	kmig_enc_free(&e);
	return p;
}

/* Whether page @p of slot @sl has memory in @ctx. */
static bool page_present(int ctx, const struct mig_slot *sl, uint64_t p)
{
	uint64_t *now = calloc(sl->npages / 64 + 1, 8);
	bool ret = now && !kmig_ctx_present(ctx, sl->id, sl->npages, now) &&
		   (now[p / 64] & (1ull << (p % 64)));

	free(now);
	return ret;
}

/* The source, forged: a page whose CRC does not match. */
static void forge_source(struct __test_metadata *_metadata,
			 FIXTURE_DATA(forged) *self, unsigned int port,
			 struct mig_vm *vm, int ctx)
{
	uint64_t p = send_page(_metadata, self, port, vm, UINT64_MAX, BAD_CRC);

	ASSERT_NE(UINT64_MAX, p) TH_LOG("%s", file_text("agent.log"));
	EXPECT_EQ(3, proc_wait_exit(self->agent, 20000))
		TH_LOG("%s", file_text("agent.log"));
	self->agent = 0;
	/* nothing installed: the page is still absent */
	EXPECT_FALSE(page_present(ctx, &vm->slots[0], p));
}

TEST_F_TIMEOUT(forged, refused_clearly, TEST_TIMEOUT)
{
	struct vmm_client c = { .fd = -1 };
	bool source = strcmp(variant->what, "page_crc");
	struct vmm_status st;
	struct mig_vm vm;
	int ctx = -1;

	REQUIRE_BED();
	vmm_startf(&self->v, vmm_sock("rc-forged"), "/dev/null", "--mem 4");
	vmm_wait_counter(&self->v, 0, &st);
	ASSERT_EQ(0, vmm_connect(&self->v, &c));
	ASSERT_EQ(0, vmm_client_cmd(&c, "pause")) TH_LOG("%s", c.reply);
	if (source)
		ASSERT_EQ(0, vmm_client_cmd(&c, "migrated")) TH_LOG("%s", c.reply);
	vmm_client_close(&c);
	ASSERT_EQ(0, vm_of(&self->v, &vm, &ctx));

	if (source) {
		self->lfd = listen_on(variant->port);
		ASSERT_LE(0, self->lfd);
		self->agent = proc_spawnf(NULL, "agent.log",
					  "%s migrate --resume --vmm %s --to 127.0.0.1:%u --io-timeout 5",
					  proc_bin("kmig"), self->v.sock,
					  variant->port);
		forge_destination(_metadata, self, variant, &vm);
		EXPECT_EQ(3, proc_wait_exit(self->agent, 20000))
			TH_LOG("%s", file_text("agent.log"));
		self->agent = 0;
	} else {
		self->agent = proc_spawnf(NULL, "agent.log",
					  "%s postcopy-recover --vmm %s --listen 127.0.0.1:%u --io-timeout 5 --timeout 20",
					  proc_bin("kmig"), self->v.sock,
					  variant->port);
		forge_source(_metadata, self, variant->port, &vm, ctx);
	}
	EXPECT_TRUE(file_has("agent.log", variant->msg))
		TH_LOG("%s", file_text("agent.log"));
	if (source)
		EXPECT_TRUE(file_has("agent.log", "run the recovery again"));
	vm_free(&vm);
	close(ctx);
}

/*
 * A page owed in postcopy (missing mode), received with a bad CRC by a
 * recovery: never installed, staged or copied as @variant says; then
 * received again by a second recovery, whole or as zeros.
 */
FIXTURE(torn_owed) {
	FIXTURE_DATA(forged) f;
};

FIXTURE_VARIANT(torn_owed) {
	bool staged;		/* received in place (else KMIG_STAGED_INSTALL=0) */
	enum forged_page again;	/* how the second recovery sends it */
	unsigned int port;
};

FIXTURE_VARIANT_ADD(torn_owed, staged_then_whole) {
	.staged = true, .again = GOOD, .port = 24631,
};

FIXTURE_VARIANT_ADD(torn_owed, staged_then_zero) {
	.staged = true, .again = ZERO, .port = 24632,
};

FIXTURE_VARIANT_ADD(torn_owed, copied_then_whole) {
	.staged = false, .again = GOOD, .port = 24633,
};

FIXTURE_SETUP(torn_owed)
{
	memset(&self->f.v, 0, sizeof(self->f.v));
	self->f.agent = 0;
	self->f.lfd = self->f.fd = -1;
}

FIXTURE_TEARDOWN(torn_owed)
{
	unsetenv("KMIG_STAGED_INSTALL");
	proc_stop(&self->f.agent);
	vmm_stop(&self->f.v);
	if (self->f.fd >= 0)
		close(self->f.fd);
}

/* A postcopy-recover agent for the VMM, page @p sent to it as @how. */
static void recover_once(struct __test_metadata *_metadata,
			 FIXTURE_DATA(torn_owed) *self, unsigned int port,
			 struct mig_vm *vm, uint64_t p, enum forged_page how)
{
	if (self->f.fd >= 0)
		close(self->f.fd);
	self->f.fd = -1;
	self->f.agent = proc_spawnf(NULL, "agent.log",
				    "%s postcopy-recover --vmm %s --listen 127.0.0.1:%u --io-timeout 5 --timeout 20",
				    proc_bin("kmig"), self->f.v.sock, port);
	ASSERT_EQ(p, send_page(_metadata, &self->f, port, vm, p, how))
		TH_LOG("%s", file_text("agent.log"));
	/* the guest never ran here: no COMPLETE, whatever the pages */
	EXPECT_EQ(3, proc_wait_exit(self->f.agent, 20000))
		TH_LOG("%s", file_text("agent.log"));
	self->f.agent = 0;
}

TEST_F_TIMEOUT(torn_owed, never_reaches_the_guest, TEST_TIMEOUT)
{
	struct vmm_client c = { .fd = -1 };
	struct kmig_ctx_stats before, after;
	static uint8_t got[4096], want[4096];
	struct mig_vm vm;
	uint64_t p;
	int ctx = -1;

	REQUIRE_BED();
	vmm_startf(&self->f.v, vmm_sock("rc-torn"), "/dev/null",
		   "--mem 4 --incoming");
	ASSERT_EQ(0, vm_of(&self->f.v, &vm, &ctx));
	/* the slot's last page owed, as a postcopy's discard list has it */
	p = vm.slots[0].npages - 1;
	ASSERT_EQ(0, vmm_connect(&self->f.v, &c));
	ASSERT_EQ(0, vmm_client_cmd(&c, "unmap")) TH_LOG("%s", c.reply);
	ASSERT_EQ(0, kmig_ctx_set_missing(ctx, vm.slots[0].id, p, 1));
	ASSERT_EQ(0, vmm_client_cmd(&c, "map")) TH_LOG("%s", c.reply);
	vmm_client_close(&c);
	if (!variant->staged)
		setenv("KMIG_STAGED_INSTALL", "0", 1);

	ASSERT_EQ(0, kmig_ctx_stats(ctx, &before));
	recover_once(_metadata, self, variant->port, &vm, p, BAD_CRC);
	EXPECT_TRUE(file_has("agent.log", "damaged on the way"))
		TH_LOG("%s", file_text("agent.log"));
	EXPECT_EQ(!variant->staged,
		  file_has("agent.log", "postcopy pages are copied"))
		TH_LOG("%s", file_text("agent.log"));
	/* absent, zeros to a reader; memory only if it went to its staged page */
	EXPECT_FALSE(page_present(ctx, &vm.slots[0], p));
	ASSERT_EQ(0, kmig_ctx_read(ctx, vm.slots[0].id, p * 4096, got, 4096));
	EXPECT_EQ(0, memcmp(got, want, 4096));
	ASSERT_EQ(0, kmig_ctx_stats(ctx, &after));
	EXPECT_EQ(before.pages + variant->staged, after.pages);

	recover_once(_metadata, self, variant->port + 10, &vm, p,
		     variant->again);
	EXPECT_FALSE(file_has("agent.log", "damaged on the way"))
		TH_LOG("%s", file_text("agent.log"));
	EXPECT_TRUE(page_present(ctx, &vm.slots[0], p))
		TH_LOG("%s", file_text("agent.log"));
	memset(want, variant->again == GOOD ? 0x5a : 0, sizeof(want));
	ASSERT_EQ(0, kmig_ctx_read(ctx, vm.slots[0].id, p * 4096, got, 4096));
	EXPECT_EQ(0, memcmp(got, want, 4096));
	/* the staged page itself went in: no second page for it */
	ASSERT_EQ(0, kmig_ctx_stats(ctx, &before));
	EXPECT_EQ(after.pages + !variant->staged, before.pages);
	vm_free(&vm);
	close(ctx);
}

TEST_HARNESS_MAIN
