/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Precopy live migration, shared by `kmig migrate` (source, precopy.c) and
 * `kmig incoming` (destination, incoming.c).
 *
 *   mig.c      options, sockets, the VMM's context, save-at-switchover
 *   addr.c     --to and --listen addresses
 *   accept.c   the listening socket: connections admitted by their hello
 *   precopy.c  the source's rounds and switchover (precopy.h)
 *   converge.c when the rounds converge, and auto-converge (precopy.h)
 *   incoming.c the destination
 *   devstate.c device regions: precopy chunks, stop-and-copy, resume
 *   report.c   progress line, summary, --json job info
 *
 * and from libkmig: the engines (engine.h, sender.h, receiver.h), the
 * return path and switchover handshake (handshake.h), the connections
 * of a migration and its first failure (link.h).
 */
#ifndef KMIG_MIG_H
#define KMIG_MIG_H

#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "blocktime.h"
#include "client.h"
#include "enc.h"
#include "engine.h"
#include "tls.h"
#include "util.h"

#define MIG_MAX_DEVICES		16

/*
 * A device section named "vmm-..." is the VMM's own device (kmig-vmm's
 * ring): it travels with the vCPU state, from the VMM's `save` to the
 * other VMM's `load`, never to a --device.
 */
#define MIG_VMM_DEVICE_PREFIX	"vmm-"

static inline bool mig_vmm_device(const char *section_name)
{
	return !strncmp(section_name, MIG_VMM_DEVICE_PREFIX,
			sizeof(MIG_VMM_DEVICE_PREFIX) - 1);
}

/*
 * vmmstate.c. mig_vmm_state_copy(): the records of the VMM's state
 * stream @buf (its vCPUs' and its own devices' sections) into @to, which
 * the caller opened and ends. mig_vmm_state_rebuild(): the records of @buf,
 * then @buf2's, as one stream in @out (a memory encoder, freed on
 * failure) that announces DEVICE_STATE, as the VMM's own save does when
 * it has a device. Both return 0 or -errno with why in @err.
 */
int mig_vmm_state_copy(const uint8_t *buf, size_t len, struct kmig_enc *to,
		       char *err, size_t n);
int mig_vmm_state_rebuild(const uint8_t *buf, size_t len,
			  const uint8_t *buf2, size_t len2,
			  struct kmig_enc *out, char *err, size_t n);

struct mig_device {
	char name[32];
	uint32_t instance;
	int fd;
	uint64_t data_max;
	bool seen, ended;	/* destination: section started / finished */
	bool started;		/* a section was opened for it */
	uint64_t bytes;
};

/* An IPv4 or IPv6 address and port: --to, --listen, a peer. */
struct mig_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* "a.b.c.d:PORT" or "[IPv6%SCOPE]:PORT", and its NUL. */
#define MIG_ADDR_STRLEN		80

struct mig_opts {
	const char *cmd;		/* "migrate" / "incoming" */
	const char *vmm;
	struct mig_addr addr;
	const char *to;			/* --to as given */
	const char *listen;		/* --listen as given */
	unsigned int channels;		/* total, main included */
	uint64_t max_downtime_ms;
	uint64_t bandwidth;		/* bytes per second, 0: no cap */
	unsigned int max_throttle;	/* auto-converge's cap, percent */
	uint64_t timeout_ms;		/* 0: none */
	unsigned int io_timeout_s;	/* a connection silent this long is lost */
	bool zerocopy;			/* source: MSG_ZEROCOPY */
	bool resume;			/* source: postcopy recovery */
	const char *ctl;		/* source: the job's control socket */
	bool postcopy_on_start;		/* ... switch on postcopy-start */
	bool postcopy;			/* source: switch to postcopy ... */
	uint64_t postcopy_rounds;	/* ... after this many rounds, or */
	uint64_t postcopy_ms;		/* ... the first round end after this */
	uint64_t postcopy_bandwidth;	/* bytes/s of the push, 0: --bandwidth */
	uint64_t postcopy_prefetch;	/* pages after a fault sent with it */
	bool postcopy_prefetch_set;	/* --postcopy-prefetch given */
	bool json;
	struct kmig_tls_cfg tls;	/* --tls-creds / --tls-psk */
	const char *save_dir;
	unsigned int ndevs;
	struct mig_device devs[MIG_MAX_DEVICES];
};

/* Job info (what --json prints; libvirt domjobinfo names), report.c. */
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
	uint64_t memory_torn;		/* destination: arrived torn, sent again */
	uint64_t throttle;
	uint64_t disk_total;
	uint64_t device_bytes;
	uint64_t resume_us;		/* destination: SWITCHOVER to resume */
	bool postcopy;
	uint64_t pc_discarded;		/* pages in the discard list */
	uint64_t pc_stale;		/* destination: fetched before RUN */
	uint64_t pc_blocks;		/* destination: 2 MiB blocks installed
					 * whole, in one call */
	uint64_t pc_staged, pc_copied;	/* destination: pages received in
					 * place and handed over, and copied */
	uint64_t pc_requests;		/* page requests (faults, stale) */
	uint64_t pc_requests_run;	/* destination: of them before RUN */
	uint64_t pc_pushed;		/* source: pages pushed after RUN */
	uint64_t pc_prefetched;		/* source: sent with an answer */
	__u64 pc_wait_us[MIG_LAT_BUCKETS];		/* source: a request's, read
						 * to the urgent thread's */
	__u64 pc_answer_us[MIG_LAT_BUCKETS];		/* and read to answer sent */
	uint64_t pc_faults;		/* destination: faults reported;
					 * source: requests after RESUMED */
	uint64_t pc_load_faults;	/* destination: faults while the VMM
					 * loaded its state (its devices') */
	uint64_t pc_lat_p50_us, pc_lat_p99_us;	/* fault to install */
	/* while postcopy runs after RESUMED, and at its end: */
	bool pc_running;		/* the progress line is postcopy's */
	uint64_t pc_remaining;		/* source: discard list pages not pushed
					 * yet; destination: missing pages
					 * still absent */
	uint64_t pc_urgent_bytes;	/* on the main channel since RUN */
	uint64_t pc_background_bytes;	/* on the page channels since RUN */
	struct mig_bt_stats pc_bt;	/* destination: blocktime */
	unsigned int channels;
	const char *page_sum;		/* "crc32c" or "xxh64" (psum.h) */
	enum kmig_tls_creds tls;
	unsigned int tls_ktls, tls_relay;	/* channels in each mode */
	char error[512];
};

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
/*
 * Option @opt's ADDR:PORT @s: a.b.c.d:PORT or [IPv6]:PORT, or with
 * @names a host name too (the first address it resolves to). 0, or
 * -EINVAL after a usage error.
 */
int mig_parse_addr(const char *cmd, const char *opt, const char *s,
		   bool names, struct mig_addr *a);
/* @ss as "a.b.c.d:PORT" or "[IPv6]:PORT" in @buf, which it returns. */
const char *mig_addr_str(const struct sockaddr_storage *ss,
			 char buf[MIG_ADDR_STRLEN]);
int mig_parse_device(struct mig_opts *o, const char *s);
int mig_check_dir(const char *cmd, const char *dir);
/*
 * The options the subcommands share, by the value getopt_long() returns
 * for them: above every character, so that a subcommand's own options
 * keep any letter. A subcommand lists those it takes in its table with
 * the MIG_LONGOPT_ entries below.
 */
enum mig_opt {
	MIG_OPT_VMM = 256,	/* --vmm SOCK */
	MIG_OPT_TO,		/* --to ADDR:PORT, host names too */
	MIG_OPT_LISTEN,		/* --listen ADDR:PORT */
	MIG_OPT_TIMEOUT,	/* --timeout S, 1..86400 */
	MIG_OPT_IO_TIMEOUT,	/* --io-timeout S, 2..3600 */
	MIG_OPT_JSON,		/* --json */
	MIG_OPT_DEVICE,		/* --device NAME:INSTANCE, repeatable */
	MIG_OPT_SAVE_DIR,	/* --save-at-switchover DIR */
	MIG_OPT_TLS_CREDS,	/* --tls-creds DIR */
	MIG_OPT_TLS_PSK,	/* --tls-psk FILE */
	MIG_OPT_HELP,		/* --help */
};

#define MIG_LONGOPT_VMM		{ "vmm", required_argument, NULL, MIG_OPT_VMM }
#define MIG_LONGOPT_TO		{ "to", required_argument, NULL, MIG_OPT_TO }
#define MIG_LONGOPT_LISTEN	{ "listen", required_argument, NULL, MIG_OPT_LISTEN }
#define MIG_LONGOPT_TIMEOUT	{ "timeout", required_argument, NULL, MIG_OPT_TIMEOUT }
#define MIG_LONGOPT_IO_TIMEOUT	{ "io-timeout", required_argument, NULL, MIG_OPT_IO_TIMEOUT }
#define MIG_LONGOPT_JSON	{ "json", no_argument, NULL, MIG_OPT_JSON }
#define MIG_LONGOPT_DEVICE	{ "device", required_argument, NULL, MIG_OPT_DEVICE }
#define MIG_LONGOPT_SAVE_DIR	{ "save-at-switchover", required_argument, NULL, MIG_OPT_SAVE_DIR }
#define MIG_LONGOPT_TLS_CREDS	{ "tls-creds", required_argument, NULL, MIG_OPT_TLS_CREDS }
#define MIG_LONGOPT_TLS_PSK	{ "tls-psk", required_argument, NULL, MIG_OPT_TLS_PSK }
#define MIG_LONGOPT_HELP	{ "help", no_argument, NULL, MIG_OPT_HELP }
/* What both agents of a migration take, besides --vmm and the address. */
#define MIG_LONGOPTS_MIGRATION						\
	MIG_LONGOPT_TIMEOUT, MIG_LONGOPT_IO_TIMEOUT, MIG_LONGOPT_JSON,	\
	MIG_LONGOPT_DEVICE, MIG_LONGOPT_SAVE_DIR, MIG_LONGOPT_TLS_CREDS,	\
	MIG_LONGOPT_TLS_PSK

/*
 * Takes shared option @c (enum mig_opt) with optarg, or getopt's
 * complaint about another: 0 when taken, 1 after printing @usage for
 * --help, -EINVAL for bad input or an unknown option.
 */
int mig_parse_common(struct mig_opts *o, int c, const char *usage,
		     char *argv[]);

/* An option that is not a subcommand's own (mig_own_opt). */
#define MIG_OPT_SHARED		1

/*
 * A subcommand's own option @c, its value in optarg, with @opaque: 0
 * when taken, -EINVAL after a usage error, or MIG_OPT_SHARED to leave it
 * to mig_parse_common().
 */
typedef int (*mig_own_opt)(struct mig_opts *o, int c, void *opaque);

/*
 * The options of @argv by table @opts, from the start as in a fresh
 * process (it can be called again): each first to @own (NULL: the
 * subcommand has none), the rest to mig_parse_common(). o->cmd names
 * the subcommand in messages. 0, 1 after printing @usage for --help, or
 * -EINVAL after saying what is wrong; then mig_parse_end().
 */
int mig_parse_opts(struct mig_opts *o, int argc, char *argv[],
		   const struct option *opts, const char *usage,
		   mig_own_opt own, void *opaque);

/*
 * The command line of a subcommand @cmd whose only option is --@opt
 * SOCK (and --help): SOCK in *@sock. 0, 1 after printing @usage, or
 * -EINVAL after saying what is wrong.
 */
int mig_parse_sock_only(const char *cmd, const char *opt, const char *usage,
			int argc, char *argv[], const char **sock);

/* Which address a subcommand needs: none, --to or --listen. */
enum mig_peer { MIG_PEER_NONE, MIG_PEER_TO, MIG_PEER_LISTEN };

/* After the options: no arguments are left: 0, or -EINVAL. */
int mig_parse_no_args(const struct mig_opts *o, int argc, char *argv[]);
/*
 * After the options: no stray arguments, --vmm was given, the TLS
 * credentials are there for the side (a --listen one is the server),
 * and the address @peer names was given: 0, or -EINVAL.
 */
int mig_parse_end(struct mig_opts *o, int argc, char *argv[],
		  enum mig_peer peer);
/* The module is loaded (or now loads): 0, or -errno with why in @err. */
int mig_ensure_module(char *err, size_t n);

/*
 * Connect to the VMM, take its context fd and slots, and map them with
 * @prot (0: not at all). The source maps them read only: a page read
 * through the map gets memory, so it reads only present pages. The
 * destination maps them writable and receives batches there, after
 * giving their pages memory with kmig_ctx_install_zero(), which reports a
 * page limit or a lack of memory as an error where a write through the
 * mapping would get SIGBUS.
 */
int mig_vm_attach(struct mig_vm *vm, const char *path, int prot,
		  char *err, size_t n);
/*
 * mig_vm_attach(), then the VMM's state ("running", "paused",
 * "incoming", "migrated", ...) in *@st, for the caller to check: 0, or
 * -errno with why in @err and nothing attached.
 */
int mig_vm_attach_status(struct mig_vm *vm, const char *path, int prot,
			 struct vmm_status *st, char *err, size_t n);
void mig_vm_detach(struct mig_vm *vm);
/*
 * A bitmap as large as the largest slot's (at least one word), zeroed,
 * to harvest dirty logs into: to free, or NULL when out of memory.
 */
uint64_t *mig_vm_bitmap_buf(const struct mig_vm *vm);
/*
 * Dirty logging of every slot of @vm on or off (off: of every slot,
 * even after a failure). 0, or -errno with why in @err, where the first
 * failure's message stays (mig_fail()).
 */
int mig_vm_set_logging(const struct mig_vm *vm, bool on, char *err,
		       size_t n);
/*
 * Harvest and empty every slot's dirty log in one call (one request to
 * the VMM's KVM log provider a pass; an older module: a call a slot
 * through @tmp, one slot's worth: mig_vm_bitmap_buf()), ORed into the
 * slot's bitmap with @keep,
 * else dropped; with @dirty, how many pages the bitmaps then mark. 0, or
 * -errno with why in @err, as mig_vm_set_logging().
 */
int mig_vm_harvest(struct mig_vm *vm, uint64_t *tmp, bool keep,
		   uint64_t *dirty, char *err, size_t n);
/*
 * Start logging every slot of @vm for a caller that sends every page
 * with memory after this anyway: what a log holds at its start is
 * harvested (through @tmp, as mig_vm_harvest()) and dropped. It can be
 * every page: KVM starts a KMIG_SLOT_KVM_LOG slot's log all dirty
 * (KVM_DIRTY_LOG_INITIALLY_SET), which would send the guest a second
 * time, and touch the pages it never wrote. 0, logging; or -errno with
 * why in @err, where a failed harvest stops the logging again.
 */
int mig_vm_log_start(struct mig_vm *vm, uint64_t *tmp, char *err, size_t n);
/* Each slot's pages with memory, into its present bitmap: 0 or -errno. */
int mig_vm_present(struct mig_vm *vm, char *err, size_t n);
/*
 * Which pages of slot @id (@npages) have memory now: a bitmap to free,
 * or NULL with -errno in *@ret and why in @err.
 */
uint64_t *mig_slot_present(int ctx_fd, uint32_t id, uint64_t npages,
			   int *ret, char *err, size_t n);
/* The VMM request @req: 0, or -errno with "the VMM refused ..." in @err. */
int mig_vmm_req(struct vmm_client *c, const char *req, char *err, size_t n);
/*
 * The guest runs here now (a migration's destination, a COLO takeover):
 * the VMM announces its MAC on its network (`announce`,
 * Documentation/vmm.rst), so that the switches of the segment send its
 * traffic to this host. 0 with what was sent in @msg ("02:6d:...: 1 of 5
 * frames, the last due 800 ms later"); -ENODEV when the VMM has no
 * network device (nothing to announce); other -errno with why in @msg.
 */
int mig_vmm_announce(struct vmm_client *c, char *msg, size_t n);
struct kmig_ctx_stats;
/*
 * The upper bound (µs) of the log2 latency bucket of @st that holds the
 * @pct-th percentile of its faults' fault-to-install latency; 0: none.
 */
uint64_t mig_fault_percentile(const struct kmig_ctx_stats *st,
			      unsigned int pct);
void mig_vm_present_free(struct mig_vm *vm);

void mig_sock_setup(int fd, int timeout_s);
/*
 * Bytes written to connection @fd that its peer has not acknowledged yet
 * (SIOCOUTQ; a TLS relay's socketpair: not yet taken by the relay); 0 if
 * it cannot tell.
 */
uint64_t mig_sock_unacked(int fd);

struct mig_chan;

/*
 * The source's wait for the destination's word: postcopy's RESUMED and
 * COMPLETE, a recovery's COMPLETE. The destination's keepalive keeps the
 * return path from falling silent, so the reader cannot tell one that
 * hangs from a slow one; what tells them apart is the stream's bytes it
 * takes, which must keep growing while it takes the package, the push
 * and the answers to its faults. Once it has them all, what is left is
 * short (Documentation/postcopy.rst, steps 6 and 8), well within
 * --io-timeout.
 */
struct mig_reply_wait {
	struct mig_chan *ch;		/* [0] main, then page channels */
	unsigned int n;
	uint64_t limit_ns;		/* --io-timeout */
	uint64_t high, since;		/* the most bytes taken, and when */
};

void mig_reply_wait_init(struct mig_reply_wait *w, struct mig_chan *ch,
			 unsigned int n, unsigned int io_timeout_s);
/*
 * Returns true if the destination has taken none of the stream's bytes
 * for --io-timeout (since mig_reply_wait_init() or the last it took).
 */
bool mig_reply_overdue(struct mig_reply_wait *w);
/* The stream's bytes written that the destination has not taken. */
uint64_t mig_reply_untaken(const struct mig_reply_wait *w);
/*
 * The source's TLS on connection @fd as --tls-creds/--tls-psk say
 * (nothing without), as the client of --to's host, bounded by
 * --io-timeout; then mig_tls_count(). 0, or -errno with why in @err.
 */
int mig_tls_client(const struct mig_opts *o, struct mig_job *j, int fd,
		   char *err, size_t n);
/* Count @fd's TLS mode in @j: kernel TLS, or the relay. */
void mig_tls_count(const struct mig_opts *o, struct mig_job *j, int fd);
/* A note on stderr when TLS has no kernel TLS here. */
void mig_tls_note(const struct mig_opts *o, const struct mig_job *j);

/* DIR/slot-ID.bin for every slot, DIR/NAME from a buffer. */
int mig_save_slots(const struct mig_vm *vm, const char *dir, char *err,
		   size_t n);
int mig_save_file(const char *dir, const char *name, const void *buf,
		  size_t len, char *err, size_t n);

/* devstate.c */
int mig_dev_open(struct mig_device *d, char *err, size_t n);
void mig_dev_close(struct mig_device *d);
int mig_dev_set_state(struct mig_device *d, uint32_t state);
/* Out of any state to RUNNING, a save or load under way dropped. */
int mig_dev_reset(struct mig_device *d);
int mig_dev_pending(struct mig_device *d, uint64_t *pending);
/* Source: one section part with up to @budget bytes (0: all, then the
 * config); RUNNING|SAVING must be set, or SAVING for the final part. */
int mig_dev_save(struct mig_device *d, struct kmig_enc *e, uint32_t sec_id,
		 uint8_t sec_type, uint64_t budget, bool final);
/*
 * Source, in a saving state: the next chunk staged and read into @buf
 * (data_max bytes), its size in *@size; the config into @buf
 * (KMIG_DEVICE_CONFIG_MAX bytes), its length in *@len.
 */
int mig_dev_read_chunk(struct mig_device *d, uint8_t *buf, uint64_t *size);
int mig_dev_get_config(struct mig_device *d, uint8_t *buf, uint32_t *len);
/* Destination: one packet into a device in RESUMING. */
int mig_dev_load(struct mig_device *d, uint32_t marker, const void *data,
		 uint32_t size);

/* report.c: the job model. The engines count; every figure of the
 * progress line, the summary and --json is computed here from that. */
struct mig_counts {
	uint64_t pages, zero;		/* pages sent as data, as zero */
	uint64_t ram_bytes;		/* RAM records on the wire */
	uint64_t all_bytes;		/* every byte of every stream */
	uint64_t device_bytes;		/* device state */
	uint64_t dirty;			/* pages still to send */
	uint64_t torn;			/* destination: pages that arrived torn */
	bool rate_from_elapsed;		/* memory_bps: all_bytes / elapsed */
};

void mig_job_start(struct mig_job *j);
void mig_job_count(struct mig_job *j, const struct mig_counts *c);
/* Status from the outcome: 0, -EINPROGRESS (where the guest runs is not
 * known), or another -errno with @err. */
void mig_job_end(struct mig_job *j, int ret, const char *err);
void mig_progress(const struct mig_opts *o, const struct mig_job *j);
/* Postcopy's progress line (after RESUMED), and the job info published. */
void mig_progress_postcopy(const struct mig_opts *o, const struct mig_job *j,
			   bool source);
/* The job info into $KMIG_JOB_DIR/info.json, when kmigd runs the job. */
void mig_job_publish(const struct mig_job *j, bool source);
void mig_report(const struct mig_opts *o, const struct mig_job *j,
		bool source);

#endif /* KMIG_MIG_H */
