// SPDX-License-Identifier: GPL-2.0
/*
 * Documentation/stream-format.rst names every constant of format.h with
 * its value on the same line, and Documentation/file-format.rst every
 * constant of snap_format.h: the documentation cannot drift from the code.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "snap_format.h"
#include "stream.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, n + 1);
	if (buf && fread(buf, 1, n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* Does @line hold the number @v (decimal, or hex with 0x)? */
static int has_number(const char *line, unsigned long long v)
{
	const char *p;
	char *end;

	for (p = line; *p; p++) {
		if (!isdigit((unsigned char)*p) ||
		    (p > line && (isalnum((unsigned char)p[-1]) || p[-1] == '_')))
			continue;
		if (strtoull(p, &end, p[0] == '0' && p[1] == 'x' ? 16 : 10) == v &&
		    !isalnum((unsigned char)*end))
			return 1;
	}
	return 0;
}

/* A line of @doc holding ``NAME`` and its value. */
static int documented(const char *doc, const char *name,
		      unsigned long long v)
{
	const char *p = doc, *eol;
	char tick[80], line[512];

	snprintf(tick, sizeof(tick), "``%s``", name);
	while ((p = strstr(p, tick))) {
		eol = strchrnul(p, '\n');
		snprintf(line, sizeof(line), "%.*s", (int)(eol - p), p);
		if (has_number(line + strlen(tick), v))
			return 1;
		p = eol;
	}
	return 0;
}

TEST(every_constant_is_documented_with_its_value)
{
	char *doc = slurp(KMIG_SRCDIR "/Documentation/stream-format.rst");
	const struct kmig_fmt_const *c;
	int n = 0;

	ASSERT_NE(NULL, doc) TH_LOG("cannot read %s",
				    KMIG_SRCDIR "/Documentation/stream-format.rst");
	for (c = kmig_fmt_consts; c->name; c++, n++) {
		char name[64];

		snprintf(name, sizeof(name), "%s", c->name);
		EXPECT_TRUE(documented(doc, name, c->value))
			TH_LOG("%s = 0x%llx is not in the documentation",
			       name, c->value);
	}
	EXPECT_LT(50, n);
	free(doc);
}

TEST(every_snapshot_constant_is_documented_with_its_value)
{
	static const struct kmig_fmt_const snap[] = {
#define X(name) { #name, name },
		KMIG_SNAP_CONSTS(X)
#undef X
	};
	char *doc = slurp(KMIG_SRCDIR "/Documentation/file-format.rst");
	unsigned int i;

	ASSERT_NE(NULL, doc) TH_LOG("cannot read %s",
				    KMIG_SRCDIR "/Documentation/file-format.rst");
	for (i = 0; i < sizeof(snap) / sizeof(snap[0]); i++) {
		char name[64];

		snprintf(name, sizeof(name), "%s", snap[i].name);
		EXPECT_TRUE(documented(doc, name, snap[i].value))
			TH_LOG("%s = 0x%llx is not in the documentation",
			       name, snap[i].value);
	}
	free(doc);
}

TEST_HARNESS_MAIN
