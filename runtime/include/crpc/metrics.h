/*
 * crpc/metrics.h: counts and times calls for Prometheus, as
 * go-grpc-prometheus does, and writes them in Prometheus's text format.
 *
 * A crpc_metrics is a registry of what its interceptor saw. Install the
 * interceptor from crpc_metrics_interceptor() on a server
 * (crpc_server_add_interceptor()), on channels (crpc_channel_opts), or
 * both: one registry keeps the server's calls and the channels' calls
 * apart by crpc_icall_side(). A server made with
 * crpc_server_opts.metrics_listen has one of its own (crpc_server_metrics()
 * in crpc/server.h), which also serves them over HTTP.
 *
 * What it counts, per method and side, with go-grpc-prometheus's names
 * (grpc_server_* for a server's calls, grpc_client_* for a channel's):
 *
 *   grpc_server_started_total       counter: calls started (the
 *                                   interceptor's start ran)
 *   grpc_server_handled_total       counter: calls ended, by grpc_code
 *   grpc_server_msg_received_total  counter: messages received
 *   grpc_server_msg_sent_total      counter: messages sent
 *   grpc_server_handling_seconds    histogram of the calls' durations
 *                                   (crpc_icall_end's duration_ns), buckets
 *                                   .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10
 *
 * and the same five as grpc_client_*. Labels: grpc_type ("unary",
 * "client_stream", "server_stream", "bidi_stream"), grpc_service
 * ("pkg.Service"), grpc_method ("Method"), and for handled_total grpc_code
 * as Go names the codes ("OK", "Canceled", "DeadlineExceeded", ...). A
 * unary request or reply counts as one message, as in go-grpc-prometheus.
 * Only what was seen is written: a method with no call has no line, a
 * code no call ended with has none.
 *
 * Cost: the interceptor finds its method's counters in a table keyed by
 * the crpc_method pointer, without a lock once the method has been seen,
 * and adds to atomic counters: no lock and no allocation per call. Up to
 * CRPC_METRICS_MAX_METHODS methods are counted; calls of further ones are
 * not.
 */
#ifndef CRPC_METRICS_H
#define CRPC_METRICS_H

#include <stddef.h>

#include "crpc/common.h"
#include "crpc/interceptor.h"

CRPC_BEGIN_DECLS

/* Distinct methods one registry counts at most. */
#define CRPC_METRICS_MAX_METHODS 4096

typedef struct crpc_metrics crpc_metrics;

/*
 * Creates an empty registry.
 * Thread: any. Returns 0, or CRPC_ENOMEM, and then |*out| is untouched.
 */
CRPC_EXTERN int crpc_metrics_new(crpc_metrics **out);

/*
 * Frees |m|. Every server and channel whose interceptors include its
 * interceptor must be freed first. NULL is a no-op. Thread: any.
 */
CRPC_EXTERN void crpc_metrics_free(crpc_metrics *m);

/*
 * The interceptor that counts into |m|, for crpc_server_add_interceptor(),
 * crpc_service_add_interceptor(), crpc_module_add_interceptor() or
 * crpc_channel_opts.interceptors (which copy it). Put it first, so that it
 * times the others too and sees the status they end a call with.
 * Ownership: |m| is borrowed by the interceptor and must outlive whatever
 * it is installed on. Thread: any.
 */
CRPC_EXTERN crpc_interceptor crpc_metrics_interceptor(crpc_metrics *m);

/*
 * Writes everything |m| counted in the Prometheus text exposition format
 * (version 0.0.4: "# HELP" and "# TYPE" lines, then the samples; label
 * values escaped), families and lines in a stable order: the server's
 * families, then the client's, each's methods sorted by service and
 * method, codes in numeric order. Counters are read one by one while
 * calls go on, so a page is not one instant (a call may be counted
 * started and not yet handled), but no counter ever goes back.
 * Ownership: |*text| is NUL-terminated, |*len| bytes without the NUL; the
 * caller frees it with free().
 * Thread: any. Returns 0, or one of these, and then |*text| and |*len|
 * are untouched:
 *   CRPC_ENOMEM   out of memory.
 *   CRPC_ETOOBIG  the page would be larger than 64 MiB.
 */
CRPC_EXTERN int crpc_metrics_text(crpc_metrics *m, char **text, size_t *len);

CRPC_END_DECLS

#endif /* CRPC_METRICS_H */
