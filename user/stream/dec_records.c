// SPDX-License-Identifier: GPL-2.0
/*
 * Stream decoder, meaning half: per-record sizes, record order, section
 * lifecycle, capabilities and bounds, then the typed callbacks.
 */
#include <errno.h>
#include <string.h>

#include "dec_priv.h"
#include "le.h"

#define CALL(d, fn, ...)						\
	((d)->cfg.ops && (d)->cfg.ops->fn ?				\
	 (d)->cfg.ops->fn((d)->cfg.opaque, ##__VA_ARGS__) : 0)

static int want_len(struct kmig_dec *d, uint32_t len, uint32_t min,
		    uint32_t max)
{
	if (len < min || len > max)
		return kmig_dec_fail(d, -EMSGSIZE,
				     min == max ?
				     "length %u, this record is %u bytes" :
				     "length %u outside %u..%u bytes",
				     len, min, max);
	return 0;
}

/* The open section body, if it is of @kind. */
static int want_body(struct kmig_dec *d, uint16_t kind)
{
	if (d->body < 0)
		return kmig_dec_fail(d, -EPROTO, "outside any section");
	if (d->sec[d->body].kind != kind)
		return kmig_dec_fail(d, -EPROTO, "inside %s section %u",
				     kmig_sec_kind_name(d->sec[d->body].kind),
				     d->sec[d->body].id);
	return 0;
}

static int want_top(struct kmig_dec *d)
{
	if (d->body >= 0)
		return kmig_dec_fail(d, -EPROTO,
				     "section %u has no footer yet",
				     d->sec[d->body].id);
	return 0;
}

static int caps(struct kmig_dec *d, const uint8_t *pl, uint32_t len)
{
	uint64_t req, opt, missing;
	int ret;

	if (d->state != KMIG_DEC_CAPS)
		return kmig_dec_fail(d, -EPROTO, "CAPS again after the start");
	ret = want_len(d, len, KMIG_REC_CAPS_LEN, KMIG_REC_CAPS_LEN);
	if (ret)
		return ret;
	req = get_le64(pl);
	opt = get_le64(pl + 8);
	missing = req & ~d->cfg.caps_supported;
	if (missing)
		return kmig_dec_fail(d, -EPROTONOSUPPORT,
				     "required capabilities 0x%llx not supported",
				     (unsigned long long)missing);
	d->caps = req | (opt & d->cfg.caps_supported);
	d->state = KMIG_DEC_RECORDS;
	return CALL(d, caps, d->caps);
}

static int find_section(struct kmig_dec *d, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < d->nsec; i++)
		if (d->sec[i].id == id)
			return i;
	return -1;
}

static int section_open(struct kmig_dec *d, uint8_t type, const uint8_t *pl,
			uint32_t len, struct kmig_section *s)
{
	struct kmig_dec_section *ds;
	uint32_t i, nlen;
	int ret;

	ret = want_len(d, len, KMIG_REC_SECTION_HDR_LEN + 1,
		       KMIG_REC_SECTION_HDR_LEN + KMIG_STREAM_MAX_NAME);
	if (ret)
		return ret;
	s->kind = get_le16(pl + 4);
	s->instance = get_le16(pl + 6);
	s->version = get_le32(pl + 8);
	nlen = pl[12];
	if (nlen != len - KMIG_REC_SECTION_HDR_LEN)
		return kmig_dec_fail(d, -EMSGSIZE,
				     "name length %u, record has %u name bytes",
				     nlen, len - KMIG_REC_SECTION_HDR_LEN);
	for (i = 0; i < nlen; i++) {
		s->name[i] = pl[KMIG_REC_SECTION_HDR_LEN + i];
		if (s->name[i] <= ' ' || s->name[i] > '~')
			return kmig_dec_fail(d, -EPROTO,
					     "section %u name byte %u is 0x%02x",
					     s->id, i, pl[13 + i]);
	}
	s->name[nlen] = 0;
	if (!kmig_sec_kind_name(s->kind))
		return kmig_dec_fail(d, -EPROTO, "section %u of unknown kind %u",
				     s->id, s->kind);
	if (s->kind == KMIG_SEC_DEVICE && !(d->caps & KMIG_SCAP_DEVICE_STATE))
		return kmig_dec_fail(d, -EPROTO,
				     "device section %u without capability DEVICE_STATE",
				     s->id);
	if (find_section(d, s->id) >= 0)
		return kmig_dec_fail(d, -EPROTO, "section id %u already used",
				     s->id);
	if (d->nsec == KMIG_STREAM_MAX_SECTIONS)
		return kmig_dec_fail(d, -EMSGSIZE, "more than %u sections",
				     KMIG_STREAM_MAX_SECTIONS);
	ds = &d->sec[d->nsec];
	ds->id = s->id;
	ds->kind = s->kind;
	ds->instance = s->instance;
	ds->ended = type == KMIG_REC_SECTION_FULL;
	memcpy(ds->name, s->name, nlen + 1);
	d->body = d->nsec++;
	return 0;
}

static int section(struct kmig_dec *d, uint8_t type, const uint8_t *pl,
		   uint32_t len)
{
	struct kmig_section s = { .type = type };
	struct kmig_dec_section *ds;
	int ret, i;

	if (len < KMIG_REC_SECTION_ID_LEN)
		return want_len(d, len, KMIG_REC_SECTION_ID_LEN,
				KMIG_REC_SECTION_ID_LEN);
	s.id = get_le32(pl);
	if (type == KMIG_REC_SECTION_FOOTER) {
		ret = want_len(d, len, KMIG_REC_SECTION_ID_LEN,
			       KMIG_REC_SECTION_ID_LEN);
		if (ret)
			return ret;
		if (d->body < 0 || d->sec[d->body].id != s.id)
			return kmig_dec_fail(d, -EPROTO,
					     "footer of section %u, which is not open",
					     s.id);
		if (d->sec[d->body].kind == KMIG_SEC_DEVICE && !d->dev_ended)
			return kmig_dec_fail(d, -EPROTO,
					     "device section %u ends without END_OF_STATE",
					     s.id);
		i = d->body;
		d->body = -1;
	} else {
		ret = want_top(d);
		if (ret)
			return ret;
		if (type == KMIG_REC_SECTION_START ||
		    type == KMIG_REC_SECTION_FULL) {
			ret = section_open(d, type, pl, len, &s);
			if (ret)
				return ret;
			i = d->body;
		} else {
			ret = want_len(d, len, KMIG_REC_SECTION_ID_LEN,
				       KMIG_REC_SECTION_ID_LEN);
			if (ret)
				return ret;
			i = find_section(d, s.id);
			if (i < 0 || d->sec[i].ended)
				return kmig_dec_fail(d, -EPROTO,
						     "section %u is not open",
						     s.id);
			d->sec[i].ended = type == KMIG_REC_SECTION_END;
			d->body = i;
		}
	}
	ds = &d->sec[i];
	s.kind = ds->kind;
	s.instance = ds->instance;
	memcpy(s.name, ds->name, sizeof(s.name));
	d->cont_valid = false;
	d->dev_ended = false;
	return CALL(d, section, &s);
}

static int command(struct kmig_dec *d, const uint8_t *pl, uint32_t len)
{
	struct kmig_scmd c = { 0 };
	const uint8_t *a = pl + KMIG_REC_COMMAND_HDR_LEN;
	int clen, ret;

	ret = want_top(d);
	if (ret)
		return ret;
	if (len < KMIG_REC_COMMAND_HDR_LEN)
		return want_len(d, len, KMIG_REC_COMMAND_HDR_LEN,
				KMIG_REC_COMMAND_HDR_LEN);
	c.id = get_le16(pl);
	clen = kmig_scmd_len(c.id);
	if (clen < 0)
		return kmig_dec_fail(d, -EPROTO, "unknown command %u", c.id);
	ret = want_len(d, len, KMIG_REC_COMMAND_HDR_LEN + clen,
		       KMIG_REC_COMMAND_HDR_LEN + clen);
	if (ret)
		return ret;
	if (get_le16(pl + 2))
		return kmig_dec_fail(d, -EPROTO, "command %s: reserved not zero",
				     kmig_scmd_name(c.id));
	switch (c.id) {
	case KMIG_SCMD_PING:
		c.token = get_le32(a);
		break;
	case KMIG_SCMD_ROUND_SYNC:
		c.round = get_le64(a);
		break;
	case KMIG_SCMD_CHANNELS:
		if (!(d->caps & KMIG_SCAP_MULTI_CHANNEL))
			return kmig_dec_fail(d, -EPROTO,
					     "command CHANNELS without capability MULTI_CHANNEL");
		c.channels.count = get_le16(a);
		if (!c.channels.count || get_le16(a + 2) ||
		    c.channels.count >= KMIG_HELLO_MAX_CHANNELS)
			return kmig_dec_fail(d, -EPROTO,
					     "command CHANNELS: %u page channels (1..%u)",
					     c.channels.count,
					     KMIG_HELLO_MAX_CHANNELS - 1);
		memcpy(c.channels.uuid, a + 4, 16);
		break;
	case KMIG_SCMD_OPEN_RETURN_PATH:
		if (!(d->caps & KMIG_SCAP_RETURN_PATH))
			return kmig_dec_fail(d, -EPROTO,
					     "command OPEN_RETURN_PATH without capability RETURN_PATH");
		break;
	case KMIG_SCMD_POSTCOPY:
	case KMIG_SCMD_POSTCOPY_RUN:
		if (!(d->caps & KMIG_SCAP_POSTCOPY))
			return kmig_dec_fail(d, -EPROTO,
					     "command %s without capability POSTCOPY",
					     kmig_scmd_name(c.id));
		break;
	}
	return CALL(d, cmd, &c);
}

static const struct kmig_slot *find_slot(struct kmig_dec *d, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < d->cfg.nslots; i++)
		if (d->cfg.slots[i].id == id)
			return &d->cfg.slots[i];
	return NULL;
}

static int ram(struct kmig_dec *d, uint8_t type, uint8_t flags,
	       const uint8_t *pl, uint32_t len)
{
	uint32_t hdr = flags & KMIG_RECF_CONTINUE ? 0 : KMIG_REC_RAM_SLOT_LEN;
	uint32_t size = type == KMIG_REC_RAM_PAGE ? KMIG_REC_RAM_PAGE_LEN :
			type == KMIG_REC_RAM_ZERO ? KMIG_REC_RAM_ZERO_LEN :
			KMIG_REC_RAM_DISCARD_LEN - KMIG_REC_RAM_SLOT_LEN;
	const struct kmig_slot *slot;
	uint32_t id, count = 1;
	uint64_t page;
	int ret;

	ret = want_body(d, KMIG_SEC_RAM);
	if (!ret)
		ret = want_len(d, len, hdr + size, hdr + size);
	if (ret)
		return ret;
	if (type == KMIG_REC_RAM_DISCARD && !(d->caps & KMIG_SCAP_POSTCOPY))
		return kmig_dec_fail(d, -EPROTO,
				     "RAM_DISCARD without capability POSTCOPY");
	if (!hdr && !d->cont_valid)
		return kmig_dec_fail(d, -EPROTO,
				     "CONTINUE with no earlier RAM record in this section");
	id = hdr ? get_le32(pl) : d->cont_slot;
	page = get_le64(pl + hdr);
	if (type != KMIG_REC_RAM_PAGE)
		count = get_le32(pl + hdr + 8);
	if (!count || count > KMIG_STREAM_MAX_ZERO_RUN)
		return kmig_dec_fail(d, -ERANGE, "a %s run of %u pages (1..%u)",
				     type == KMIG_REC_RAM_ZERO ? "zero" :
				     "discard", count,
				     KMIG_STREAM_MAX_ZERO_RUN);
	slot = find_slot(d, id);
	if (!slot)
		return kmig_dec_fail(d, -ERANGE, "unknown slot %u", id);
	if (page >= slot->npages || count > slot->npages - page)
		return kmig_dec_fail(d, -ERANGE,
				     "page %llu (+%u) beyond slot %u (%llu pages)",
				     (unsigned long long)page, count, id,
				     (unsigned long long)slot->npages);
	if (type == KMIG_REC_RAM_DISCARD)
		return CALL(d, discard, id, page, count);
	d->cont_slot = id;
	d->cont_valid = true;
	if (type == KMIG_REC_RAM_PAGE)
		return CALL(d, page, id, page, pl + hdr + 8);
	return CALL(d, zero, id, page, count);
}

int kmig_dec_batch_check(struct kmig_dec *d, uint8_t flags, uint32_t slot,
			 unsigned int n)
{
	const struct kmig_slot *sl;
	const uint64_t *p = d->bpages;
	unsigned int i;
	int ret;

	if (flags)
		return kmig_dec_fail(d, -EPROTO, "unknown flags 0x%02x", flags);
	if (d->state == KMIG_DEC_CAPS)
		return kmig_dec_fail(d, -EPROTO,
				     "the first record must be CAPS");
	ret = want_body(d, KMIG_SEC_RAM);
	if (ret)
		return ret;
	sl = find_slot(d, slot);
	if (!sl)
		return kmig_dec_fail(d, -ERANGE, "unknown slot %u", slot);
	for (i = 0; i < n; i++) {
		if (p[i] >= sl->npages)
			return kmig_dec_fail(d, -ERANGE,
					     "page %llu beyond slot %u (%llu pages)",
					     (unsigned long long)p[i], slot,
					     (unsigned long long)sl->npages);
		if (i && p[i] <= p[i - 1])
			return kmig_dec_fail(d, -EPROTO,
					     "page %llu after page %llu (a batch ascends)",
					     (unsigned long long)p[i],
					     (unsigned long long)p[i - 1]);
	}
	d->cont_slot = slot;
	d->cont_valid = true;
	return 0;
}

int kmig_dec_batch_dest(struct kmig_dec *d, uint32_t slot, unsigned int n)
{
	unsigned int i;
	int ret;

	memset(d->bdata, 0, n * sizeof(d->bdata[0]));
	if (!d->cfg.ops || !d->cfg.ops->pages_dest)
		return 0;
	ret = d->cfg.ops->pages_dest(d->cfg.opaque, slot, d->bpages, n,
				     d->bdata);
	if (ret)
		return ret;
	for (i = 0; i < n; i++)
		if (!d->bdata[i])
			return kmig_dec_fail(d, -EFAULT,
					     "no destination for page %llu",
					     (unsigned long long)d->bpages[i]);
	return 0;
}

int kmig_dec_batch_deliver(struct kmig_dec *d, uint32_t slot, unsigned int n)
{
	unsigned int i;
	int ret;

	if (d->cfg.ops && d->cfg.ops->pages)
		return d->cfg.ops->pages(d->cfg.opaque, slot, d->bpages, n,
					 (const void *const *)d->bdata);
	for (i = 0; i < n; i++) {
		ret = CALL(d, page, slot, d->bpages[i], d->bdata[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static int vcpu(struct kmig_dec *d, const uint8_t *pl, uint32_t len)
{
	uint32_t index;
	uint16_t part;
	int ret;

	ret = want_body(d, KMIG_SEC_VCPU);
	if (!ret)
		ret = want_len(d, len, KMIG_REC_VCPU_HDR_LEN,
			       KMIG_REC_VCPU_HDR_LEN + KMIG_STREAM_MAX_VCPU_PART);
	if (ret)
		return ret;
	index = get_le32(pl);
	part = get_le16(pl + 4);
	if (index >= KMIG_STREAM_MAX_VCPUS)
		return kmig_dec_fail(d, -ERANGE, "vCPU %u beyond %u", index,
				     KMIG_STREAM_MAX_VCPUS);
	if (!kmig_vcpu_part_name(part))
		return kmig_dec_fail(d, -EPROTO, "vCPU %u: unknown part %u",
				     index, part);
	if (get_le16(pl + 6))
		return kmig_dec_fail(d, -EPROTO,
				     "vCPU %u: part %s: reserved not zero",
				     index, kmig_vcpu_part_name(part));
	return CALL(d, vcpu, index, part, pl + KMIG_REC_VCPU_HDR_LEN,
		    len - KMIG_REC_VCPU_HDR_LEN);
}

static int device(struct kmig_dec *d, const uint8_t *pl, uint32_t len)
{
	uint32_t marker;
	uint64_t size;
	int ret;

	ret = want_body(d, KMIG_SEC_DEVICE);
	if (!ret)
		ret = want_len(d, len, KMIG_REC_DEVICE_HDR_LEN,
			       KMIG_STREAM_MAX_PAYLOAD);
	if (ret)
		return ret;
	marker = get_le32(pl);
	size = get_le64(pl + 8);
	if (!kmig_devpkt_name(marker) || get_le32(pl + 4))
		return kmig_dec_fail(d, -EPROTO, "unknown packet marker %u",
				     marker);
	if (size != len - KMIG_REC_DEVICE_HDR_LEN)
		return kmig_dec_fail(d, -EMSGSIZE,
				     "%s size %llu, record carries %u bytes",
				     kmig_devpkt_name(marker),
				     (unsigned long long)size,
				     len - KMIG_REC_DEVICE_HDR_LEN);
	if (d->dev_ended)
		return kmig_dec_fail(d, -EPROTO, "%s after END_OF_STATE",
				     kmig_devpkt_name(marker));
	if (marker == KMIG_DEVPKT_END_OF_STATE) {
		if (size)
			return kmig_dec_fail(d, -EMSGSIZE,
					     "END_OF_STATE carries %llu bytes",
					     (unsigned long long)size);
		d->dev_ended = true;
	}
	return CALL(d, device, d->sec[d->body].instance, marker,
		    pl + KMIG_REC_DEVICE_HDR_LEN, (uint32_t)size);
}

static int eos(struct kmig_dec *d, const uint8_t *pl, uint32_t len)
{
	unsigned int i;
	int ret;

	ret = want_top(d);
	if (!ret)
		ret = want_len(d, len, KMIG_REC_EOS_LEN, KMIG_REC_EOS_LEN);
	if (ret)
		return ret;
	for (i = 0; i < d->nsec; i++)
		if (!d->sec[i].ended)
			return kmig_dec_fail(d, -EPROTO,
					     "section %u (%s) never ended",
					     d->sec[i].id, d->sec[i].name);
	if (get_le64(pl) != d->records)
		return kmig_dec_fail(d, -EPROTO,
				     "stream claims %llu records, %llu came",
				     (unsigned long long)get_le64(pl),
				     (unsigned long long)d->records);
	d->state = KMIG_DEC_DONE;
	return CALL(d, eos);
}

int kmig_dec_record(struct kmig_dec *d, uint8_t type, uint8_t flags,
		    const uint8_t *pl, uint32_t len)
{
	bool ram_rec = type == KMIG_REC_RAM_PAGE || type == KMIG_REC_RAM_ZERO;

	if (flags & ~(ram_rec ? KMIG_RECF_ALL : 0))
		return kmig_dec_fail(d, -EPROTO, "unknown flags 0x%02x", flags);
	if (d->state == KMIG_DEC_CAPS && type != KMIG_REC_CAPS)
		return kmig_dec_fail(d, -EPROTO,
				     "the first record must be CAPS");
	switch (type) {
	case KMIG_REC_CAPS:
		return caps(d, pl, len);
	case KMIG_REC_SECTION_START:
	case KMIG_REC_SECTION_PART:
	case KMIG_REC_SECTION_END:
	case KMIG_REC_SECTION_FULL:
	case KMIG_REC_SECTION_FOOTER:
		return section(d, type, pl, len);
	case KMIG_REC_COMMAND:
		return command(d, pl, len);
	case KMIG_REC_RAM_PAGE:
	case KMIG_REC_RAM_ZERO:
	case KMIG_REC_RAM_DISCARD:
		return ram(d, type, flags, pl, len);
	case KMIG_REC_VCPU_STATE:
		return vcpu(d, pl, len);
	case KMIG_REC_DEVICE_STATE:
		return device(d, pl, len);
	case KMIG_REC_END_OF_STREAM:
		return eos(d, pl, len);
	}
	return kmig_dec_fail(d, -EPROTO, "unknown record type 0x%02x", type);
}
