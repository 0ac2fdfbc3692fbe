/* SPDX-License-Identifier: GPL-2.0 */
/* The payload image, built at build time, inside the VMM binary. */
	.section .rodata
	.globl vmm_payload, vmm_payload_end
	.balign 16
vmm_payload:
	.incbin PAYLOAD_BIN
vmm_payload_end:
	.section .note.GNU-stack, "", @progbits
