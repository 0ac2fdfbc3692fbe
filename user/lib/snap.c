// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshot files (snap.h, Documentation/file-format.rst).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "le.h"
#include "snap.h"
#include "snap_io.h"
#include "util.h"

#define PAGE		KMIG_SNAP_PAGE_SIZE
#define RANGE		KMIG_SNAP_RANGE_PAGES

static uint64_t nranges(uint64_t npages)
{
	return (npages + RANGE - 1) / RANGE;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/*
 * @len bytes at @off, written (@out) or read whole, as kmig_io_all() does
 * on a socket: 0, -errno, -EIO for a write that made no progress, or
 * -ENODATA when the file ends first.
 */
int snap_file_io(int fd, void *buf, size_t len, uint64_t off, bool out)
{
	uint8_t *p = buf;
	ssize_t k;

	while (len) {
		k = out ? pwrite(fd, p, len, off) : pread(fd, p, len, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : out ? -EIO : -ENODATA;
		p += k;
		len -= k;
		off += k;
	}
	return 0;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	return snap_file_io(fd, (void *)buf, len, off, true);
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	return snap_file_io(fd, buf, len, off, false);
}

/* ---- the metadata: header block, bitmaps, sums, state ---- */

static void put_header(uint8_t *h, const struct kmig_snap *s)
{
	const struct kmig_snap_slot *sl;
	unsigned int i;
	uint8_t *e;

	memset(h, 0, KMIG_SNAP_HEADER_SIZE);
	put_le64(h, KMIG_SNAP_MAGIC);
	put_le16(h + 8, KMIG_SNAP_VERSION);
	put_le32(h + 12, PAGE);
	put_le32(h + 16, s->nslots);
	put_le32(h + 20, RANGE);
	put_le64(h + 24, s->created_ns);
	put_le64(h + 32, s->state_off);
	put_le64(h + 40, s->state_len);
	put_le64(h + 48, s->trailer_off);
	memcpy(h + 56, s->creator, strnlen(s->creator, 64));
	for (i = 0; i < s->nslots; i++) {
		sl = &s->slot[i];
		e = h + KMIG_SNAP_SLOTS_AT + i * KMIG_SNAP_SLOT_SIZE;
		put_le32(e, sl->id);
		put_le64(e + 8, sl->gpa);
		put_le64(e + 16, sl->size);
		put_le64(e + 24, sl->bitmap_off);
		put_le64(e + 32, sl->sums_off);
		put_le64(e + 40, sl->pages_off);
	}
	put_le32(h + KMIG_SNAP_HEADER_SIZE - 4,
		 kmig_crc32c(0, h, KMIG_SNAP_HEADER_SIZE - 4));
}

/* Slot @sl's bitmap and sums as they are on disk, into @buf. */
static size_t slot_meta(const struct kmig_snap_slot *sl, uint8_t *buf)
{
	uint64_t w, words = kmig_bitmap_words(sl->npages), r;
	uint8_t *p = buf;

	for (w = 0; w < words; w++, p += 8)
		put_le64(p, sl->bitmap[w]);
	for (r = 0; r < nranges(sl->npages); r++, p += 4)
		put_le32(p, sl->sums[r]);
	return p - buf;
}

static size_t slot_meta_len(const struct kmig_snap_slot *sl)
{
	return kmig_bitmap_words(sl->npages) * 8 + nranges(sl->npages) * 4;
}

/* CRC32C of the header block, each slot's bitmap and sums, the state. */
static int meta_crc(const struct kmig_snap *s, const uint8_t *header,
		    uint32_t *crc)
{
	unsigned int i;
	uint8_t *buf;
	size_t len;

	*crc = kmig_crc32c(0, header, KMIG_SNAP_HEADER_SIZE);
	for (i = 0; i < s->nslots; i++) {
		buf = malloc(slot_meta_len(&s->slot[i]));
		if (!buf)
			return -ENOMEM;
		len = slot_meta(&s->slot[i], buf);
		*crc = kmig_crc32c(*crc, buf, len);
		free(buf);
	}
	*crc = kmig_crc32c(*crc, s->state, s->state_len);
	return 0;
}

static void put_trailer(uint8_t *t, uint64_t off, uint32_t meta)
{
	memset(t, 0, KMIG_SNAP_TRAILER_SIZE);
	put_le64(t, KMIG_SNAP_TRAILER_MAGIC);
	put_le64(t + 8, off);
	put_le32(t + 16, meta);
	put_le32(t + 28, kmig_crc32c(0, t, 28));
}

/* ---- writing ---- */

/*
 * Where everything goes: metadata first, then the pages, 1 MiB aligned;
 * the state (s->state_len) between them.
 */
static void layout(struct kmig_snap *s)
{
	uint64_t off = KMIG_SNAP_HEADER_SIZE;
	unsigned int i;

	for (i = 0; i < s->nslots; i++) {
		s->slot[i].bitmap_off = off;
		off += kmig_bitmap_words(s->slot[i].npages) * 8;
		s->slot[i].sums_off = off;
		off = align_up(off + nranges(s->slot[i].npages) * 4, 8);
	}
	s->state_off = off;
	off += s->state_len;
	for (i = 0; i < s->nslots; i++) {
		off = align_up(off, KMIG_SNAP_PAGES_ALIGN);
		s->slot[i].pages_off = off;
		off += s->slot[i].size;
	}
	s->trailer_off = off;
}

static int take_slots(struct kmig_snap *s, const struct kmig_snap_src *src,
		      unsigned int n, char *err, size_t errlen)
{
	struct kmig_snap_slot *sl;
	unsigned int i, j;

	if (!n || n > KMIG_SNAP_MAX_SLOTS)
		return kmig_errf(err, errlen, -EINVAL, "%u slots (1..%u)", n,
				 KMIG_SNAP_MAX_SLOTS);
	s->nslots = n;
	for (i = 0; i < n; i++) {
		sl = &s->slot[i];
		if (!src[i].size || src[i].size % PAGE ||
		    src[i].size > KMIG_SNAP_MAX_SLOT_SIZE)
			return kmig_errf(err, errlen, -EINVAL,
					 "slot %u: size %llu", src[i].id,
					 (unsigned long long)src[i].size);
		for (j = 0; j < i; j++)
			if (src[j].id == src[i].id)
				return kmig_errf(err, errlen, -EINVAL,
						 "slot %u twice", src[i].id);
		sl->id = src[i].id;
		sl->gpa = src[i].gpa;
		sl->size = src[i].size;
		sl->npages = sl->size / PAGE;
		sl->bitmap = calloc(kmig_bitmap_words(sl->npages), 8);
		sl->sums = calloc(nranges(sl->npages), 4);
		if (!sl->bitmap || !sl->sums)
			return kmig_errf(err, errlen, -ENOMEM, "out of memory");
	}
	return 0;
}

/* The file cut to @len bytes if it is longer (a merge's may be). */
static int cut_to(int fd, uint64_t len)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if ((uint64_t)st.st_size > len && ftruncate(fd, len))
		return -errno;
	return 0;
}

/*
 * Everything but the pages, then the trailer that commits the file;
 * fdatasync before it with @sync, after it too with @durable.
 */
static int write_meta(int fd, struct kmig_snap *s, bool sync, bool durable,
		      char *err, size_t n)
{
	uint8_t header[KMIG_SNAP_HEADER_SIZE], trailer[KMIG_SNAP_TRAILER_SIZE];
	unsigned int i;
	uint32_t crc;
	uint8_t *buf;
	size_t len;
	int ret = 0;

	put_header(header, s);
	ret = pwrite_all(fd, header, sizeof(header), 0);
	for (i = 0; i < s->nslots && !ret; i++) {
		buf = malloc(slot_meta_len(&s->slot[i]));
		if (!buf)
			return kmig_errf(err, n, -ENOMEM, "out of memory");
		len = slot_meta(&s->slot[i], buf);
		ret = pwrite_all(fd, buf, len, s->slot[i].bitmap_off);
		free(buf);
	}
	if (!ret)
		ret = pwrite_all(fd, s->state, s->state_len, s->state_off);
	if (!ret)
		ret = cut_to(fd, s->trailer_off);
	if (!ret && (sync || durable) && fdatasync(fd))
		ret = -errno;
	if (!ret)
		ret = meta_crc(s, header, &crc);
	if (ret)
		return kmig_errf(err, n, ret, "cannot write the metadata: %s",
				 strerror(-ret));
	put_trailer(trailer, s->trailer_off, crc);
	kmig_stop_at("snap-trailer");	/* a test's crash right before it */
	ret = pwrite_all(fd, trailer, sizeof(trailer), s->trailer_off);
	if (!ret && durable && fdatasync(fd))
		ret = -errno;
	if (ret)
		return kmig_errf(err, n, ret, "cannot write the trailer: %s",
				 strerror(-ret));
	return 0;
}

int kmig_snap_write(int fd, const struct kmig_snap_src *src, unsigned int n,
		    const void *state, size_t state_len, const char *creator,
		    bool durable, char *err, size_t errlen)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;

	return kmig_snap_write_io(fd, src, n, state, state_len, creator,
				  durable, &io, err, errlen);
}

void snap_writer_init(struct kmig_snap_writer *w, int fd,
		      const struct kmig_snap_src *src, struct kmig_snap_io *io)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->src = src;
	w->io = io;
}

void snap_stamp(struct kmig_snap *s, const char *creator)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	s->created_ns = now.tv_sec * 1000000000ull + now.tv_nsec;
	snprintf(s->creator, sizeof(s->creator), "%s", creator);
}

int kmig_snap_writer_begin(struct kmig_snap_writer *w, int fd,
			   const struct kmig_snap_src *src, unsigned int n,
			   const char *creator, struct kmig_snap_io *io,
			   char *err, size_t errlen)
{
	struct stat st;
	int ret;

	snap_writer_init(w, fd, src, io);
	if (fstat(fd, &st))
		return kmig_errf(err, errlen, -errno, "fstat: %s", strerror(errno));
	if (st.st_size)
		return kmig_errf(err, errlen, -EEXIST,
				 "the file is not empty (%lld bytes)",
				 (long long)st.st_size);
	ret = take_slots(&w->s, src, n, err, errlen);
	if (ret)
		return ret;
	snap_stamp(&w->s, creator);
	layout(&w->s);		/* no state yet: it is placed at the end */
	return snap_io_write(fd, w->s.slot, n, src, NULL, io, err, errlen);
}

int kmig_snap_writer_update(struct kmig_snap_writer *w,
			    const uint64_t *const *dirty, char *err,
			    size_t errlen)
{
	return snap_io_write(w->fd, w->s.slot, w->s.nslots, w->src, dirty,
			     w->io, err, errlen);
}

/*
 * The state where layout() left room for none: in the gap before the
 * first pages if it fits there (the 1 MiB alignment leaves one), or else
 * after the last pages, the trailer after it.
 */
static void place_state(struct kmig_snap *s, size_t len)
{
	uint64_t first = s->trailer_off;
	unsigned int i;

	for (i = 0; i < s->nslots; i++)
		if (s->slot[i].pages_off < first)
			first = s->slot[i].pages_off;
	s->state_len = len;
	if (first >= s->state_off && len <= first - s->state_off)
		return;
	s->state_off = s->trailer_off;
	s->trailer_off += len;
}

int kmig_snap_writer_finish(struct kmig_snap_writer *w, const void *state,
			    size_t state_len, bool durable, char *err,
			    size_t errlen)
{
	int ret;

	if (state_len > KMIG_SNAP_MAX_STATE)
		return kmig_errf(err, errlen, -EMSGSIZE, "%zu bytes of state (%u at most)",
				 state_len, KMIG_SNAP_MAX_STATE);
	place_state(&w->s, state_len);
	w->s.state = (uint8_t *)state;
	ret = write_meta(w->fd, &w->s, w->merge, durable, err, errlen);
	if (!ret)
		w->unsealed = false;
	w->s.state = NULL;	/* the caller's */
	return ret;
}

void kmig_snap_writer_free(struct kmig_snap_writer *w)
{
	kmig_snap_close(&w->s);
}

int kmig_snap_write_io(int fd, const struct kmig_snap_src *src,
		       unsigned int n, const void *state, size_t state_len,
		       const char *creator, bool durable,
		       struct kmig_snap_io *io, char *err, size_t errlen)
{
	struct kmig_snap_writer *w = calloc(1, sizeof(*w));
	int ret;

	if (!w)
		return kmig_errf(err, errlen, -ENOMEM, "out of memory");
	/* Before a page is written: a file refused now is left empty. */
	if (state_len > KMIG_SNAP_MAX_STATE)
		ret = kmig_errf(err, errlen, -EMSGSIZE, "%zu bytes of state (%u at most)",
				state_len, KMIG_SNAP_MAX_STATE);
	else
		ret = kmig_snap_writer_begin(w, fd, src, n, creator, io, err,
					     errlen);
	if (!ret)
		ret = kmig_snap_writer_finish(w, state, state_len, durable,
					      err, errlen);
	kmig_snap_writer_free(w);
	free(w);
	return ret;
}

/* ---- reading ---- */

void kmig_snap_close(struct kmig_snap *s)
{
	unsigned int i;

	for (i = 0; i < KMIG_SNAP_MAX_SLOTS; i++) {
		free(s->slot[i].bitmap);
		free(s->slot[i].sums);
		s->slot[i].bitmap = NULL;
		s->slot[i].sums = NULL;
	}
	free(s->state);
	s->state = NULL;
}

/* A region of the file, for the overlap check. */
struct region {
	uint64_t start, end;
	char what[32];
};

static int by_start(const void *a, const void *b)
{
	const struct region *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static void region(struct region *r, uint64_t start, uint64_t len,
		   const char *what, const struct kmig_snap_slot *sl)
{
	r->start = start;
	r->end = start + len;
	if (sl)
		snprintf(r->what, sizeof(r->what), "slot %u's %s", sl->id,
			 what);
	else
		snprintf(r->what, sizeof(r->what), "the %s", what);
}

/* No two regions share a byte; all lie before the trailer. */
static int check_regions(const struct kmig_snap *s, char *err, size_t n)
{
	struct region r[3 * KMIG_SNAP_MAX_SLOTS + 2];
	const struct kmig_snap_slot *sl;
	unsigned int i, k = 0;

	region(&r[k++], 0, KMIG_SNAP_HEADER_SIZE, "header", NULL);
	region(&r[k++], s->state_off, s->state_len, "state", NULL);
	for (i = 0; i < s->nslots; i++) {
		sl = &s->slot[i];
		region(&r[k++], sl->bitmap_off,
		       kmig_bitmap_words(sl->npages) * 8, "bitmap", sl);
		region(&r[k++], sl->sums_off, nranges(sl->npages) * 4,
		       "checksums", sl);
		region(&r[k++], sl->pages_off, sl->size, "pages", sl);
	}
	for (i = 0; i < k; i++)
		if (r[i].end < r[i].start || r[i].end > s->trailer_off)
			return kmig_errf(err, n, -EPROTO,
					 "%s: past the trailer (at %llu)",
					 r[i].what,
					 (unsigned long long)s->trailer_off);
	qsort(r, k, sizeof(r[0]), by_start);
	for (i = 1; i < k; i++)
		if (r[i].start < r[i - 1].end)
			return kmig_errf(err, n, -EPROTO,
					 "%s and %s overlap at byte %llu",
					 r[i - 1].what, r[i].what,
					 (unsigned long long)r[i].start);
	return 0;
}

static int parse_slot(struct kmig_snap_slot *sl, const uint8_t *e,
		      const struct kmig_snap *s, unsigned int i, char *err,
		      size_t n)
{
	unsigned int j;

	sl->id = get_le32(e);
	sl->gpa = get_le64(e + 8);
	sl->size = get_le64(e + 16);
	sl->bitmap_off = get_le64(e + 24);
	sl->sums_off = get_le64(e + 32);
	sl->pages_off = get_le64(e + 40);
	if (get_le32(e + 4))
		return kmig_errf(err, n, -EPROTO, "slot %u: reserved field not zero",
				 sl->id);
	if (!sl->size || sl->size % PAGE ||
	    sl->size > KMIG_SNAP_MAX_SLOT_SIZE)
		return kmig_errf(err, n, -EPROTO, "slot %u: size %llu", sl->id,
				 (unsigned long long)sl->size);
	if (sl->pages_off % KMIG_SNAP_PAGES_ALIGN)
		return kmig_errf(err, n, -EPROTO,
				 "slot %u: pages at %llu, not 1 MiB aligned",
				 sl->id, (unsigned long long)sl->pages_off);
	for (j = 0; j < i; j++)
		if (s->slot[j].id == sl->id)
			return kmig_errf(err, n, -EPROTO, "slot %u twice", sl->id);
	sl->npages = sl->size / PAGE;
	return 0;
}

static int parse_header(struct kmig_snap *s, const uint8_t *h, uint64_t size,
			char *err, size_t n)
{
	unsigned int i;
	int ret;

	if (get_le64(h) != KMIG_SNAP_MAGIC)
		return kmig_errf(err, n, -EPROTO, "not a kmig snapshot (bad magic)");
	if (get_le16(h + 8) != KMIG_SNAP_VERSION)
		return kmig_errf(err, n, -EPROTONOSUPPORT,
				 "version %u (this reads version %u)",
				 get_le16(h + 8), KMIG_SNAP_VERSION);
	if (get_le32(h + KMIG_SNAP_HEADER_SIZE - 4) !=
	    kmig_crc32c(0, h, KMIG_SNAP_HEADER_SIZE - 4))
		return kmig_errf(err, n, -EBADMSG, "header CRC mismatch");
	if (get_le32(h + 12) != PAGE)
		return kmig_errf(err, n, -EPROTONOSUPPORT,
				 "page size %u (this reads %u)", get_le32(h + 12),
				 PAGE);
	if (get_le32(h + 20) != RANGE)
		return kmig_errf(err, n, -EPROTONOSUPPORT,
				 "%u pages per checksum (this reads %u)",
				 get_le32(h + 20), RANGE);
	if (get_le16(h + 10) || get_le64(h + 120))
		return kmig_errf(err, n, -EPROTO, "reserved header field not zero");
	s->nslots = get_le32(h + 16);
	if (!s->nslots || s->nslots > KMIG_SNAP_MAX_SLOTS)
		return kmig_errf(err, n, -EPROTO, "%u slots (1..%u)", s->nslots,
				 KMIG_SNAP_MAX_SLOTS);
	s->created_ns = get_le64(h + 24);
	s->state_off = get_le64(h + 32);
	s->state_len = get_le64(h + 40);
	s->trailer_off = get_le64(h + 48);
	memcpy(s->creator, h + 56, 64);
	s->creator[64] = 0;
	if (s->state_len > KMIG_SNAP_MAX_STATE)
		return kmig_errf(err, n, -EPROTO, "%llu bytes of state (%u at most)",
				 (unsigned long long)s->state_len,
				 KMIG_SNAP_MAX_STATE);
	if (s->trailer_off > size ||
	    size - s->trailer_off != KMIG_SNAP_TRAILER_SIZE)
		return kmig_errf(err, n, -EPROTO,
				 "the trailer is said to be at %llu, the file has %llu bytes: torn or cut",
				 (unsigned long long)s->trailer_off,
				 (unsigned long long)size);
	for (i = 0; i < s->nslots; i++) {
		ret = parse_slot(&s->slot[i], h + KMIG_SNAP_SLOTS_AT +
				 i * KMIG_SNAP_SLOT_SIZE, s, i, err, n);
		if (ret)
			return ret;
	}
	return check_regions(s, err, n);
}

/* Slot @sl's bitmap and sums, from the file. */
static int read_slot_meta(int fd, struct kmig_snap_slot *sl, char *err,
			  size_t n)
{
	uint64_t w, words = kmig_bitmap_words(sl->npages), r;
	size_t len = slot_meta_len(sl);
	uint8_t *buf = malloc(len);
	int ret;

	sl->bitmap = calloc(words, 8);
	sl->sums = calloc(nranges(sl->npages), 4);
	if (!buf || !sl->bitmap || !sl->sums) {
		free(buf);
		return kmig_errf(err, n, -ENOMEM, "out of memory");
	}
	ret = pread_all(fd, buf, words * 8, sl->bitmap_off);
	if (!ret)
		ret = pread_all(fd, buf + words * 8, nranges(sl->npages) * 4,
				sl->sums_off);
	for (w = 0; !ret && w < words; w++)
		sl->bitmap[w] = get_le64(buf + 8 * w);
	for (r = 0; !ret && r < nranges(sl->npages); r++)
		sl->sums[r] = get_le32(buf + words * 8 + 4 * r);
	free(buf);
	if (ret)
		return kmig_errf(err, n, ret, "slot %u: cannot read its bitmap: %s",
				 sl->id, strerror(-ret));
	if (sl->npages % 64 && sl->bitmap[words - 1] >> (sl->npages % 64))
		return kmig_errf(err, n, -EPROTO,
				 "slot %u: its bitmap has pages past its end",
				 sl->id);
	return 0;
}

static int check_trailer(int fd, struct kmig_snap *s, const uint8_t *h,
			 char *err, size_t n)
{
	uint8_t t[KMIG_SNAP_TRAILER_SIZE];
	uint32_t crc;
	int ret;

	ret = pread_all(fd, t, sizeof(t), s->trailer_off);
	if (ret)
		return kmig_errf(err, n, ret, "cannot read the trailer: %s",
				 strerror(-ret));
	if (get_le64(t) == KMIG_SNAP_MERGE_MAGIC)
		return kmig_errf(err, n, -EBADMSG,
				 "the file is torn: an incremental save into it did not finish");
	if (get_le64(t) != KMIG_SNAP_TRAILER_MAGIC)
		return kmig_errf(err, n, -EBADMSG,
				 "no trailer: the file is torn (its save did not finish)");
	if (get_le32(t + 28) != kmig_crc32c(0, t, 28) ||
	    get_le64(t + 8) != s->trailer_off || get_le32(t + 20) ||
	    get_le32(t + 24))
		return kmig_errf(err, n, -EBADMSG, "the trailer is damaged");
	ret = meta_crc(s, h, &crc);
	if (ret)
		return kmig_errf(err, n, ret, "out of memory");
	if (crc != get_le32(t + 16))
		return kmig_errf(err, n, -EBADMSG,
				 "metadata CRC mismatch: stored 0x%08x, computed 0x%08x",
				 get_le32(t + 16), crc);
	return 0;
}

int kmig_snap_open(int fd, struct kmig_snap *s, char *err, size_t n)
{
	uint8_t h[KMIG_SNAP_HEADER_SIZE];
	struct stat st;
	unsigned int i;
	int ret;

	memset(s, 0, sizeof(*s));
	if (fstat(fd, &st))
		return kmig_errf(err, n, -errno, "fstat: %s", strerror(errno));
	if ((uint64_t)st.st_size < KMIG_SNAP_HEADER_SIZE +
				   KMIG_SNAP_TRAILER_SIZE)
		return kmig_errf(err, n, -EPROTO,
				 "%lld bytes: too short for a snapshot",
				 (long long)st.st_size);
	ret = pread_all(fd, h, sizeof(h), 0);
	if (ret)
		return kmig_errf(err, n, ret, "cannot read the header: %s",
				 strerror(-ret));
	ret = parse_header(s, h, st.st_size, err, n);
	for (i = 0; i < s->nslots && !ret; i++)
		ret = read_slot_meta(fd, &s->slot[i], err, n);
	if (!ret) {
		s->state = malloc(s->state_len ? s->state_len : 1);
		ret = s->state ? pread_all(fd, s->state, s->state_len,
					   s->state_off) : -ENOMEM;
		if (ret)
			kmig_errf(err, n, ret, "cannot read the state: %s",
				  strerror(-ret));
	}
	if (!ret)
		ret = check_trailer(fd, s, h, err, n);
	if (ret)
		kmig_snap_close(s);
	return ret;
}

int kmig_snap_read_slot(int fd, const struct kmig_snap *s, unsigned int i,
			uint8_t *dst, char *err, size_t n)
{
	struct kmig_snap_io io = KMIG_SNAP_IO_INIT;

	return snap_io_read(fd, &s->slot[i], 1, &dst, &io, err, n);
}

/* ---- for the lazy reader (snap_lazy.c) ---- */

int kmig_snap_pread(int fd, void *buf, size_t len, uint64_t off)
{
	return pread_all(fd, buf, len, off);
}

int kmig_snap_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	return pwrite_all(fd, buf, len, off);
}

uint32_t kmig_snap_zero_crc(void)
{
	static const uint8_t zero[PAGE];

	return kmig_crc32c(0, zero, PAGE);
}
