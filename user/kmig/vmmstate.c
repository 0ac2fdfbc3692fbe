// SPDX-License-Identifier: GPL-2.0
/*
 * The VMM's state stream (its `save` and `load`, Documentation/vmm.rst)
 * on its way through the agents: its vCPU sections and its own devices'
 * sections (MIG_VMM_DEVICE_PREFIX, kmig-vmm's ring) copied record by
 * record into another stream: the main channel at the source, the stream
 * rebuilt for the VMM at the destination.
 */
#include <errno.h>
#include <stdio.h>

#include "dec.h"
#include "mig.h"

struct copy {
	struct kmig_enc *to;
	char *err;
	size_t n;
};

static int copy_section(void *opaque, const struct kmig_section *sec)
{
	struct copy *c = opaque;

	if (sec->kind == KMIG_SEC_DEVICE && !mig_vmm_device(sec->name)) {
		/* Another name would meet a --device at the destination. */
		snprintf(c->err, c->n,
			 "device section %u: %s:%u is not the VMM's own (no \"%s\" in front)",
			 sec->id, sec->name, sec->instance,
			 MIG_VMM_DEVICE_PREFIX);
		return -EPROTO;
	}
	if (sec->kind != KMIG_SEC_DEVICE && sec->kind != KMIG_SEC_VCPU) {
		snprintf(c->err, c->n, "section %u of kind %s", sec->id,
			 kmig_sec_kind_name(sec->kind));
		return -EPROTO;
	}
	return kmig_enc_section(c->to, sec);
}

static int copy_vcpu(void *opaque, uint32_t vcpu, uint16_t part,
		     const void *data, uint32_t len)
{
	return kmig_enc_vcpu(((struct copy *)opaque)->to, vcpu, part, data,
			     len);
}

static int copy_device(void *opaque, uint16_t instance, uint32_t marker,
		       const void *data, uint32_t size)
{
	(void)instance;
	return kmig_enc_device(((struct copy *)opaque)->to, marker, data, size);
}

int mig_vmm_state_copy(const uint8_t *buf, size_t len, struct kmig_enc *to,
		       char *err, size_t n)
{
	static const struct kmig_dec_ops ops = {
		.section = copy_section, .vcpu = copy_vcpu,
		.device = copy_device,
	};
	struct copy c = { .to = to, .err = err, .n = n };
	struct kmig_dec_cfg cfg = {
		.caps_supported = KMIG_SCAP_ALL, .ops = &ops, .opaque = &c,
	};
	struct kmig_dec d;
	int ret;

	err[0] = 0;
	ret = kmig_dec_init_buf(&d, &cfg, buf, len);
	if (!ret)
		ret = kmig_dec_run(&d);
	if (ret && !err[0])
		snprintf(err, n, "%s", kmig_dec_error(&d));
	kmig_dec_free(&d);
	return ret;
}

int mig_vmm_state_rebuild(const uint8_t *buf, size_t len,
			  const uint8_t *buf2, size_t len2,
			  struct kmig_enc *out, char *err, size_t n)
{
	int ret;

	kmig_enc_init_mem(out);
	ret = kmig_enc_header(out);
	if (!ret)
		ret = kmig_enc_caps(out, KMIG_SCAP_DEVICE_STATE, 0);
	if (ret)
		snprintf(err, n, "%s", strerror(-ret));
	if (!ret)
		ret = mig_vmm_state_copy(buf, len, out, err, n);
	if (!ret)
		ret = mig_vmm_state_copy(buf2, len2, out, err, n);
	if (!ret) {
		ret = kmig_enc_eos(out);
		if (ret)
			snprintf(err, n, "%s", strerror(-ret));
	}
	if (ret)
		kmig_enc_free(out);
	return ret;
}
