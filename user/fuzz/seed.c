// SPDX-License-Identifier: GPL-2.0
/*
 * Writes valid inputs into DIR/<fuzzer>/, one corpus per fuzzer, so each
 * starts from real records: streams (with all four mode bytes) for
 * stream_dec, the same behind chunk tables for stream_sock, valid hellos
 * for hello.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "enc.h"
#include "hello.h"

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

static void everything(struct kmig_enc *e)
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
	kmig_enc_caps(e, KMIG_SCAP_MULTI_CHANNEL | KMIG_SCAP_DEVICE_STATE,
		      KMIG_SCAP_RETURN_PATH);
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
	for (mode = 0; mode < 4; mode++) {
		kmig_enc_init_mem(&e);
		everything(&e);
		buf = kmig_enc_mem(&e, &len);
		bad |= put_stream(argv[1], "everything", mode, buf, len);
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
	return bad;
}
