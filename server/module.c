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
#include "server_internal.h"

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

const char *crpc_module_arg(const crpc_module *m, const char *key) {
  for (size_t i = m->n_args; i-- > 0;)
    if (strcmp(m->keys[i], key) == 0)
      return m->values[i];
  return NULL;
}

size_t crpc_module_arg_count(const crpc_module *m) {
  return m->n_args;
}

int crpc_module_arg_at(const crpc_module *m, size_t i, const char **key,
                       const char **value) {
  if (i >= m->n_args)
    return CRPC_ENOTFOUND;
  *key = m->keys[i];
  *value = m->values[i];
  return 0;
}

const char *crpc_module_path(const crpc_module *m) {
  return m->path;
}

crpc_server *crpc_module_server(crpc_module *m) {
  return m->srv;
}

int crpc_module_add_interceptor(crpc_module *m, const crpc_interceptor *ic) {
  return crpc_server_add_interceptor(m->srv, ic);
}

int crpc_module_set_error(crpc_module *m, const char *message) {
  char *copy = strdup(message ? message : "");
  if (copy == NULL)
    return CRPC_ENOMEM;
  free(m->init_error);
  m->init_error = copy;
  return 0;
}

int crpc_module_on_shutdown(crpc_module *m, crpc_module_hook fn,
                            void *user_data) {
  if (fn == NULL)
    return CRPC_EINVAL;
  m->hook = fn;
  m->hook_data = user_data;
  return 0;
}

void crpc__modules_notify(crpc_server *srv, crpc_module_event event) {
  for (crpc_module *m = srv->modules; m; m = m->next)
    if (m->hook)
      m->hook(m, event, m->hook_data);
}

static void module_free(crpc_module *m) {
  for (size_t i = 0; i < m->n_args; i++) {
    free(m->keys[i]);
    free(m->values[i]);
  }
  free(m->keys);
  free(m->values);
  free(m->path);
  free(m->init_error);
  free(m);
}

void crpc__modules_free(crpc_server *srv) {
  for (crpc_module *m = srv->modules, *n; m; m = n) {
    n = m->next;
    module_free(m);
  }
  srv->modules = NULL;
}

/* A record for |path| with its |args| split at their first '='. Returns
 * it, or NULL with |*rc| and |err| set. */
static crpc_module *module_new(crpc_server *srv, const char *path,
                               const char *const *args, size_t n_args, int *rc,
                               char *err, size_t errlen);

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

static crpc_module *module_new(crpc_server *srv, const char *path,
                               const char *const *args, size_t n_args, int *rc,
                               char *err, size_t errlen) {
  crpc_module *m = calloc(1, sizeof(*m));
  *rc = CRPC_ENOMEM;
  if (m == NULL)
    goto fail;
  m->srv = srv;
  m->path = strdup(path);
  m->keys = calloc(n_args ? n_args : 1, sizeof(*m->keys));
  m->values = calloc(n_args ? n_args : 1, sizeof(*m->values));
  if (m->path == NULL || m->keys == NULL || m->values == NULL)
    goto fail;
  for (; m->n_args < n_args; m->n_args++) {
    const char *a = args[m->n_args], *eq = strchr(a, '=');
    if (eq == NULL || eq == a) {
      *rc = CRPC_EINVAL;
      set_error(err, errlen, "module %s: argument '%s' is not KEY=VALUE", path,
                a);
      goto fail;
    }
    m->keys[m->n_args] = strndup(a, (size_t)(eq - a));
    m->values[m->n_args] = strdup(eq + 1);
    if (m->keys[m->n_args] == NULL || m->values[m->n_args] == NULL) {
      m->n_args++; /* freed with the rest */
      goto fail;
    }
  }
  *rc = 0;
  return m;

fail:
  if (*rc == CRPC_ENOMEM)
    set_error(err, errlen, "module %s: %s", path, crpc_strerror(CRPC_ENOMEM));
  if (m != NULL)
    module_free(m);
  return NULL;
}

/* Names an init's nonzero return |rc|: a crpc error by its name and text,
 * anything else as the number it is (-1 is no errno). */
static void describe_return(int rc, char *out, size_t len) {
  const char *name = crpc_err_name(rc);
  if (strncmp(name, "CRPC_", 5) == 0)
    snprintf(out, len, "failed: %s (%s)", name, crpc_strerror(rc));
  else
    snprintf(out, len, "returned %d", rc);
}

/* Runs the init and turns its outcome into a return code and message. A
 * failed add explains an init failure best: the generated init returns
 * what crpc_module_add_service() did. */
static int run_init(crpc_module_init_fn init, crpc_module *m, const char *path,
                    char *err, size_t errlen) {
  int rc = init(m);
  char what[128];

  if (m->first_error != 0) {
    set_error(err, errlen, "module %s: adding a service failed: %s", path,
              m->why[0] != '\0' ? m->why : crpc_strerror(m->first_error));
    return rc != 0 ? rc : m->first_error;
  }
  if (rc != 0) {
    if (m->init_error != NULL && m->init_error[0] != '\0')
      set_error(err, errlen, "module %s: %s failed: %s", path,
                CRPC_MODULE_INIT_SYMBOL, m->init_error);
    else {
      describe_return(rc, what, sizeof(what));
      set_error(err, errlen, "module %s: %s %s", path, CRPC_MODULE_INIT_SYMBOL,
                what);
    }
    return rc;
  }
  if (m->n_services == 0) {
    set_error(err, errlen, "module %s: %s added no services", path,
              CRPC_MODULE_INIT_SYMBOL);
    return CRPC_ESTATE;
  }
  return 0;
}

int crpc__module_load(crpc_server *srv, const char *path,
                      const char *const *args, size_t n_args,
                      size_t *n_services, char *err, size_t errlen) {
  crpc_module_init_fn init;
  crpc_module *m;
  char *file;
  void *handle;
  int rc;

  if (err != NULL && errlen > 0)
    err[0] = '\0';
  *n_services = 0;
  m = module_new(srv, path, args, n_args, &rc, err, errlen);
  if (m == NULL)
    return rc;
  file = file_path(path);
  if (file == NULL) {
    set_error(err, errlen, "module %s: %s", path, crpc_strerror(CRPC_ENOMEM));
    module_free(m);
    return CRPC_ENOMEM;
  }
  handle = open_object(file, path, &rc, err, errlen);
  free(file);
  init = handle != NULL ? find_init(handle, path, err, errlen) : NULL;
  if (init == NULL) {
    module_free(m);
    return handle != NULL ? CRPC_ENOTFOUND : rc;
  }
  /* From here the server keeps the record: the init may have kept the
   * handle or registered a hook, whatever it returns. */
  crpc_module **tail = &srv->modules;
  while (*tail)
    tail = &(*tail)->next;
  *tail = m;
  rc = run_init(init, m, path, err, errlen);
  *n_services = m->n_services;
  return rc;
}
