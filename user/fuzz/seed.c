// SPDX-License-Identifier: GPL-2.0
/*
 * Writes valid inputs into DIR/<fuzzer>/, one corpus per fuzzer, so each
 * starts from real records: streams (with all four mode bytes, and one
 * with a torn page) for stream_dec, the same behind chunk tables for
 * stream_sock, valid hellos
 * for hello, messages of every type for return_path, complete vCPU states
 * for vcpu_state, kernel replies to every request for netlink, and
 * request lines, replies and command lines for vmm_ctl, vmm_reply and cli,
 * and a small snapshot file for snap (whole, and torn by a merge).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/kmig.h>
#include <linux/kvm.h>

#include "crc32c.h"
#include "enc.h"
#include "handshake.h"
#include "hello.h"
#include "le.h"
#include "snap.h"

/*
 * stream_sock's chunk tables: a length byte (low 3 bits: entries - 1),
 * then chunk size codes (below 0xc0: code + 1 bytes, else 256 << (code & 7)).
 */
static const uint8_t tables[][9] = {
	{ 0, 0 },					/* byte by byte */
	{ 0, 0xc4 },					/* 4 KiB */
	{ 4, 2, 0x0f, 0xc0, 0x63, 0xc5 },		/* mixed */
	{ 7, 0, 1, 2, 3, 0xc1, 0xbf, 0xc7, 11 },	/* all eight */
};

static int put(const char *dir, const char *fuzzer, const char *name,
	       unsigned int variant, const void *head, size_t hlen,
	       const void *buf, size_t len)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, fuzzer);
	if (mkdir(path, 0777) && errno != EEXIST) {
		perror(path);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s/%s-%u", dir, fuzzer, name, variant);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		return 1;
	}
	ok = fwrite(head, 1, hlen, f) == hlen && fwrite(buf, 1, len, f) == len;
	return fclose(f) || !ok;
}

/* A stream for stream_dec, and behind each chunk table for stream_sock. */
static int put_stream(const char *dir, const char *name, uint8_t mode,
		      const void *buf, size_t len)
{
	uint8_t head[1 + sizeof(tables[0])];
	unsigned int t, n;
	int bad;

	bad = put(dir, "stream_dec", name, mode, &mode, 1, buf, len);
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		n = 2 + (tables[t][0] & 7);
		head[0] = mode | (t & 1) << 2;	/* release: every other */
		memcpy(head + 1, tables[t], n);
		bad |= put(dir, "stream_sock", name, 4 * t + mode, head, 1 + n,
			   buf, len);
	}
	return bad;
}

static void sec(struct kmig_enc *e, uint8_t type, uint32_t id, uint16_t kind,
		const char *name)
{
	struct kmig_section s = { .type = type, .id = id, .kind = kind,
				  .instance = 1, .version = 1 };

	snprintf(s.name, sizeof(s.name), "%s", name);
	kmig_enc_section(e, &s);
}

/* Every record kind, pages summed as @psum_cap requires (psum.h). */
static void everything(struct kmig_enc *e, uint64_t psum_cap)
{
	struct kmig_scmd chans = { .id = KMIG_SCMD_CHANNELS };
	struct kmig_scmd sync = { .id = KMIG_SCMD_ROUND_SYNC, .round = 1 };
	static const uint64_t batch[] = { 0, 2, 3, 9, 15 };
	const void *data[5];
	uint8_t page[KMIG_STREAM_PAGE_SIZE], blob[64];
	unsigned int i;

	memset(page, 0x11, sizeof(page));
	memset(blob, 0x22, sizeof(blob));
	for (i = 0; i < 5; i++)
		data[i] = page;
	chans.channels.count = 2;
	kmig_enc_header(e);
	kmig_enc_caps(e, KMIG_SCAP_MULTI_CHANNEL | KMIG_SCAP_DEVICE_STATE |
		      psum_cap, KMIG_SCAP_RETURN_PATH);
	kmig_enc_cmd(e, &chans);
	sec(e, KMIG_REC_SECTION_START, 1, KMIG_SEC_RAM, "ram");
	kmig_enc_page(e, 0, 1, page);
	kmig_enc_zero(e, 0, 2, 3);
	kmig_enc_zero(e, 0x10001, 60, 4);
	kmig_enc_pages(e, 0x10001, batch, 5, data);
	kmig_enc_zero(e, 0x10001, 20, 2);	/* CONTINUE after the batch */
	kmig_enc_pages(e, 0, batch + 2, 1, data);
	sec(e, KMIG_REC_SECTION_FOOTER, 1, 0, "");
	kmig_enc_cmd(e, &sync);
	sec(e, KMIG_REC_SECTION_END, 1, 0, "");
	kmig_enc_page(e, 0x10001, 63, page);
	sec(e, KMIG_REC_SECTION_FOOTER, 1, 0, "");
	sec(e, KMIG_REC_SECTION_FULL, 2, KMIG_SEC_VCPU, "cpu");
	kmig_enc_vcpu(e, 0, KMIG_VCPU_REGS, blob, sizeof(blob));
	kmig_enc_vcpu(e, 0, KMIG_VCPU_LAPIC, blob, 16);
	sec(e, KMIG_REC_SECTION_FOOTER, 2, 0, "");
	sec(e, KMIG_REC_SECTION_FULL, 3, KMIG_SEC_DEVICE, "dev");
	kmig_enc_device(e, KMIG_DEVPKT_CONFIG_STATE, blob, 8);
	kmig_enc_device(e, KMIG_DEVPKT_DATA_STATE, blob, sizeof(blob));
	kmig_enc_device(e, KMIG_DEVPKT_END_OF_STATE, NULL, 0);
	sec(e, KMIG_REC_SECTION_FOOTER, 3, 0, "");
	kmig_enc_eos(e);
}

/*
 * A batch with a torn page (its CRC not its bytes'), for decoders that
 * take torn pages: stream_dec's mode bit 2, stream_sock's bit 3; neither
 * reseals, which would mend the page.
 */
static int put_torn(const char *dir)
{
	static const uint64_t batch[] = { 1, 2, 5 };
	uint8_t page[KMIG_STREAM_PAGE_SIZE], head[1 + sizeof(tables[0])];
	const void *data[3] = { page, page, page };
	struct kmig_enc e;
	uint32_t crcs[3];
	unsigned int t, n, i;
	const void *buf;
	size_t len;
	int bad = 0;

	memset(page, 0x33, sizeof(page));
	for (i = 0; i < 3; i++)
		crcs[i] = kmig_crc32c(0, page, sizeof(page)) ^ (i == 1);
	kmig_enc_init_mem(&e);
	kmig_enc_header(&e);
	kmig_enc_caps(&e, 0, 0);
	sec(&e, KMIG_REC_SECTION_FULL, 1, KMIG_SEC_RAM, "ram");
	kmig_enc_pages_crc(&e, 0, batch, 3, data, crcs);
	kmig_enc_zero(&e, 0, 3, 2);
	kmig_enc_pages(&e, 0, batch + 1, 1, data);
	sec(&e, KMIG_REC_SECTION_FOOTER, 1, 0, "");
	kmig_enc_eos(&e);
	buf = kmig_enc_mem(&e, &len);
	for (i = 0; i < 2; i++) {
		head[0] = 4 | i << 1;	/* in place or not */
		bad |= put(dir, "stream_dec", "torn", i, head, 1, buf, len);
		for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
			n = 2 + (tables[t][0] & 7);
			head[0] = 8 | i << 1 | (t & 1) << 2;
			memcpy(head + 1, tables[t], n);
			bad |= put(dir, "stream_sock", "torn", 2 * t + i, head,
				   1 + n, buf, len);
		}
	}
	kmig_enc_free(&e);
	return bad;
}

/* A snapshot of two small slots and some state, for snap. */
static int put_snap(const char *dir)
{
	static uint8_t mem[2][8 * KMIG_SNAP_PAGE_SIZE];
	const struct kmig_snap_src src[2] = {
		{ .id = 0, .gpa = 0, .size = sizeof(mem[0]), .map = mem[0] },
		{ .id = 0x10001, .gpa = 0x100000, .size = 3 * KMIG_SNAP_PAGE_SIZE,
		  .map = mem[1] },
	};
	uint8_t state[64], *buf;
	char err[256];
	struct stat st;
	int fd, bad;

	memset(mem[0] + 2 * KMIG_SNAP_PAGE_SIZE, 0x44, KMIG_SNAP_PAGE_SIZE);
	memset(mem[1], 0x55, KMIG_SNAP_PAGE_SIZE);
	memset(state, 0x66, sizeof(state));
	fd = memfd_create("seed-snap", 0);
	if (fd < 0 || kmig_snap_write(fd, src, 2, state, sizeof(state), "seed",
				      false, err, sizeof(err)) ||
	    fstat(fd, &st)) {
		fprintf(stderr, "seed: snapshot: %s\n", err);
		return 1;
	}
	buf = malloc(st.st_size);
	bad = !buf || pread(fd, buf, st.st_size, 0) != st.st_size ||
	      put(dir, "snap", "two-slots", 0, NULL, 0, buf, st.st_size);
	/* The same, torn by an incremental save: the merge marker. */
	if (!bad) {
		memset(buf + st.st_size - KMIG_SNAP_TRAILER_SIZE, 0,
		       KMIG_SNAP_TRAILER_SIZE);
		put_le64(buf + st.st_size - KMIG_SNAP_TRAILER_SIZE,
			 KMIG_SNAP_MERGE_MAGIC);
		put_le64(buf + st.st_size - KMIG_SNAP_TRAILER_SIZE + 8,
			 st.st_size - KMIG_SNAP_TRAILER_SIZE);
		bad = put(dir, "snap", "merging", 0, NULL, 0, buf, st.st_size);
	}
	free(buf);
	close(fd);
	return bad;
}

/* One text input per line of @lines, the first byte @mode (if not 0). */
static int put_lines(const char *dir, const char *fuzzer, uint8_t mode,
		     const char *const *lines, unsigned int n)
{
	unsigned int i;
	int bad = 0;

	for (i = 0; i < n; i++)
		bad |= put(dir, fuzzer, "line", i, &mode, mode ? 1 : 0,
			   lines[i], strlen(lines[i]));
	return bad;
}

/* Command lines: parser byte, then NUL-separated arguments. */
#define ARGS(s)	{ s, sizeof(s) - 1 }
static int cli_seeds(const char *dir)
{
	static const struct { const char *s; size_t len; } lines[] = {
		ARGS("\0--vmm\0/run/vmm.sock\0--to\0" "10.0.0.2:4444\0--channels\0004\0--max-downtime\0" "300\0--bandwidth\0001000\0--max-throttle\00050\0--timeout\00060\0--io-timeout\00010\0--json\0--device\0kmig-sample:0\0--save-at-switchover\0/tmp"),
		ARGS("\1--vmm\0@vmm\0--listen\0:4444\0--device\0kmig-sample:1\0--json\0--help"),
		ARGS("\2--vmm\0@vmm\0--device\0kmig-sample:0\0--force"),
		ARGS("\3--json\00042"),
		ARGS("\4--json"),
		ARGS("\5--help"),
		ARGS("\6--ctl\0@vmm\0--mem\00064\0--slots\0002\0--vcpus\0002\0--pattern\0hot\0--batch\00064\0--hot-pages\000100\0--rate\0001000\0--incoming\0--prealloc\0--backend\0memfd"),
	};
	unsigned int i;
	int bad = 0;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		bad |= put(dir, "cli", "args", i, "", 0, lines[i].s,
			   lines[i].len);
	return bad;
}

static int text_seeds(const char *dir)
{
	static const char *const requests[] = {
		"status", "pause", "resume force", "migrated", "save",
		"load 4096", "throttle 50", "rate 1000", "pattern hot 100",
		"checksum", "memfd", "ctx", "dirtylog at-resume", "quit",
	};
	static const char *const replies[] = {
		"ok state=paused vcpus=2 counter=10 writes=20 rate=0 throttle=0 throttled_ms=0 pattern=random ws_pages=100 mem=67108864 slots=2\n",
		"ok 2 0:0x0:0x2000000 1:0x2000000:0x2000000\n",
		"ok 1234\n",
		"err EBUSY save: pause the VM first\n",
	};

	return put_lines(dir, "vmm_ctl", 0, requests,
			 sizeof(requests) / sizeof(requests[0])) |
	       put_lines(dir, "vmm_reply", 0, replies,
			 sizeof(replies) / sizeof(replies[0])) |
	       cli_seeds(dir);
}

static int return_path_seeds(const char *dir)
{
	static const uint8_t uuid[16] = { 1, 2, 3 };
	uint8_t m[1 + MIG_HS_MAX_MSG];
	uint16_t type;
	size_t len;
	int bad = 0;

	for (type = MIG_HS_RESUMED; type <= MIG_HS_UNSURE; type++) {
		m[0] = 2;	/* the message's own migration id */
		len = mig_hs_encode(m + 1, uuid, type, 1000 * type,
				    type == MIG_HS_FAILED ? "cannot load" : NULL);
		bad |= put(dir, "return_path", "msg", type, m, 1 + len, "", 0);
	}
	return bad;
}

/* A complete state for @n vCPUs, each part of KVM's size. */
static int vcpu_seed(const char *dir, unsigned int n)
{
	static const struct { uint16_t part; size_t size; } parts[] = {
		{ KMIG_VCPU_REGS, sizeof(struct kvm_regs) },
		{ KMIG_VCPU_FPU, sizeof(struct kvm_fpu) },
		{ KMIG_VCPU_XSAVE, sizeof(struct kvm_xsave) },
		{ KMIG_VCPU_XCRS, sizeof(struct kvm_xcrs) },
		{ KMIG_VCPU_SREGS, sizeof(struct kvm_sregs) },
		{ KMIG_VCPU_MSRS, sizeof(struct kvm_msrs) +
				  2 * sizeof(struct kvm_msr_entry) },
		{ KMIG_VCPU_MP_STATE, sizeof(struct kvm_mp_state) },
		{ KMIG_VCPU_LAPIC, sizeof(struct kvm_lapic_state) },
		{ KMIG_VCPU_EVENTS, sizeof(struct kvm_vcpu_events) },
		{ KMIG_VCPU_DEBUGREGS, sizeof(struct kvm_debugregs) },
	};
	static uint8_t blob[8192];
	struct kmig_section sec = { .kind = KMIG_SEC_VCPU, .version = 1,
				    .name = "cpu" };
	uint8_t mode = n - 1;
	struct kmig_enc e;
	const uint8_t *buf;
	unsigned int i, j;
	size_t len;
	int bad;

	*(uint32_t *)blob = 2;		/* kvm_msrs.nmsrs */
	kmig_enc_init_mem(&e);
	kmig_enc_header(&e);
	kmig_enc_caps(&e, 0, 0);
	for (i = 0; i < n; i++) {
		sec.type = KMIG_REC_SECTION_FULL;
		sec.id = i + 1;
		sec.instance = i;
		kmig_enc_section(&e, &sec);
		for (j = 0; j < sizeof(parts) / sizeof(parts[0]); j++)
			kmig_enc_vcpu(&e, i, parts[j].part, blob, parts[j].size);
		sec.type = KMIG_REC_SECTION_FOOTER;
		kmig_enc_section(&e, &sec);
	}
	kmig_enc_eos(&e);
	buf = kmig_enc_mem(&e, &len);
	bad = put(dir, "vcpu_state", "vcpus", n, &mode, 1, buf, len);
	kmig_enc_free(&e);
	return bad;
}

/* The netlink target's framing: request byte, then le16 length, datagram. */
static int put_nl(const char *dir, const char *name, uint8_t req,
		  const struct nlmsghdr *nlh)
{
	uint8_t head[3] = { req, nlh->nlmsg_len & 0xff, nlh->nlmsg_len >> 8 };

	return put(dir, "netlink", name, req, head, 3, nlh, nlh->nlmsg_len);
}

static struct nlmsghdr *nl_msg(void *buf, uint16_t type, uint8_t cmd)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));

	nlh->nlmsg_type = type;
	nlh->nlmsg_seq = 7;		/* the target's FUZZ_SEQ, FUZZ_PORTID */
	nlh->nlmsg_pid = 0x4b4d;
	g->cmd = cmd;
	g->version = 1;
	return nlh;
}

static void nl_ctx(struct nlmsghdr *nlh)
{
	struct nlattr *slots, *slot;
	uint32_t i;

	mnl_attr_put_u32(nlh, KMIG_A_CTX_ID, 1);
	mnl_attr_put_u32(nlh, KMIG_A_CTX_OWNER, 100);
	mnl_attr_put_u32(nlh, KMIG_A_CTX_MODE, 1);
	mnl_attr_put_u64(nlh, KMIG_A_CTX_PAGES, 10);
	mnl_attr_put_u64(nlh, KMIG_A_CTX_DIRTY, 2);
	mnl_attr_put_u64(nlh, KMIG_A_CTX_MISSING, 3);
	mnl_attr_put_u64(nlh, KMIG_A_CTX_PAGE_LIMIT, 0);
	slots = mnl_attr_nest_start(nlh, KMIG_A_CTX_SLOTS);
	for (i = 0; i < 2; i++) {
		slot = mnl_attr_nest_start(nlh, KMIG_A_SLOT);
		mnl_attr_put_u32(nlh, KMIG_A_SLOT_ID, i);
		mnl_attr_put_u32(nlh, KMIG_A_SLOT_FLAGS, 0);
		mnl_attr_put_u64(nlh, KMIG_A_SLOT_GPA, i << 20);
		mnl_attr_put_u64(nlh, KMIG_A_SLOT_SIZE, 1 << 20);
		mnl_attr_put_u64(nlh, KMIG_A_SLOT_PAGES, 5);
		mnl_attr_put_u64(nlh, KMIG_A_SLOT_DIRTY, 1);
		mnl_attr_put_u64(nlh, KMIG_A_SLOT_MISSING, 0);
		mnl_attr_nest_end(nlh, slot);
	}
	mnl_attr_nest_end(nlh, slots);
}

static void nl_dev(struct nlmsghdr *nlh)
{
	struct nlattr *dev = mnl_attr_nest_start(nlh, KMIG_A_DEV);

	mnl_attr_put_strz(nlh, KMIG_A_DEV_NAME, "kmig-sample");
	mnl_attr_put_u32(nlh, KMIG_A_DEV_INSTANCE, 0);
	mnl_attr_put_u32(nlh, KMIG_A_DEV_VERSION, 1);
	mnl_attr_put_u32(nlh, KMIG_A_DEV_STATE, 1);
	mnl_attr_put_u64(nlh, KMIG_A_DEV_PENDING_BYTES, 4096);
	mnl_attr_put_u8(nlh, KMIG_A_DEV_OPEN, 1);
	mnl_attr_nest_end(nlh, dev);
}

/* One reply of each kind, and an error with the kernel's message. */
static int netlink_seeds(const char *dir)
{
	static uint8_t buf[8192];
	struct nlattr *nest, *grp, *lat;
	struct nlmsghdr *nlh;
	struct nlmsgerr *err;
	int bad = 0;
	uint16_t i;

	nlh = nl_msg(buf, GENL_ID_CTRL, CTRL_CMD_NEWFAMILY);
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, 0x20);
	mnl_attr_put_u32(nlh, CTRL_ATTR_VERSION, 1);
	nest = mnl_attr_nest_start(nlh, CTRL_ATTR_MCAST_GROUPS);
	grp = mnl_attr_nest_start(nlh, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_MCAST_GRP_NAME, KMIG_MCGRP_EVENTS);
	mnl_attr_put_u32(nlh, CTRL_ATTR_MCAST_GRP_ID, 9);
	mnl_attr_nest_end(nlh, grp);
	mnl_attr_nest_end(nlh, nest);
	bad |= put_nl(dir, "family", 0, nlh);

	nlh = nl_msg(buf, 0x20, KMIG_CMD_GET_INFO);
	mnl_attr_put_strz(nlh, KMIG_A_INFO_VERSION, "1.0");
	mnl_attr_put_u32(nlh, KMIG_A_INFO_API_VERSION, KMIG_API_VERSION);
	mnl_attr_put_u64(nlh, KMIG_A_INFO_FEATURES, 3);
	nest = mnl_attr_nest_start(nlh, KMIG_A_INFO_OBJECTS);
	for (i = KMIG_A_OBJ_FILES; i <= KMIG_A_OBJ_DEVICE_FILES; i++)
		mnl_attr_put_u64(nlh, i, i);
	mnl_attr_nest_end(nlh, nest);
	bad |= put_nl(dir, "info", 1, nlh);

	nlh = nl_msg(buf, 0x20, KMIG_CMD_CTX_GET);
	nl_ctx(nlh);
	bad |= put_nl(dir, "ctx", 2, nlh) | put_nl(dir, "ctx", 3, nlh);

	nlh = nl_msg(buf, 0x20, KMIG_CMD_CTX_STATS);
	mnl_attr_put_u32(nlh, KMIG_A_CTX_ID, 1);
	nest = mnl_attr_nest_start(nlh, KMIG_A_CTX_STATS);
	mnl_attr_put_u64(nlh, KMIG_A_STATS_FAULTS, 5);
	mnl_attr_put_u64(nlh, KMIG_A_STATS_WAITERS, 1);
	lat = mnl_attr_nest_start(nlh, KMIG_A_STATS_LATENCY_US);
	for (i = 1; i <= 32; i += 7)
		mnl_attr_put_u64(nlh, i, i);
	mnl_attr_nest_end(nlh, lat);
	mnl_attr_nest_end(nlh, nest);
	bad |= put_nl(dir, "stats", 4, nlh);

	nlh = nl_msg(buf, 0x20, KMIG_CMD_DEV_GET);
	nl_dev(nlh);
	bad |= put_nl(dir, "dev", 5, nlh) | put_nl(dir, "dev", 6, nlh);

	nlh = nl_msg(buf, 0x20, KMIG_CMD_CTX_NEW);
	mnl_attr_put_u32(nlh, KMIG_A_CTX_ID, 1);
	mnl_attr_put_u32(nlh, KMIG_A_CTX_OWNER, 100);
	bad |= put_nl(dir, "event", 7, nlh);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_CAPPED | NLM_F_ACK_TLVS;
	nlh->nlmsg_seq = 7;
	nlh->nlmsg_pid = 0x4b4d;
	err = mnl_nlmsg_put_extra_header(nlh, sizeof(*err));
	err->error = -EINVAL;
	mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, "no such context");
	bad |= put_nl(dir, "error", 3, nlh);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_seq = 7;
	nlh->nlmsg_pid = 0x4b4d;
	*(int *)mnl_nlmsg_put_extra_header(nlh, sizeof(int)) = 0;
	bad |= put_nl(dir, "done", 2, nlh);
	return bad;
}

int main(int argc, char **argv)
{
	struct kmig_hello h = { .channel = 1, .nchannels = 3 };
	struct kmig_hello last = { .channel = KMIG_HELLO_MAX_CHANNELS - 1,
				   .nchannels = KMIG_HELLO_MAX_CHANNELS,
				   .uuid = { 0xde, 0xad, 0xbe, 0xef } };
	uint8_t hello[KMIG_HELLO_SIZE], m;
	struct kmig_enc e;
	const uint8_t *buf;
	size_t len;
	int bad = 0, mode;

	if (argc != 2) {
		fprintf(stderr, "usage: seed DIR\n");
		return 2;
	}
	bad |= put_torn(argv[1]);
	bad |= put_snap(argv[1]);
	for (mode = 0; mode < 4; mode++) {
		kmig_enc_init_mem(&e);
		everything(&e, 0);
		buf = kmig_enc_mem(&e, &len);
		bad |= put_stream(argv[1], "everything", mode, buf, len);
		kmig_enc_free(&e);

		kmig_enc_init_mem(&e);
		everything(&e, KMIG_SCAP_PAGE_XXH64);
		buf = kmig_enc_mem(&e, &len);
		bad |= put_stream(argv[1], "xxh64", mode, buf, len);
		kmig_enc_free(&e);

		kmig_enc_init_mem(&e);
		kmig_enc_header(&e);
		kmig_enc_caps(&e, 0, 0);
		kmig_enc_eos(&e);
		buf = kmig_enc_mem(&e, &len);
		bad |= put_stream(argv[1], "minimal", mode, buf, len);
		kmig_enc_free(&e);

		m = mode;
		kmig_hello_encode(&h, hello);
		bad |= put(argv[1], "stream_dec", "hello", mode, &m, 1,
			   hello, sizeof(hello));
		bad |= put(argv[1], "hello", "hello", mode, &m, 1,
			   hello, sizeof(hello));
		kmig_hello_encode(&last, hello);
		bad |= put(argv[1], "hello", "last", mode, &m, 1,
			   hello, sizeof(hello));
	}
	return bad | return_path_seeds(argv[1]) | vcpu_seed(argv[1], 1) |
	       vcpu_seed(argv[1], 3) | netlink_seeds(argv[1]) |
	       text_seeds(argv[1]);
}
