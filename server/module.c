/* server/module.c: loading the shared objects crpc-server --module serves. */
#include "module.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "crpc/error.h"

int crpc_module_add_service(crpc_module *m, crpc_service *svc) {
  int rc;

  if (svc == NULL)
    rc = CRPC_ENOMEM;
  else
    rc = crpc_server_add_service(m->srv, svc);
  if (rc == 0) {
    m->n_services++;
  } else if (m->first_error == 0) {
    m->first_error = rc;
    if (svc != NULL)
      snprintf(m->why, sizeof(m->why), "%s", crpc_server_error(m->srv));
  }
  return rc;
}

/* Formats one line into |err|, folding any line breaks a dynamic linker
 * message may carry into spaces. */
static void set_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;

  if (err == NULL || errlen == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  for (char *p = err; *p != '\0'; p++) {
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  }
}

/* |path| as dlopen() should see it: "./name" for a bare name, so that the
 * file is looked up where the user means and not on the library path.
 * Caller frees with free(); NULL when out of memory. */
static char *file_path(const char *path) {
  const char *prefix = strchr(path, '/') != NULL ? "" : "./";
  size_t n = strlen(prefix) + strlen(path) + 1;
  char *out = malloc(n);

  if (out != NULL)
    snprintf(out, n, "%s%s", prefix, path);
  return out;
}

/* Maps the object; it is never closed (see module.h). Returns the handle,
 * or NULL with |*rc| and |err| set. */
static void *open_object(const char *file, const char *path, int *rc, char *err,
                         size_t errlen) {
  struct stat st;
  void *handle;

  if (stat(file, &st) != 0) {
    *rc = CRPC_ENOTFOUND;
    set_error(err, errlen, "module %s: %s", path,
              crpc_strerror(uv_translate_sys_error(errno)));
    return NULL;
  }
  handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
  if (handle == NULL) {
    const char *why = dlerror();
    size_t n = strlen(file);
    /* glibc starts with the file name, which the line already has. */
    if (why != NULL && strncmp(why, file, n) == 0 &&
        strncmp(why + n, ": ", 2) == 0)
      why += n + 2;
    *rc = CRPC_EINVAL;
    set_error(err, errlen, "module %s: cannot be loaded: %s", path,
              why != NULL ? why : "unknown dynamic linker error");
  }
  return handle;
}

/* The module's init function, or NULL with |err| set. */
static crpc_module_init_fn find_init(void *handle, const char *path, char *err,
                                     size_t errlen) {
  crpc_module_init_fn init;
  void *sym;

  dlerror();
  sym = dlsym(handle, CRPC_MODULE_INIT_SYMBOL);
  if (sym == NULL) {
    set_error(err, errlen,
              "module %s: exports no %s (define it with the generated "
              "<SERVICE>_MODULE() macro or CRPC_MODULE())",
              path, CRPC_MODULE_INIT_SYMBOL);
    return NULL;
  }
  /* POSIX guarantees that a dlsym() result converts to a function
   * pointer; ISO C does not, hence the copy instead of a cast. */
  memcpy(&init, &sym, sizeof(init));
  return init;
}

/* Runs the init and turns its outcome into a return code and message. A
 * failed add explains an init failure best: the generated init returns
 * what crpc_module_add_service() did. */
static int run_init(crpc_module_init_fn init, crpc_module *m, const char *path,
                    char *err, size_t errlen) {
  int rc = init(m);

  if (m->first_error != 0) {
    set_error(err, errlen, "module %s: adding a service failed: %s", path,
              m->why[0] != '\0' ? m->why : crpc_strerror(m->first_error));
    return rc != 0 ? rc : m->first_error;
  }
  if (rc != 0) {
    set_error(err, errlen, "module %s: %s failed: %s", path,
              CRPC_MODULE_INIT_SYMBOL, crpc_strerror(rc));
    return rc;
  }
  if (m->n_services == 0) {
    set_error(err, errlen, "module %s: %s added no services", path,
              CRPC_MODULE_INIT_SYMBOL);
    return CRPC_ESTATE;
  }
  return 0;
}

int crpc__module_load(crpc_server *srv, const char *path, size_t *n_services,
                      char *err, size_t errlen) {
  crpc_module m = {.srv = srv};
  crpc_module_init_fn init;
  char *file;
  void *handle;
  int rc;

  if (err != NULL && errlen > 0)
    err[0] = '\0';
  *n_services = 0;
  file = file_path(path);
  if (file == NULL) {
    set_error(err, errlen, "module %s: %s", path, crpc_strerror(CRPC_ENOMEM));
    return CRPC_ENOMEM;
  }
  handle = open_object(file, path, &rc, err, errlen);
  free(file);
  if (handle == NULL)
    return rc;
  init = find_init(handle, path, err, errlen);
  if (init == NULL)
    return CRPC_ENOTFOUND;
  rc = run_init(init, &m, path, err, errlen);
  *n_services = m.n_services;
  return rc;
}
