/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CRC32C (Castagnoli, reflected polynomial 0x82f63b78), as in iSCSI and
 * ext4: kmig_crc32c(0, "123456789", 9) == 0xe3069283. Pass the previous
 * result as @crc to extend a checksum over several buffers.
 *
 * kmig_crc32c() uses the fastest of folding with VPCLMULQDQ (when the CPU
 * has it and AVX-512F), the SSE4.2 crc32 instruction in three interleaved
 * chains (when the CPU has it and PCLMULQDQ) and slicing-by-8 tables,
 * timed once on first use; KMIG_CRC32C=fold, =hw or =sw in the
 * environment forces one (where the CPU has it). All are exported so the
 * tests can check that they agree.
 */
#ifndef KMIG_STREAM_CRC32C_H
#define KMIG_STREAM_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint32_t kmig_crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t kmig_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* Only when kmig_crc32c_hw_available(). */
uint32_t kmig_crc32c_hw(uint32_t crc, const void *buf, size_t len);
bool kmig_crc32c_hw_available(void);
/* Only when kmig_crc32c_fold_available(). */
uint32_t kmig_crc32c_fold(uint32_t crc, const void *buf, size_t len);
bool kmig_crc32c_fold_available(void);
/*
 * kmig_crc32c(@crc_a, B, @len_b) from @crc_b = kmig_crc32c(0, B, @len_b),
 * without B: two multiplies for a page of KMIG_CRC32C_PAGE bytes, some
 * hundred for other lengths.
 */
#define KMIG_CRC32C_PAGE	4096u
uint32_t kmig_crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t len_b);
/* "vpclmulqdq-fold", "sse4.2-x3" or "slicing-by-8": what kmig_crc32c()
 * runs. */
const char *kmig_crc32c_impl(void);

/* A checksum over @len bytes at @buf, extending @sum. */
typedef uint32_t (*kmig_sum_fn)(uint32_t sum, const void *buf, size_t len);
/* The best of five runs of @fn over @len bytes at @buf, in nanoseconds:
 * how the fastest sum is picked. */
uint64_t kmig_sum_time_ns(kmig_sum_fn fn, const void *buf, size_t len);

#endif /* KMIG_STREAM_CRC32C_H */
