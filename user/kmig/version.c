// SPDX-License-Identifier: GPL-2.0
/*
 * kmig version: the agent's version and, when the module is loaded, the
 * module's version, API version and features. Without the module it says
 * so and succeeds: the agent's version is still an answer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/kmig.h>

#include "netlink.h"
#include "subcommands.h"
#include "version.h"

int version_parse(int argc, char *argv[])
{
	if (argc < 2)
		return 0;
	if (!strcmp(argv[1], "--help")) {
		printf("Usage: kmig version\n");
		return 1;
	}
	fprintf(stderr, "kmig version: unexpected argument '%s'\n", argv[1]);
	return -EINVAL;
}

int version_main(int argc, char *argv[])
{
	struct kmig_info info;
	struct kmig_nl nl;
	int ret;

	ret = version_parse(argc, argv);
	if (ret)
		return ret > 0 ? 0 : 2;

	printf("kmig agent %s (api %d)\n", KMIG_AGENT_VERSION,
	       KMIG_API_VERSION);

	ret = kmig_nl_open(&nl);
	if (ret == -ENOENT) {
		printf("kmig module: not loaded\n");
		return 0;
	}
	if (ret) {
		fprintf(stderr, "kmig version: netlink: %s\n", strerror(-ret));
		return 1;
	}
	ret = kmig_nl_get_info(&nl, &info);
	kmig_nl_close(&nl);
	if (ret) {
		fprintf(stderr, "kmig version: cannot query the module: %s%s%s\n",
			strerror(-ret), nl.err_msg[0] ? ": " : "", nl.err_msg);
		return 1;
	}
	printf("kmig module %s (api %u, features %#llx)\n", info.version,
	       info.api_version, (unsigned long long)info.features);
	if (info.api_version != KMIG_API_VERSION) {
		fprintf(stderr, "kmig version: module api %u, agent api %d\n",
			info.api_version, KMIG_API_VERSION);
		return 1;
	}
	return 0;
}
