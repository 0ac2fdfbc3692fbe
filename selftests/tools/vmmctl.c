// SPDX-License-Identifier: GPL-2.0
/*
 * vmmctl: one request to kmig-vmm's control socket from a shell, for the
 * demo and the test scripts. Prints the reply line; exit status 0 for
 * "ok", 1 for a refusal, 2 for bad usage or no VMM.
 *
 *   vmmctl SOCK REQUEST...      e.g. vmmctl @vm-a status
 */
#include <stdio.h>
#include <string.h>

#include "client.h"

int main(int argc, char *argv[])
{
	struct vmm_client c;
	char line[256] = "";
	int i, ret;

	if (argc < 3) {
		fprintf(stderr, "usage: vmmctl SOCK REQUEST...\n");
		return 2;
	}
	for (i = 2; i < argc; i++) {
		if (strlen(line) + strlen(argv[i]) + 2 > sizeof(line)) {
			fprintf(stderr, "vmmctl: request too long\n");
			return 2;
		}
		if (i > 2)
			strcat(line, " ");
		strcat(line, argv[i]);
	}
	ret = vmm_client_connect(&c, argv[1], 2000);
	if (ret) {
		fprintf(stderr, "vmmctl: cannot reach the VMM at %s: %s\n",
			argv[1], strerror(-ret));
		return 2;
	}
	ret = vmm_client_cmd(&c, "%s", line);
	printf("%s\n", c.reply);
	vmm_client_close(&c);
	return ret ? 1 : 0;
}
