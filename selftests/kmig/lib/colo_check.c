// SPDX-License-Identifier: GPL-2.0
/*
 * What the COLO selftests (colo.c, colo_device.c) check of two VMMs'
 * guests: memory byte for byte or by CRC, vCPU state part for part, and
 * the agents' logs; and the pair of VMMs and agents a test runs
 * (colo_check.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/kmig.h>

#include "colo_check.h"
#include "crc32c.h"
#include "dec.h"

/* A line in the harness's way ("# ..."), for what differs. */
static void say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "# ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

void colo_pair_init(struct colo_pair *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->pri_log, sizeof(c->pri_log), "/dev/shm/%s-%d.pri", name,
		 getpid());
	snprintf(c->sec_log, sizeof(c->sec_log), "/dev/shm/%s-%d.sec", name,
		 getpid());
}

void colo_pair_stop(struct colo_pair *c)
{
	proc_stop(&c->pri);
	proc_stop(&c->sec);
	vmm_stop(&c->a);
	vmm_stop(&c->b);
	unlink(c->pri_log);
	unlink(c->sec_log);
}

void colo_start_agents(pid_t *sec, pid_t *pri, const char *sec_log,
		       const char *pri_log, const char *sec_vmm,
		       const char *pri_vmm, unsigned int port,
		       const char *sec_args, const char *pri_args)
{
	*sec = proc_spawnf(NULL, sec_log,
			   "%s colo secondary --vmm %s --listen 127.0.0.1:%u --heartbeat-timeout 30000 %s",
			   proc_bin("kmig"), sec_vmm, port, sec_args);
	*pri = proc_spawnf(NULL, pri_log,
			   "%s colo primary --vmm %s --to 127.0.0.1:%u --heartbeat-timeout 30000 %s",
			   proc_bin("kmig"), pri_vmm, port, pri_args);
}

int colo_pause_crc(const char *text, unsigned long long seq,
		   unsigned int *crc)
{
	char needle[96];
	const char *p, *nl;

	/* with --verify, logged at the pause, before anything is sent */
	snprintf(needle, sizeof(needle),
		 "primary: pause of checkpoint %llu: memory crc ", seq);
	p = text ? strstr(text, needle) : NULL;
	if (p)
		return sscanf(p + strlen(needle), "%x", crc) == 1 ? 0 : -1;
	snprintf(needle, sizeof(needle), "primary: checkpoint %llu: ", seq);
	/* its pause's line, among the checkpoint's others (output held...) */
	for (p = text; p && (p = strstr(p, needle)); p++) {
		const char *crc_at = strstr(p, "memory crc ");

		nl = strchr(p, '\n');
		if (crc_at && (!nl || crc_at < nl))
			return sscanf(crc_at, "memory crc %x", crc) == 1 ? 0 : -1;
	}
	return -1;
}

int colo_takeover_crc(const char *text, unsigned long long *seq,
		      unsigned int *crc)
{
	const char *p = text ? strstr(text, "takeover at checkpoint ") : NULL;

	if (!p || sscanf(p, "takeover at checkpoint %llu, memory crc %x", seq,
			 crc) != 2)
		return -1;
	return 0;
}

int colo_kill_primary_vmm(struct vmm_proc *v, pid_t *pri,
			  const char *pri_log)
{
	int ret;

	if (vmm_kill(v)) {
		say("cannot kill the primary's VMM");
		return -1;
	}
	kill(*pri, SIGCONT);
	ret = proc_wait_exit(*pri, PROC_WAIT_MS);
	if (ret != -ETIMEDOUT)
		*pri = 0;
	if (ret != 1 || !file_has(pri_log, "the guest is lost here")) {
		say("the primary agent (exit %d) did not find its guest lost: %s",
		    ret, file_text(pri_log));
		return -1;
	}
	return 0;
}

bool colo_wait_committed(const char *log, unsigned long long seq)
{
	char needle[64];
	int i;

	snprintf(needle, sizeof(needle), "checkpoint %llu committed", seq);
	for (i = 0; i < PROC_WAIT_MS / 100; i++) {
		if (file_has(log, needle))
			return true;
		usleep(100 * 1000);
	}
	return false;
}

/* Every slot of both VMMs' guests, byte for byte: 0, or -1 (logged). */
int colo_same_memory(struct vmm_proc *a, struct vmm_proc *b)
{
	struct vmm_client_slot sa[4], sb[4];
	struct vmm_client ca, cb;
	unsigned int na, nb, i;
	int fa = -1, fb = -1, ret = -1;
	char *ba = NULL, *bb = NULL;
	uint64_t off;

	if (vmm_connect(a, &ca))
		return -1;
	if (vmm_connect(b, &cb)) {
		vmm_client_close(&ca);
		return -1;
	}
	if (vmm_client_ctx(&ca, sa, 4, &na, &fa) ||
	    vmm_client_ctx(&cb, sb, 4, &nb, &fb) || na != nb) {
		say("cannot take both contexts");
		goto out;
	}
	ba = malloc(1 << 20);
	bb = malloc(1 << 20);
	for (i = 0; ba && bb && i < na; i++) {
		for (off = 0; off < sa[i].size; off += 1 << 20) {
			if (pread(fa, ba, 1 << 20, KMIG_SLOT_OFFSET(sa[i].id) + off) != 1 << 20 ||
			    pread(fb, bb, 1 << 20, KMIG_SLOT_OFFSET(sb[i].id) + off) != 1 << 20) {
				say("slot %u: cannot read at %llu", sa[i].id,
				       (unsigned long long)off);
				goto out;
			}
			if (memcmp(ba, bb, 1 << 20)) {
				say("slot %u differs in the MiB at %llu",
				       sa[i].id, (unsigned long long)off);
				goto out;
			}
		}
	}
	ret = ba && bb ? 0 : -1;
out:
	free(ba);
	free(bb);
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	vmm_client_close(&ca);
	vmm_client_close(&cb);
	return ret;
}

/* CRC32C of all of @v's guest memory, as `kmig colo` computes it. */
int colo_memory_crc(struct vmm_proc *v, uint32_t *crc)
{
	struct vmm_client_slot sl[4];
	struct vmm_client c;
	unsigned int n, i;
	int fd = -1, ret;
	uint64_t off;
	char *buf;

	*crc = 0;
	ret = vmm_connect(v, &c);
	if (ret)
		return ret;
	ret = vmm_client_ctx(&c, sl, 4, &n, &fd);
	vmm_client_close(&c);
	if (ret)
		return ret;
	buf = malloc(1 << 20);
	for (i = 0; buf && !ret && i < n; i++) {
		for (off = 0; !ret && off < sl[i].size; off += 1 << 20) {
			if (pread(fd, buf, 1 << 20, KMIG_SLOT_OFFSET(sl[i].id) + off) != 1 << 20)
				ret = -EIO;
			else
				*crc = kmig_crc32c(*crc, buf, 1 << 20);
		}
	}
	ret = buf ? ret : -ENOMEM;
	free(buf);
	close(fd);
	return ret;
}

/* One vCPU's state parts, as a VMM's `save` gives them. */
struct vcpu_parts {
	uint8_t *data[KMIG_VCPU_DEBUGREGS + 1];
	uint32_t len[KMIG_VCPU_DEBUGREGS + 1];
};

static int take_part(void *opaque, uint32_t vcpu, uint16_t part,
		     const void *data, uint32_t len)
{
	struct vcpu_parts *v = opaque;

	if (vcpu || part > KMIG_VCPU_DEBUGREGS || v->data[part])
		return -EPROTO;
	v->data[part] = malloc(len ? len : 1);
	if (!v->data[part])
		return -ENOMEM;
	memcpy(v->data[part], data, len);
	v->len[part] = len;
	return 0;
}

static int save_parts(struct vmm_proc *vp, struct vcpu_parts *v)
{
	static const struct kmig_dec_ops ops = { .vcpu = take_part };
	struct kmig_dec_cfg cfg = {
		.caps_supported = KMIG_SCAP_ALL, .ops = &ops, .opaque = v,
	};
	struct vmm_client c;
	struct kmig_dec d;
	uint8_t *buf = NULL;
	size_t len;
	int ret;

	ret = vmm_connect(vp, &c);
	if (ret)
		return ret;
	ret = vmm_client_save(&c, &buf, &len);
	vmm_client_close(&c);
	if (!ret)
		ret = kmig_dec_init_buf(&d, &cfg, buf, len);
	if (!ret) {
		ret = kmig_dec_run(&d);
		kmig_dec_free(&d);
	}
	free(buf);
	return ret;
}

/*
 * vCPU 0's state on both VMMs, part for part: 0, or -1 (logged). MSRS
 * and LAPIC are left out: each KVM's TSC and APIC timer count move on
 * their own while paused, so a save after a load never repeats them.
 */
int colo_same_vcpus(struct vmm_proc *a, struct vmm_proc *b)
{
	struct vcpu_parts va = { 0 }, vb = { 0 };
	int ret = -1;
	unsigned int i;

	if (save_parts(a, &va) || save_parts(b, &vb)) {
		say("cannot save both vCPU states");
		goto out;
	}
	ret = va.data[KMIG_VCPU_REGS] && va.data[KMIG_VCPU_SREGS] ? 0 : -1;
	for (i = 1; i <= KMIG_VCPU_DEBUGREGS; i++) {
		if (i == KMIG_VCPU_MSRS || i == KMIG_VCPU_LAPIC)
			continue;
		if (va.len[i] == vb.len[i] && (!va.len[i] ||
		    !memcmp(va.data[i], vb.data[i], va.len[i])))
			continue;
		say("vCPU state part %u differs", i);
		ret = -1;
	}
out:
	for (i = 0; i <= KMIG_VCPU_DEBUGREGS; i++) {
		free(va.data[i]);
		free(vb.data[i]);
	}
	return ret;
}
