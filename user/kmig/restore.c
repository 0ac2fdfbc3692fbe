// SPDX-License-Identifier: GPL-2.0
/*
 * kmig restore: a guest from a snapshot file (kmig save,
 * Documentation/file-format.rst) into a VMM waiting for one (--incoming):
 * the file checked whole but for its pages, every page in the file given
 * memory and read into place, each range checked against its checksum,
 * then the vCPU state loaded and the guest run (or, with --paused, left
 * loaded for the VMM's own resume). The guest never runs on a page that failed its checksum.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctx.h"
#include "snap.h"
#include "snapshot.h"
#include "subcommands.h"

static const char usage[] =
"Usage: kmig restore --vmm SOCK [--paused] [--threads N] [--direct-io]\n"
"                    FILE\n"
"       kmig restore --vmm SOCK --lazy [--paused] [--threads N]\n"
"                    [--fill-rate MIB] [--record-ws[=M]] FILE\n"
"       kmig restore --vmm SOCK --resume-fill [--paused] [--threads N] FILE\n"
"\n"
"Restore the guest saved in FILE (kmig save) into the VMM behind control\n"
"socket SOCK, which waits for one (started with --incoming), and run it.\n"
"\n"
"  --vmm SOCK     the VMM's control socket (required)\n"
"  --paused       load the guest and do not run it: the VMM waits for\n"
"                 a resume request on its control socket\n"
"  --threads N    read the pages with N threads; with --lazy, fill with\n"
"                 them (1..64; default: 4, or the online CPUs if fewer)\n"
"  --direct-io    read the pages with O_DIRECT (not through the page\n"
"                 cache; not with --lazy)\n"
"  --lazy         run the guest at once: its pages come from FILE as it\n"
"                 touches them, while threads fill in the rest; first\n"
"                 the working set in FILE.ws, if a lazy restore recorded it\n"
"  --fill-rate MIB  fill at most MIB MiB/s in order (faults and the\n"
"                 working set are not bounded)\n"
"  --record-ws[=M]  record the first M pages the guest faults (4096)\n"
"                 as FILE.ws, for the next lazy restore to read first\n"
"  --resume-fill  serve and fill a guest whose lazy restore died; if it\n"
"                 died before the guest ran, set it up again and run it\n"
"                 (unless --paused)\n"
"  --help         this text\n";

/* Page numbers given memory per call. */
#define INSTALL_BATCH	1024u

struct restore {
	struct snap_opts so;
	struct mig_vm vm;
	struct kmig_snap snap;
	struct kmig_snap_io io;
	bool opened;
	int fd;
	char err[512];
};

static int fail(struct restore *r, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct restore *r, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return ret;
}

/* Memory for every page of slot @i that the file has. */
static int install(struct restore *r, unsigned int i)
{
	const struct kmig_snap_slot *f = &r->snap.slot[i];
	uint64_t pages[INSTALL_BATCH], p;
	unsigned int n = 0;
	int ret = 0;

	for (p = 0; p < f->npages && !ret; p++) {
		if (f->bitmap[p / 64] & (1ull << (p % 64)))
			pages[n++] = p;
		if (n == INSTALL_BATCH || (n && p == f->npages - 1)) {
			ret = kmig_ctx_install_zero(r->vm.ctx_fd, f->id, pages,
						    n);
			n = 0;
		}
	}
	if (ret)
		return fail(r, ret, "slot %u: cannot give its pages memory: %s",
			    f->id, strerror(-ret));
	return 0;
}

static int restore(struct restore *r)
{
	uint8_t *dst[MIG_MAX_SLOTS];
	char state[32];
	unsigned int i;
	int ret;

	r->fd = open(r->so.file, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return fail(r, -errno, "%s: %s", r->so.file, strerror(errno));
	ret = snap_lock(r->fd, &r->so, false, r->err, sizeof(r->err));
	if (ret)
		return ret;
	ret = kmig_snap_open(r->fd, &r->snap, r->err, sizeof(r->err));
	if (ret)
		return fail(r, ret, "%s: %.400s", r->so.file, r->err);
	r->opened = true;
	if (r->so.direct) {
		r->io.data_fd = snap_open_direct(&r->so, O_RDONLY, r->err,
						 sizeof(r->err));
		if (r->io.data_fd < 0) {
			ret = r->io.data_fd;
			r->io.data_fd = -1;
			return ret;
		}
	}
	ret = snap_attach(&r->vm, &r->so, PROT_READ | PROT_WRITE, state,
			  sizeof(state), r->err, sizeof(r->err));
	if (ret)
		return ret;
	if (strcmp(state, "incoming"))
		return fail(r, -EBUSY,
			    "the VMM at %s is %s, not waiting for a guest (start it with --incoming)",
			    r->so.o.vmm, state);
	ret = snap_same_slots(&r->snap, &r->vm, r->err, sizeof(r->err));
	for (i = 0; i < r->vm.nslots && !ret; i++) {
		ret = install(r, i);
		dst[i] = r->vm.slots[i].map;
	}
	if (!ret)
		ret = kmig_snap_read_io(r->fd, &r->snap, dst, &r->io, r->err,
					sizeof(r->err));
	if (ret)
		return ret;
	ret = snap_load(&r->vm, &r->snap, r->err, sizeof(r->err));
	if (ret)
		return ret;
	if (!r->so.resume)
		return 0;
	ret = vmm_client_cmd(&r->vm.vmm, "resume");
	if (ret)
		return fail(r, ret, "the guest is restored, but did not resume: %s",
			    vmm_client_why(&r->vm.vmm, ret));
	return 0;
}

int restore_main(int argc, char *argv[])
{
	struct restore *r = calloc(1, sizeof(*r));
	uint64_t t0 = kmig_now_ns();
	int ret;

	if (!r) {
		fprintf(stderr, "kmig restore: out of memory\n");
		return 1;
	}
	r->fd = -1;
	r->io = (struct kmig_snap_io)KMIG_SNAP_IO_INIT;
	r->vm.ctx_fd = -1;
	r->vm.vmm.fd = -1;
	ret = snap_parse(&r->so, false, usage, argc, argv);
	if (ret) {
		free(r);
		return ret > 0 ? 0 : 2;
	}
	if (r->so.lazy) {
		ret = restore_lazy(&r->so, r->err, sizeof(r->err));
		if (ret)
			fprintf(stderr, "kmig restore: %s\n", r->err);
		free(r);
		return ret ? 1 : 0;
	}
	r->io.threads = r->so.threads;
	ret = restore(r);
	if (ret)
		fprintf(stderr, "kmig restore: %s\n", r->err);
	else
		printf("kmig restore: %.1f MiB of guest memory from %s in %llu ms (%u threads%s); the guest is %s\n",
		       r->vm.mem_size / 1048576.0, r->so.file,
		       (unsigned long long)(kmig_now_ns() - t0) / 1000000,
		       r->io.threads, !r->so.direct ? "" : r->io.bounced ?
		       ", O_DIRECT through bounce buffers" : ", O_DIRECT",
		       r->so.resume ? "running" : "paused");
	if (r->io.data_fd >= 0)
		close(r->io.data_fd);
	if (r->opened)
		kmig_snap_close(&r->snap);
	if (r->fd >= 0)
		close(r->fd);
	mig_vm_detach(&r->vm);
	free(r);
	return ret ? 1 : 0;
}
