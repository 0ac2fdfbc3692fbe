/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one door to the plug qdisc (sch_plug), through libnl-route: COLO's
 * output commit (Documentation/colo.rst, "Output commit").
 *
 * A plug qdisc as an interface's root holds every packet sent through
 * it. kmig_plug_buffer() closes the current epoch: the packets queued so
 * far form one buffer; kmig_plug_release_one() lets the oldest closed
 * buffer out; kmig_plug_release_all() lets everything out from now on,
 * until the next buffer. sch_plug remembers one closed buffer: buffer
 * and release_one must alternate (COLO's primary waits for each
 * checkpoint's ACK before the next pause, so they do).
 *
 * Every function returns 0 or -errno with a message naming the
 * interface and the cause in @err.
 */
#ifndef KMIG_PLUG_H
#define KMIG_PLUG_H

#include <stddef.h>

struct kmig_plug;

/*
 * Load sch_plug if needed (libkmod) and make a plug qdisc the root of
 * @ifname, holding everything from now on. -EEXIST when @ifname has a
 * root qdisc of its own already (one that kmig_plug_remove() could not
 * give back).
 */
int kmig_plug_install(const char *ifname, struct kmig_plug **plug,
		      char *err, size_t n);
int kmig_plug_buffer(struct kmig_plug *p, char *err, size_t n);
int kmig_plug_release_one(struct kmig_plug *p, char *err, size_t n);
int kmig_plug_release_all(struct kmig_plug *p, char *err, size_t n);
/*
 * Release everything, wait (up to a second) until the queue is empty,
 * and delete the qdisc: the interface's default root comes back. @p is
 * freed whatever the result.
 */
int kmig_plug_remove(struct kmig_plug *p, char *err, size_t n);
/*
 * Delete the qdisc with what it holds, released or not: those packets
 * are dropped, never sent. @p is freed whatever the result.
 */
int kmig_plug_drop(struct kmig_plug *p, char *err, size_t n);
/* Packets queued in the plug (held, or released and not yet sent), or
 * -errno. */
int kmig_plug_queued(struct kmig_plug *p);
/* The interface's name, for messages. */
const char *kmig_plug_ifname(const struct kmig_plug *p);

#endif /* KMIG_PLUG_H */
