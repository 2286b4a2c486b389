/*
 * runtime/metrics_internal.h: what the server adds to a registry's page
 * (crpc/metrics.h): it writes the registry's families into a buffer of
 * its own, then its own families after them.
 */
#ifndef CRPC_METRICS_INTERNAL_H
#define CRPC_METRICS_INTERNAL_H

#include "buf.h"
#include "crpc/metrics.h"

/* The largest page crpc_metrics_text() and the server write. */
#define CRPC__METRICS_TEXT_MAX (64u << 20)

/*
 * Appends the families of |m| to |out| (crpc_metrics_text()'s format and
 * order, without a NUL).
 * Thread: any. Returns 0, or CRPC_ENOMEM or CRPC_ETOOBIG (|out|'s limit);
 * |out| may then hold part of the page.
 */
int crpc__metrics_render(crpc_metrics *m, crpc__buf *out);

#endif /* CRPC_METRICS_INTERNAL_H */
