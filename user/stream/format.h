/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmig migration stream: every constant of the wire format, in one place.
 *
 * The encoder, the decoder, the fuzzer, the tests and the name tables all
 * include this header; nothing else defines a number of the format.
 * Documentation/stream-format.rst describes the same layout byte by byte
 * (and a host test checks that every name and value below appears there).
 *
 * All integers on the wire are little-endian. Layout summary:
 *
 *   stream  := header record* END_OF_STREAM
 *   header  := le32 magic, le16 version, le16 header length (16),
 *              le32 reserved (0), le32 crc32c(bytes 0..11)
 *   record  := u8 type, u8 flags, le16 reserved (0), le32 payload length,
 *              payload, le32 crc32c(record header and payload)
 *              (RAM_PAGES: per-page CRCs instead of that last one)
 *
 * The first record is CAPS. A channel hello (64 bytes) precedes the stream
 * on every connection of a multi-channel migration.
 */
#ifndef KMIG_STREAM_FORMAT_H
#define KMIG_STREAM_FORMAT_H

/* "KMIG" in the first four bytes of a stream. */
#define KMIG_STREAM_MAGIC		0x47494d4bu
#define KMIG_STREAM_VERSION		3
#define KMIG_STREAM_HEADER_SIZE		16
#define KMIG_STREAM_REC_HDR_SIZE	8
#define KMIG_STREAM_CRC_SIZE		4

/* Limits (a decoder refuses anything larger before reading it). */
#define KMIG_STREAM_PAGE_SIZE		4096
#define KMIG_STREAM_MAX_PAYLOAD		(1u << 20)
#define KMIG_STREAM_MAX_NAME		63
#define KMIG_STREAM_MAX_SECTIONS	256
#define KMIG_STREAM_MAX_VCPUS		4096
#define KMIG_STREAM_MAX_VCPU_PART	(64u << 10)
#define KMIG_STREAM_MAX_SLOTS		512
#define KMIG_STREAM_MAX_BATCH		128	/* pages in a RAM_PAGES */
#define KMIG_STREAM_MAX_ZERO_RUN	65536	/* pages in a RAM_ZERO */

/* Record types: X(name, value). */
#define KMIG_REC_TYPES(X)			\
	X(CAPS,			0x01)		\
	X(SECTION_START,	0x02)		\
	X(SECTION_PART,		0x03)		\
	X(SECTION_END,		0x04)		\
	X(SECTION_FULL,		0x05)		\
	X(SECTION_FOOTER,	0x06)		\
	X(COMMAND,		0x07)		\
	X(RAM_PAGE,		0x10)		\
	X(RAM_ZERO,		0x11)		\
	X(RAM_PAGES,		0x12)		\
	X(RAM_DISCARD,		0x13)		\
	X(VCPU_STATE,		0x20)		\
	X(DEVICE_STATE,		0x21)		\
	X(END_OF_STREAM,	0x7f)

/* Record flags. CONTINUE: RAM record in the slot of the previous one. */
#define KMIG_REC_FLAGS(X)			\
	X(CONTINUE,		0x01)

/* Section kinds (what a section's body may contain). */
#define KMIG_SEC_KINDS(X)			\
	X(RAM,			1)		\
	X(VCPU,			2)		\
	X(DEVICE,		3)

/* Commands (record COMMAND, le16 id). */
#define KMIG_SCMD_IDS(X)			\
	X(PING,			1)		\
	X(ROUND_SYNC,		2)		\
	X(SWITCHOVER,		3)		\
	X(CHANNELS,		4)		\
	X(OPEN_RETURN_PATH,	5)		\
	X(POSTCOPY,		6)		\
	X(POSTCOPY_RUN,		7)

/* Command payload sizes (after the le16 id and le16 reserved). */
#define KMIG_SCMD_PING_LEN		4	/* le32 token */
#define KMIG_SCMD_ROUND_SYNC_LEN	8	/* le64 round */
#define KMIG_SCMD_SWITCHOVER_LEN	0
#define KMIG_SCMD_CHANNELS_LEN		20	/* le16 n, le16 0, uuid */
#define KMIG_SCMD_OPEN_RETURN_PATH_LEN	0
#define KMIG_SCMD_POSTCOPY_LEN		0
#define KMIG_SCMD_POSTCOPY_RUN_LEN	0

/* Capability bits (record CAPS: le64 required, le64 optional). */
#define KMIG_SCAP_BITS(X)			\
	X(MULTI_CHANNEL,	0x1)		\
	X(RETURN_PATH,		0x2)		\
	X(DEVICE_STATE,		0x4)		\
	X(POSTCOPY,		0x8)		\
	X(PAGE_XXH64,		0x10)

/* Parts of a vCPU's state (record VCPU_STATE, le16 part). */
#define KMIG_VCPU_PARTS(X)			\
	X(REGS,			1)		\
	X(SREGS,		2)		\
	X(FPU,			3)		\
	X(MSRS,			4)		\
	X(LAPIC,		5)		\
	X(XSAVE,		6)		\
	X(XCRS,			7)		\
	X(EVENTS,		8)		\
	X(MP_STATE,		9)		\
	X(DEBUGREGS,		10)

/* Device state packets (record DEVICE_STATE, le32 marker). */
#define KMIG_DEVPKT_MARKERS(X)			\
	X(END_OF_STATE,		1)		\
	X(CONFIG_STATE,		2)		\
	X(SETUP_STATE,		3)		\
	X(DATA_STATE,		4)

/* Fixed payload sizes of records. */
#define KMIG_REC_CAPS_LEN		16
#define KMIG_REC_SECTION_HDR_LEN	13	/* then name bytes */
#define KMIG_REC_SECTION_ID_LEN		4	/* PART, END, FOOTER */
#define KMIG_REC_COMMAND_HDR_LEN	4
#define KMIG_REC_RAM_SLOT_LEN		4	/* absent with CONTINUE */
#define KMIG_REC_RAM_PAGE_LEN		(8 + KMIG_STREAM_PAGE_SIZE)
#define KMIG_REC_RAM_ZERO_LEN		12	/* le64 page, le32 count */
/* RAM_DISCARD: le32 slot, le64 first page, le32 count (never CONTINUE). */
#define KMIG_REC_RAM_DISCARD_LEN	16
/*
 * RAM_PAGES: le32 slot, le16 count n, le16 reserved, n x le64 page,
 * n x le32 crc32c of each page, le32 crc32c of the record up to here (the
 * list CRC), then the n pages. No CRC follows the pages: each has its
 * own, in the list, so that a page torn by a guest write while it was
 * sent is known apart from the others (stream-format.rst).
 */
#define KMIG_REC_RAM_PAGES_HDR_LEN	8
#define KMIG_REC_RAM_PAGES_LIST_LEN(n)	(KMIG_REC_RAM_PAGES_HDR_LEN + 12 * (n))
#define KMIG_REC_RAM_PAGES_LEN(n)	(KMIG_REC_RAM_PAGES_LIST_LEN(n) + \
					 KMIG_STREAM_CRC_SIZE + \
					 KMIG_STREAM_PAGE_SIZE * (n))
#define KMIG_REC_VCPU_HDR_LEN		8
#define KMIG_REC_DEVICE_HDR_LEN		16
#define KMIG_REC_EOS_LEN		8	/* le64 records before it */

/* Channel hello: 64 bytes on every connection, before the stream. */
#define KMIG_HELLO_MAGIC		0x48434d4bu	/* "KMCH" */
#define KMIG_HELLO_VERSION		1
#define KMIG_HELLO_SIZE			64
#define KMIG_HELLO_OFF_MAGIC		0
#define KMIG_HELLO_OFF_VERSION		4
#define KMIG_HELLO_OFF_CHANNEL		6
#define KMIG_HELLO_OFF_NCHANNELS	8
#define KMIG_HELLO_OFF_FLAGS		10
#define KMIG_HELLO_OFF_UUID		16
#define KMIG_HELLO_OFF_CRC		60
#define KMIG_HELLO_MAX_CHANNELS		64

/*
 * Postcopy recovery (stream-format.rst, "Postcopy recovery"): on a new
 * connection the source sends the resume hello (header, one entry per
 * slot, le32 crc32c), the destination answers with its received-page
 * bitmap (header, per slot an entry and its le64 words, le32 crc32c),
 * then a stream follows as usual, with the return path beside it.
 */
#define KMIG_RESUME_MAGIC		0x53524d4bu	/* "KMRS" */
#define KMIG_RESUME_VERSION		1
#define KMIG_RESUME_HDR_SIZE		24	/* magic, version, n, uuid */
#define KMIG_RESUME_SLOT_SIZE		16	/* le32 id, le32 0, le64 pages */
#define KMIG_RBITMAP_MAGIC		0x4d42524bu	/* "KRBM" */
#define KMIG_RBITMAP_VERSION		1
#define KMIG_RBITMAP_HDR_SIZE		8	/* magic, version, n */
#define KMIG_RBITMAP_SLOT_SIZE		16	/* le32 id, le32 0, le64 pages */
#define KMIG_RECOVER_SECTION		3002	/* RAM "recover" */

#define KMIG_X_ENUM(prefix, name, value)	prefix##name = value,
#define KMIG_X_REC(n, v)	KMIG_X_ENUM(KMIG_REC_, n, v)
#define KMIG_X_RECF(n, v)	KMIG_X_ENUM(KMIG_RECF_, n, v)
#define KMIG_X_SEC(n, v)	KMIG_X_ENUM(KMIG_SEC_, n, v)
#define KMIG_X_SCMD(n, v)	KMIG_X_ENUM(KMIG_SCMD_, n, v)
#define KMIG_X_SCAP(n, v)	KMIG_X_ENUM(KMIG_SCAP_, n, v)
#define KMIG_X_VCPU(n, v)	KMIG_X_ENUM(KMIG_VCPU_, n, v)
#define KMIG_X_DEVPKT(n, v)	KMIG_X_ENUM(KMIG_DEVPKT_, n, v)

enum kmig_rec_type { KMIG_REC_TYPES(KMIG_X_REC) };
enum kmig_rec_flag { KMIG_REC_FLAGS(KMIG_X_RECF) };
enum kmig_sec_kind { KMIG_SEC_KINDS(KMIG_X_SEC) };
enum kmig_scmd_id { KMIG_SCMD_IDS(KMIG_X_SCMD) };
enum kmig_scap_bit { KMIG_SCAP_BITS(KMIG_X_SCAP) };
enum kmig_vcpu_part { KMIG_VCPU_PARTS(KMIG_X_VCPU) };
enum kmig_devpkt_marker { KMIG_DEVPKT_MARKERS(KMIG_X_DEVPKT) };

#define KMIG_X_OR(n, v)		| (v)
#define KMIG_RECF_ALL		(0 KMIG_REC_FLAGS(KMIG_X_OR))
#define KMIG_SCAP_ALL		(0ull KMIG_SCAP_BITS(KMIG_X_OR))

#endif /* KMIG_STREAM_FORMAT_H */
