// SPDX-License-Identifier: GPL-2.0
/*
 * kmig devices: the migratable devices drivers have registered with the
 * module, with their state and pending save data.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <linux/kmig.h>

#include "netlink.h"
#include "subcommands.h"

#define MAX_DEVICES 256

static const char *state_name(uint32_t state)
{
	switch (state) {
	case KMIG_DEVICE_STATE_STOP:
		return "stop";
	case KMIG_DEVICE_STATE_RUNNING:
		return "running";
	case KMIG_DEVICE_STATE_RUNNING | KMIG_DEVICE_STATE_SAVING:
		return "precopy";
	case KMIG_DEVICE_STATE_SAVING:
		return "stop-and-copy";
	case KMIG_DEVICE_STATE_RESUMING:
		return "resuming";
	case KMIG_DEVICE_STATE_ERROR:
		return "error";
	}
	return "invalid";
}

int devices_parse(int argc, char *argv[], bool *json)
{
	*json = argc > 1 && !strcmp(argv[1], "--json");
	if (*json) {
		argc--;
		argv++;
	}
	if (argc > 1) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			printf("Usage: kmig devices [--json]\n");
			return 1;
		}
		fprintf(stderr, "kmig devices: unexpected argument '%s'\n",
			argv[1]);
		return -EINVAL;
	}
	return 0;
}

int devices_main(int argc, char *argv[])
{
	static struct kmig_dev_info devs[MAX_DEVICES];
	struct kmig_nl nl;
	bool json;
	size_t n, i;
	int ret;

	ret = devices_parse(argc, argv, &json);
	if (ret)
		return ret > 0 ? 0 : 2;

	ret = kmig_nl_open(&nl);
	if (ret) {
		fprintf(stderr, "kmig devices: %s\n", ret == -ENOENT ?
			"the kmig module is not loaded" : strerror(-ret));
		return 1;
	}
	ret = kmig_nl_dev_list(&nl, devs, MAX_DEVICES, &n);
	kmig_nl_close(&nl);
	if (ret) {
		fprintf(stderr, "kmig devices: cannot list devices: %s%s%s\n",
			strerror(-ret), nl.err_msg[0] ? ": " : "", nl.err_msg);
		return 1;
	}

	if (json) {
		printf("[");
		for (i = 0; i < n && i < MAX_DEVICES; i++)
			printf("%s\n  { \"name\": \"%s\", \"instance\": %u, \"version\": %u, \"state\": \"%s\", \"pending_bytes\": %llu, \"open\": %s }",
			       i ? "," : "", devs[i].name, devs[i].instance,
			       devs[i].version, state_name(devs[i].state),
			       (unsigned long long)devs[i].pending_bytes,
			       devs[i].open ? "true" : "false");
		printf("\n]\n");
		return 0;
	}
	printf("%-24s %8s %7s %-13s %14s %s\n", "NAME", "INSTANCE", "VERSION",
	       "STATE", "PENDING", "OPEN");
	for (i = 0; i < n && i < MAX_DEVICES; i++)
		printf("%-24s %8u %7u %-13s %14llu %s\n", devs[i].name,
		       devs[i].instance, devs[i].version,
		       state_name(devs[i].state),
		       (unsigned long long)devs[i].pending_bytes,
		       devs[i].open ? "yes" : "no");
	if (n > MAX_DEVICES)
		printf("(%zu more not shown)\n", n - MAX_DEVICES);
	return 0;
}
