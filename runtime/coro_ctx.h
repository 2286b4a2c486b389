/*
 * runtime/coro_ctx.h: the machine context switch under coroutines.
 *
 * Two back ends: hand-written assembly for x86-64 and aarch64 that saves only
 * the callee-saved registers (coro_switch_*.S), and ucontext for everything
 * else (CRPC_CORO_UCONTEXT).
 */
#ifndef CRPC_CORO_CTX_H
#define CRPC_CORO_CTX_H

#include <stddef.h>

#if defined(CRPC_CORO_UCONTEXT)
#include <ucontext.h>
typedef struct crpc__ctx {
  ucontext_t uc;
} crpc__ctx;
#else
typedef struct crpc__ctx {
  void *sp; /* saved stack pointer; registers live on the stack */
} crpc__ctx;
#endif

typedef void (*crpc__ctx_entry)(void *arg);

/*
 * Prepares |ctx| so that the first switch to it calls |entry|(|arg|) on the
 * stack [base, base + size). |entry| must never return: it ends by
 * switching away for good.
 */
void crpc__ctx_make(crpc__ctx *ctx, void *base, size_t size,
                    crpc__ctx_entry entry, void *arg);

/* Saves the running context into |from| and resumes |to|. */
void crpc__ctx_switch(crpc__ctx *from, crpc__ctx *to);

#endif /* CRPC_CORO_CTX_H */
