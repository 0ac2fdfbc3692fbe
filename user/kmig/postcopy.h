/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Postcopy live migration (Documentation/postcopy.rst).
 *
 * Source (postcopy_src.c), from precopy_run() once postcopy_due():
 *
 *	postcopy_run(s)		pause, discard list, package, RUN; then
 *				answer page requests on the main channel
 *				while the page channels push the rest;
 *				returns once the destination says COMPLETE
 *	postcopy_progress(s)	requests and pushed pages into the job
 *				info, while it runs and at its end
 *	postcopy_stop(s)	its thread stopped (from precopy_end())
 *	postcopy_failed(s)	after a failure: the guest may run here
 *				again only if the destination said FAILED
 *				before RESUMED
 *	postcopy_free(s)
 *
 * Recovery after the link or an agent was lost after RUN, each side a
 * new process:
 *
 *	postcopy_resume(o)	`kmig migrate --resume` (pc_resume.c): the
 *				exit status
 *	`kmig postcopy-recover` (pc_recover.c) on the destination
 *
 * Destination: postcopy_dst.c (postcopy_dst.h).
 */
#ifndef KMIG_POSTCOPY_H
#define KMIG_POSTCOPY_H

#include <stdbool.h>

struct precopy_src;
struct mig_opts;

/*
 * --postcopy-prefetch: after a fault's request, the source sends up to
 * this many of the pages that follow it with the answer
 * (Documentation/postcopy.rst, "Prefetch"); at most
 * POSTCOPY_PREFETCH_MAX, so that an answer stays one record.
 */
#define POSTCOPY_PREFETCH_DEFAULT	0
#define POSTCOPY_PREFETCH_MAX		96

/* Returns true if --postcopy asks for the switch now (a round just ended). */
bool postcopy_due(struct precopy_src *s);
int postcopy_run(struct precopy_src *s);
void postcopy_progress(struct precopy_src *s);
void postcopy_stop(struct precopy_src *s);
void postcopy_failed(struct precopy_src *s);
void postcopy_free(struct precopy_src *s);
int postcopy_resume(struct mig_opts *o);

#endif /* KMIG_POSTCOPY_H */
