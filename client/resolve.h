/*
 * client/resolve.h: a channel's name lookups (resolve.c), and what of
 * channel.c they drive. All of it runs on the channel's loop thread.
 */
#ifndef CRPC_CLIENT_RESOLVE_H
#define CRPC_CLIENT_RESOLVE_H

#include "client_internal.h"

/* Resolve (resolve.c). */

/* The channel needs its addresses for the first time: a target's literal
 * ones are taken at once, a name is looked up. Nothing once resolved or
 * while a lookup is under way. */
void crpc__channel_resolve(crpc_channel *ch);

/* Every address of |ch| has failed: its name, if it has one, is looked up
 * again soon. */
void crpc__channel_resolve_soon(crpc_channel *ch);

/* The channel (channel.c), for resolve.c. */

/* Starts whatever connections the policy wants and none is under way
 * (resolving first, while the channel has no addresses). */
void crpc__channel_connect_some(crpc_channel *ch);

/* Nonzero when no address is ready, connecting, or left to try now. */
int crpc__channel_is_failing(crpc_channel *ch);

/* Ends the fail-fast calls waiting, and the readiness waiters, with the
 * channel's error. */
void crpc__channel_fail_waiting(crpc_channel *ch);

#endif /* CRPC_CLIENT_RESOLVE_H */
