/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Multiboot entry of the self-paced guest (abi.h): loaded by the VMM's
 * multiboot loader (QEMU's -kernel) as a flat image at 1 MiB, in 32-bit
 * protected mode with %eax = the multiboot magic and %ebx = its info.
 * boot_main() sets the machine up; then load our GDT and IDT and enter
 * the payload as vCPU 0, like kmig-vmm does.
 */
#include "abi.h"

#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0x00010002	/* memory info, a.out address fields */

	.code32
	.section .text.boot, "ax"
	.balign 4
mb_header:
	.long	MB_MAGIC
	.long	MB_FLAGS
	.long	-(MB_MAGIC + MB_FLAGS)
	.long	mb_header		/* header_addr */
	.long	boot_load_start		/* load_addr */
	.long	boot_load_end		/* load_end_addr */
	.long	boot_bss_end		/* bss_end_addr */
	.long	boot_entry		/* entry_addr */

	.globl boot_entry
boot_entry:
	cli
	movl	$(GUEST_STACKS_GPA + GUEST_STACK_SIZE), %esp
	pushl	%ebx
	pushl	%eax
	call	boot_main
	lgdt	boot_gdtr
	ljmp	$8, $1f
1:	movl	$16, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %fs
	movl	%eax, %gs
	movl	%eax, %ss
	lidt	boot_idtr
	xorl	%eax, %eax
	ljmp	$8, $GUEST_CODE_GPA

	.section .rodata
	.balign 4
boot_gdtr:
	.word	3 * 8 - 1
	.long	GUEST_GDT_GPA
boot_idtr:
	.word	(GUEST_TIMER_VECTOR + 1) * 8 - 1
	.long	GUEST_IDT_GPA

	.globl boot_payload, boot_payload_end
	.balign 16
boot_payload:
	.incbin PAYLOAD_BIN
boot_payload_end:
	.section .note.GNU-stack, "", @progbits
