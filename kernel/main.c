// SPDX-License-Identifier: GPL-2.0
/*
 * kmig: module init and exit.
 */
#include <linux/module.h>

#include "context.h"
#include "kmig.h"

static int __init kmig_init(void)
{
	int ret;

	ret = kmig_ctx_init();
	if (ret)
		goto err_ctx;

	ret = kmig_dev_init();
	if (ret)
		goto err_dev;

	ret = kmig_netlink_init();
	if (ret)
		goto err_netlink;

	pr_info("kmig " KMIG_VERSION " loaded\n");
	return 0;

err_netlink:
	kmig_dev_uninit();
err_dev:
	kmig_ctx_uninit();
err_ctx:
	return ret;
}

static void __exit kmig_exit(void)
{
	kmig_netlink_uninit();
	kmig_dev_uninit();
	kmig_ctx_uninit();
	KMIG_DEBUG_ON(atomic_long_read(&kmig_objects.files));
	KMIG_DEBUG_ON(atomic_long_read(&kmig_objects.contexts));
	KMIG_DEBUG_ON(atomic_long_read(&kmig_objects.slots));
	KMIG_DEBUG_ON(atomic_long_read(&kmig_objects.pages));
	KMIG_DEBUG_ON(atomic_long_read(&kmig_objects.fault_files));
	KMIG_DEBUG_ON(atomic_long_read(&kmig_objects.devices));
	KMIG_DEBUG_ON(atomic_long_read(&kmig_objects.device_files));
}

module_init(kmig_init);
module_exit(kmig_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Live migration and fault tolerance for KVM guests");
MODULE_AUTHOR("The kmig developers");
MODULE_VERSION(KMIG_VERSION);
