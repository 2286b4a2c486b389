/*
 * examples/greeter/module.c: the greeter as a module for crpc-server.
 *
 *   crpc-server --listen 127.0.0.1:50051 --module ./libgreeter.so
 *
 * The generated GREETER_GREETER_MODULE() macro exports the one function
 * crpc-server looks for, crpc_module_init_v1, which adds the service with
 * these handlers and this user data. A module serving several services
 * writes that function itself with CRPC_MODULE() (see crpc/server.h).
 */
#include "greeter.h"

/* Static: the server reads it for as long as it runs. */
static const greeter_settings settings = {.greeting = "Hello"};

GREETER_GREETER_MODULE(&greeter_handlers, (void *)&settings)
