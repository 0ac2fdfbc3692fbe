/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Typed records of the kmig stream, shared by the encoder (enc.h) and the
 * decoder (dec.h), and the names of the format's constants.
 */
#ifndef KMIG_STREAM_H
#define KMIG_STREAM_H

#include <stdint.h>

#include "format.h"

/* SECTION_START/FULL carry everything; PART/END/FOOTER only @id (the
 * decoder fills @kind, @instance and @name from the section's start). */
struct kmig_section {
	uint8_t type;
	uint32_t id;
	uint16_t kind;
	uint16_t instance;
	uint32_t version;
	char name[KMIG_STREAM_MAX_NAME + 1];
};

struct kmig_scmd {
	uint16_t id;
	union {
		uint32_t token;			/* PING */
		uint64_t round;			/* ROUND_SYNC */
		struct {
			uint16_t count;		/* page channels */
			uint8_t uuid[16];	/* migration id */
		} channels;			/* CHANNELS */
	};
};

/* Names of constants ("RAM_PAGE"), or NULL for an unknown value. */
const char *kmig_rec_name(unsigned int type);
const char *kmig_sec_kind_name(unsigned int kind);
const char *kmig_scmd_name(unsigned int id);
const char *kmig_vcpu_part_name(unsigned int part);
const char *kmig_devpkt_name(unsigned int marker);
/* Payload size of command @id after its 4-byte header, or -1 if unknown. */
int kmig_scmd_len(unsigned int id);

/* Every named constant of format.h, for the documentation check. */
struct kmig_fmt_const {
	const char *name;		/* "KMIG_REC_RAM_PAGE" */
	unsigned long long value;
};
extern const struct kmig_fmt_const kmig_fmt_consts[];

#endif /* KMIG_STREAM_H */
