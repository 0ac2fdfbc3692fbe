/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels kmig supports (6.1 to 6.12), in one place.
 * Code elsewhere uses the newest interface; this header provides it on older
 * kernels.
 */
#ifndef _KMIG_COMPAT_H
#define _KMIG_COMPAT_H

#include <linux/version.h>

#endif /* _KMIG_COMPAT_H */
