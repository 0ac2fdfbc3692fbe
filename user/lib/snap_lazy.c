// SPDX-License-Identifier: GPL-2.0
/*
 * A snapshot read lazily, a range at a time, and its working set
 * (snap_lazy.h, Documentation/file-format.rst).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "le.h"
#include "snap_lazy.h"
#include "util.h"

#define PAGE		KMIG_SNAP_PAGE_SIZE
#define RANGE		KMIG_SNAP_RANGE_PAGES

static bool in_file(const struct kmig_snap_slot *sl, uint64_t p)
{
	return sl->bitmap[p / 64] & (1ull << (p % 64));
}

uint64_t kmig_snap_nranges(const struct kmig_snap_slot *sl)
{
	return (sl->npages + RANGE - 1) / RANGE;
}

unsigned int kmig_snap_range_pages(const struct kmig_snap *s, unsigned int i,
				   uint64_t r, uint64_t *pages)
{
	const struct kmig_snap_slot *sl = &s->slot[i];
	uint64_t p = r * RANGE, end = p + RANGE;
	unsigned int n = 0;

	if (end > sl->npages)
		end = sl->npages;
	for (; p < end; p++)
		if (in_file(sl, p))
			pages[n++] = p;
	return n;
}

int kmig_snap_read_pages(int fd, const struct kmig_snap *s, unsigned int i,
			 uint64_t r, const uint64_t *pages, unsigned int n,
			 uint8_t *const *dst, char *err, size_t errlen)
{
	const struct kmig_snap_slot *sl = &s->slot[i];
	uint64_t first = r * RANGE, end = first + RANGE, p;
	uint32_t zcrc = kmig_snap_zero_crc(), crc = 0;
	unsigned int k, j;
	int ret;

	if (end > sl->npages)
		end = sl->npages;
	/*
	 * Each run of pages next to each other in the file and at @dst:
	 * one read.
	 */
	for (k = 0; k < n; k = j) {
		for (j = k + 1; j < n && pages[j] == pages[j - 1] + 1 &&
		     dst[j] == dst[j - 1] + PAGE; j++)
			;
		ret = kmig_snap_pread(fd, dst[k], (uint64_t)(j - k) * PAGE,
				      sl->pages_off + pages[k] * PAGE);
		if (ret)
			return kmig_errf(err, errlen, ret,
					"slot %u pages %llu..%llu: cannot read them: %s",
					sl->id, (unsigned long long)pages[k],
					(unsigned long long)pages[j - 1],
					ret == -ENODATA ? "the file ends first" :
					strerror(-ret));
	}
	for (p = first, k = 0; p < end; p++)
		crc = k < n && pages[k] == p ?
		      kmig_crc32c(crc, dst[k++], PAGE) :
		      kmig_crc32c_combine(crc, zcrc, PAGE);
	if (crc != sl->sums[r])
		return kmig_errf(err, errlen, -EBADMSG,
				"slot %u pages %llu..%llu: checksum mismatch (stored 0x%08x, computed 0x%08x)",
				sl->id, (unsigned long long)first,
				(unsigned long long)end - 1, sl->sums[r], crc);
	return 0;
}

int kmig_snap_read_range(int fd, const struct kmig_snap *s, unsigned int i,
			 uint64_t r, uint8_t *buf, uint64_t *pages,
			 unsigned int *n, char *err, size_t errlen)
{
	uint8_t *dst[RANGE];
	unsigned int k;
	int ret;

	*n = kmig_snap_range_pages(s, i, r, pages);
	for (k = 0; k < *n; k++)
		dst[k] = buf + (uint64_t)k * PAGE;
	ret = kmig_snap_read_pages(fd, s, i, r, pages, *n, dst, err, errlen);
	if (ret)
		*n = 0;
	return ret;
}

/* ---- the file as it was ---- */

static int stamp_now(int fd, const struct kmig_snap *s,
		     struct kmig_snap_stamp *st, char *err, size_t errlen)
{
	uint8_t crc[4];
	struct stat sb;
	int ret;

	if (fstat(fd, &sb))
		return kmig_errf(err, errlen, -errno, "fstat: %s", strerror(errno));
	st->size = sb.st_size;
	st->mtime_ns = sb.st_mtim.tv_sec * 1000000000ll + sb.st_mtim.tv_nsec;
	ret = kmig_snap_pread(fd, crc, 4, KMIG_SNAP_HEADER_SIZE - 4);
	if (!ret)
		ret = kmig_snap_pread(fd, st->trailer, KMIG_SNAP_TRAILER_SIZE,
				      s->trailer_off);
	if (ret)
		return kmig_errf(err, errlen, ret, "cannot read the header and the trailer again: %s",
				ret == -ENODATA ? "the file is shorter" :
				strerror(-ret));
	st->header_crc = get_le32(crc);
	return 0;
}

int kmig_snap_stamp(int fd, const struct kmig_snap *s,
		    struct kmig_snap_stamp *st, char *err, size_t errlen)
{
	memset(st, 0, sizeof(*st));
	return stamp_now(fd, s, st, err, errlen);
}

int kmig_snap_unchanged(int fd, const struct kmig_snap *s,
			const struct kmig_snap_stamp *st, char *err,
			size_t errlen)
{
	struct kmig_snap_stamp now = { 0 };
	int ret;

	ret = stamp_now(fd, s, &now, err, errlen);
	if (ret)
		return ret == -ENODATA ? -ESTALE : ret;
	if (now.size != st->size)
		return kmig_errf(err, errlen, -ESTALE, "the file changed underneath: %llu bytes, %llu when opened",
				(unsigned long long)now.size,
				(unsigned long long)st->size);
	if (now.header_crc != st->header_crc ||
	    memcmp(now.trailer, st->trailer, sizeof(now.trailer)))
		return kmig_errf(err, errlen, -ESTALE, "the file changed underneath: its %s is not the one opened",
				now.header_crc != st->header_crc ? "header" :
				"trailer");
	if (now.mtime_ns != st->mtime_ns)
		return kmig_errf(err, errlen, -ESTALE, "the file changed underneath: it was written to since it was opened (mtime)");
	return 0;
}

/* ---- the working set, FILE.ws ---- */

static size_t ws_size(unsigned int n)
{
	return KMIG_SNAP_WS_HEADER_SIZE + (size_t)n * KMIG_SNAP_WS_ENTRY_SIZE + 4;
}

int kmig_ws_write(const char *path, const struct kmig_snap *s,
		  const struct kmig_snap_stamp *st,
		  const struct kmig_ws_entry *e, unsigned int n, char *err,
		  size_t errlen)
{
	size_t len = ws_size(n);
	uint8_t *buf, *p;
	char tmp[4096];
	unsigned int i;
	int fd, ret;

	if (n > KMIG_SNAP_WS_MAX)
		n = KMIG_SNAP_WS_MAX;
	len = ws_size(n);
	buf = calloc(1, len);
	if (!buf)
		return kmig_errf(err, errlen, -ENOMEM, "out of memory");
	put_le64(buf, KMIG_SNAP_WS_MAGIC);
	put_le16(buf + 8, KMIG_SNAP_WS_VERSION);
	put_le32(buf + 12, n);
	put_le64(buf + 16, s->created_ns);
	put_le32(buf + 24, st->header_crc);
	for (i = 0, p = buf + KMIG_SNAP_WS_HEADER_SIZE; i < n;
	     i++, p += KMIG_SNAP_WS_ENTRY_SIZE) {
		put_le32(p, e[i].slot);
		put_le64(p + 8, e[i].page);
	}
	put_le32(p, kmig_crc32c(0, buf, len - 4));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ret = fd < 0 ? -errno : 0;
	if (!ret)
		ret = kmig_snap_pwrite(fd, buf, len, 0);
	if (!ret && fdatasync(fd))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (!ret && rename(tmp, path))
		ret = -errno;
	free(buf);
	if (ret) {
		if (fd >= 0)
			unlink(tmp);
		return kmig_errf(err, errlen, ret, "%s: %s", tmp, strerror(-ret));
	}
	return 0;
}

/* Every entry names a page of a slot of @s. */
static int ws_parse(const uint8_t *buf, unsigned int n,
		    const struct kmig_snap *s, struct kmig_ws_entry *e,
		    char *err, size_t errlen)
{
	const uint8_t *p = buf + KMIG_SNAP_WS_HEADER_SIZE;
	unsigned int i, j;

	for (i = 0; i < n; i++, p += KMIG_SNAP_WS_ENTRY_SIZE) {
		e[i].slot = get_le32(p);
		e[i].page = get_le64(p + 8);
		for (j = 0; j < s->nslots && s->slot[j].id != e[i].slot; j++)
			;
		if (get_le32(p + 4) || j == s->nslots ||
		    e[i].page >= s->slot[j].npages)
			return kmig_errf(err, errlen, -EPROTO, "entry %u: slot %u page %llu is not in the snapshot",
					i, e[i].slot,
					(unsigned long long)e[i].page);
	}
	return 0;
}

int kmig_ws_read(const char *path, const struct kmig_snap *s,
		 const struct kmig_snap_stamp *st, struct kmig_ws_entry **e,
		 unsigned int *n, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	struct stat sb;
	int fd, ret;

	*e = NULL;
	*n = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kmig_errf(err, errlen, -errno, "%s: %s", path, strerror(errno));
	ret = fstat(fd, &sb) ? -errno : 0;
	if (!ret && (sb.st_size < (off_t)ws_size(0) ||
		     sb.st_size > (off_t)ws_size(KMIG_SNAP_WS_MAX)))
		ret = kmig_errf(err, errlen, -EPROTO, "%s: %lld bytes, not a working set",
				path, (long long)sb.st_size);
	if (!ret) {
		buf = malloc(sb.st_size);
		ret = buf ? kmig_snap_pread(fd, buf, sb.st_size, 0) :
		      -ENOMEM;
		if (ret)
			snprintf(err, errlen, "%s: %s", path, strerror(-ret));
	}
	close(fd);
	if (ret)
		goto out;
	ret = -EPROTO;
	if (get_le64(buf) != KMIG_SNAP_WS_MAGIC)
		snprintf(err, errlen, "%s: not a working set (bad magic)", path);
	else if (get_le16(buf + 8) != KMIG_SNAP_WS_VERSION)
		snprintf(err, errlen, "%s: version %u (this reads %u)", path,
			 get_le16(buf + 8), KMIG_SNAP_WS_VERSION);
	else if ((size_t)sb.st_size != ws_size(get_le32(buf + 12)))
		snprintf(err, errlen, "%s: %u entries do not fill %lld bytes",
			 path, get_le32(buf + 12), (long long)sb.st_size);
	else if (get_le32(buf + sb.st_size - 4) !=
		 kmig_crc32c(0, buf, sb.st_size - 4))
		ret = kmig_errf(err, errlen, -EBADMSG, "%s: CRC mismatch", path);
	else if (get_le16(buf + 10) || get_le32(buf + 28))
		snprintf(err, errlen, "%s: reserved field not zero", path);
	else if (get_le64(buf + 16) != s->created_ns ||
		 get_le32(buf + 24) != st->header_crc)
		ret = kmig_errf(err, errlen, -ESTALE,
				"%s: the working set of another snapshot", path);
	else
		ret = 0;
	if (ret)
		goto out;
	*n = get_le32(buf + 12);
	*e = calloc(*n ? *n : 1, sizeof(**e));
	ret = *e ? ws_parse(buf, *n, s, *e, err, errlen) : -ENOMEM;
	if (ret) {
		free(*e);
		*e = NULL;
		*n = 0;
	}
out:
	free(buf);
	return ret;
}
