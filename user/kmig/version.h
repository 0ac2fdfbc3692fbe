/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KMIG_VERSION_H
#define KMIG_VERSION_H

#define KMIG_AGENT_VERSION "0.1.0"

#endif /* KMIG_VERSION_H */
