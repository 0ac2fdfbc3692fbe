/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KMIG_KMOD_H
#define KMIG_KMOD_H

#include <stddef.h>

/*
 * Make sure kmig.ko is loaded: nothing to do when it is; otherwise load it
 * with libkmod, from @path when given (else $KMIG_MODULE, else the module
 * directory of the running kernel). 0 or -errno, with a message naming
 * what failed in @err.
 */
int kmig_module_ensure(const char *path, char *err, size_t errlen);

/*
 * Load module @name (and what it depends on) from the running kernel's
 * module directory unless it is loaded or built in: 0 or -errno, with a
 * message naming what failed in @err.
 */
int kmig_module_probe(const char *name, char *err, size_t errlen);

#endif /* KMIG_KMOD_H */
