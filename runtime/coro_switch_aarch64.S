/*
 * runtime/coro_switch_aarch64.S: context switch for the AAPCS64 ABI.
 *
 * void crpc__ctx_switch(crpc__ctx *from, crpc__ctx *to)
 * Saves x19-x30 and d8-d15 in a 160-byte frame on the current stack, stores
 * sp in from->sp, and restores the same from to->sp.
 */
    .text
    .globl  crpc__ctx_switch
    .hidden crpc__ctx_switch
    .type   crpc__ctx_switch, %function
    .p2align 4
crpc__ctx_switch:
    sub     sp, sp, #160
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mov     x9, sp
    str     x9, [x0]
    ldr     x9, [x1]
    mov     sp, x9
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    add     sp, sp, #160
    ret
    .size   crpc__ctx_switch, .-crpc__ctx_switch

/* First code a new context runs: entry(arg) from x20 and x19. */
    .globl  crpc__ctx_trampoline
    .hidden crpc__ctx_trampoline
    .type   crpc__ctx_trampoline, %function
    .p2align 4
crpc__ctx_trampoline:
    mov     x0, x19
    blr     x20
    brk     #0
    .size   crpc__ctx_trampoline, .-crpc__ctx_trampoline

    .section .note.GNU-stack, "", %progbits
