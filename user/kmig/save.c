// SPDX-License-Identifier: GPL-2.0
/*
 * kmig save: a stopped snapshot of a guest into a file
 * (Documentation/file-format.rst): pause it, write its memory and its
 * vCPU state, and leave it paused, or resume it with --resume. A save
 * that fails removes its file and resumes a guest it paused.
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
"Usage: kmig save --vmm SOCK [--resume] [--durable] [--threads N]\n"
"                 [--direct-io] FILE\n"
"\n"
"Pause the guest of the VMM behind control socket SOCK and save its\n"
"memory and vCPU state into FILE, a new file (Documentation/file-format.rst).\n"
"The guest stays paused unless --resume is given.\n"
"\n"
"  --vmm SOCK     the VMM's control socket (required)\n"
"  --resume       run the guest again once the file is written\n"
"  --durable      return only once the file is on stable storage\n"
"  --threads N    write the pages with N threads (1..64; default: 4,\n"
"                 or the online CPUs if fewer)\n"
"  --direct-io    write the pages with O_DIRECT (not through the page\n"
"                 cache; it does not make the file durable)\n"
"  --help         this text\n";

struct save {
	struct snap_opts so;
	struct mig_vm vm;
	struct kmig_snap_io io;
	int fd;
	bool paused;			/* by us */
	uint8_t *vbuf;			/* the vCPU state */
	size_t vlen;
	char err[512];
};

static int fail(struct save *s, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct save *s, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return ret;
}

/* Pause the guest (unless paused already) and take its vCPU state. */
static int stop(struct save *s)
{
	char state[32];
	int ret;

	ret = snap_attach(&s->vm, &s->so, PROT_READ, state, sizeof(state),
			  s->err, sizeof(s->err));
	if (ret)
		return ret;
	if (strcmp(state, "running") && strcmp(state, "paused"))
		return fail(s, -EINVAL, "the VMM at %s is %s: it has no guest to save",
			    s->so.o.vmm, state);
	if (!strcmp(state, "running")) {
		ret = vmm_client_cmd(&s->vm.vmm, "pause");
		if (ret)
			return fail(s, ret, "cannot pause the guest: %s",
				    vmm_client_why(&s->vm.vmm, ret));
		s->paused = true;
	}
	ret = vmm_client_save(&s->vm.vmm, &s->vbuf, &s->vlen);
	if (ret)
		return fail(s, ret, "cannot save the vCPU state: %s",
			    vmm_client_why(&s->vm.vmm, ret));
	return 0;
}

/* Every slot, only the pages with memory read. */
static int write_file(struct save *s)
{
	struct kmig_snap_src src[MIG_MAX_SLOTS] = { 0 };
	struct mig_slot *sl;
	unsigned int i;
	int ret;

	ret = mig_vm_present(&s->vm, s->err, sizeof(s->err));
	if (ret)
		return ret;
	for (i = 0; i < s->vm.nslots; i++) {
		sl = &s->vm.slots[i];
		src[i] = (struct kmig_snap_src) {
			.id = sl->id, .gpa = sl->gpa, .size = sl->size,
			.map = sl->map, .present = sl->present,
		};
	}
	return kmig_snap_write_io(s->fd, src, s->vm.nslots, s->vbuf, s->vlen,
				  "kmig save", s->so.durable, &s->io, s->err,
				  sizeof(s->err));
}

static int save(struct save *s)
{
	int ret;

	s->fd = open(s->so.file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (s->fd < 0)
		return fail(s, -errno, "%s: %s", s->so.file, strerror(errno));
	if (s->so.direct) {
		s->io.data_fd = snap_open_direct(&s->so, O_WRONLY, s->err,
						 sizeof(s->err));
		if (s->io.data_fd < 0) {
			ret = s->io.data_fd;
			s->io.data_fd = -1;
			unlink(s->so.file);
			return ret;
		}
	}
	ret = stop(s);
	if (!ret)
		ret = write_file(s);
	if (!ret && s->so.resume) {
		ret = vmm_client_cmd(&s->vm.vmm, "resume");
		if (ret)
			return fail(s, ret, "the file is written, but the guest did not resume: %s",
				    vmm_client_why(&s->vm.vmm, ret));
		s->paused = false;
		return 0;
	}
	if (ret) {
		unlink(s->so.file);
		if (s->paused && !vmm_client_cmd(&s->vm.vmm, "resume"))
			s->paused = false;
	}
	return ret;
}

int save_main(int argc, char *argv[])
{
	struct save *s = calloc(1, sizeof(*s));
	uint64_t t0 = kmig_now_ns();
	int ret;

	if (!s) {
		fprintf(stderr, "kmig save: out of memory\n");
		return 1;
	}
	s->fd = -1;
	s->io = (struct kmig_snap_io)KMIG_SNAP_IO_INIT;
	s->vm.ctx_fd = -1;
	s->vm.vmm.fd = -1;
	ret = snap_parse(&s->so, true, usage, argc, argv);
	if (ret) {
		free(s);
		return ret > 0 ? 0 : 2;
	}
	s->io.threads = s->so.threads;
	ret = save(s);
	if (ret)
		fprintf(stderr, "kmig save: %s\n", s->err);
	else
		printf("kmig save: %.1f MiB of guest memory in %s in %llu ms (%u threads%s); the guest is %s\n",
		       s->vm.mem_size / 1048576.0, s->so.file,
		       (unsigned long long)(kmig_now_ns() - t0) / 1000000,
		       s->io.threads, !s->so.direct ? "" : s->io.bounced ?
		       ", O_DIRECT through bounce buffers" : ", O_DIRECT",
		       s->so.resume ? "running" : "paused");
	if (s->io.data_fd >= 0)
		close(s->io.data_fd);
	if (s->fd >= 0)
		close(s->fd);
	mig_vm_detach(&s->vm);
	free(s->vbuf);
	free(s);
	return ret ? 1 : 0;
}
