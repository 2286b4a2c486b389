/*
 * tests/client/dns_suite.c: a channel to a name whose addresses change.
 *
 * run-fault-tests.py (group dns) starts crpc-servers with the test and
 * compose modules on 127.0.0.2 (A), 127.0.0.3 (B) and, for some tests,
 * 127.0.0.4 (C), all on one port, and runs one test of this suite at a
 * time in a mount namespace of its own whose /etc/hosts is the file
 * DNS_HOSTS, bind-mounted. glibc reads /etc/hosts on every lookup, so
 * rewriting that file (in place: the mount holds its inode) changes what
 * DNS_NAME resolves to, for this process only. Servers are told apart by
 * Compose.Whoami, which answers with the server's pid (FAULT_PID_*).
 *
 * A thread calls Whoami without pause while the test rewrites the file:
 * no call may fail, calls that start once the channel has taken the new
 * answer (its "now resolves to" log line) go only to the new addresses,
 * and server streams running on an address that goes away end normally.
 * Measured times and counts are printed on stderr.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compose.crpc.h"
#include "crpc/call.h"
#include "crpc/channel.h"
#include "crpc/deadline.h"
#include "crpc/error.h"
#include "driver.h"
#include "server_test.crpc.h"

#define RESOLVE_MS 200 /* the re-resolution period of most tests */
#define SWITCH_MS 5000 /* a change is followed within this */

/* The name. */

/* Fails unless /etc/hosts is DNS_HOSTS: outside the driver's namespace a
 * test would rewrite nothing the lookups read. */
static void check_namespace(void) {
  struct stat mine, etc;
  cr_assert_eq(stat(env("DNS_HOSTS"), &mine), 0);
  cr_assert_eq(stat("/etc/hosts", &etc), 0);
  cr_assert(mine.st_dev == etc.st_dev && mine.st_ino == etc.st_ino,
            "/etc/hosts is not %s: run the suite through run-fault-tests.py "
            "--group dns, which mounts it in a namespace of the test's own",
            env("DNS_HOSTS"));
}

/* Makes DNS_NAME resolve to the servers |which| names ("AB": A and B,
 * "": nothing), with one write, so that a lookup sees the old file, an
 * empty one or the new one. */
static void set_hosts(const char *which) {
  char text[512];
  int n = snprintf(text, sizeof(text), "127.0.0.1 localhost\n");
  for (const char *w = which; *w; w++) {
    char var[16];
    snprintf(var, sizeof(var), "DNS_ADDR_%c", *w);
    n += snprintf(text + n, sizeof(text) - (size_t)n, "%s %s\n", env(var),
                  env("DNS_NAME"));
  }
  int fd = open(env("DNS_HOSTS"), O_WRONLY | O_TRUNC);
  cr_assert_geq(fd, 0, "cannot open %s", env("DNS_HOSTS"));
  cr_assert_eq(write(fd, text, (size_t)n), n);
  close(fd);
  fprintf(stderr, "dns: %s now names {%s}\n", env("DNS_NAME"), which);
}

static int32_t pid_of(char server) {
  char var[16];
  snprintf(var, sizeof(var), "FAULT_PID_%c", server);
  return atoi(env(var));
}

/* What the channel logs: when it took a new answer, failed lookups, and
 * which connections closed. Written on the channel's loop. */
typedef struct watch {
  pthread_mutex_t mu;
  int answers;         /* "now resolves to" lines */
  int64_t answered_ns; /* crpc_now_ns() when it logged the last */
  int lookup_failures; /* "cannot resolve" lines */
  char closed[64][48]; /* the addresses of connections that closed */
  int n_closed;
} watch;

static void on_log(crpc_log_level level, const char *msg, void *data) {
  watch *w = data;
  pthread_mutex_lock(&w->mu);
  if (strstr(msg, " now resolves to ") != NULL) {
    w->answers++;
    w->answered_ns = crpc_now_ns();
  }
  w->lookup_failures += strstr(msg, "cannot resolve") != NULL;
  const char *c = strstr(msg, ": closed: ");
  if (c != NULL && w->n_closed < 64) {
    snprintf(w->closed[w->n_closed], sizeof(w->closed[0]), "%.*s",
             (int)(c - msg), msg);
    w->n_closed++;
  }
  pthread_mutex_unlock(&w->mu);
  if (level >= CRPC_LOG_INFO)
    fprintf(stderr, "dns: channel: %s\n", msg);
}

static int answers(watch *w) {
  pthread_mutex_lock(&w->mu);
  int n = w->answers;
  pthread_mutex_unlock(&w->mu);
  return n;
}

static int lookup_failures(watch *w) {
  pthread_mutex_lock(&w->mu);
  int n = w->lookup_failures;
  pthread_mutex_unlock(&w->mu);
  return n;
}

/* Waits until the channel has taken an answer after the first |seen|;
 * returns when (crpc_now_ns()): a call that starts later starts with the
 * new addresses. */
static int64_t next_answer(watch *w, int seen) {
  int64_t end = now_ms() + SWITCH_MS;
  for (;;) {
    pthread_mutex_lock(&w->mu);
    int n = w->answers;
    int64_t at = w->answered_ns;
    pthread_mutex_unlock(&w->mu);
    if (n > seen)
      return at;
    cr_assert_lt(now_ms(), end, "the channel took no new answer in %d ms",
                 SWITCH_MS);
    sleep_ms(10);
  }
}

/* Whether a connection to the address of |server| has closed. */
static int closed_to(watch *w, char server) {
  char var[16], addr[64];
  snprintf(var, sizeof(var), "DNS_ADDR_%c", server);
  snprintf(addr, sizeof(addr), "%s:%s", env(var), env("DNS_PORT"));
  pthread_mutex_lock(&w->mu);
  int found = 0;
  for (int i = 0; i < w->n_closed && !found; i++)
    found = strcmp(w->closed[i], addr) == 0;
  pthread_mutex_unlock(&w->mu);
  return found;
}

static crpc_channel *open_channel(crpc_lb_policy lb, uint32_t resolve_ms,
                                  watch *w) {
  crpc_channel_opts opts;
  crpc_channel *ch = NULL;
  char target[320];

  crpc_channel_opts_init(&opts);
  opts.lb_policy = lb;
  opts.backoff_initial_ms = 100;
  opts.backoff_max_ms = 300;
  opts.resolve_interval_ms = resolve_ms;
  memset(w, 0, sizeof(*w));
  pthread_mutex_init(&w->mu, NULL);
  opts.logger.level = CRPC_LOG_DEBUG;
  opts.logger.level_set = 1;
  opts.logger.fn = on_log;
  opts.logger.user_data = w;
  snprintf(target, sizeof(target), "dns:///%s:%s", env("DNS_NAME"),
           env("DNS_PORT"));
  int rc = crpc_channel_new(target, &opts, &ch);
  cr_assert_eq(rc, 0, "crpc_channel_new(%s): %s", target, crpc_strerror(rc));
  return ch;
}

/* Calls. */

/* One Whoami call: its status, and the pid that answered (0 if none). */
static crpc_status whoami(crpc_channel *ch, int wait_for_ready,
                          int64_t timeout_ms, int32_t *pid, char *why,
                          size_t cap) {
  Crpc__Composetest__WhoamiReq req = CRPC__COMPOSETEST__WHOAMI_REQ__INIT;
  Crpc__Composetest__WhoamiRep *rep = NULL;
  crpc_status_info si;
  crpc_call_opts opts = {.timeout_ms = timeout_ms,
                         .wait_for_ready = wait_for_ready,
                         .status_out = &si};

  crpc_status_info_init(&si);
  crpc_status st = crpc_composetest_compose_whoami(ch, &req, &rep, &opts);
  *pid = rep != NULL ? rep->pid : 0;
  if (why != NULL)
    snprintf(why, cap, "%s: %s", crpc_status_name(st),
             si.message != NULL ? si.message : "");
  if (rep != NULL)
    crpc__composetest__whoami_rep__free_unpacked(rep, NULL);
  crpc_status_info_cleanup(&si);
  return st;
}

/* A thread that calls Whoami over and over, fail-fast, and keeps when
 * each call started and who answered it. */
typedef struct answer {
  int64_t start_ns;
  int32_t pid;
} answer;

typedef struct load {
  crpc_channel *ch;
  pthread_t thread;
  atomic_int stop;
  pthread_mutex_t mu;
  answer *log;
  size_t n, cap;
  int failed;
  char first_failure[400];
} load;

static void *load_run(void *arg) {
  load *l = arg;
  while (!atomic_load(&l->stop)) {
    char why[360];
    int32_t pid;
    int64_t start = crpc_now_ns();
    crpc_status st = whoami(l->ch, 0, 5000, &pid, why, sizeof(why));
    pthread_mutex_lock(&l->mu);
    if (st != CRPC_STATUS_OK && l->failed++ == 0)
      snprintf(l->first_failure, sizeof(l->first_failure),
               "a call started at %lld ns failed: %s", (long long)start, why);
    if (st == CRPC_STATUS_OK && l->n == l->cap) {
      l->cap = l->cap ? 2 * l->cap : 1024;
      l->log = realloc(l->log, l->cap * sizeof(*l->log));
    }
    if (st == CRPC_STATUS_OK && l->log != NULL)
      l->log[l->n++] = (answer){start, pid};
    pthread_mutex_unlock(&l->mu);
    sleep_ms(3);
  }
  return NULL;
}

static void load_start(load *l, crpc_channel *ch) {
  memset(l, 0, sizeof(*l));
  l->ch = ch;
  pthread_mutex_init(&l->mu, NULL);
  cr_assert_eq(pthread_create(&l->thread, NULL, load_run, l), 0);
}

static void expect_no_failure(load *l) {
  pthread_mutex_lock(&l->mu);
  int failed = l->failed;
  char why[400];
  snprintf(why, sizeof(why), "%s", l->first_failure);
  pthread_mutex_unlock(&l->mu);
  cr_assert_eq(failed, 0, "%d calls failed; the first: %s", failed, why);
}

/* Stops the thread; every one of its calls must have succeeded. */
static void load_stop(load *l) {
  atomic_store(&l->stop, 1);
  pthread_join(l->thread, NULL);
  fprintf(stderr, "dns: %zu calls, %d failed\n", l->n, l->failed);
  expect_no_failure(l);
  free(l->log);
}

/* How many calls that started after |since| (ns) |server| answered, and
 * in |*others| how many another did. */
static int answered_by(load *l, int64_t since, char server, int *others) {
  int32_t pid = pid_of(server);
  int mine = 0, rest = 0;
  pthread_mutex_lock(&l->mu);
  for (size_t i = 0; i < l->n; i++) {
    if (l->log[i].start_ns <= since)
      continue;
    if (l->log[i].pid == pid)
      mine++;
    else
      rest++;
  }
  pthread_mutex_unlock(&l->mu);
  if (others != NULL)
    *others = rest;
  return mine;
}

/* Waits until |server| has answered a call that started after |since|
 * (ns); returns how long after |since| it had (ms). */
static int64_t until_answered_by(load *l, int64_t since, char server) {
  int64_t end = now_ms() + SWITCH_MS;
  while (answered_by(l, since, server, NULL) == 0) {
    expect_no_failure(l);
    cr_assert_lt(now_ms(), end, "server %c answered no call within %d ms",
                 server, SWITCH_MS);
    sleep_ms(1);
  }
  return (crpc_now_ns() - since) / 1000000;
}

/* Every call that started after |since| (ns) went to |server|, after the
 * calls of the next |ms|. */
static void only_answered_by(load *l, int64_t since, char server, int ms) {
  int others;
  sleep_ms(ms);
  int mine = answered_by(l, since, server, &others);
  fprintf(stderr, "dns: since the answer: %d calls to %c, %d to others\n", mine,
          server, others);
  cr_assert_gt(mine, 0);
  cr_assert_eq(others, 0, "%d calls went to an address the name had lost",
               others);
  expect_no_failure(l);
}

/* Server streams that run across a change: STREAM_MSGS replies each,
 * STREAM_GAP_MS apart. */
#define STREAMS 3
#define STREAM_MSGS 12
#define STREAM_GAP_MS 150

typedef crpc_servertest_loop_test_server_stream_reader reader;

typedef struct streams {
  reader *r[STREAMS];
} streams;

/* Starts the streams and reads the first reply of each, so that they run
 * on a connection of the addresses the channel has now. */
static void streams_start(crpc_channel *ch, streams *s) {
  for (int i = 0; i < STREAMS; i++) {
    Crpc__Servertest__Req req = CRPC__SERVERTEST__REQ__INIT;
    Crpc__Servertest__Rep *m = NULL;
    crpc_call_opts opts = {.timeout_ms = 30000};
    req.name = "stream";
    req.count = STREAM_MSGS;
    req.sleep_ms = STREAM_GAP_MS;
    crpc_status st =
        crpc_servertest_loop_test_server_stream(ch, &req, &s->r[i], &opts);
    cr_assert_eq(st, CRPC_STATUS_OK, "ServerStream: %s", crpc_status_name(st));
    st = crpc_servertest_loop_test_server_stream_read(s->r[i], &m);
    cr_assert_eq(st, CRPC_STATUS_OK, "first reply: %s", crpc_status_name(st));
    cr_assert_not_null(m);
    cr_assert_eq(m->count, 0);
    crpc__servertest__rep__free_unpacked(m, NULL);
  }
}

/* Reads the streams to their end: every reply, and OK. */
static void streams_finish(streams *s) {
  for (int i = 0; i < STREAMS; i++) {
    int n = 1;
    for (;;) {
      Crpc__Servertest__Rep *m = NULL;
      crpc_status st =
          crpc_servertest_loop_test_server_stream_read(s->r[i], &m);
      cr_assert_eq(st, CRPC_STATUS_OK, "stream %d after %d replies: %s", i, n,
                   crpc_status_name(st));
      if (m == NULL)
        break;
      cr_assert_eq(m->count, n);
      crpc__servertest__rep__free_unpacked(m, NULL);
      n++;
    }
    cr_assert_eq(n, STREAM_MSGS);
    crpc_status st = crpc_servertest_loop_test_server_stream_finish(s->r[i]);
    cr_assert_eq(st, CRPC_STATUS_OK, "stream %d: %s", i, crpc_status_name(st));
    crpc_servertest_loop_test_server_stream_free(s->r[i]);
  }
  fprintf(stderr, "dns: %d streams ended OK with %d replies each\n", STREAMS,
          STREAM_MSGS);
}

/* Waits until a connection to |server| has closed (its streams over). */
static void until_closed(watch *w, char server) {
  int64_t end = now_ms() + SWITCH_MS;
  while (!closed_to(w, server)) {
    cr_assert_lt(now_ms(), end,
                 "the connection to %c did not close once its calls ended",
                 server);
    sleep_ms(10);
  }
}

TestSuite(dns, .timeout = 60);

/* A -> B (streams on A) -> A+B -> A (streams on both or on B). */
static void follows(crpc_lb_policy lb) {
  int pick_first = lb == CRPC_LB_PICK_FIRST;
  watch w;
  load l;
  streams s;
  int seen;
  int64_t at;

  check_namespace();
  set_hosts("A");
  crpc_channel *ch = open_channel(lb, RESOLVE_MS, &w);
  load_start(&l, ch);
  until_answered_by(&l, 0, 'A');

  streams_start(ch, &s);
  seen = answers(&w);
  set_hosts("B");
  at = next_answer(&w, seen);
  fprintf(stderr, "dns: B answered within %lld ms of the new answer\n",
          (long long)until_answered_by(&l, at, 'B'));
  only_answered_by(&l, at, 'B', 300);
  streams_finish(&s);
  until_closed(&w, 'A');

  seen = answers(&w);
  set_hosts("AB");
  at = next_answer(&w, seen);
  if (pick_first) {
    /* B is still in the answer: the channel stays on it. */
    only_answered_by(&l, at, 'B', 1000);
  } else {
    until_answered_by(&l, at, 'A');
    sleep_ms(300);
    int64_t both = crpc_now_ns();
    sleep_ms(300);
    int on_b, on_a = answered_by(&l, both, 'A', &on_b);
    fprintf(stderr, "dns: round robin over A+B: %d calls to A, %d to B\n", on_a,
            on_b);
    cr_assert(on_a > 0 && on_b > 0);
  }

  streams_start(ch, &s);
  seen = answers(&w);
  set_hosts("A");
  at = next_answer(&w, seen);
  until_answered_by(&l, at, 'A');
  only_answered_by(&l, at, 'A', 300);
  streams_finish(&s);
  until_closed(&w, 'B');

  load_stop(&l);
  crpc_channel_free(ch);
}

Test(dns, pick_first) {
  SELECT("pick_first");
  follows(CRPC_LB_PICK_FIRST);
}

Test(dns, round_robin) {
  SELECT("round_robin");
  follows(CRPC_LB_ROUND_ROBIN);
}

/* No lookup on a timer; every address failing makes the channel look the
 * name up at once, and a dead name no more than once a second. */
Test(dns, all_failed) {
  SELECT("all_failed");
  watch w;
  int32_t pid;
  char why[400];

  check_namespace();
  set_hosts("AB");
  crpc_channel *ch =
      open_channel(CRPC_LB_PICK_FIRST, CRPC_RESOLVE_INTERVAL_OFF, &w);
  cr_assert_eq(whoami(ch, 1, 10000, &pid, why, sizeof(why)), CRPC_STATUS_OK,
               "%s", why);
  cr_assert(pid == pid_of('A') || pid == pid_of('B'));

  set_hosts("C");
  sleep_ms(800);
  cr_assert_eq(whoami(ch, 0, 5000, &pid, why, sizeof(why)), CRPC_STATUS_OK,
               "%s", why);
  cr_assert(pid == pid_of('A') || pid == pid_of('B'),
            "looked up on a timer with the timer off");
  cr_assert_eq(answers(&w), 0);

  ctl_do("kill-ab");
  int64_t t0 = now_ms();
  cr_assert_eq(whoami(ch, 1, 10000, &pid, why, sizeof(why)), CRPC_STATUS_OK,
               "%s", why);
  int64_t took = now_ms() - t0;
  fprintf(stderr, "dns: A and B killed: C answered after %lld ms\n",
          (long long)took);
  cr_assert_eq(pid, pid_of('C'));
  cr_assert_lt(took, 5000);
  cr_assert_eq(answers(&w), 1);

  /* The name goes away with its last server: the channel keeps C and
   * looks again as C keeps failing, at most once a second. */
  set_hosts("");
  ctl_do("kill-c");
  int before = lookup_failures(&w);
  t0 = now_ms();
  crpc_status st = whoami(ch, 1, 3000, &pid, why, sizeof(why));
  int64_t waited = now_ms() - t0;
  int looked = lookup_failures(&w) - before;
  fprintf(stderr, "dns: dead name: %s after %lld ms, %d failed lookups\n", why,
          (long long)waited, looked);
  cr_assert_eq(st, CRPC_STATUS_DEADLINE_EXCEEDED, "%s", why);
  cr_assert_geq(looked, 1);
  cr_assert_leq(looked, (int)(waited / 1000) + 2);
  crpc_channel_free(ch);
}
