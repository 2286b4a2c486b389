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

/* What a module's init adds to: opaque to modules (crpc/server.h). */
struct crpc_module {
  crpc_server *srv;  /* borrowed: services go here */
  size_t n_services; /* services added successfully */
  int first_error;   /* first failed crpc_module_add_service(), or 0 */
  char why[256];     /* the server's explanation of that failure, or "" */
};

/*
 * Loads the shared object at |path| and runs its crpc_module_init_v1 with
 * |srv|. |path| is a file path: a name without a slash means the current
 * directory, never the dynamic linker's search path. Symbols are bound at
 * load (RTLD_NOW), so a module with unresolved references fails here rather
 * than in the middle of a call, and kept local (RTLD_LOCAL), so that two
 * modules defining the same names do not see each other's.
 * Ownership: |path| is borrowed; the module stays loaded (see above).
 * Thread: any, before crpc_server_start(|srv|); not concurrently with
 * another load into the same server.
 * Returns 0 once the init succeeded and added at least one service, and
 * then |*n_services| is that count. Else one of these, and |err| (|errlen|
 * bytes, always terminated when |errlen| > 0) holds one line naming
 * |path| and the problem; |*n_services| still counts the services added,
 * which stay with |srv|:
 *   CRPC_ENOTFOUND  |path| does not exist, or exports no init function.
 *   CRPC_EINVAL     the dynamic linker refused it (not a shared object,
 *                   wrong architecture, unresolved symbols).
 *   CRPC_ESTATE     the init returned 0 but added no service.
 *   otherwise       the init's nonzero return, or the first error of a
 *                   crpc_module_add_service() it made.
 *
 * libcrpc exports this function for the crpc-server binary only, which
 * links the shared library so that modules and server share one copy of
 * crpc; it is not part of the public API and its header is not installed.
 */
CRPC_EXTERN int crpc__module_load(crpc_server *srv, const char *path,
                                  size_t *n_services, char *err, size_t errlen);

#endif /* CRPC_SERVER_MODULE_H */
