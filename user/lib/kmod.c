// SPDX-License-Identifier: GPL-2.0
/*
 * Loading kmig.ko with libkmod when the agent finds it missing, and the
 * kernel's own modules the agent needs (sch_plug).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libkmod.h>

#include "kmod.h"

/*
 * libkmod logs its errors to stderr by default: keep the last one for our
 * own message instead.
 */
static void keep_log(void *data, int priority, const char *file, int line,
		     const char *fn, const char *format, va_list args)
{
	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	vsnprintf(data, 256, format, args);
}

int kmig_module_ensure(const char *path, char *err, size_t errlen)
{
	struct kmod_module *mod = NULL;
	struct kmod_ctx *ctx;
	char why[256] = "";
	struct stat st;
	int ret;

	if (!stat("/sys/module/kmig", &st))
		return 0;

	ctx = kmod_new(NULL, NULL);
	if (!ctx) {
		snprintf(err, errlen, "cannot initialise libkmod");
		return -ENOMEM;
	}
	kmod_set_log_fn(ctx, keep_log, why);
	if (!path)
		path = getenv("KMIG_MODULE");
	if (path)
		ret = kmod_module_new_from_path(ctx, path, &mod);
	else
		ret = kmod_module_new_from_name(ctx, "kmig", &mod);
	if (ret < 0) {
		snprintf(err, errlen, "cannot find the kmig module%s%s: %s",
			 path ? " at " : "", path ?: "", strerror(-ret));
		goto out;
	}

	if (path)
		ret = kmod_module_insert_module(mod, 0, NULL);
	else
		ret = kmod_module_probe_insert_module(mod, 0, NULL, NULL,
						      NULL, NULL);
	if (ret == -EEXIST)
		ret = 0;
	if (ret == -ENOENT && !path)
		snprintf(err, errlen,
			 "kmig.ko is not installed for this kernel (set KMIG_MODULE to its path)");
	else if (ret < 0)
		snprintf(err, errlen, "cannot load %s: %s%s%.*s",
			 path ?: "kmig", strerror(-ret), why[0] ? ": " : "",
			 (int)strcspn(why, "\n"), why);
	else if (ret > 0) {
		snprintf(err, errlen, "cannot load kmig: blacklisted or refused");
		ret = -EPERM;
	}
out:
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return ret;
}

int kmig_module_probe(const char *name, char *err, size_t errlen)
{
	struct kmod_module *mod = NULL;
	struct kmod_ctx *ctx;
	char why[256] = "";
	int ret;

	ctx = kmod_new(NULL, NULL);
	if (!ctx) {
		snprintf(err, errlen, "cannot initialise libkmod");
		return -ENOMEM;
	}
	kmod_set_log_fn(ctx, keep_log, why);
	ret = kmod_module_new_from_name(ctx, name, &mod);
	if (!ret)
		ret = kmod_module_probe_insert_module(mod, 0, NULL, NULL,
						      NULL, NULL);
	if (ret == -EEXIST)
		ret = 0;
	if (ret > 0) {
		snprintf(err, errlen, "cannot load %s: blacklisted", name);
		ret = -EPERM;
	} else if (ret < 0) {
		snprintf(err, errlen, "cannot load %s: %s%s%.*s", name,
			 strerror(-ret), why[0] ? ": " : "",
			 (int)strcspn(why, "\n"), why);
	}
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return ret;
}
