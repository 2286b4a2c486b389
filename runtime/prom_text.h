/*
 * runtime/prom_text.h: Prometheus's text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), written
 * into a crpc__buf: a family's HELP and TYPE lines, label pairs with their
 * values escaped, samples. Bytes out only; what is counted is the
 * caller's.
 *
 * Every function appends to |b| and returns 0, or CRPC_ENOMEM or
 * CRPC_ETOOBIG (|b|'s limit); after a failure |b| may hold part of what
 * was being written, and the caller gives up on the page.
 * Thread: any, on a |b| the caller owns.
 */
#ifndef CRPC_PROM_TEXT_H
#define CRPC_PROM_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crpc/status.h"

/* The Content-Type of a page in this format. */
#define CRPC__PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* "# HELP |name| |help|\n# TYPE |name| |type|\n", |help| escaped
 * (backslash and newline). |type| is "counter", "gauge" or "histogram". */
int crpc__prom_family(crpc__buf *b, const char *name, const char *help,
                      const char *type);

/* |name|="|value|" with the |n| bytes of |value| escaped (backslash,
 * double quote and newline), as one label pair. */
int crpc__prom_label(crpc__buf *b, const char *name, const char *value,
                     size_t n);

/* "|name||suffix|{|labels|} |value|\n": |labels| is label pairs already
 * written (comma-separated), or NULL or "" for none; |suffix| may be NULL
 * ("_bucket", "_count"). */
int crpc__prom_sample(crpc__buf *b, const char *name, const char *suffix,
                      const char *labels, uint64_t value);

/* As crpc__prom_sample(), the value |micros| millionths written as a
 * decimal ("12.000345"): a sum of seconds kept in microseconds. */
int crpc__prom_sample_micros(crpc__buf *b, const char *name, const char *suffix,
                             const char *labels, uint64_t micros);

/* The name Go's gRPC gives |code| (codes.Code's String(): "OK",
 * "Canceled", "InvalidArgument", ...), as go-grpc-prometheus's grpc_code
 * label has it; "Unknown" outside 0-16. Static storage. */
const char *crpc__prom_code_name(int code);

#endif /* CRPC_PROM_TEXT_H */
