/*
 * Calls wktcheck.Clock at TARGET with the generated blocking stubs and
 * checks each answer against this machine's clocks:
 *   Now       a valid Timestamp between the client's readings before and
 *             after the call;
 *   TimeLeft  with a 30 s deadline made from a Duration: more than 0 and
 *             at most 30 s;
 *   Stamp     the name back, stamped about 90 s from now.
 * Exits 0 when all three are right, 1 otherwise, 2 on a bad command line.
 */
#include <crpc/channel.h>
#include <crpc/error.h>
#include <crpc/wkt.h>
#include <stdio.h>
#include <string.h>

#include "clock.crpc.h"

#define NS_PER_S INT64_C(1000000000)
#define SLACK_NS NS_PER_S /* for clocks read a moment apart */

static int64_t ns_of(const Google__Protobuf__Timestamp *t) {
  return t->seconds * NS_PER_S + t->nanos;
}

/* The client's wall clock in nanoseconds, or -1. */
static int64_t wall_ns(void) {
  Google__Protobuf__Timestamp t;
  return crpc_timestamp_now(&t) == 0 ? ns_of(&t) : -1;
}

static int check_now(crpc_channel *ch) {
  Google__Protobuf__Empty req = GOOGLE__PROTOBUF__EMPTY__INIT;
  Google__Protobuf__Timestamp *reply = NULL;
  crpc_call_opts opts = {.timeout_ms = 10000};
  struct timespec ts;

  int64_t before = wall_ns();
  crpc_status st = wktcheck_clock_now(ch, &req, &reply, &opts);
  int64_t after = wall_ns();
  if (st != CRPC_STATUS_OK) {
    printf("FAIL Now: %s\n", crpc_status_name(st));
    return 0;
  }
  int ok = crpc_timestamp_to_timespec(reply, &ts) == 0 &&
           ns_of(reply) >= before - SLACK_NS &&
           ns_of(reply) <= after + SLACK_NS;
  printf("%s Now: %lld.%09d, the client read %lld.%09d before\n",
         ok ? "ok  " : "FAIL", (long long)reply->seconds, (int)reply->nanos,
         (long long)(before / NS_PER_S), (int)(before % NS_PER_S));
  google__protobuf__timestamp__free_unpacked(reply, NULL);
  return ok;
}

static int check_time_left(crpc_channel *ch) {
  Google__Protobuf__Empty req = GOOGLE__PROTOBUF__EMPTY__INIT;
  Google__Protobuf__Duration timeout = GOOGLE__PROTOBUF__DURATION__INIT;
  Google__Protobuf__Duration *reply = NULL;
  crpc_call_opts opts = {0};

  timeout.seconds = 30;
  if (crpc_duration_to_deadline(&timeout, &opts.deadline) != 0) {
    printf("FAIL TimeLeft: crpc_duration_to_deadline\n");
    return 0;
  }
  crpc_status st = wktcheck_clock_time_left(ch, &req, &reply, &opts);
  if (st != CRPC_STATUS_OK) {
    printf("FAIL TimeLeft: %s\n", crpc_status_name(st));
    return 0;
  }
  int64_t left = reply->seconds * NS_PER_S + reply->nanos;
  int ok = left > 0 && left <= 30 * NS_PER_S && reply->nanos >= 0;
  printf("%s TimeLeft: %lld.%09d s of a 30 s deadline\n", ok ? "ok  " : "FAIL",
         (long long)reply->seconds, (int)reply->nanos);
  google__protobuf__duration__free_unpacked(reply, NULL);
  return ok;
}

static int check_stamp(crpc_channel *ch) {
  Wktcheck__StampRequest req = WKTCHECK__STAMP_REQUEST__INIT;
  Google__Protobuf__StringValue name = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
  Google__Protobuf__Duration after = GOOGLE__PROTOBUF__DURATION__INIT;
  Wktcheck__Stamped *reply = NULL;
  crpc_call_opts opts = {.timeout_ms = 10000};

  name.value = "wkt";
  after.seconds = 90;
  req.name = &name;
  req.after = &after;
  int64_t before = wall_ns();
  crpc_status st = wktcheck_clock_stamp(ch, &req, &reply, &opts);
  int64_t after_ns = wall_ns();
  if (st != CRPC_STATUS_OK) {
    printf("FAIL Stamp: %s\n", crpc_status_name(st));
    return 0;
  }
  int ok = reply->name != NULL && strcmp(reply->name->value, "wkt") == 0 &&
           reply->at != NULL &&
           ns_of(reply->at) >= before + 90 * NS_PER_S - SLACK_NS &&
           ns_of(reply->at) <= after_ns + 90 * NS_PER_S + SLACK_NS;
  printf("%s Stamp: \"%s\" at %lld, 90 s after %lld\n", ok ? "ok  " : "FAIL",
         reply->name != NULL ? reply->name->value : "(none)",
         reply->at != NULL ? (long long)reply->at->seconds : -1LL,
         (long long)(before / NS_PER_S));
  wktcheck__stamped__free_unpacked(reply, NULL);
  return ok;
}

int main(int argc, char **argv) {
  crpc_channel_opts opts;
  crpc_channel *ch;
  int rc, ok;

  if (argc != 2) {
    fprintf(stderr, "usage: clock_client TARGET\n");
    return 2;
  }
  crpc_channel_opts_init(&opts);
  if ((rc = crpc_channel_new(argv[1], &opts, &ch)) != 0) {
    fprintf(stderr, "clock_client: no channel to %s: %s\n", argv[1],
            crpc_strerror(rc));
    return 1;
  }
  ok = check_now(ch);
  ok &= check_time_left(ch);
  ok &= check_stamp(ch);
  crpc_channel_free(ch);
  return ok ? 0 : 1;
}
