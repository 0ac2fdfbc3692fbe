// SPDX-License-Identifier: GPL-2.0
/*
 * kmig save: a snapshot of a guest into a file
 * (Documentation/file-format.rst): pause it, write its memory and its
 * vCPU state, and leave it paused, or resume it with --resume. With
 * --live the guest runs while its pages are written, its writes logged
 * and the pages it wrote written again in rounds, and is paused only for
 * the last ones. With --incremental FILE is an earlier snapshot of the
 * same guest, and only the pages that changed since are written into
 * it, in place (snap_merge.c). A save that fails removes its new file
 * (an incremental one says whether FILE is still the earlier snapshot
 * or torn) and resumes a guest it paused.
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
"                 [--direct-io] [--live [--live-rounds N]\n"
"                 [--live-dirty PAGES]] [--incremental] FILE\n"
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
"  --live         save while the guest runs: every page, then rounds\n"
"                 rewriting the pages it wrote since, then pause it and\n"
"                 write the last ones\n"
"  --live-rounds N   at most N such rounds (1..1000, default 10)\n"
"  --live-dirty PAGES  pause once at most PAGES pages are dirty\n"
"                 (default 256)\n"
"  --incremental  FILE is an earlier snapshot of this guest: write into\n"
"                 it, in place, only the pages that changed since (it is\n"
"                 torn, and refused, until the save ends)\n"
"  --help         this text\n";

struct save {
	struct snap_opts so;
	struct mig_vm vm;
	struct kmig_snap_io io;
	struct kmig_snap_src src[MIG_MAX_SLOTS];
	struct kmig_snap_writer w;
	struct kmig_snap base;		/* --incremental: FILE, opened */
	bool based;			/* base holds slots */
	bool begun;			/* w holds slots */
	bool logging;			/* by us */
	uint64_t *log;			/* one slot's harvest */
	unsigned int rounds;		/* --live: dirty rounds written */
	uint64_t last_dirty;		/* pages written paused */
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

/* The guest's VMM and memory; a live save needs the guest running. */
static int attach(struct save *s)
{
	char state[32], why[256];
	int ret;

	ret = snap_attach(&s->vm, &s->so, PROT_READ, state, sizeof(state),
			  s->err, sizeof(s->err));
	if (ret)
		return ret;
	if (strcmp(state, "running") && strcmp(state, "paused"))
		return fail(s, -EINVAL, "the VMM at %s is %s: it has no guest to save",
			    s->so.o.vmm, state);
	if (s->so.live && strcmp(state, "running"))
		return fail(s, -EINVAL, "--live: the guest at %s is paused already; save it without --live",
			    s->so.o.vmm);
	if (s->based && snap_same_slots(&s->base, &s->vm, why, sizeof(why)))
		return fail(s, -EINVAL, "--incremental: %s is not a snapshot of this guest's layout (%s)",
			    s->so.file, why);
	return 0;
}

/* Pause the guest (unless paused already) and take its vCPU state. */
static int stop(struct save *s)
{
	struct vmm_status st;
	int ret;

	ret = vmm_client_status(&s->vm.vmm, &st);
	if (ret)
		return fail(s, ret, "VMM status: %s", strerror(-ret));
	if (!strcmp(st.state, "running")) {
		ret = vmm_client_cmd(&s->vm.vmm, "pause");
		if (ret)
			return fail(s, ret, "cannot pause the guest: %s",
				    vmm_client_why(&s->vm.vmm, ret));
		s->paused = true;
	}
	return 0;
}

static int take_vcpus(struct save *s)
{
	int ret = vmm_client_save(&s->vm.vmm, &s->vbuf, &s->vlen);

	if (ret)
		return fail(s, ret, "cannot save the vCPU state: %s",
			    vmm_client_why(&s->vm.vmm, ret));
	return 0;
}

/* Which pages have memory now, into the writer's sources. */
static int take_present(struct save *s)
{
	struct mig_slot *sl;
	unsigned int i;
	int ret;

	mig_vm_present_free(&s->vm);
	ret = mig_vm_present(&s->vm, s->err, sizeof(s->err));
	for (i = 0; i < s->vm.nslots && !ret; i++) {
		sl = &s->vm.slots[i];
		s->src[i] = (struct kmig_snap_src) {
			.id = sl->id, .gpa = sl->gpa, .size = sl->size,
			.map = sl->map, .present = sl->present,
		};
	}
	return ret;
}

static int set_logging(struct save *s, bool on)
{
	char err[256] = "";
	int ret;

	ret = mig_vm_set_logging(&s->vm, on, err, sizeof(err));
	if (ret)
		return fail(s, ret, "--live: %s", err);
	s->logging = on;
	return 0;
}

static void stop_logging_quietly(struct save *s)
{
	char err[256] = "";

	mig_vm_set_logging(&s->vm, false, err, sizeof(err));
}

/*
 * The pages written since the last harvest, ORed into each slot's
 * bitmap; @n: how many are marked there now.
 */
static int harvest(struct save *s, uint64_t *n)
{
	char err[256] = "";
	int ret;

	ret = mig_vm_harvest(&s->vm, s->log, true, n, err, sizeof(err));
	return ret ? fail(s, ret, "--live: %s", err) : 0;
}

/* The marked pages into the file again, their bitmaps cleared. */
static int rewrite(struct save *s)
{
	const uint64_t *dirty[MIG_MAX_SLOTS];
	unsigned int i;
	int ret;

	ret = take_present(s);
	for (i = 0; i < s->vm.nslots; i++)
		dirty[i] = s->vm.slots[i].bitmap;
	if (!ret)
		ret = kmig_snap_writer_update(&s->w, dirty, s->err,
					      sizeof(s->err));
	for (i = 0; i < s->vm.nslots; i++)
		memset(s->vm.slots[i].bitmap, 0,
		       kmig_bitmap_words(s->vm.slots[i].npages) * 8);
	return ret;
}

/*
 * Every page into the new file, or, --incremental, every page that
 * differs from the file's into it.
 */
static int begin(struct save *s, const char *creator)
{
	char why[400];
	int ret;

	s->begun = true;
	if (s->based) {
		ret = kmig_snap_writer_merge(&s->w, s->fd, &s->base, s->src,
					     s->vm.nslots, creator, &s->io, why,
					     sizeof(why));
		if (ret)
			snprintf(s->err, sizeof(s->err), "%s: %s", s->so.file,
				 why);
		return ret;
	}
	return kmig_snap_writer_begin(&s->w, s->fd, s->src, s->vm.nslots,
				      creator, &s->io, s->err, sizeof(s->err));
}

/* Every page, then a rewrite per round while the guest runs on. */
static int write_live(struct save *s)
{
	uint64_t dirty;
	unsigned int i;
	int ret;

	s->log = mig_vm_bitmap_buf(&s->vm);
	if (!s->log)
		return fail(s, -ENOMEM, "out of memory");
	ret = set_logging(s, true);
	if (!ret)
		ret = harvest(s, &dirty);	/* what came before: stale */
	for (i = 0; i < s->vm.nslots; i++)
		memset(s->vm.slots[i].bitmap, 0,
		       kmig_bitmap_words(s->vm.slots[i].npages) * 8);
	if (!ret)
		ret = take_present(s);
	if (ret)
		return ret;
	ret = begin(s, s->based ? "kmig save --live --incremental" :
		    "kmig save --live");
	kmig_delay_at("save-live");	/* a test's guest dirties more */
	while (!ret) {
		ret = harvest(s, &dirty);
		if (ret || dirty <= s->so.live_dirty ||
		    s->rounds == s->so.live_rounds)
			break;
		ret = rewrite(s);
		s->rounds++;
	}
	if (!ret)
		ret = stop(s);
	if (!ret)
		ret = harvest(s, &s->last_dirty);
	if (!ret)
		ret = rewrite(s);
	return ret;
}

static int write_file(struct save *s)
{
	int ret;

	if (s->so.live) {
		ret = write_live(s);
	} else {
		ret = stop(s);
		if (!ret)
			ret = take_present(s);
		if (!ret)
			ret = begin(s, s->based ? "kmig save --incremental" :
				    "kmig save");
	}
	if (!ret)
		ret = take_vcpus(s);
	if (!ret)
		ret = kmig_snap_writer_finish(&s->w, s->vbuf, s->vlen,
					      s->so.durable, s->err,
					      sizeof(s->err));
	return ret;
}

/*
 * --incremental: FILE, locked against restores and other merges, and
 * checked whole but for its pages, before anything is paused or written.
 */
static int open_base(struct save *s)
{
	char err[400];
	int ret;

	s->fd = open(s->so.file, O_RDWR | O_CLOEXEC);
	if (s->fd < 0)
		return fail(s, -errno, "--incremental: %s: %s", s->so.file,
			    strerror(errno));
	ret = snap_lock(s->fd, &s->so, true, s->err, sizeof(s->err));
	if (ret)
		return ret;
	ret = kmig_snap_open(s->fd, &s->base, err, sizeof(err));
	if (ret)
		return fail(s, ret, "--incremental: %s is not a snapshot to merge into: %s",
			    s->so.file, err);
	s->based = true;
	return 0;
}

/* FILE gone, or for --incremental said what it is after a failure. */
static void failed_file(struct save *s)
{
	size_t n = strlen(s->err);

	if (!s->so.incremental)
		unlink(s->so.file);
	else if (s->w.unsealed)
		snprintf(s->err + n, sizeof(s->err) - n,
			 "; %s is torn now (restores refuse it): the earlier snapshot in it is lost",
			 s->so.file);
	else if (s->based || s->begun)
		snprintf(s->err + n, sizeof(s->err) - n, "; %s is unchanged",
			 s->so.file);
}

static int save(struct save *s)
{
	int ret;

	if (s->so.incremental) {
		ret = open_base(s);
		if (ret)
			return ret;
	} else {
		s->fd = open(s->so.file, O_WRONLY | O_CREAT | O_EXCL |
			     O_CLOEXEC, 0600);
		if (s->fd < 0)
			return fail(s, -errno, "%s: %s", s->so.file,
				    strerror(errno));
	}
	if (s->so.direct) {
		s->io.data_fd = snap_open_direct(&s->so, s->so.incremental ?
						 O_RDWR : O_WRONLY, s->err,
						 sizeof(s->err));
		if (s->io.data_fd < 0) {
			ret = s->io.data_fd;
			s->io.data_fd = -1;
			failed_file(s);
			return ret;
		}
	}
	ret = attach(s);
	if (!ret)
		ret = write_file(s);
	if (s->logging && !ret)
		ret = set_logging(s, false);
	else if (s->logging)
		stop_logging_quietly(s);	/* the first failure is told */
	if (!ret && s->so.resume) {
		ret = vmm_client_cmd(&s->vm.vmm, "resume");
		if (ret)
			return fail(s, ret, "the file is written, but the guest did not resume: %s",
				    vmm_client_why(&s->vm.vmm, ret));
		s->paused = false;
		return 0;
	}
	if (ret) {
		failed_file(s);
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
	if (!ret && s->so.live)
		printf("kmig save: live: %u dirty rounds, then %llu pages written paused\n",
		       s->rounds, (unsigned long long)s->last_dirty);
	if (!ret && s->so.incremental)
		printf("kmig save: incremental: %.1f MiB of pages read back, %.1f MiB written (%llu pages), %.1f MiB punched out\n",
		       s->io.read_bytes / 1048576.0,
		       s->io.written_bytes / 1048576.0,
		       (unsigned long long)s->io.written_bytes /
		       KMIG_SNAP_PAGE_SIZE, s->io.punched_bytes / 1048576.0);
	if (s->begun)
		kmig_snap_writer_free(&s->w);
	if (s->based)
		kmig_snap_close(&s->base);
	free(s->log);
	if (s->io.data_fd >= 0)
		close(s->io.data_fd);
	if (s->fd >= 0)
		close(s->fd);
	mig_vm_detach(&s->vm);
	free(s->vbuf);
	free(s);
	return ret ? 1 : 0;
}
