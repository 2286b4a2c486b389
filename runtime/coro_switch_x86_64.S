/*
 * runtime/coro_switch_x86_64.S: context switch for the System V x86-64 ABI.
 *
 * void crpc__ctx_switch(crpc__ctx *from, crpc__ctx *to)
 * Saves the callee-saved registers, MXCSR and the x87 control word on the
 * current stack, stores the stack pointer in from->sp, and restores the same
 * from to->sp. Everything else is caller-saved, so the C compiler has
 * already spilled it.
 */
    .text
    .globl  crpc__ctx_switch
    .hidden crpc__ctx_switch
    .type   crpc__ctx_switch, @function
    .p2align 4
crpc__ctx_switch:
    .cfi_startproc
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $8, %rsp
    stmxcsr (%rsp)
    fnstcw  4(%rsp)
    movq    %rsp, (%rdi)
    movq    (%rsi), %rsp
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
    .cfi_endproc
    .size   crpc__ctx_switch, .-crpc__ctx_switch

/*
 * First code a new context runs: entry(arg) from r13 and r12. Entry never
 * returns; ud2 traps if it does. The undefined return address ends
 * debugger backtraces here.
 */
    .globl  crpc__ctx_trampoline
    .hidden crpc__ctx_trampoline
    .type   crpc__ctx_trampoline, @function
    .p2align 4
crpc__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq    %r12, %rdi
    callq   *%r13
    ud2
    .cfi_endproc
    .size   crpc__ctx_trampoline, .-crpc__ctx_trampoline

    .section .note.GNU-stack, "", @progbits
