// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for kmig-vmm's vCPU state load (user/vmm/state.c,
 * vmm_state_decode()): the stream a `load` request carries, from the
 * agent, which took it from the source.
 *
 * Input: a mode byte (bits 0-2: vCPUs - 1; bit 3: recompute every CRC32C
 * first, as stream_dec does), then the stream.
 *
 * The invariants: a refusal says why; an accepted stream gave every vCPU
 * its complete state (the decoder checks, and ASan watches the copies).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reseal.h"
#include "vmm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmm_vstate *s = NULL;
	unsigned int nvcpus;
	char err[256];
	uint8_t *copy;
	int ret;

	if (!size)
		return 0;
	nvcpus = 1 + (data[0] & 7);
	copy = malloc(size - 1 ? size - 1 : 1);
	if (!copy)
		abort();
	memcpy(copy, data + 1, size - 1);
	if (data[0] & 8)
		reseal(copy, size - 1);
	err[0] = 0;
	ret = vmm_state_decode(nvcpus, copy, size - 1, &s, err, sizeof(err));
	if (ret && (!err[0] || ret > 0) && ret != -ENOMEM)
		abort();	/* a refusal names the fault */
	if (!ret && !s)
		abort();
	if (!ret)
		vmm_state_free(s, nvcpus);
	free(copy);
	return 0;
}
