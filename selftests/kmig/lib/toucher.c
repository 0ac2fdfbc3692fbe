// SPDX-License-Identifier: GPL-2.0
/* A thread that touches one byte: see toucher.h. */
#include <sys/syscall.h>
#include <unistd.h>

#include "kvm.h"
#include "toucher.h"

static void *touch(void *arg)
{
	struct toucher *t = arg;

	t->tid = syscall(SYS_gettid);
	if (t->write)
		*t->addr = 0x77;
	else
		t->value = *t->addr;
	return NULL;
}

void toucher_start(struct toucher *t, void *addr, bool write)
{
	t->addr = addr;
	t->write = write;
	KVM_ASSERT(!pthread_create(&t->thread, NULL, touch, t), "thread");
}
