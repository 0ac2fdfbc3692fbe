/* SPDX-License-Identifier: GPL-2.0 */
/*
 * JSON, as kmigd's protocol (Documentation/kmigd.rst) and the agent's
 * job files need it: a parser into a small tree, and a writer into a
 * growing buffer.
 *
 * The parser takes one value of RFC 8259 text with bounds that make any
 * input cheap: at most JSON_MAX_DEPTH levels of nesting and
 * JSON_MAX_ITEMS members or elements per container. Strings are decoded
 * (escapes, surrogate pairs) and refused when they hold U+0000. Numbers
 * keep their text; json_int() reads the integers kmig uses.
 */
#ifndef KMIG_JSON_H
#define KMIG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH	16
#define JSON_MAX_ITEMS	1024

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING,
		 JSON_ARRAY, JSON_OBJECT };

struct json {
	enum json_type type;
	bool boolean;
	char *str;			/* a string's text, a number's */
	size_t n;			/* array elements, object members */
	struct json *items;		/* ... their values */
	char **keys;			/* ... an object's names */
};

/*
 * @text (@len bytes, whitespace around the value allowed): a tree to
 * json_free(), or NULL with why in @err (with the byte offset).
 */
struct json *json_parse(const char *text, size_t len, char *err, size_t n);
void json_free(struct json *j);
/* Member @key of object @j, or NULL (also when @j is not an object). */
const struct json *json_get(const struct json *j, const char *key);
/* @j as an integer in [@min, @max]: 0, or -EINVAL (not one, or out). */
int json_int(const struct json *j, int64_t min, int64_t max, int64_t *out);
/* Member @key of @j as a string, or "" when it is none. */
const char *json_get_str(const struct json *j, const char *key);
/* Member @key of @j as an integer from 0, or 0 when it is none. */
uint64_t json_get_u64(const struct json *j, const char *key);

/* The writer: a value built call by call; commas and quoting its own. */
struct jw {
	char *buf;
	size_t len, cap;
	bool oom;
	unsigned int depth;
	bool more[JSON_MAX_DEPTH + 1];	/* a value came at this level */
	bool key;			/* a key came; its value is next */
};

void jw_init(struct jw *w);
void jw_free(struct jw *w);
/* The text so far (NUL-terminated), or NULL when memory ran out. */
const char *jw_text(const struct jw *w);
void jw_object(struct jw *w);
void jw_array(struct jw *w);
void jw_end(struct jw *w, char close);	/* '}' or ']' */
void jw_key(struct jw *w, const char *key);
void jw_str(struct jw *w, const char *s);
void jw_u64(struct jw *w, uint64_t v);
void jw_i64(struct jw *w, int64_t v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
/* A member: jw_key() and its value. */
void jw_field_u64(struct jw *w, const char *key, uint64_t v);
void jw_field_str(struct jw *w, const char *key, const char *s);
/* @j, written again (compactly). */
void jw_value(struct jw *w, const struct json *j);

#endif /* KMIG_JSON_H */
