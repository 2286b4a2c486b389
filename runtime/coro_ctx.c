/*
 * runtime/coro_ctx.c: initial stack frames for the assembly context switch,
 * or the whole switch on top of ucontext.
 */
#include "coro_ctx.h"

#include <stdint.h>

#if defined(CRPC_CORO_UCONTEXT)

/* makecontext() passes int arguments only, so the pointers travel in two
 * halves. */
static void uc_entry(unsigned int e_hi, unsigned int e_lo, unsigned int a_hi,
                     unsigned int a_lo) {
  uintptr_t e = ((uintptr_t)e_hi << 16 << 16) | e_lo;
  uintptr_t a = ((uintptr_t)a_hi << 16 << 16) | a_lo;
  crpc__ctx_entry entry = (crpc__ctx_entry)e;
  entry((void *)a);
}

void crpc__ctx_make(crpc__ctx *ctx, void *base, size_t size,
                    crpc__ctx_entry entry, void *arg) {
  uintptr_t e = (uintptr_t)entry, a = (uintptr_t)arg;
  getcontext(&ctx->uc);
  ctx->uc.uc_stack.ss_sp = base;
  ctx->uc.uc_stack.ss_size = size;
  ctx->uc.uc_link = NULL;
  makecontext(&ctx->uc, (void (*)(void))uc_entry, 4,
              (unsigned int)(e >> 16 >> 16), (unsigned int)e,
              (unsigned int)(a >> 16 >> 16), (unsigned int)a);
}

void crpc__ctx_switch(crpc__ctx *from, crpc__ctx *to) {
  swapcontext(&from->uc, &to->uc);
}

#elif defined(__x86_64__)

void crpc__ctx_trampoline(void);

/*
 * The frame crpc__ctx_switch pops, low to high: MXCSR and x87 control word,
 * r15, r14, r13 (entry), r12 (arg), rbx, rbp, return address (the
 * trampoline). After the pops the stack is 16-byte aligned, so the
 * trampoline's call gives |entry| the ABI's alignment.
 */
void crpc__ctx_make(crpc__ctx *ctx, void *base, size_t size,
                    crpc__ctx_entry entry, void *arg) {
  uintptr_t top = ((uintptr_t)base + size) & ~(uintptr_t)15;
  uint64_t *sp = (uint64_t *)(top - 80);
  sp[0] = UINT64_C(0x0000037F00001F80); /* default MXCSR and FPU CW */
  sp[1] = 0;
  sp[2] = 0;
  sp[3] = (uint64_t)(uintptr_t)entry;
  sp[4] = (uint64_t)(uintptr_t)arg;
  sp[5] = 0;
  sp[6] = 0;
  sp[7] = (uint64_t)(uintptr_t)crpc__ctx_trampoline;
  sp[8] = 0;
  sp[9] = 0;
  ctx->sp = sp;
}

#elif defined(__aarch64__)

void crpc__ctx_trampoline(void);

/*
 * The frame crpc__ctx_switch restores, 160 bytes: x19 (arg), x20 (entry),
 * x21-x28, x29 (frame pointer, 0 ends backtraces), x30 (the trampoline),
 * then d8-d15.
 */
void crpc__ctx_make(crpc__ctx *ctx, void *base, size_t size,
                    crpc__ctx_entry entry, void *arg) {
  uintptr_t top = ((uintptr_t)base + size) & ~(uintptr_t)15;
  uint64_t *sp = (uint64_t *)(top - 160);
  for (int i = 0; i < 20; i++)
    sp[i] = 0;
  sp[0] = (uint64_t)(uintptr_t)arg;
  sp[1] = (uint64_t)(uintptr_t)entry;
  sp[11] = (uint64_t)(uintptr_t)crpc__ctx_trampoline;
  ctx->sp = sp;
}

#else
#error                                                                         \
    "no assembly context switch for this CPU; configure with -DCRPC_CORO_BACKEND=ucontext"
#endif
