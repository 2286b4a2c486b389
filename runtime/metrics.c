/*
 * runtime/metrics.c: the registry of crpc/metrics.h: per-method counters
 * found through a table keyed by the crpc_method pointer, the interceptor
 * that adds to them, and their page in Prometheus's text format.
 *
 * The table is read without a lock: its slots are atomic pointers to
 * entries that, once published, stay for the registry's life. A method
 * not in it is added under |mu|, which only adds and growth take; growth
 * publishes a table twice as large holding the same entries, and keeps
 * the old one (a reader may still walk it) until crpc_metrics_free(). A
 * reader that misses in an old table looks again under |mu|, in the
 * current one. Tables stay at most half full, so a probe always ends.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "crpc/error.h"
#include "crpc/metrics.h"
#include "metrics_internal.h"
#include "prom_text.h"

#define N_CODES 17
#define N_BUCKETS 11
#define FIRST_SLOTS 64

/* Upper bounds of the histogram's buckets, in nanoseconds and as the le
 * label writes them (go-grpc-prometheus's, Prometheus's default buckets).
 */
static const int64_t bucket_ns[N_BUCKETS] = {
    5000000,   10000000,   25000000,   50000000,   100000000,  250000000,
    500000000, 1000000000, 2500000000, 5000000000, 10000000000};
static const char *const bucket_le[N_BUCKETS] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
    "0.5",   "1",    "2.5",   "5",    "10"};

/* One side's counters of one method. |le| holds each bucket's own count
 * (not cumulative), the last one the calls above every bound: their sum
 * is the count, so a page's +Inf bucket and _count always agree. */
typedef struct side_counts {
  atomic_uint_fast64_t started;
  atomic_uint_fast64_t handled[N_CODES];
  atomic_uint_fast64_t msg_received, msg_sent;
  atomic_uint_fast64_t le[N_BUCKETS + 1];
  atomic_uint_fast64_t sum_us;
} side_counts;

typedef struct entry {
  const crpc_method *method; /* the key */
  char *service, *name;      /* "pkg.Service", "Method" */
  /* grpc_method="...",grpc_service="...",grpc_type="..." */
  char *labels;
  side_counts side[2]; /* by crpc_side */
} entry;

typedef struct table {
  size_t mask;           /* slots - 1 */
  struct table *retired; /* the tables it replaced */
  _Atomic(entry *) slot[];
} table;

struct crpc_metrics {
  _Atomic(table *) tab;
  uv_mutex_t mu; /* adds and growth; a leaf */
  size_t n;      /* entries, under |mu| */
};

static size_t hash_method(const crpc_method *m) {
  uint64_t h = (uint64_t)(uintptr_t)m * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 32);
}

static table *table_new(size_t slots) {
  table *t = calloc(1, sizeof(*t) + slots * sizeof(t->slot[0]));
  if (!t)
    return NULL;
  t->mask = slots - 1;
  for (size_t i = 0; i < slots; i++)
    atomic_init(&t->slot[i], NULL);
  return t;
}

/* |m|'s entry in |t|, or NULL. Thread: any. */
static entry *table_find(table *t, const crpc_method *m) {
  for (size_t i = hash_method(m) & t->mask;; i = (i + 1) & t->mask) {
    entry *e = atomic_load_explicit(&t->slot[i], memory_order_acquire);
    if (!e || e->method == m)
      return e;
  }
}

/* Publishes |e| in |t|, which has room. Under |mu|. */
static void table_put(table *t, entry *e) {
  size_t i = hash_method(e->method) & t->mask;
  while (atomic_load_explicit(&t->slot[i], memory_order_relaxed))
    i = (i + 1) & t->mask;
  atomic_store_explicit(&t->slot[i], e, memory_order_release);
}

int crpc_metrics_new(crpc_metrics **out) {
  crpc_metrics *m = calloc(1, sizeof(*m));
  table *t = table_new(FIRST_SLOTS);
  if (!m || !t || uv_mutex_init(&m->mu) != 0) {
    free(m);
    free(t);
    return CRPC_ENOMEM;
  }
  atomic_init(&m->tab, t);
  *out = m;
  return 0;
}

static void entry_free(entry *e) {
  free(e->service);
  free(e->name);
  free(e->labels);
  free(e);
}

void crpc_metrics_free(crpc_metrics *m) {
  if (!m)
    return;
  table *t = atomic_load(&m->tab);
  for (size_t i = 0; i <= t->mask; i++) {
    entry *e = atomic_load(&t->slot[i]);
    if (e)
      entry_free(e);
  }
  while (t) {
    table *older = t->retired;
    free(t);
    t = older;
  }
  uv_mutex_destroy(&m->mu);
  free(m);
}

/* A method's labels, made once when it is first seen. */

static const char *type_name(crpc_method_kind kind) {
  switch (kind) {
  case CRPC_METHOD_SERVER_STREAMING:
    return "server_stream";
  case CRPC_METHOD_CLIENT_STREAMING:
    return "client_stream";
  case CRPC_METHOD_BIDI_STREAMING:
    return "bidi_stream";
  default:
    return "unary";
  }
}

/* Splits "/pkg.Service/Method" into its service and method. */
static void split_path(const crpc_method *m, const char **svc, size_t *svc_len,
                       const char **name) {
  const char *p = m->path ? m->path : "";
  if (*p == '/')
    p++;
  const char *slash = strrchr(p, '/');
  *svc = p;
  *svc_len = slash ? (size_t)(slash - p) : strlen(p);
  *name = slash ? slash + 1 : (m->name ? m->name : "");
}

static entry *entry_new(const crpc_method *m) {
  entry *e = calloc(1, sizeof(*e));
  if (!e)
    return NULL;
  e->method = m;
  const char *svc, *name;
  size_t svc_len;
  split_path(m, &svc, &svc_len, &name);
  e->service = strndup(svc, svc_len);
  e->name = strdup(name);
  crpc__buf b;
  crpc__buf_init(&b, SIZE_MAX);
  int rc = crpc__prom_label(&b, "grpc_method", name, strlen(name));
  if (rc == 0)
    rc = crpc__buf_append(&b, ",", 1);
  if (rc == 0)
    rc = crpc__prom_label(&b, "grpc_service", svc, svc_len);
  if (rc == 0)
    rc = crpc__buf_append(&b, ",", 1);
  const char *type = type_name(m->kind);
  if (rc == 0)
    rc = crpc__prom_label(&b, "grpc_type", type, strlen(type));
  if (rc == 0)
    rc = crpc__buf_append(&b, "", 1);
  size_t len;
  e->labels = rc == 0 ? (char *)crpc__buf_detach(&b, &len) : NULL;
  crpc__buf_cleanup(&b);
  if (!e->service || !e->name || !e->labels) {
    entry_free(e);
    return NULL;
  }
  return e;
}

/* Doubles |m|'s table. Under |mu|. Returns the new one, or NULL. */
static table *grow(crpc_metrics *m, table *t) {
  table *bigger = table_new(2 * (t->mask + 1));
  if (!bigger)
    return NULL;
  for (size_t i = 0; i <= t->mask; i++) {
    entry *e = atomic_load_explicit(&t->slot[i], memory_order_relaxed);
    if (e)
      table_put(bigger, e);
  }
  bigger->retired = t;
  atomic_store_explicit(&m->tab, bigger, memory_order_release);
  return bigger;
}

/* |method|'s entry, added if it is new; NULL when memory ran out or the
 * registry is full. Thread: any. */
static entry *find_or_add(crpc_metrics *m, const crpc_method *method) {
  table *t = atomic_load_explicit(&m->tab, memory_order_acquire);
  entry *e = table_find(t, method);
  if (e)
    return e;
  uv_mutex_lock(&m->mu);
  t = atomic_load_explicit(&m->tab, memory_order_relaxed);
  e = table_find(t, method);
  if (!e && m->n < CRPC_METRICS_MAX_METHODS) {
    if (2 * (m->n + 1) > t->mask + 1)
      t = grow(m, t);
    if (t && (e = entry_new(method)) != NULL) {
      table_put(t, e);
      m->n++;
    }
  }
  uv_mutex_unlock(&m->mu);
  return e;
}

/* The interceptor. Its per-call state is the call's entry. */

static void add(atomic_uint_fast64_t *c, uint64_t n) {
  atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static crpc_status on_start(void *data, crpc_icall *call, void *state) {
  const crpc_method *method = crpc_icall_method(call);
  entry *e = method ? find_or_add(data, method) : NULL;
  *(entry **)state = e;
  if (e)
    add(&e->side[crpc_icall_side(call) == CRPC_SIDE_SERVER].started, 1);
  return CRPC_STATUS_OK;
}

static void on_end(void *data, crpc_icall *call, void *state,
                   const crpc_icall_end *end) {
  (void)data;
  entry *e = *(entry **)state;
  if (!e)
    return;
  side_counts *s = &e->side[crpc_icall_side(call) == CRPC_SIDE_SERVER];
  int code = (int)end->code;
  add(&s->handled[code >= 0 && code < N_CODES ? code : CRPC_STATUS_UNKNOWN], 1);
  add(&s->msg_received, end->messages_received);
  add(&s->msg_sent, end->messages_sent);
  int64_t ns = end->duration_ns > 0 ? end->duration_ns : 0;
  size_t b = 0;
  while (b < N_BUCKETS && ns > bucket_ns[b])
    b++;
  add(&s->le[b], 1);
  add(&s->sum_us, (uint64_t)(ns + 500) / 1000);
}

crpc_interceptor crpc_metrics_interceptor(crpc_metrics *m) {
  crpc_interceptor ic = {.data = m,
                         .state_size = sizeof(entry *),
                         .start = on_start,
                         .end = on_end};
  return ic;
}

/* The page. */

static uint64_t get(atomic_uint_fast64_t *c) {
  return atomic_load_explicit(c, memory_order_relaxed);
}

static int entry_cmp(const void *a, const void *b) {
  const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
  int c = strcmp(x->service, y->service);
  if (c == 0)
    c = strcmp(x->name, y->name);
  if (c == 0)
    c = strcmp(x->labels, y->labels);
  return c;
}

/* The entries, sorted; |*n| of them. NULL with |*n| 0 when there are
 * none; NULL with |*n| nonzero when memory ran out. */
static entry **sorted_entries(crpc_metrics *m, size_t *n) {
  uv_mutex_lock(&m->mu);
  table *t = atomic_load_explicit(&m->tab, memory_order_relaxed);
  *n = m->n;
  entry **v = *n ? malloc(*n * sizeof(*v)) : NULL;
  size_t k = 0;
  for (size_t i = 0; v && i <= t->mask; i++) {
    entry *e = atomic_load_explicit(&t->slot[i], memory_order_relaxed);
    if (e)
      v[k++] = e;
  }
  uv_mutex_unlock(&m->mu);
  if (v)
    qsort(v, k, sizeof(*v), entry_cmp);
  return v;
}

/* Makes |l| the label pairs of |e| with |name|="|value|" added, before
 * them (|first|) or after, NUL-terminated: labels are written sorted by
 * name, as Go's client writes them. */
static int labels_plus(crpc__buf *l, const entry *e, const char *name,
                       const char *value, int first) {
  crpc__buf_reset(l);
  int rc = first ? crpc__prom_label(l, name, value, strlen(value))
                 : crpc__buf_append(l, e->labels, strlen(e->labels));
  if (rc == 0)
    rc = crpc__buf_append(l, ",", 1);
  if (rc == 0)
    rc = first ? crpc__buf_append(l, e->labels, strlen(e->labels))
               : crpc__prom_label(l, name, value, strlen(value));
  if (rc == 0)
    rc = crpc__buf_append(l, "", 1);
  return rc;
}

/* What a family writes of one side |s| of one entry |e|; |l| is scratch
 * for labels. */
typedef int (*family_fn)(crpc__buf *b, crpc__buf *l, const char *name,
                         const entry *e, side_counts *s);

static int write_started(crpc__buf *b, crpc__buf *l, const char *name,
                         const entry *e, side_counts *s) {
  (void)l;
  return crpc__prom_sample(b, name, NULL, e->labels, get(&s->started));
}

static int write_handled(crpc__buf *b, crpc__buf *l, const char *name,
                         const entry *e, side_counts *s) {
  int rc = 0;
  for (int code = 0; code < N_CODES && rc == 0; code++) {
    uint64_t v = get(&s->handled[code]);
    if (v == 0)
      continue;
    rc = labels_plus(l, e, "grpc_code", crpc__prom_code_name(code), 1);
    if (rc == 0)
      rc = crpc__prom_sample(b, name, NULL, (char *)crpc__buf_data(l), v);
  }
  return rc;
}

static int write_received(crpc__buf *b, crpc__buf *l, const char *name,
                          const entry *e, side_counts *s) {
  (void)l;
  return crpc__prom_sample(b, name, NULL, e->labels, get(&s->msg_received));
}

static int write_sent(crpc__buf *b, crpc__buf *l, const char *name,
                      const entry *e, side_counts *s) {
  (void)l;
  return crpc__prom_sample(b, name, NULL, e->labels, get(&s->msg_sent));
}

static int write_histogram(crpc__buf *b, crpc__buf *l, const char *name,
                           const entry *e, side_counts *s) {
  uint64_t each[N_BUCKETS + 1], count = 0;
  for (size_t i = 0; i <= N_BUCKETS; i++)
    count += each[i] = get(&s->le[i]);
  if (count == 0)
    return 0;
  uint64_t below = 0;
  int rc = 0;
  for (size_t i = 0; i <= N_BUCKETS && rc == 0; i++) {
    below += each[i];
    rc = labels_plus(l, e, "le", i < N_BUCKETS ? bucket_le[i] : "+Inf", 0);
    if (rc == 0)
      rc = crpc__prom_sample(b, name, "_bucket", (char *)crpc__buf_data(l),
                             below);
  }
  if (rc == 0)
    rc = crpc__prom_sample_micros(b, name, "_sum", e->labels, get(&s->sum_us));
  if (rc == 0)
    rc = crpc__prom_sample(b, name, "_count", e->labels, count);
  return rc;
}

typedef struct family {
  const char *suffix;  /* after grpc_server / grpc_client */
  const char *help[2]; /* client's, server's */
  const char *type;
  family_fn write;
} family;

/* go-grpc-prometheus's families, with its help texts. */
static const family families[] = {
    {"_started_total",
     {"Total number of RPCs started on the client.",
      "Total number of RPCs started on the server."},
     "counter",
     write_started},
    {"_handled_total",
     {"Total number of RPCs completed by the client, regardless of success "
      "or failure.",
      "Total number of RPCs completed on the server, regardless of success "
      "or failure."},
     "counter",
     write_handled},
    {"_msg_received_total",
     {"Total number of RPC stream messages received by the client.",
      "Total number of RPC stream messages received on the server."},
     "counter",
     write_received},
    {"_msg_sent_total",
     {"Total number of gRPC stream messages sent by the client.",
      "Total number of gRPC stream messages sent by the server."},
     "counter",
     write_sent},
    {"_handling_seconds",
     {"Histogram of response latency (seconds) of the gRPC until it is "
      "finished by the application.",
      "Histogram of response latency (seconds) of gRPC that had been "
      "application-level handled by the server."},
     "histogram",
     write_histogram},
};

/* Writes family |f| of |side| over the |n| entries |v|: its HELP and TYPE
 * lines once its first sample is written, none when it has none. */
static int write_family(crpc__buf *b, const family *f, int side, entry **v,
                        size_t n) {
  char name[64];
  snprintf(name, sizeof(name), "grpc_%s%s", side ? "server" : "client",
           f->suffix);
  size_t mark = crpc__buf_len(b);
  int rc = crpc__prom_family(b, name, f->help[side], f->type);
  size_t head = crpc__buf_len(b);
  crpc__buf l;
  crpc__buf_init(&l, SIZE_MAX);
  for (size_t i = 0; i < n && rc == 0; i++) {
    side_counts *s = &v[i]->side[side];
    if (get(&s->started) != 0)
      rc = f->write(b, &l, name, v[i], s);
  }
  crpc__buf_cleanup(&l);
  if (rc == 0 && crpc__buf_len(b) == head)
    crpc__buf_truncate(b, mark);
  return rc;
}

int crpc__metrics_render(crpc_metrics *m, crpc__buf *out) {
  size_t n;
  entry **v = sorted_entries(m, &n);
  if (!v && n)
    return CRPC_ENOMEM;
  int rc = 0;
  for (int side = 1; side >= 0 && rc == 0; side--)
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]) && rc == 0;
         f++)
      rc = write_family(out, &families[f], side, v, n);
  free(v);
  return rc;
}

int crpc_metrics_text(crpc_metrics *m, char **text, size_t *len) {
  crpc__buf b;
  crpc__buf_init(&b, CRPC__METRICS_TEXT_MAX);
  int rc = crpc__metrics_render(m, &b);
  if (rc == 0)
    rc = crpc__buf_append(&b, "", 1);
  if (rc != 0) {
    crpc__buf_cleanup(&b);
    return rc;
  }
  size_t n;
  *text = (char *)crpc__buf_detach(&b, &n);
  *len = n - 1;
  return 0;
}
