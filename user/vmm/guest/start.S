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
	.section .note.GNU-stack, "", @progbits
