/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Precopy live migration, shared by `kmig migrate` (source, migrate.c) and
 * `kmig incoming` (destination, incoming.c).
 *
 *   mig.c      options, sockets, the VMM's context, save-at-switchover
 *   send.c     page senders: one per channel, zero-page detection, rate cap
 *   devstate.c device regions: precopy chunks, stop-and-copy, resume
 *   report.c   progress line, summary, --json job info
 *
 * Wire layout (Documentation/kmig.8, Documentation/stream-format.rst):
 * channel 0 (main) carries a hello, then one stream: CAPS, CHANNELS (when
 * page channels exist), OPEN_RETURN_PATH, per round a RAM section part
 * (pages only without page channels), device parts, ROUND_SYNC; then
 * SWITCHOVER, the final RAM part, one VCPU section per vCPU, the final
 * device parts, END_OF_STREAM. Page channel i (1..N) carries a hello and
 * its own stream of RAM section parts, each followed by ROUND_SYNC.
 * After END_OF_STREAM the main connection carries the switchover
 * handshake (MIG_HS_* below).
 */
#ifndef KMIG_MIG_H
#define KMIG_MIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "enc.h"

#define MIG_PAGE		4096u
#define MIG_MAX_SLOTS		16
#define MIG_MAX_DEVICES		16
#define MIG_MAX_CHANNELS	16	/* page channels */
#define MIG_RAM_SECTION		1000u	/* + channel */
#define MIG_DEV_SECTION		2000u	/* + device index */
/* Pages per unit of work: sender k takes chunks k, k + N, ... */
#define MIG_CHUNK_PAGES		256u
/* A sender's buffer: pages read and not yet written out. */
#define MIG_SEND_BUF_PAGES	(2 * MIG_CHUNK_PAGES)
/* Default --io-timeout, and how often an idle main channel says PING. */
#define MIG_IO_TIMEOUT_S	30
#define MIG_PING_NS		1000000000ull
/* The destination refuses more vCPU state than the VMM would take. */
#define MIG_MAX_VCPU_STATE	(64u << 20)

/*
 * The switchover handshake, on the main connection after the stream:
 * 16-byte messages, le32 magic, le32 type, le64 value.
 *
 *   destination -> source  LOADED   all arrived and loaded, not running
 *   source -> destination  GO       run it there; the source never will
 *   destination -> source  RESUMED  it runs; value: µs from SWITCHOVER
 *   destination -> source  FAILED   it does not run there and will not;
 *                                   value: the errno
 *
 * The source resumes the guest itself only before it sent GO, or after a
 * FAILED. If the connection breaks after GO the guest stays paused on the
 * source: it may be running on the destination, and a guest running on
 * both hosts is worse than one running on neither until someone looks.
 */
#define MIG_HS_MAGIC		0x504d524bu	/* "KRMP" */
#define MIG_HS_SIZE		16
enum mig_hs_type {
	MIG_HS_RESUMED = 1,
	MIG_HS_FAILED = 2,
	MIG_HS_LOADED = 3,
	MIG_HS_GO = 4,
};

struct mig_device {
	char name[32];
	uint32_t instance;
	int fd;
	uint64_t data_max;
	bool seen, ended;	/* destination: section started / finished */
	bool started;		/* a section was opened for it */
	uint64_t bytes;
};

struct mig_opts {
	const char *cmd;		/* "migrate" / "incoming" */
	const char *vmm;
	struct sockaddr_in addr;
	unsigned int channels;		/* total, main included */
	uint64_t max_downtime_ms;
	uint64_t bandwidth;		/* bytes per second, 0: no cap */
	uint64_t timeout_ms;		/* 0: none */
	unsigned int io_timeout_s;	/* a connection silent this long is lost */
	bool json;
	const char *save_dir;
	unsigned int ndevs;
	struct mig_device devs[MIG_MAX_DEVICES];
};

struct mig_slot {
	uint32_t id;
	uint64_t gpa, size, npages;
	uint8_t *map;			/* source: the slot, read only */
	uint64_t *bitmap;		/* source: this round's pages */
	uint64_t *present;		/* source, round 0: pages with memory */
	uint64_t *written;		/* destination: pages not zero */
};

struct mig_vm {
	struct vmm_client vmm;
	int ctx_fd;
	unsigned int nslots;
	struct mig_slot slots[MIG_MAX_SLOTS];
	uint64_t mem_size;
};

/* Job info (what --json prints; libvirt domjobinfo names). */
struct mig_job {
	const char *status;		/* "active", "completed", "failed" */
	uint64_t start_ns;
	uint64_t time_elapsed_ms;
	uint64_t downtime_ms;
	uint64_t expected_downtime_ms;
	uint64_t setup_ms;
	uint64_t data_total, data_processed, data_remaining;
	uint64_t memory_total, memory_processed, memory_remaining;
	uint64_t memory_constant, memory_normal, memory_normal_bytes;
	uint64_t memory_bps, memory_dirty_rate;	/* bytes/s, pages/s */
	uint64_t memory_iteration;
	uint64_t throttle;
	uint64_t disk_total;
	uint64_t device_bytes;
	uint64_t resume_us;		/* destination: switchover to resume */
	unsigned int channels;
	char error[512];
};

/* Sender of one channel (main or page channel). */
struct mig_sender {
	struct kmig_enc enc;
	int sock;
	unsigned int index, count;	/* chunk share: index of count */
	const struct mig_vm *vm;
	uint64_t rate;			/* bytes per second, 0: no cap */
	uint64_t cap_start_ns, cap_bytes;
	uint8_t *buf;			/* MIG_SEND_BUF_PAGES */
	uint64_t used;			/* pages of buf the encoder holds */
	/* the batch being built: pages of buf, not yet encoded */
	uint32_t bslot;
	unsigned int nb;
	uint64_t bpages[KMIG_STREAM_MAX_BATCH];
	const void *bdata[KMIG_STREAM_MAX_BATCH];
	/* per round */
	uint64_t pages, zero, bytes;
	int err;
	char errmsg[256];
};

uint64_t mig_now_ns(void);
/*
 * Keep the first failure's message in @err (later ones say less: they
 * follow from it) and return @ret, or -EIO when it is 0.
 */
int mig_fail(char *err, size_t n, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int mig_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int mig_parse_u64(const char *cmd, const char *opt, const char *s,
		  uint64_t min, uint64_t max, uint64_t *out);
int mig_parse_addr(const char *cmd, const char *s, bool host_optional,
		   struct sockaddr_in *sa);
int mig_parse_device(struct mig_opts *o, const char *s);
int mig_check_dir(const char *cmd, const char *dir);
/*
 * The options migrate and incoming share (--vmm, --timeout, --io-timeout,
 * --json, --device, --save-at-switchover, --help) and getopt's complaints:
 * takes
 * option @c with @optarg; 0 when taken, 1 after printing @usage for
 * --help, -EINVAL for bad input or an unknown option.
 */
int mig_parse_common(struct mig_opts *o, int c, const char *usage,
		     char *argv[]);
/* After the options: no stray arguments, and --vmm was given. */
int mig_parse_end(struct mig_opts *o, int argc, char *argv[]);
int mig_ensure_module(const char *cmd);

/*
 * Connect to the VMM, take its context fd and slots, and with @map map
 * them read only (the source: a page read through the map gets memory, so
 * it reads only present pages). The destination maps them writable
 * itself, and gives pages memory (KMIG_INSTALL) before it writes them
 * through the mapping: the ioctl reports a page limit or a lack of memory
 * as an error, where the write would get SIGBUS.
 */
int mig_vm_attach(struct mig_vm *vm, const char *path, bool map,
		  char *err, size_t n);
void mig_vm_detach(struct mig_vm *vm);

void mig_sock_setup(int fd, int timeout_s);
int mig_io_all(int fd, void *buf, size_t len, bool out);
int mig_hs_send(int fd, uint32_t type, uint64_t value);
/* A handshake message: 0, -errno, -EPROTO when it is not one. */
int mig_hs_recv(int fd, uint32_t *type, uint64_t *value);

/* DIR/slot-ID.bin for every slot, DIR/NAME from a buffer. */
int mig_save_slots(const struct mig_vm *vm, const char *dir, char *err,
		   size_t n);
int mig_save_file(const char *dir, const char *name, const void *buf,
		  size_t len, char *err, size_t n);

/* send.c */
int mig_sender_init(struct mig_sender *s, int sock, unsigned int index,
		    unsigned int count, const struct mig_vm *vm,
		    uint64_t rate);
void mig_sender_free(struct mig_sender *s);
/* Pages set in the slots' bitmaps that fall in this sender's share. */
int mig_send_pages(struct mig_sender *s);
bool mig_page_is_zero(const void *p);

/* devstate.c */
int mig_dev_open(struct mig_device *d, char *err, size_t n);
void mig_dev_close(struct mig_device *d);
int mig_dev_set_state(struct mig_device *d, uint32_t state);
int mig_dev_pending(struct mig_device *d, uint64_t *pending);
/* Source: one section part with up to @budget bytes (0: all, then the
 * config); RUNNING|SAVING must be set, or SAVING for the final part. */
int mig_dev_save(struct mig_device *d, struct kmig_enc *e, uint32_t sec_id,
		 uint8_t sec_type, uint64_t budget, bool final);
/* Destination: one packet into a device in RESUMING. */
int mig_dev_load(struct mig_device *d, uint32_t marker, const void *data,
		 uint32_t size);

/* report.c */
void mig_progress(const struct mig_opts *o, const struct mig_job *j);
void mig_report(const struct mig_opts *o, const struct mig_job *j,
		bool source);

#endif /* KMIG_MIG_H */
