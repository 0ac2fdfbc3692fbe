/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Payload entry: the VMM starts each vCPU here in 32-bit protected mode
 * with %eax = vCPU index. Give it its stack and run guest_main(index).
 */
#include "abi.h"

	.code32
	.section .text.start, "ax"
	.globl _start
_start:
	movl	%eax, %ebx
	incl	%eax
	imull	$GUEST_STACK_SIZE, %eax
	addl	$GUEST_STACKS_GPA, %eax
	movl	%eax, %esp
	pushl	%ebx
	call	guest_main
1:	hlt
	jmp	1b

/*
 * Self-paced guests' timer interrupt (abi.h): count it, end it at the
 * 8259, return. Flags come back with iret; only %eax is used.
 */
	.org	GUEST_ISR_GPA - GUEST_CODE_GPA
	.globl guest_timer_isr
guest_timer_isr:
	incl	GUEST_PARAMS_GPA + GUEST_PARAMS_TICKS_OFF
	pushl	%eax
	movb	$0x20, %al
	outb	%al, $0x20
	popl	%eax
	iret
	.section .note.GNU-stack, "", @progbits
