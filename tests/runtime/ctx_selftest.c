/*
 * tests/runtime/ctx_selftest.c: a standalone check of the context switch
 * (runtime/coro_ctx.c and the assembly back ends), with no dependencies, so
 * that it can be cross-compiled and run under qemu for CPUs the build
 * machine is not (aarch64 on an x86-64 host).
 *
 * It checks that callee-saved integer and floating-point registers survive
 * switches in both directions, that a new context starts with an ABI-aligned
 * stack, and that thousands of round trips between three contexts keep
 * their state. Exits 0 and prints "N passed, 0 failed" on success.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "coro_ctx.h"

static crpc__ctx main_ctx, a_ctx, b_ctx;
static volatile long a_steps, b_steps;
static int failures, checks;

static void check(int ok, const char *what) {
  checks++;
  if (!ok) {
    failures++;
    printf("FAIL: %s\n", what);
  }
}

/* Keeps many values live across a switch so that the compiler has to put
 * some in callee-saved registers, integer and floating point. */
static __attribute__((noinline)) long churn(crpc__ctx *self, long seed) {
  long x0 = seed, x1 = seed * 3, x2 = seed * 5, x3 = seed * 7, x4 = seed * 11;
  long x5 = seed * 13, x6 = seed * 17, x7 = seed * 19, x8 = seed * 23;
  double d0 = (double)seed * 0.5, d1 = d0 * 1.25, d2 = d1 * 1.5, d3 = d2 * 2;
  double d4 = d3 + 0.125, d5 = d4 * 3, d6 = d5 - 1, d7 = d6 / 4;
  crpc__ctx_switch(self, &main_ctx);
  long sum = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8;
  double dsum = d0 + d1 + d2 + d3 + d4 + d5 + d6 + d7;
  return sum + (long)(dsum * 8);
}

static long expect(long seed) {
  long sum = seed * (1 + 3 + 5 + 7 + 11 + 13 + 17 + 19 + 23);
  double d0 = (double)seed * 0.5, d1 = d0 * 1.25, d2 = d1 * 1.5, d3 = d2 * 2;
  double d4 = d3 + 0.125, d5 = d4 * 3, d6 = d5 - 1, d7 = d6 / 4;
  return sum + (long)((d0 + d1 + d2 + d3 + d4 + d5 + d6 + d7) * 8);
}

static void body_a(void *arg) {
  long n = *(long *)arg;
  /* A 16-byte aligned local must really be 16-byte aligned. */
  _Alignas(16) volatile char probe[16];
  check(((uintptr_t)probe & 15) == 0, "stack alignment in a new context");
  for (long i = 0; i < n; i++) {
    if (churn(&a_ctx, i + 1) != expect(i + 1))
      check(0, "registers preserved across switches (a)");
    a_steps++;
  }
  for (;;)
    crpc__ctx_switch(&a_ctx, &main_ctx);
}

static void body_b(void *arg) {
  long n = *(long *)arg;
  for (long i = 0; i < n; i++) {
    if (churn(&b_ctx, -i - 7) != expect(-i - 7))
      check(0, "registers preserved across switches (b)");
    b_steps++;
  }
  for (;;)
    crpc__ctx_switch(&b_ctx, &main_ctx);
}

int main(void) {
  enum { STACK = 256 * 1024 };
  long n = 20000;
  void *sa = aligned_alloc(64, STACK), *sb = aligned_alloc(64, STACK);
  /* Odd sizes: crpc__ctx_make must align the top itself. */
  crpc__ctx_make(&a_ctx, sa, STACK - 24, body_a, &n);
  crpc__ctx_make(&b_ctx, sb, STACK - 8, body_b, &n);
  long m0 = 101, m1 = 202, m2 = 303, m3 = 404, m4 = 505, m5 = 606;
  double f0 = 1.5, f1 = 2.5, f2 = 3.5, f3 = 4.5;
  for (long i = 0; i <= n; i++) {
    crpc__ctx_switch(&main_ctx, &a_ctx);
    crpc__ctx_switch(&main_ctx, &b_ctx);
  }
  check(m0 + m1 + m2 + m3 + m4 + m5 == 2121, "main's integer registers");
  check(f0 + f1 + f2 + f3 == 12.0, "main's floating-point registers");
  check(a_steps == n && b_steps == n, "every round trip ran");
  free(sa);
  free(sb);
  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures != 0;
}
