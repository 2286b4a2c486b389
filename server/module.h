/*
 * server/module.h: loading service modules, the shared objects that
 * `crpc-server --module` serves.
 *
 * A module exports crpc_module_init_v1 (CRPC_MODULE_INIT_SYMBOL, written by
 * the generated <SERVICE>_MODULE() macro or by CRPC_MODULE()), which adds
 * its services through crpc_module_add_service().
 *
 * Unloading: a module is never dlclose()d. Its services point at the
 * module's static descriptors and handler tables, and the server's threads
 * run its code until crpc_server_free() returns; an init may also have
 * started threads or registered callbacks of its own. So a loaded module
 * stays mapped until the process exits, including after a failed init
 * (whatever it added before failing belongs to the server). Loading the
 * same file twice maps it once and runs its init twice, whose second
 * crpc_module_add_service() then fails with CRPC_EALREADY.
 */
#ifndef CRPC_SERVER_MODULE_H
#define CRPC_SERVER_MODULE_H

#include <stddef.h>

#include "crpc/server.h"

/* What a module's init adds to: opaque to modules (crpc/server.h). One
 * per module whose init ran, kept by the server (its |modules| list) until
 * crpc_server_free(). */
struct crpc_module {
  crpc_server *srv; /* borrowed: services go here */
  char *path;       /* as given */
  char **keys;      /* --module-arg KEY=VALUE, split: |n_args| of each */
  char **values;
  size_t n_args;
  crpc_module_hook hook; /* crpc_module_on_shutdown() */
  void *hook_data;
  size_t n_services; /* services added successfully */
  int first_error;   /* first failed crpc_module_add_service(), or 0 */
  char why[256];     /* the server's explanation of that failure, or "" */
  char *init_error;  /* crpc_module_set_error(), or NULL */
  crpc_module *next; /* in the server's list, in load order */
};

/*
 * Loads the shared object at |path| and runs its crpc_module_init_v1 with
 * |srv|, and the |n_args| settings |args| ("KEY=VALUE" each; see
 * crpc_module_arg()). |path| is a file path: a name without a slash means
 * the current directory, never the dynamic linker's search path. Symbols
 * are bound at load (RTLD_NOW), so a module with unresolved references
 * fails here rather than in the middle of a call, and kept local
 * (RTLD_LOCAL), so that two modules defining the same names do not see
 * each other's.
 * Ownership: |path| and |args| are copied; the module stays loaded (see
 * above).
 * Thread: any, before crpc_server_start(|srv|); not concurrently with
 * another load into the same server.
 * Returns 0 once the init succeeded and added at least one service, and
 * then |*n_services| is that count. Else one of these, and |err| (|errlen|
 * bytes, always terminated when |errlen| > 0) holds one line naming
 * |path| and the problem; |*n_services| still counts the services added,
 * which stay with |srv|:
 *   CRPC_ENOTFOUND  |path| does not exist, or exports no init function.
 *   CRPC_EINVAL     the dynamic linker refused it (not a shared object,
 *                   wrong architecture, unresolved symbols), or an
 *                   argument has no '=' or an empty key.
 *   CRPC_ESTATE     the init returned 0 but added no service.
 *   CRPC_ENOMEM     out of memory.
 *   otherwise       the init's nonzero return, or the first error of a
 *                   crpc_module_add_service() it made.
 *
 * libcrpc exports this function for the crpc-server binary only, which
 * links the shared library so that modules and server share one copy of
 * crpc; it is not part of the public API and its header is not installed.
 */
CRPC_EXTERN int crpc__module_load(crpc_server *srv, const char *path,
                                  const char *const *args, size_t n_args,
                                  size_t *n_services, char *err, size_t errlen);

/* Runs every module's shutdown hook for |event|, in load order (server.c,
 * from crpc_server_shutdown() and crpc_server_free()). */
void crpc__modules_notify(crpc_server *srv, crpc_module_event event);

/* Frees the module records of |srv| (the objects stay loaded). */
void crpc__modules_free(crpc_server *srv);

#endif /* CRPC_SERVER_MODULE_H */
