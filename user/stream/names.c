// SPDX-License-Identifier: GPL-2.0
/*
 * Names of the stream's constants, generated from format.h's lists so that
 * messages, tools and documentation checks never drift from the code.
 */
#include <stddef.h>

#include "stream.h"

#define NAME_CASE(n, v)		case v: return #n;

const char *kmig_rec_name(unsigned int type)
{
	switch (type) {
	KMIG_REC_TYPES(NAME_CASE)
	}
	return NULL;
}

const char *kmig_sec_kind_name(unsigned int kind)
{
	switch (kind) {
	KMIG_SEC_KINDS(NAME_CASE)
	}
	return NULL;
}

const char *kmig_scmd_name(unsigned int id)
{
	switch (id) {
	KMIG_SCMD_IDS(NAME_CASE)
	}
	return NULL;
}

const char *kmig_vcpu_part_name(unsigned int part)
{
	switch (part) {
	KMIG_VCPU_PARTS(NAME_CASE)
	}
	return NULL;
}

const char *kmig_devpkt_name(unsigned int marker)
{
	switch (marker) {
	KMIG_DEVPKT_MARKERS(NAME_CASE)
	}
	return NULL;
}

int kmig_scmd_len(unsigned int id)
{
#define LEN_CASE(n, v)		case v: return KMIG_SCMD_##n##_LEN;
	switch (id) {
	KMIG_SCMD_IDS(LEN_CASE)
	}
	return -1;
#undef LEN_CASE
}

#define CONST(prefix, n, v)	{ #prefix #n, v },
#define C_REC(n, v)		CONST(KMIG_REC_, n, v)
#define C_RECF(n, v)		CONST(KMIG_RECF_, n, v)
#define C_SEC(n, v)		CONST(KMIG_SEC_, n, v)
#define C_SCMD(n, v)		CONST(KMIG_SCMD_, n, v)
#define C_SCAP(n, v)		CONST(KMIG_SCAP_, n, v)
#define C_VCPU(n, v)		CONST(KMIG_VCPU_, n, v)
#define C_DEVPKT(n, v)		CONST(KMIG_DEVPKT_, n, v)
#define C_PLAIN(n)		{ #n, n },

const struct kmig_fmt_const kmig_fmt_consts[] = {
	C_PLAIN(KMIG_STREAM_MAGIC)
	C_PLAIN(KMIG_STREAM_VERSION)
	C_PLAIN(KMIG_STREAM_HEADER_SIZE)
	C_PLAIN(KMIG_STREAM_PAGE_SIZE)
	C_PLAIN(KMIG_STREAM_MAX_PAYLOAD)
	C_PLAIN(KMIG_STREAM_MAX_NAME)
	C_PLAIN(KMIG_STREAM_MAX_SECTIONS)
	C_PLAIN(KMIG_STREAM_MAX_VCPUS)
	C_PLAIN(KMIG_STREAM_MAX_VCPU_PART)
	C_PLAIN(KMIG_STREAM_MAX_BATCH)
	C_PLAIN(KMIG_STREAM_MAX_ZERO_RUN)
	C_PLAIN(KMIG_REC_RAM_PAGES_HDR_LEN)
	C_PLAIN(KMIG_HELLO_MAGIC)
	C_PLAIN(KMIG_HELLO_VERSION)
	C_PLAIN(KMIG_HELLO_SIZE)
	C_PLAIN(KMIG_HELLO_MAX_CHANNELS)
	C_PLAIN(KMIG_RESUME_MAGIC)
	C_PLAIN(KMIG_RESUME_VERSION)
	C_PLAIN(KMIG_RESUME_HDR_SIZE)
	C_PLAIN(KMIG_RESUME_SLOT_SIZE)
	C_PLAIN(KMIG_RBITMAP_MAGIC)
	C_PLAIN(KMIG_RBITMAP_VERSION)
	C_PLAIN(KMIG_RBITMAP_HDR_SIZE)
	C_PLAIN(KMIG_RBITMAP_SLOT_SIZE)
	C_PLAIN(KMIG_RECOVER_SECTION)
	KMIG_REC_TYPES(C_REC)
	KMIG_REC_FLAGS(C_RECF)
	KMIG_SEC_KINDS(C_SEC)
	KMIG_SCMD_IDS(C_SCMD)
	KMIG_SCAP_BITS(C_SCAP)
	KMIG_VCPU_PARTS(C_VCPU)
	KMIG_DEVPKT_MARKERS(C_DEVPKT)
	{ NULL, 0 }
};
