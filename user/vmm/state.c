// SPDX-License-Identifier: GPL-2.0
/*
 * vCPU state, saved and loaded as a kmig stream: one SECTION_FULL of kind
 * VCPU per vCPU (instance = vCPU index) holding a VCPU_STATE record per
 * part, each the KVM structure as the ioctl returns it; then, with the
 * ring device attached, its DEVICE section (ring.c). A load decodes and
 * checks the whole stream, and the ring's descriptor in guest memory,
 * before it touches any vCPU.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "dec.h"
#include "enc.h"
#include "vmm.h"

#define MAX_MSRS	1024

struct vmm_vstate {
	uint32_t have;			/* bit per enum kmig_vcpu_part */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_msrs *msrs;
	struct kvm_lapic_state lapic;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_debugregs debugregs;
};

#define REQUIRED_PARTS	(1u << KMIG_VCPU_REGS | 1u << KMIG_VCPU_SREGS |	\
			 1u << KMIG_VCPU_FPU | 1u << KMIG_VCPU_MSRS |	\
			 1u << KMIG_VCPU_LAPIC | 1u << KMIG_VCPU_EVENTS | \
			 1u << KMIG_VCPU_MP_STATE | 1u << KMIG_VCPU_DEBUGREGS)

/* Where part @part of @s lives, and its size; NULL for MSRS. */
static void *part_ptr(struct vmm_vstate *s, unsigned int part, size_t *size)
{
#define PART(id, field) \
	case KMIG_VCPU_##id: *size = sizeof(s->field); return &s->field;
	switch (part) {
	PART(REGS, regs)
	PART(SREGS, sregs)
	PART(FPU, fpu)
	PART(LAPIC, lapic)
	PART(XSAVE, xsave)
	PART(XCRS, xcrs)
	PART(EVENTS, events)
	PART(MP_STATE, mp)
	PART(DEBUGREGS, debugregs)
	}
	*size = 0;
	return NULL;
#undef PART
}

static const unsigned long get_ioctl[] = {
	[KMIG_VCPU_REGS] = KVM_GET_REGS,
	[KMIG_VCPU_SREGS] = KVM_GET_SREGS,
	[KMIG_VCPU_FPU] = KVM_GET_FPU,
	[KMIG_VCPU_LAPIC] = KVM_GET_LAPIC,
	[KMIG_VCPU_XSAVE] = KVM_GET_XSAVE,
	[KMIG_VCPU_XCRS] = KVM_GET_XCRS,
	[KMIG_VCPU_EVENTS] = KVM_GET_VCPU_EVENTS,
	[KMIG_VCPU_MP_STATE] = KVM_GET_MP_STATE,
	[KMIG_VCPU_DEBUGREGS] = KVM_GET_DEBUGREGS,
};

static const unsigned long set_ioctl[] = {
	[KMIG_VCPU_REGS] = KVM_SET_REGS,
	[KMIG_VCPU_SREGS] = KVM_SET_SREGS,
	[KMIG_VCPU_FPU] = KVM_SET_FPU,
	[KMIG_VCPU_LAPIC] = KVM_SET_LAPIC,
	[KMIG_VCPU_XSAVE] = KVM_SET_XSAVE,
	[KMIG_VCPU_XCRS] = KVM_SET_XCRS,
	[KMIG_VCPU_EVENTS] = KVM_SET_VCPU_EVENTS,
	[KMIG_VCPU_MP_STATE] = KVM_SET_MP_STATE,
	[KMIG_VCPU_DEBUGREGS] = KVM_SET_DEBUGREGS,
};

/* KVM applies state in dependency order (QEMU's kvm_arch_put_registers):
 * registers and FPU first, special registers before MSRs, the LAPIC after
 * the APIC base (in sregs), events last. */
static const unsigned int apply_order[] = {
	KMIG_VCPU_REGS, KMIG_VCPU_FPU, KMIG_VCPU_XSAVE, KMIG_VCPU_XCRS,
	KMIG_VCPU_SREGS, KMIG_VCPU_MSRS, KMIG_VCPU_MP_STATE, KMIG_VCPU_LAPIC,
	KMIG_VCPU_EVENTS, KMIG_VCPU_DEBUGREGS,
};

/* Hyper-V synthetic MSRs: the guest sees no Hyper-V CPUID, so they are
 * not its state (and two of them are clocks that never compare equal). */
#define HV_MSR_FIRST	0x40000000u
#define HV_MSR_LAST	0x400000ffu

/* The MSRs KVM lists and vCPU 0 can read, Hyper-V's left out. */
static int msr_list(struct vmm *vmm)
{
	struct { struct kvm_msrs h; struct kvm_msr_entry e; } one;
	struct kvm_msr_list probe = { .nmsrs = 0 }, *l;
	uint32_t i, n = 0;

	if (vmm->msrs)
		return 0;
	if (!ioctl(vmm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) || errno != E2BIG)
		return -EIO;
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	if (!l)
		return -ENOMEM;
	l->nmsrs = probe.nmsrs;
	if (ioctl(vmm->kvm_fd, KVM_GET_MSR_INDEX_LIST, l)) {
		free(l);
		return -errno;
	}
	for (i = 0; i < l->nmsrs && n < MAX_MSRS; i++) {
		if (l->indices[i] >= HV_MSR_FIRST && l->indices[i] <= HV_MSR_LAST)
			continue;
		memset(&one, 0, sizeof(one));
		one.h.nmsrs = 1;
		one.e.index = l->indices[i];
		if (ioctl(vmm->vcpu[0].fd, KVM_GET_MSRS, &one) == 1)
			l->indices[n++] = l->indices[i];
	}
	l->nmsrs = n;
	vmm->msrs = l;
	return 0;
}

static int save_msrs(struct vmm *vmm, struct vmm_vcpu *v, struct kmig_enc *e)
{
	uint32_t n = vmm->msrs->nmsrs, i;
	struct kvm_msrs *m;
	size_t size = sizeof(*m) + n * sizeof(m->entries[0]);
	int ret;

	m = calloc(1, size);
	if (!m)
		return -ENOMEM;
	m->nmsrs = n;
	for (i = 0; i < n; i++)
		m->entries[i].index = vmm->msrs->indices[i];
	ret = ioctl(v->fd, KVM_GET_MSRS, m);
	if (ret != (int)n)
		ret = ret < 0 ? -errno : -EIO;
	else
		ret = kmig_enc_vcpu(e, v->index, KMIG_VCPU_MSRS, m, size);
	free(m);
	return ret;
}

static bool have_part(struct vmm *vmm, unsigned int part)
{
	if (part == KMIG_VCPU_XSAVE)
		return ioctl(vmm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0;
	if (part == KMIG_VCPU_XCRS)
		return ioctl(vmm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
	return true;
}

static int save_vcpu(struct vmm *vmm, struct vmm_vcpu *v, struct kmig_enc *e,
		     struct vmm_vstate *s)
{
	struct kmig_section sec = {
		.type = KMIG_REC_SECTION_FULL, .id = v->index + 1,
		.kind = KMIG_SEC_VCPU, .instance = v->index, .version = 1,
		.name = "cpu",
	};
	unsigned int i, part;
	size_t size;
	void *p;
	int ret;

	ret = kmig_enc_section(e, &sec);
	for (i = 0; i < sizeof(apply_order) / sizeof(apply_order[0]); i++) {
		part = apply_order[i];
		if (ret || !have_part(vmm, part))
			continue;
		if (part == KMIG_VCPU_MSRS) {
			ret = save_msrs(vmm, v, e);
			continue;
		}
		p = part_ptr(s, part, &size);
		if (ioctl(v->fd, get_ioctl[part], p))
			ret = -errno;
		else
			ret = kmig_enc_vcpu(e, v->index, part, p, size);
	}
	sec.type = KMIG_REC_SECTION_FOOTER;
	return ret ? ret : kmig_enc_section(e, &sec);
}

int vmm_state_save(struct vmm *vmm, uint8_t **buf, size_t *len)
{
	struct vmm_vstate *s = calloc(1, sizeof(*s));
	struct kmig_enc e;
	const uint8_t *out;
	unsigned int i;
	int ret;

	if (!s)
		return -ENOMEM;
	ret = msr_list(vmm);
	kmig_enc_init_mem(&e);
	if (!ret)
		ret = kmig_enc_header(&e);
	if (!ret)
		ret = kmig_enc_caps(&e, vmm->ring.on ?
				    KMIG_SCAP_DEVICE_STATE : 0, 0);
	for (i = 0; i < vmm->nvcpus && !ret; i++)
		ret = save_vcpu(vmm, &vmm->vcpu[i], &e, s);
	if (!ret && vmm->ring.on)
		ret = vmm_ring_save(&vmm->ring, &e, vmm->nvcpus + 1);
	if (!ret)
		ret = kmig_enc_eos(&e);
	free(s);
	if (ret) {
		kmig_enc_free(&e);
		return ret;
	}
	out = kmig_enc_mem(&e, len);
	*buf = (uint8_t *)out;	/* the caller frees it */
	return 0;
}

struct load {
	unsigned int nvcpus;
	struct vmm_vstate *s;
	struct vmm_ring ring;
	bool in_ring;			/* in the ring's section */
	char *err;
	size_t errlen;
};

/* Device sections: the ring's, once; no other device lives here. */
static int on_section(void *opaque, const struct kmig_section *sec)
{
	struct load *l = opaque;

	l->in_ring = false;
	if (sec->kind != KMIG_SEC_DEVICE ||
	    sec->type == KMIG_REC_SECTION_FOOTER)
		return 0;
	if (strcmp(sec->name, VMM_RING_SECTION) || sec->instance) {
		snprintf(l->err, l->errlen,
			 "device section %u: device %s:%u, which this VMM does not have",
			 sec->id, sec->name, sec->instance);
		return -ENODEV;
	}
	if (sec->type != KMIG_REC_SECTION_FULL || l->ring.on) {
		snprintf(l->err, l->errlen, "device %s: %s", sec->name,
			 l->ring.on ? "two sections" : "not a FULL section");
		return -EPROTO;
	}
	l->in_ring = true;
	return 0;
}

static int on_device(void *opaque, uint16_t instance, uint32_t marker,
		     const void *data, uint32_t size)
{
	struct load *l = opaque;

	(void)instance;
	return vmm_ring_decode(&l->ring, marker, data, size, l->err,
			       l->errlen);
}

static int on_vcpu(void *opaque, uint32_t index, uint16_t part,
		   const void *data, uint32_t len)
{
	struct load *l = opaque;
	struct kvm_msrs m;
	struct vmm_vstate *s;
	size_t size;
	void *p;

	if (index >= l->nvcpus) {
		snprintf(l->err, l->errlen, "vCPU %u: this VM has %u vCPUs",
			 index, l->nvcpus);
		return -ERANGE;
	}
	s = &l->s[index];
	if (s->have & 1u << part) {
		snprintf(l->err, l->errlen, "vCPU %u: part %s twice", index,
			 kmig_vcpu_part_name(part));
		return -EPROTO;
	}
	if (part == KMIG_VCPU_MSRS) {
		/* @data is only 4-byte aligned: copy the header out. */
		if (len < sizeof(m))
			goto err_size;
		memcpy(&m, data, sizeof(m));
		if (m.nmsrs > MAX_MSRS ||
		    len != sizeof(m) + m.nmsrs * sizeof(m.entries[0]))
			goto err_size;
		s->msrs = malloc(len);
		if (!s->msrs)
			return -ENOMEM;
		memcpy(s->msrs, data, len);
	} else {
		p = part_ptr(s, part, &size);
		if (!p || len != size)
			goto err_size;
		memcpy(p, data, len);
	}
	s->have |= 1u << part;
	return 0;

err_size:
	snprintf(l->err, l->errlen, "vCPU %u: part %s of %u bytes", index,
		 kmig_vcpu_part_name(part), len);
	return -EMSGSIZE;
}

static int apply(struct vmm_vcpu *v, struct vmm_vstate *s, char *err,
		 size_t errlen)
{
	unsigned int i, part;
	size_t size;
	int ret;

	for (i = 0; i < sizeof(apply_order) / sizeof(apply_order[0]); i++) {
		part = apply_order[i];
		if (!(s->have & 1u << part))
			continue;
		if (part == KMIG_VCPU_MSRS) {
			ret = ioctl(v->fd, KVM_SET_MSRS, s->msrs);
			if (ret == (int)s->msrs->nmsrs)
				continue;
			snprintf(err, errlen, "vCPU %u: MSR 0x%x refused", v->index,
				 ret >= 0 ? s->msrs->entries[ret].index : 0);
			return ret < 0 ? -errno : -EINVAL;
		}
		if (ioctl(v->fd, set_ioctl[part], part_ptr(s, part, &size))) {
			ret = -errno;
			snprintf(err, errlen, "vCPU %u: setting %s: %s", v->index,
				 kmig_vcpu_part_name(part), strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void vmm_state_free(struct vmm_vstate *s, unsigned int nvcpus)
{
	unsigned int i;

	for (i = 0; s && i < nvcpus; i++)
		free(s[i].msrs);
	free(s);
}

int vmm_state_decode(unsigned int nvcpus, const uint8_t *buf, size_t len,
		     struct vmm_vstate **out, char *err, size_t errlen)
{
	struct vmm_ring ring;

	return vmm_state_decode_all(nvcpus, buf, len, out, &ring, err, errlen);
}

int vmm_state_decode_all(unsigned int nvcpus, const uint8_t *buf, size_t len,
			 struct vmm_vstate **out, struct vmm_ring *ring,
			 char *err, size_t errlen)
{
	static const struct kmig_dec_ops ops = {
		.section = on_section, .vcpu = on_vcpu, .device = on_device,
	};
	struct vmm_vstate *s = calloc(nvcpus ? nvcpus : 1, sizeof(*s));
	struct load l = { .nvcpus = nvcpus, .s = s, .err = err,
			  .errlen = errlen };
	struct kmig_dec_cfg cfg = {
		.caps_supported = KMIG_SCAP_ALL, .ops = &ops, .opaque = &l,
	};
	struct kmig_dec d;
	unsigned int i;
	int ret;

	if (!s)
		return -ENOMEM;
	err[0] = 0;
	ret = kmig_dec_init_buf(&d, &cfg, buf, len);
	if (!ret)
		ret = kmig_dec_run(&d);
	if (ret && !err[0])
		snprintf(err, errlen, "%s", kmig_dec_error(&d));
	kmig_dec_free(&d);
	for (i = 0; i < nvcpus && !ret; i++) {
		if ((s[i].have & REQUIRED_PARTS) != REQUIRED_PARTS) {
			snprintf(err, errlen, "vCPU %u: state incomplete (parts 0x%x)",
				 i, s[i].have);
			ret = -ENODATA;
		}
	}
	if (ret) {
		vmm_state_free(s, nvcpus);
		return ret;
	}
	*out = s;
	*ring = l.ring;
	return 0;
}

int vmm_state_load(struct vmm *vmm, const uint8_t *buf, size_t len,
		   char *err, size_t errlen)
{
	struct vmm_vstate *s;
	struct vmm_ring ring;
	unsigned int i;
	int ret;

	ret = vmm_state_decode_all(vmm->nvcpus, buf, len, &s, &ring, err,
				   errlen);
	if (ret)
		return ret;
	/* A device refuses its state before any vCPU changed. */
	if (ring.on)
		ret = vmm_ring_check(vmm, &ring, err, errlen);
	for (i = 0; i < vmm->nvcpus && !ret; i++)
		ret = apply(&vmm->vcpu[i], &s[i], err, errlen);
	if (!ret)
		vmm->ring = ring;
	vmm_state_free(s, vmm->nvcpus);
	return ret;
}
