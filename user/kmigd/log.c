// SPDX-License-Identifier: GPL-2.0
/*
 * kmigd's log: one line per event on stderr, which systemd hands to the
 * journal. Each line opens with its syslog priority ("<3>" for an error:
 * systemd's SyslogLevelPrefix= reads it), then the job's id when it is
 * about a job, so that `journalctl -u kmigd | grep 'job 7:'` follows one.
 */
#include <stdarg.h>
#include <stdio.h>

#include "kmigd.h"

void kmigd_log(int prio, uint32_t job, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (job)
		fprintf(stderr, "<%d>kmigd: job %u: %s\n", prio, job, line);
	else
		fprintf(stderr, "<%d>kmigd: %s\n", prio, line);
	fflush(stderr);
}
