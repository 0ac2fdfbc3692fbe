// SPDX-License-Identifier: GPL-2.0
/*
 * JSON: a bounded parser and a writer (json.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct parser {
	const char *s, *end, *start;
	char *err;
	size_t n;
};

static int fail(struct parser *p, const char *what)
{
	snprintf(p->err, p->n, "%s at byte %zu", what,
		 (size_t)(p->s - p->start));
	return -EINVAL;
}

static void skip_space(struct parser *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' ||
				 *p->s == '\n' || *p->s == '\r'))
		p->s++;
}

static bool take(struct parser *p, const char *word)
{
	size_t len = strlen(word);

	if ((size_t)(p->end - p->s) < len || memcmp(p->s, word, len))
		return false;
	p->s += len;
	return true;
}

static int hex4(struct parser *p, unsigned int *u)
{
	unsigned int i, d;

	if (p->end - p->s < 4)
		return fail(p, "a short \\u escape");
	*u = 0;
	for (i = 0; i < 4; i++) {
		char c = p->s[i];

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return fail(p, "a bad \\u escape");
		*u = *u << 4 | d;
	}
	p->s += 4;
	return 0;
}

/* A \u escape (after the \u), as UTF-8 at @out: its length, or -EINVAL. */
static int unicode(struct parser *p, char *out)
{
	unsigned int u, lo;

	if (hex4(p, &u))
		return -EINVAL;
	if (u >= 0xdc00 && u <= 0xdfff)
		return fail(p, "a lone low surrogate");
	if (u >= 0xd800 && u <= 0xdbff) {
		if (!take(p, "\\u") || hex4(p, &lo) || lo < 0xdc00 ||
		    lo > 0xdfff)
			return fail(p, "a high surrogate without its low one");
		u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (!u)
		return fail(p, "U+0000 in a string");
	if (u < 0x80) {
		out[0] = u;
		return 1;
	}
	if (u < 0x800) {
		out[0] = 0xc0 | u >> 6;
		out[1] = 0x80 | (u & 0x3f);
		return 2;
	}
	if (u < 0x10000) {
		out[0] = 0xe0 | u >> 12;
		out[1] = 0x80 | (u >> 6 & 0x3f);
		out[2] = 0x80 | (u & 0x3f);
		return 3;
	}
	out[0] = 0xf0 | u >> 18;
	out[1] = 0x80 | (u >> 12 & 0x3f);
	out[2] = 0x80 | (u >> 6 & 0x3f);
	out[3] = 0x80 | (u & 0x3f);
	return 4;
}

/* A string (after its quote), decoded into a new buffer at *@out. */
static int string(struct parser *p, char **out)
{
	const char *q = p->s;
	char *d;
	int ret;

	/* its closing quote: decoded, it is no longer than up to there */
	while (q < p->end && *q != '"')
		q += *q == '\\' ? 2 : 1;
	if (q >= p->end)
		return fail(p, "an unterminated string");
	d = *out = malloc(q - p->s + 1);
	if (!d)
		return -ENOMEM;
	while (p->s < p->end && *p->s != '"') {
		unsigned char c = *p->s++;

		if (c < 0x20)
			return fail(p, "a control character in a string");
		if (c != '\\') {
			*d++ = c;
			continue;
		}
		c = *p->s++;
		switch (c) {
		case '"': case '\\': case '/':
			*d++ = c;
			break;
		case 'b': *d++ = '\b'; break;
		case 'f': *d++ = '\f'; break;
		case 'n': *d++ = '\n'; break;
		case 'r': *d++ = '\r'; break;
		case 't': *d++ = '\t'; break;
		case 'u':
			ret = unicode(p, d);
			if (ret < 0)
				return ret;
			d += ret;
			break;
		default:
			return fail(p, "an unknown escape");
		}
	}
	p->s++;
	*d = '\0';
	return 0;
}

static int number(struct parser *p, struct json *j)
{
	const char *b = p->s;

	if (p->s < p->end && *p->s == '-')
		p->s++;
	if (p->s == p->end || *p->s < '0' || *p->s > '9')
		return fail(p, "a bad number");
	if (*p->s == '0')
		p->s++;
	while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
		p->s++;
	if (p->s < p->end && *p->s == '.') {
		p->s++;
		if (p->s == p->end || *p->s < '0' || *p->s > '9')
			return fail(p, "a bad fraction");
		while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
			p->s++;
	}
	if (p->s < p->end && (*p->s | 0x20) == 'e') {
		p->s++;
		if (p->s < p->end && (*p->s == '+' || *p->s == '-'))
			p->s++;
		if (p->s == p->end || *p->s < '0' || *p->s > '9')
			return fail(p, "a bad exponent");
		while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
			p->s++;
	}
	j->type = JSON_NUMBER;
	j->str = strndup(b, p->s - b);
	return j->str ? 0 : -ENOMEM;
}

static int value(struct parser *p, struct json *j, unsigned int depth);

/* The next item of a container of @close: one more slot in @j. */
static int grow(struct parser *p, struct json *j, bool keys)
{
	struct json *items;
	char **k;

	if (j->n == JSON_MAX_ITEMS)
		return fail(p, "more than 1024 items in a container");
	items = realloc(j->items, (j->n + 1) * sizeof(*items));
	if (!items)
		return -ENOMEM;
	j->items = items;
	memset(&items[j->n], 0, sizeof(*items));
	if (keys) {
		k = realloc(j->keys, (j->n + 1) * sizeof(*k));
		if (!k)
			return -ENOMEM;
		j->keys = k;
		k[j->n] = NULL;
	}
	j->n++;
	return 0;
}

static int container(struct parser *p, struct json *j, unsigned int depth)
{
	bool obj = j->type == JSON_OBJECT;
	char close = obj ? '}' : ']';
	int ret;

	if (depth >= JSON_MAX_DEPTH)
		return fail(p, "nesting deeper than 16");
	skip_space(p);
	if (p->s < p->end && *p->s == close) {
		p->s++;
		return 0;
	}
	for (;;) {
		ret = grow(p, j, obj);
		if (ret)
			return ret;
		skip_space(p);
		if (obj) {
			if (p->s == p->end || *p->s != '"')
				return fail(p, "a member without a name");
			p->s++;
			ret = string(p, &j->keys[j->n - 1]);
			if (ret)
				return ret;
			skip_space(p);
			if (p->s == p->end || *p->s++ != ':')
				return fail(p, "a name without ':'");
		}
		ret = value(p, &j->items[j->n - 1], depth + 1);
		if (ret)
			return ret;
		skip_space(p);
		if (p->s == p->end)
			return fail(p, obj ? "an unterminated object" :
				    "an unterminated array");
		if (*p->s == close) {
			p->s++;
			return 0;
		}
		if (*p->s++ != ',')
			return fail(p, "a missing ','");
	}
}

static int value(struct parser *p, struct json *j, unsigned int depth)
{
	skip_space(p);
	if (p->s == p->end)
		return fail(p, "a missing value");
	switch (*p->s) {
	case '{':
	case '[':
		j->type = *p->s++ == '{' ? JSON_OBJECT : JSON_ARRAY;
		return container(p, j, depth);
	case '"':
		p->s++;
		j->type = JSON_STRING;
		return string(p, &j->str);
	case 't':
	case 'f':
		j->type = JSON_BOOL;
		j->boolean = *p->s == 't';
		return take(p, j->boolean ? "true" : "false") ? 0 :
		       fail(p, "a bad literal");
	case 'n':
		return take(p, "null") ? 0 : fail(p, "a bad literal");
	default:
		return number(p, j);
	}
}

static void release(struct json *j)
{
	size_t i;

	for (i = 0; i < j->n; i++) {
		release(&j->items[i]);
		if (j->keys)
			free(j->keys[i]);
	}
	free(j->items);
	free(j->keys);
	free(j->str);
}

struct json *json_parse(const char *text, size_t len, char *err, size_t n)
{
	struct parser p = { .s = text, .end = text + len, .start = text,
			    .err = err, .n = n };
	struct json *j = calloc(1, sizeof(*j));
	int ret;

	if (!j) {
		snprintf(err, n, "out of memory");
		return NULL;
	}
	ret = value(&p, j, 0);
	if (!ret) {
		skip_space(&p);
		if (p.s != p.end)
			ret = fail(&p, "text after the value");
	}
	if (ret == -ENOMEM)
		snprintf(err, n, "out of memory");
	if (ret) {
		json_free(j);
		return NULL;
	}
	return j;
}

void json_free(struct json *j)
{
	if (!j)
		return;
	release(j);
	free(j);
}

const struct json *json_get(const struct json *j, const char *key)
{
	size_t i;

	if (!j || j->type != JSON_OBJECT)
		return NULL;
	for (i = 0; i < j->n; i++)
		if (!strcmp(j->keys[i], key))
			return &j->items[i];
	return NULL;
}

int json_int(const struct json *j, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!j || j->type != JSON_NUMBER)
		return -EINVAL;
	errno = 0;
	v = strtoll(j->str, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

const char *json_get_str(const struct json *j, const char *key)
{
	const struct json *v = json_get(j, key);

	return v && v->type == JSON_STRING ? v->str : "";
}

uint64_t json_get_u64(const struct json *j, const char *key)
{
	int64_t v;

	return json_int(json_get(j, key), 0, INT64_MAX, &v) ? 0 : v;
}

/* The writer. */

void jw_init(struct jw *w)
{
	memset(w, 0, sizeof(*w));
}

void jw_free(struct jw *w)
{
	free(w->buf);
	jw_init(w);
}

const char *jw_text(const struct jw *w)
{
	return w->oom ? NULL : w->buf ? w->buf : "";
}

static void put(struct jw *w, const char *s, size_t len)
{
	char *b;
	size_t cap;

	if (w->oom)
		return;
	if (w->len + len + 1 > w->cap) {
		cap = w->cap ? w->cap : 256;
		while (cap < w->len + len + 1)
			cap *= 2;
		b = realloc(w->buf, cap);
		if (!b) {
			w->oom = true;
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, len);
	w->len += len;
	w->buf[w->len] = '\0';
}

static void putf(struct jw *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void putf(struct jw *w, const char *fmt, ...)
{
	char b[32];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	put(w, b, len);
}

/* Before a value: the comma that separates it from the one before. */
static void sep(struct jw *w)
{
	if (w->key) {
		w->key = false;
		return;
	}
	if (w->more[w->depth])
		put(w, ",", 1);
	w->more[w->depth] = true;
}

static void quoted(struct jw *w, const char *s)
{
	const unsigned char *c;

	put(w, "\"", 1);
	for (c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\') {
			put(w, "\\", 1);
			put(w, (const char *)c, 1);
		} else if (*c < 0x20) {
			putf(w, "\\u%04x", *c);
		} else {
			put(w, (const char *)c, 1);
		}
	}
	put(w, "\"", 1);
}

static void begin(struct jw *w, const char *c)
{
	sep(w);
	put(w, c, 1);
	if (w->depth == JSON_MAX_DEPTH) {
		w->oom = true;
		return;
	}
	w->more[++w->depth] = false;
}

void jw_object(struct jw *w)
{
	begin(w, "{");
}

void jw_array(struct jw *w)
{
	begin(w, "[");
}

void jw_end(struct jw *w, char close)
{
	put(w, &close, 1);
	if (w->depth)
		w->depth--;
}

void jw_key(struct jw *w, const char *key)
{
	sep(w);
	quoted(w, key);
	put(w, ":", 1);
	w->key = true;
}

void jw_str(struct jw *w, const char *s)
{
	sep(w);
	quoted(w, s);
}

void jw_u64(struct jw *w, uint64_t v)
{
	sep(w);
	putf(w, "%" PRIu64, v);
}

void jw_i64(struct jw *w, int64_t v)
{
	sep(w);
	putf(w, "%" PRId64, v);
}

void jw_bool(struct jw *w, bool v)
{
	sep(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(struct jw *w)
{
	sep(w);
	put(w, "null", 4);
}

void jw_field_u64(struct jw *w, const char *key, uint64_t v)
{
	jw_key(w, key);
	jw_u64(w, v);
}

void jw_field_str(struct jw *w, const char *key, const char *s)
{
	jw_key(w, key);
	jw_str(w, s);
}

void jw_value(struct jw *w, const struct json *j)
{
	size_t i;

	switch (j->type) {
	case JSON_NULL:
		jw_null(w);
		return;
	case JSON_BOOL:
		jw_bool(w, j->boolean);
		return;
	case JSON_NUMBER:
		sep(w);
		put(w, j->str, strlen(j->str));
		return;
	case JSON_STRING:
		jw_str(w, j->str);
		return;
	case JSON_ARRAY:
	case JSON_OBJECT:
		break;
	}
	if (j->type == JSON_OBJECT)
		jw_object(w);
	else
		jw_array(w);
	for (i = 0; i < j->n; i++) {
		if (j->type == JSON_OBJECT)
			jw_key(w, j->keys[i]);
		jw_value(w, &j->items[i]);
	}
	jw_end(w, j->type == JSON_OBJECT ? '}' : ']');
}
