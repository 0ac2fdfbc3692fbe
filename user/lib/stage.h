/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Zero-copy installs (KMIG_FEATURE_STAGED_INSTALL, Documentation/uapi.rst)
 * as postcopy's receiver (receiver_pc.c) and the lazy restore
 * (user/kmig/restore_lazy_serve.c) use them: the context's staging view
 * mapped slot by slot, and the pages of a batch staged there, each run
 * of consecutive pages in one call, before the agent writes them in
 * place and hands them over (kmig_ctx_install_staged()).
 */
#ifndef KMIG_STAGE_H
#define KMIG_STAGE_H

#include <stdint.h>

#include "engine.h"

/* Where a page of a batch goes, a byte per page. */
enum kmig_stage_how {
	KMIG_STAGE_STAGED,		/* into its staged page, handed over */
	KMIG_STAGE_COPY,		/* into a buffer, KMIG_INSTALL copies */
	KMIG_STAGE_SKIP,		/* into a buffer, dropped */
};

/*
 * The staging view of @vm, each slot @i that is not huge mapped at
 * @map[i] (a staged page is 4 KiB: a huge slot's blocks are copied
 * whole, as 2 MiB folios; its @map[i] is NULL): 0. Or none mapped, every
 * @map[i] NULL, and -errno, the reason on standard error ending "@what
 * are copied": $KMIG_STAGED_INSTALL=0 (tests, benchmarks; -ECANCELED),
 * a module before API version 4 (-EOPNOTSUPP), a mapping that failed.
 * A plain VM (no kmig context) maps nothing, silently (-ENODEV).
 */
int kmig_stage_map(const struct mig_vm *vm, uint8_t **map, const char *what);
/*
 * What kmig_stage_map() mapped at @map, unmapped, each entry NULL. Pages
 * staged and not handed over stay staged: they are the slot's.
 */
void kmig_stage_unmap(const struct mig_vm *vm, uint8_t **map);

/*
 * Stage the pages @pages[k] that @how[k] says KMIG_STAGE_STAGED (@n
 * pages of a slot whose staging view is mapped at @view), each run of
 * consecutive ones in one call; a page that cannot be staged (present,
 * or not in missing mode) is marked KMIG_STAGE_COPY instead. 0, or
 * -errno with the pages that failed in *@first..*@last.
 */
int kmig_stage_pages(uint8_t *view, const uint64_t *pages, unsigned int n,
		     uint8_t *how, uint64_t *first, uint64_t *last);

#endif /* KMIG_STAGE_H */
