/*
 * server/health.h: the built-in grpc.health.v1.Health service and the
 * registry of serving statuses behind it.
 *
 * The registry maps service names ("" being the whole server) to a
 * crpc_health_status. The server creates one at crpc_server_new(), serves
 * it as crpc__health_service(), marks every added service and "" SERVING,
 * forwards crpc_server_set_health() to crpc__health_set(), and calls
 * crpc__health_shutdown() when it shuts down.
 *
 * Check answers a known name's status and NOT_FOUND for any other. Watch
 * sends the current status at once (SERVICE_UNKNOWN for a name not in the
 * registry), then one message each time it changes, until the client
 * cancels, the deadline passes or the server shuts down (which sends the
 * final NOT_SERVING of a known name, then ends the call with UNAVAILABLE).
 * Both run on the connection's loop: Watch waits as a coroutine, so
 * watchers hold no worker thread.
 *
 * Wake-ups: the registry keeps one pending future that the next change of
 * any status completes (and shutdown too). A watcher takes a reference to
 * it together with the status it reads, under the same lock, so no change
 * between the read and the wait is missed; a wake-up for another service's
 * change finds its own status unchanged and sends nothing. Names clients
 * ask about are only looked up, never stored, so Watch and Check cannot
 * grow the registry.
 *
 * Lock order: the registry's mutex is a leaf. Futures are completed after
 * it is released.
 */
#ifndef CRPC_SERVER_HEALTH_H
#define CRPC_SERVER_HEALTH_H

#include "crpc/future.h"
#include "crpc/method.h"
#include "crpc/server.h"

typedef struct crpc__health crpc__health;

/* Watch's status for a name the registry does not hold: the wire value of
 * grpc.health.v1.HealthCheckResponse.SERVICE_UNKNOWN. */
#define CRPC__HEALTH_SERVICE_UNKNOWN 3

/* The service's descriptor: "grpc.health.v1.Health", methods Check (unary)
 * and Watch (server streaming), both placed on the loop. Static data. */
extern const crpc_service_desc crpc__health_desc;

/*
 * Creates an empty registry: every name is unknown until set.
 * Thread: any. Returns the registry, or NULL when out of memory.
 */
crpc__health *crpc__health_new(void);

/*
 * Frees |h| and its names. NULL is a no-op.
 * No handler of |h|'s service may still be running, and no future from
 * crpc__health_watch() still awaited: a watcher still waiting is never
 * woken. Call crpc__health_shutdown() and let the calls end first.
 * Thread: any.
 */
void crpc__health_free(crpc__health *h);

/*
 * Sets the status of |service| ("" for the whole server), adding the name
 * when it is new. A change (or a new name) wakes every watcher.
 * Ownership: |service| is copied.
 * Thread: any.
 * Returns 0 (also when the status was already |st|), or one of these, and
 * then the registry is unchanged:
 *   CRPC_EINVAL  |h| or |service| is NULL, or |st| is not one of
 *                CRPC_HEALTH_UNKNOWN, _SERVING, _NOT_SERVING.
 *   CRPC_ESTATE  crpc__health_shutdown() has run: statuses stay
 *                NOT_SERVING.
 *   CRPC_ENOMEM  out of memory.
 */
int crpc__health_set(crpc__health *h, const char *service,
                     crpc_health_status st);

/*
 * Reads the status of |service| ("" for the whole server) into |*out|.
 * Thread: any.
 * Returns 0, or CRPC_ENOTFOUND when the name was never set (|*out| is then
 * untouched), or CRPC_EINVAL for a NULL argument.
 */
int crpc__health_get(crpc__health *h, const char *service,
                     crpc_health_status *out);

/*
 * One step of a watch: reads the status of |service| into |*status| (a
 * crpc_health_status value, or CRPC__HEALTH_SERVICE_UNKNOWN when the name
 * was never set) and gives, in |*changed|, a future that completes with OK
 * at the next change of any name's status or at shutdown, whichever comes
 * first. Read, compare with what was last sent, wait for |*changed|, and
 * read again.
 * Ownership: |*changed| is one reference, the caller's to drop with
 * crpc_future_unref(); never cancel it (other watchers share it).
 * Thread: any.
 * Returns 0, or CRPC_ECLOSED once crpc__health_shutdown() has run: then
 * |*status| is still set (NOT_SERVING, or SERVICE_UNKNOWN) and |*changed|
 * is NULL, as nothing will change any more. CRPC_EINVAL for a NULL
 * argument, and then nothing is set.
 */
int crpc__health_watch(crpc__health *h, const char *service, int *status,
                       crpc_future **changed);

/*
 * A crpc_service serving |h| (its user data) with crpc__health_desc, for
 * crpc_server_add_service(), which takes ownership of it.
 * Ownership: |h| is borrowed and must outlive the service's calls.
 * Thread: any. Returns the service, or NULL when out of memory.
 */
crpc_service *crpc__health_service(crpc__health *h);

/*
 * Server shutdown: sets every known name NOT_SERVING, wakes every watcher
 * (each sends NOT_SERVING if it had not, then ends its call with
 * UNAVAILABLE so a graceful shutdown does not wait for it), and makes
 * later crpc__health_set() calls fail with CRPC_ESTATE. Check keeps
 * answering, with NOT_SERVING; a Watch that starts later sends the status
 * and ends at once. Does not wait for the watchers to end. A second call
 * is a no-op.
 * Thread: any.
 */
void crpc__health_shutdown(crpc__health *h);

#endif /* CRPC_SERVER_HEALTH_H */
