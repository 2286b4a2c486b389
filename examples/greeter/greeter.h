/*
 * examples/greeter/greeter.h: the greeter's handlers, shared by the module
 * that crpc-server loads (module.c) and the embedded server (main.c).
 */
#ifndef GREETER_H
#define GREETER_H

#include <pthread.h>

#include "greeter.crpc.h" /* generated from greeter.proto */

/* What every call of Greeter can read through crpc_ctx_user_data(): the
 * user data given to greeter_greeter_service() or the module's init.
 * Handlers may run on many threads at once, so they only read it. */
typedef struct greeter_settings {
  const char *greeting; /* "Hello" */
} greeter_settings;

/* Greeter's handler table: one function per method of greeter.proto. */
extern const greeter_greeter_handlers greeter_handlers;

/*
 * The channels Relay calls through, Relay's user data: one per target,
 * made by the first call to that target and kept, since a channel is
 * meant to live long (it connects once and multiplexes every later call).
 * At most GREETER_MAX_PEERS targets; the mutex guards the table, never a
 * call, so no coroutine suspends holding it.
 * Static storage: initialize with GREETER_PEERS_INIT.
 */
#define GREETER_MAX_PEERS 4
typedef struct greeter_peers {
  pthread_mutex_t mu;
  size_t n;
  char *targets[GREETER_MAX_PEERS];
  crpc_channel *channels[GREETER_MAX_PEERS];
} greeter_peers;
#define GREETER_PEERS_INIT                                                     \
  {                                                                            \
    PTHREAD_MUTEX_INITIALIZER, 0, {NULL}, {                                    \
      NULL                                                                     \
    }                                                                          \
  }

/*
 * Frees the channels of |p| and leaves it empty. Calls still using them end
 * CANCELLED, so free the server whose handlers use them first.
 * Thread: any but a channel's loop.
 */
void greeter_peers_cleanup(greeter_peers *p);

/* Relay's handler table; its user data is a greeter_peers. */
extern const greeter_relay_handlers relay_handlers;

#endif /* GREETER_H */
