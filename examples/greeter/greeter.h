/*
 * examples/greeter/greeter.h: the greeter's handlers, shared by the module
 * that crpc-server loads (module.c) and the embedded server (main.c).
 */
#ifndef GREETER_H
#define GREETER_H

#include "greeter.crpc.h" /* generated from greeter.proto */

/* What every call of the service can read through crpc_ctx_user_data():
 * the user data given to greeter_greeter_service() or the module macro.
 * Handlers may run on many threads at once, so they only read it. */
typedef struct greeter_settings {
  const char *greeting; /* "Hello" */
} greeter_settings;

/* The handler table: one function per method of greeter.proto. */
extern const greeter_greeter_handlers greeter_handlers;

#endif /* GREETER_H */
