/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmig-vmm, the reference VMM: a small KVM VMM that runs the payload of
 * guest/ on one or more vCPUs, for kmig's tests and demo.
 *
 *   mem.c    guest RAM slots behind a backend (kmig context or memfd)
 *   vm.c     the VM: KVM fds, irqchip, CPUID, MSR list, payload loading
 *   vcpu.c   vCPU threads: run loop, exits, pacing, pause and resume
 *   state.c  vCPU state save and load, as a kmig stream of VCPU sections
 *   net.c    the network device: guest frames out of --net-if
 *   ring.c   the ring device: its state load reads guest RAM
 *   ctl.c    the unix control socket (protocol: Documentation/vmm.rst)
 *   req.c    its requests parsed
 *   opts.c   options
 *   main.c   start, serve, stop
 */
#ifndef KMIG_VMM_H
#define KMIG_VMM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#include <linux/kvm.h>

#include "guest/abi.h"

#define VMM_MAX_SLOTS	8

struct vmm_slot {
	uint32_t id;
	uint64_t gpa;
	uint64_t size;
	void *hva;
	int fd;				/* backing fd, passed to clients */
	uint64_t offset;		/* of the slot in @fd */
	bool kvm_log;			/* model (b): KVM logs vCPU writes */
	bool huge;			/* KMIG_SLOT_HUGE: 2 MiB pages */
	void *guest_hva;		/* kvm_log: the guest view, KVM's only */
};

struct vmm_mem {
	const struct vmm_mem_backend *backend;
	bool kvm_log;			/* --kvm-log */
	unsigned int nslots;
	uint64_t size;
	struct vmm_slot slot[VMM_MAX_SLOTS];
};

/* Where guest RAM comes from: a /dev/kmig context (default) or memfds. */
struct vmm_mem_backend {
	const char *name;
	int (*create)(struct vmm_slot *slot);
	void (*destroy)(struct vmm_slot *slot);
	/* Restart the slot's dirty log, empty; NULL: the backend has none. */
	int (*log_restart)(struct vmm_slot *slot);
	/* Map the slot again at its address after vmm_mem_unmap(); NULL:
	 * the backend cannot be unmapped (postcopy needs a kmig context). */
	int (*remap)(struct vmm_slot *slot);
};

extern const struct vmm_mem_backend vmm_mem_memfd;
extern const struct vmm_mem_backend vmm_mem_kmig;

struct vmm_vcpu {
	struct vmm *vmm;
	unsigned int index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	pid_t tid;			/* its thread's id, 0 until it runs */
	bool parked;			/* out of KVM_RUN, waiting */
	uint64_t deadline_ns;		/* pacing: when the next tick is due */
	uint64_t tick_ns;		/* end of its last tick, 0: none yet */
	uint64_t throttled_ns;		/* total time slept for throttle */
	struct kvm_dirty_gfn *dring;	/* --kvm-log=ring: its dirty ring */
	uint32_t dring_next;		/* the next entry to reap */
};

/*
 * `announce` (Documentation/vmm.rst): frames sent by default and at most,
 * and the gaps between them, growing as QEMU's announce-* defaults do:
 * 50 ms, then 100 ms more each time, at most 550 ms.
 */
#define VMM_ANNOUNCE_FRAMES	5
#define VMM_ANNOUNCE_MAX	20
#define VMM_ANNOUNCE_GAP_MS	50
#define VMM_ANNOUNCE_STEP_MS	100
#define VMM_ANNOUNCE_GAP_MAX_MS	550

/*
 * The network device (net.c); counters are read without a lock. The
 * announcer thread sends an announce series' frames after the first;
 * @lock guards the series (left, gap_ms, due_ns, stop).
 */
struct vmm_net {
	int fd;				/* AF_PACKET socket, -1: no device */
	char ifname[16];
	unsigned int ifindex;
	bool on;			/* off: frames are discarded */
	uint64_t sent;			/* frames sent out of ifname */
	uint64_t dropped;		/* discarded (off) or lost sending */
	uint64_t bad;			/* bad address or length */
	uint64_t send_errors;
	uint64_t announced;		/* announce frames sent */
	uint64_t announce_errors;	/* announce frames not sent */

	pthread_mutex_t lock;
	pthread_cond_t cond;		/* CLOCK_MONOTONIC; a new series */
	pthread_t announcer;
	bool announcer_started;
	bool stop;			/* the announcer exits */
	unsigned int left;		/* frames of the series still due */
	unsigned int gap_ms;		/* between the last one and the next */
	uint64_t due_ns;		/* the next one, CLOCK_MONOTONIC */
};

/*
 * The ring device (ring.c): where the guest's descriptor page is. Only
 * the control thread uses it.
 */
struct vmm_ring {
	bool on;			/* attached: saved with the vCPUs */
	uint64_t gpa;			/* of the descriptor page */
};

/*
 * The descriptor page, little endian: magic, entries (1..VMM_RING_MAX),
 * crc32c of the entries, 0, then the entries: le64 guest addresses of
 * pages.
 */
#define VMM_RING_MAGIC		0x47524d4bu	/* "KMRG" */
#define VMM_RING_MAX		((GUEST_PAGE_SIZE - 16) / 8)
#define VMM_RING_SECTION	"vmm-ring"	/* its device section */
#define VMM_RING_STATE_LEN	8	/* le64 GPA of the descriptor */

/* MIGRATED: paused for good, its guest runs elsewhere now. */
enum vmm_run_state {
	VMM_RUNNING, VMM_PAUSED, VMM_INCOMING, VMM_FAILED, VMM_MIGRATED,
};

struct vmm {
	int kvm_fd;
	int vm_fd;
	size_t run_size;
	struct vmm_mem mem;
	unsigned int nvcpus;
	struct vmm_vcpu vcpu[GUEST_MAX_VCPUS];
	struct guest_params *params;	/* in guest memory */
	uint32_t ws_pages;		/* params->ws_pages, kept here */
	bool unmapped;			/* `unmap`: guest RAM not mapped */
	struct kvm_msr_list *msrs;	/* MSRs saved with the vCPU state */
	struct vmm_net net;
	struct vmm_ring ring;

	pthread_mutex_t lock;
	pthread_cond_t cond;		/* any change of the fields below */
	enum vmm_run_state state;
	bool quit;
	unsigned int throttle;		/* percent of time kept off the CPU */
	uint64_t rate;			/* pages per second, 0: unlimited */
	bool log_at_resume;		/* `dirtylog at-resume` is armed */
	char error[256];		/* why the VMM failed */

	/* --kvm-log: the KVM log provider (kvmlog.c), its own thread. */
	int log_fd;
	pthread_t log_thread;
	volatile bool log_stop;
	bool log_running;

	/* --kvm-log=ring: KVM's dirty rings (dring.c), under dring_lock. */
	uint32_t dring_entries;		/* a vCPU's ring; 0: the bitmap */
	pthread_mutex_t dring_lock;
	uint64_t *dring_pending[VMM_MAX_SLOTS];	/* reaped, not harvested */
	uint64_t dring_full;		/* KVM_EXIT_DIRTY_RING_FULL exits */
	uint64_t dring_reaped;		/* entries reaped */
};

struct vmm_config {
	const struct vmm_mem_backend *backend;
	uint64_t mem_size;
	unsigned int nslots;
	unsigned int nvcpus;
	bool incoming;
	bool prealloc;
	bool kvm_log;			/* --kvm-log: model (b) */
	bool huge;			/* --huge: 2 MiB pages, with kvm_log */
	uint32_t dring_entries;		/* --kvm-log=ring, --dirty-ring */
	uint32_t pattern;
	uint32_t batch;
	uint32_t hot_pages;
	uint64_t rate;
	const char *net_if;		/* --net-if, NULL: no network device */
	uint32_t net_every;		/* --net-every: ticks between frames */
	bool net_off;			/* --net-off: discard until `net on` */
};


/* --kvm-log=ring: a vCPU's dirty ring, entries (64 KiB). */
#define VMM_DRING_DEFAULT	4096

/* vmm_mem_create()'s @flags: --kvm-log, --huge. */
#define VMM_MEM_KVM_LOG		1u
#define VMM_MEM_HUGE		2u

int vmm_mem_create(struct vmm_mem *mem, const struct vmm_mem_backend *b,
		   uint64_t size, unsigned int nslots, unsigned int flags);
/* KVM's address of slot @s: its guest view with --kvm-log. */
void *vmm_mem_kvm_hva(const struct vmm_slot *s);

/*
 * --kvm-log (model (b), Documentation/memory-model.rst): manual-protect
 * dirty logging in KVM and a thread answering kmig's KMIG_LOG_* requests
 * with it. 0 or -errno; stop is a no-op if start did not run.
 */
int vmm_kvmlog_start(struct vmm *vmm);
void vmm_kvmlog_stop(struct vmm *vmm);

/*
 * --kvm-log=ring (dring.c): enable KVM's dirty rings before any vCPU
 * exists, map each vCPU's, reap them all (@full: for a vCPU whose ring
 * filled), and take (copy into @bm unless NULL, then empty) a slot's
 * reaped bits.
 */
int vmm_dring_enable(struct vmm *vmm);
void vmm_dring_disable(struct vmm *vmm);
int vmm_dring_map(struct vmm *vmm, struct vmm_vcpu *v);
void vmm_dring_unmap(struct vmm *vmm, struct vmm_vcpu *v);
int vmm_dring_reap(struct vmm *vmm, bool full);
void vmm_dring_take(struct vmm *vmm, const struct vmm_slot *s, uint64_t *bm);
void vmm_mem_destroy(struct vmm_mem *mem);
int vmm_mem_prealloc(struct vmm_mem *mem);
/* The slot whose kmig (and KVM) slot id is @id, or NULL. */
struct vmm_slot *vmm_mem_slot(struct vmm_mem *mem, uint32_t id);
/* Host address of guest physical @gpa .. @gpa + @len, or NULL. */
void *vmm_mem_hva(struct vmm_mem *mem, uint64_t gpa, uint64_t len);
/*
 * Restart every slot's dirty log, empty: from now on it holds exactly the
 * pages written. -EOPNOTSUPP for a backend without one; other -errno with
 * the slot and cause in @err.
 */
int vmm_mem_log_restart(struct vmm_mem *mem, char *err, size_t n);
/*
 * Postcopy (Documentation/postcopy.rst): drop every slot's mapping, its
 * address range kept reserved (KVM's memory slots keep pointing there),
 * so that the agent can put pages in missing mode; then map them again
 * at the same addresses. -EOPNOTSUPP for a backend without remap; other
 * -errno with the slot and cause in @err.
 */
int vmm_mem_unmap(struct vmm_mem *mem, char *err, size_t n);
int vmm_mem_remap(struct vmm_mem *mem, char *err, size_t n);
/*
 * Whether every page of guest RAM at [@p, @p + @len) is in memory, so
 * that reading it cannot wait for a page still missing in postcopy.
 */
bool vmm_mem_resident(const void *p, size_t len);

/*
 * The command line into @cfg and *@ctl: 0, 1 after printing the usage for
 * --help, or -EINVAL after saying on stderr what is wrong.
 */
int vmm_opts_parse(int argc, char **argv, struct vmm_config *cfg,
		   const char **ctl);

int vmm_vm_create(struct vmm *vmm, const struct vmm_config *cfg);
void vmm_vm_destroy(struct vmm *vmm);

int vmm_vcpus_start(struct vmm *vmm);
void vmm_vcpus_stop(struct vmm *vmm);
int vmm_pause(struct vmm *vmm);
/*
 * Run the vCPUs: 0, or -errno with the cause in @err (@n bytes): -EPERM
 * for a guest that migrated away, unless @force. A stopped VM with
 * log_at_resume armed restarts every slot's dirty log first (once).
 */
int vmm_resume(struct vmm *vmm, bool force, char *err, size_t n);
/* Paused -> MIGRATED: the guest runs elsewhere now. */
int vmm_migrated(struct vmm *vmm);
/* Ask vCPU 0 for the working set checksum; the guest must be running. */
int vmm_guest_checksum(struct vmm *vmm, uint64_t *csum);
/* Stop the VMM with @fmt as the reason (vCPU threads park). */
void vmm_fail(struct vmm *vmm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* vCPU state, and the ring device's, as a kmig stream: malloc'd buffer in
 * *@buf. Paused only. */
int vmm_state_save(struct vmm *vmm, uint8_t **buf, size_t *len);
/* Decode and check everything first (the ring reads guest memory), then
 * apply: a bad stream changes nothing. */
int vmm_state_load(struct vmm *vmm, const uint8_t *buf, size_t len,
		   char *err, size_t errlen);
/*
 * The decoding alone, for @nvcpus vCPUs, touching none: 0 with every
 * vCPU's complete state in *@s (for vmm_state_free()), or -errno with
 * the cause in @err. vmm_state_decode_all() also gives the devices'
 * state (@ring->on: the stream carries the ring's).
 */
struct vmm_vstate;
int vmm_state_decode(unsigned int nvcpus, const uint8_t *buf, size_t len,
		     struct vmm_vstate **s, char *err, size_t errlen);
int vmm_state_decode_all(unsigned int nvcpus, const uint8_t *buf, size_t len,
			 struct vmm_vstate **s, struct vmm_ring *ring,
			 char *err, size_t errlen);
void vmm_state_free(struct vmm_vstate *s, unsigned int nvcpus);

/*
 * The network device on interface @ifname (NULL: none), discarding the
 * guest's frames while @off: 0, or -errno after saying why on stderr.
 */
int vmm_net_open(struct vmm_net *net, const char *ifname, bool off);
void vmm_net_close(struct vmm_net *net);
/*
 * The guest's OUT to GUEST_PORT_NET, @count items of @size bytes at
 * @data (KVM's exit): one 32-bit guest address of a frame to send,
 * discard, or count as bad; any other OUT there is counted as bad.
 */
void vmm_net_out(struct vmm *vmm, unsigned int size, unsigned int count,
		 const void *data);
/* `net on|off`: 0, or -ENODEV with why in @err. */
int vmm_net_set(struct vmm *vmm, bool on, char *err, size_t n);
/*
 * `announce [FRAMES]`: tell the network that the guest's MAC
 * (GUEST_NET_MAC) is behind this host's interface now, after a migration
 * or a failover: @frames RARP frames from it, the first sent before this
 * returns, the others by the announcer thread after growing gaps
 * (VMM_ANNOUNCE_*); a series under way is replaced. 0 with when the last
 * one is due, in ms from now, in *@last_ms; -ENODEV without a device,
 * -ENETDOWN while it is off, the first send's -errno; why in @err.
 */
int vmm_net_announce(struct vmm_net *net, unsigned int frames,
		     unsigned int *last_ms, char *err, size_t n);
/* The MAC as text, "02:6d:..." (18 bytes with its NUL). */
void vmm_net_mac(char buf[18]);
/* "none", "on" or "off". */
const char *vmm_net_state(const struct vmm_net *net);

/*
 * The ring device. vmm_ring_attach() points it at the descriptor page at
 * @gpa (page aligned, in guest RAM); with @entries, it first writes a
 * descriptor of that many entries there, as the guest's driver would.
 * vmm_ring_save() adds its state to a save stream as device section @id
 * (VMM_RING_SECTION); vmm_ring_decode() takes one DEVICE_STATE packet of
 * that section into *@r; vmm_ring_check() reads the descriptor @r names
 * from guest memory (a read that may fault: postcopy) and checks its
 * magic, entry count, checksum and entries. Each returns 0 or -errno
 * with the cause in @err.
 */
struct kmig_enc;
int vmm_ring_attach(struct vmm *vmm, uint64_t gpa, uint32_t entries,
		    char *err, size_t n);
int vmm_ring_save(const struct vmm_ring *r, struct kmig_enc *e, uint32_t id);
int vmm_ring_decode(struct vmm_ring *r, uint32_t marker, const void *data,
		    uint32_t len, char *err, size_t n);
int vmm_ring_check(struct vmm *vmm, const struct vmm_ring *r, char *err,
		   size_t n);

/* @path: a socket file, or "@name" in the abstract namespace. */
int vmm_ctl_serve(struct vmm *vmm, const char *path);

/* Pattern names by GUEST_PATTERN_*. */
extern const char *const vmm_patterns[GUEST_PATTERN_MAX];

enum vmm_req_cmd {
	VMM_REQ_STATUS, VMM_REQ_PAUSE, VMM_REQ_RESUME, VMM_REQ_MIGRATED,
	VMM_REQ_SAVE, VMM_REQ_LOAD, VMM_REQ_THROTTLE, VMM_REQ_RATE,
	VMM_REQ_PATTERN, VMM_REQ_CHECKSUM, VMM_REQ_MEMFD, VMM_REQ_CTX,
	VMM_REQ_DIRTYLOG, VMM_REQ_UNMAP, VMM_REQ_MAP, VMM_REQ_NET,
	VMM_REQ_RING, VMM_REQ_VCPUS, VMM_REQ_ANNOUNCE, VMM_REQ_QUIT,
};

/* One control request, parsed. */
struct vmm_req {
	enum vmm_req_cmd cmd;
	bool force;			/* resume force */
	bool on;			/* net on */
	unsigned int pattern;		/* GUEST_PATTERN_* */
	bool hot;			/* pattern: hot pages given */
	uint64_t value;			/* load: length; throttle, rate,
					 * pattern: hot pages; ring: GPA;
					 * announce: frames */
	uint32_t entries;		/* ring: 0, or write a descriptor */
};

/*
 * One request @line (no newline; cut into words in place), with at most
 * @ws_pages hot pages: 0, or -errno with the reply's message in @err.
 */
int vmm_req_parse(char *line, uint32_t ws_pages, struct vmm_req *r,
		  char *err, size_t n);

#endif /* KMIG_VMM_H */
