/*
 * tests/interop/cases.h: the client side of gRPC's interop test cases
 * (doc/interop-test-descriptions.md), through crpc's generated stubs.
 */
#ifndef CRPC_INTEROP_CASES_H
#define CRPC_INTEROP_CASES_H

#include <crpc/channel.h>
#include <stddef.h>

/* Room for a failure's reason. */
#define INTEROP_WHY 512

/* Runs one case on |ch|. Returns 0 when it passed; otherwise -1, with what
 * was expected and what came in |why|. Every call has a deadline. */
typedef int (*interop_case_fn)(crpc_channel *ch, char *why);

typedef struct interop_case {
  const char *name;
  interop_case_fn run;
  int standard; /* part of "all" */
} interop_case;

/* The cases: the 16 standard ones in the specification's order, then
 * client_compressed_unary_noprobe (as gRPC Java's: for servers that cannot
 * tell a compressed request from a plain one) and server_id (10 calls
 * asking which server answered; the ids seen are written to |why| even on
 * success). */
extern const interop_case interop_cases[];
extern const size_t interop_n_cases;

/* The case named |name|, or NULL. */
const interop_case *interop_case_find(const char *name);

#endif /* CRPC_INTEROP_CASES_H */
