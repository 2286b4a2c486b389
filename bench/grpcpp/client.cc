/*
 * grpcpp-bench-client: a closed-loop load client on gRPC C++'s async
 * completion-queue API, set up as gRPC's own qps client is: every slot
 * keeps one call (or stream) going and starts its next step as soon as the
 * last one completes, all on one completion queue.
 *
 *   grpcpp-bench-client --target H:P
 *       --scenario unary|pingpong|server_stream|hello [--channels N (1)]
 *       [--outstanding N (1)] [--req_size B (0)] [--resp_size B (0)]
 *       [--duration_s S (10)] [--warmup_s S (1)] [--tls_ca FILE]
 *
 * Each channel is its own HTTP/2 connection with --outstanding slots on it.
 * With --tls_ca the connections are TLS with ALPN h2, the server's
 * certificate verified against the PEM CAs in FILE for the target's host
 * (grpc::SslCredentials); without it, cleartext HTTP/2.
 * After the run it prints one line, "scenario=... calls=N rate=R p50_us=...
 * errors=E", and exits 1 if a call failed or none completed.
 */
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "grpc/examples/helloworld.grpc.pb.h"
#include "grpc/testing/benchmark_service.grpc.pb.h"
#include "read_file.h"

namespace {

using Clock = std::chrono::steady_clock;
using grpc::testing::BenchmarkService;
using grpc::testing::SimpleRequest;
using grpc::testing::SimpleResponse;

constexpr size_t kMaxSamples = 1 << 20;

struct Options {
  std::string target, scenario;
  std::string tls_ca; /* empty: cleartext */
  int channels = 1, outstanding = 1, req_size = 0, resp_size = 0;
  double duration_s = 10, warmup_s = 1;
};

/* What every slot shares: the queue, the request, the counters. */
struct Run {
  enum Phase { kWarmup, kMeasure, kStopping };
  grpc::CompletionQueue cq;
  SimpleRequest req;
  helloworld::HelloRequest hello;
  std::chrono::system_clock::time_point call_deadline;
  Phase phase = kWarmup;
  uint64_t calls = 0, errors = 0, seen = 0;
  std::vector<int64_t> samples; /* ns; a uniform reservoir once full */
  std::mt19937_64 rng{1};

  /* Counts one call, round or message that ended at |now|. */
  void Count(bool ok, Clock::time_point sent, Clock::time_point now,
             bool timed) {
    if (!ok) {
      if (phase != kStopping)
        errors++;
      return;
    }
    if (phase != kMeasure)
      return;
    calls++;
    if (!timed)
      return;
    int64_t ns = std::chrono::nanoseconds(now - sent).count();
    if (samples.size() < kMaxSamples) {
      samples.push_back(ns);
    } else if (uint64_t j = rng() % (seen + 1); j < kMaxSamples) {
      samples[j] = ns;
    }
    seen++;
  }
};

/*
 * One closed-loop slot. Its address is the tag of its one pending
 * operation; Proceed runs its next step once that completes. |done| is set
 * once it has stopped with nothing pending.
 */
class Slot {
public:
  Slot(Run *run, BenchmarkService::Stub *bench,
       helloworld::Greeter::Stub *greeter)
      : run_(run), bench_(bench), greeter_(greeter) {
  }
  virtual ~Slot() = default;
  virtual void Start() = 0;
  virtual void Proceed(bool ok) = 0;
  void Cancel() {
    if (ctx_)
      ctx_->TryCancel();
  }
  bool done = false;

protected:
  /*
   * A fresh context: one cannot be reused across calls. The caller first
   * drops the last call's reader, which lives in the arena this frees.
   */
  grpc::ClientContext *NewContext() {
    ctx_.emplace();
    ctx_->set_deadline(run_->call_deadline);
    return &*ctx_;
  }
  /* After a call or stream ended: the next one, unless the run is over. */
  void Again() {
    if (run_->phase == Run::kStopping)
      done = true;
    else
      Start();
  }
  Run *run_;
  BenchmarkService::Stub *bench_;
  helloworld::Greeter::Stub *greeter_;
  std::optional<grpc::ClientContext> ctx_;
  grpc::Status status_;
  Clock::time_point sent_;
};

/* unary and hello: the next call as soon as the last one completes. */
template <class Resp> class UnarySlot final : public Slot {
public:
  using Slot::Slot;
  void Start() override {
    rpc_.reset();
    grpc::ClientContext *ctx = NewContext();
    sent_ = Clock::now();
    if constexpr (std::is_same_v<Resp, SimpleResponse>)
      rpc_ = bench_->PrepareAsyncUnaryCall(ctx, run_->req, &run_->cq);
    else
      rpc_ = greeter_->PrepareAsyncSayHello(ctx, run_->hello, &run_->cq);
    rpc_->StartCall();
    rpc_->Finish(&resp_, &status_, this);
  }
  void Proceed(bool) override {
    run_->Count(status_.ok(), sent_, Clock::now(), true);
    Again();
  }

private:
  Resp resp_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>> rpc_;
};

/* Steps shared by the streaming slots. */
enum { kOpen, kWrite, kRead, kFinish };

/* pingpong: one StreamingCall, a request and its response per round. */
class PingPongSlot final : public Slot {
public:
  using Slot::Slot;
  void Start() override {
    stream_.reset();
    stream_ = bench_->PrepareAsyncStreamingCall(NewContext(), &run_->cq);
    step_ = kOpen;
    stream_->StartCall(this);
  }
  void Proceed(bool ok) override {
    if (step_ == kFinish) {
      /* Before the run stops, a stream only ends by failing. */
      run_->Count(false, sent_, sent_, false);
      Again();
    } else if (!ok || run_->phase == Run::kStopping) {
      step_ = kFinish;
      stream_->Finish(&status_, this);
    } else if (step_ == kWrite) {
      step_ = kRead;
      stream_->Read(&resp_, this);
    } else {
      Clock::time_point now = Clock::now();
      if (step_ == kRead)
        run_->Count(true, sent_, now, true);
      step_ = kWrite;
      sent_ = now;
      stream_->Write(run_->req, this);
    }
  }

private:
  int step_ = kOpen;
  SimpleResponse resp_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<SimpleRequest, SimpleResponse>>
      stream_;
};

/* server_stream: one StreamingFromServer, counting its messages. */
class ServerStreamSlot final : public Slot {
public:
  using Slot::Slot;
  void Start() override {
    stream_.reset();
    stream_ = bench_->PrepareAsyncStreamingFromServer(NewContext(), run_->req,
                                                      &run_->cq);
    step_ = kOpen;
    stream_->StartCall(this);
  }
  void Proceed(bool ok) override {
    if (step_ == kFinish) {
      /* Before the run stops, a stream only ends by failing. */
      run_->Count(false, sent_, sent_, false);
      Again();
    } else if (!ok || run_->phase == Run::kStopping) {
      step_ = kFinish;
      stream_->Finish(&status_, this);
    } else {
      if (step_ == kRead)
        run_->Count(true, sent_, sent_, false);
      step_ = kRead;
      stream_->Read(&resp_, this);
    }
  }

private:
  int step_ = kOpen;
  SimpleResponse resp_;
  std::unique_ptr<grpc::ClientAsyncReader<SimpleResponse>> stream_;
};

/* Nearest-rank percentile of sorted |v|, in µs; 0 without samples. */
long Percentile(const std::vector<int64_t> &v, double q) {
  if (v.empty())
    return 0;
  size_t rank = static_cast<size_t>(std::ceil(q * v.size()));
  return std::lround(v[std::max<size_t>(rank, 1) - 1] / 1000.0);
}

[[noreturn]] void Usage() {
  std::fprintf(stderr, "usage: grpcpp-bench-client --target H:P --scenario "
                       "unary|pingpong|server_stream|hello\n"
                       "  [--channels N] [--outstanding N] [--req_size B] "
                       "[--resp_size B] [--duration_s S] [--warmup_s S]\n"
                       "  [--tls_ca FILE]\n");
  std::exit(2);
}

int ParseInt(const char *s, int min, int max) {
  char *end;
  long v = std::strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < min || v > max)
    Usage();
  return static_cast<int>(v);
}

double ParseSeconds(const char *s) {
  char *end;
  double v = std::strtod(s, &end);
  if (*s == '\0' || *end != '\0' || !(v >= 0 && v <= 3600))
    Usage();
  return v;
}

/* Takes "--name value" or "--name=value". */
Options ParseOptions(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i], v;
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      v = a.substr(eq + 1);
      a.resize(eq);
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      Usage();
    }
    const char *s = v.c_str();
    if (a == "--target")
      o.target = v;
    else if (a == "--scenario")
      o.scenario = v;
    else if (a == "--channels")
      o.channels = ParseInt(s, 1, 10000);
    else if (a == "--outstanding")
      o.outstanding = ParseInt(s, 1, 100000);
    else if (a == "--req_size")
      o.req_size = ParseInt(s, 0, 4 << 20);
    else if (a == "--resp_size")
      o.resp_size = ParseInt(s, 0, 4 << 20);
    else if (a == "--duration_s")
      o.duration_s = ParseSeconds(s);
    else if (a == "--warmup_s")
      o.warmup_s = ParseSeconds(s);
    else if (a == "--tls_ca")
      o.tls_ca = v;
    else
      Usage();
  }
  if (o.target.empty() ||
      (o.scenario != "unary" && o.scenario != "pingpong" &&
       o.scenario != "server_stream" && o.scenario != "hello"))
    Usage();
  return o;
}

std::unique_ptr<Slot> NewSlot(const std::string &scenario, Run *run,
                              BenchmarkService::Stub *bench,
                              helloworld::Greeter::Stub *greeter) {
  if (scenario == "unary")
    return std::make_unique<UnarySlot<SimpleResponse>>(run, bench, greeter);
  if (scenario == "hello")
    return std::make_unique<UnarySlot<helloworld::HelloReply>>(run, bench,
                                                               greeter);
  if (scenario == "pingpong")
    return std::make_unique<PingPongSlot>(run, bench, greeter);
  return std::make_unique<ServerStreamSlot>(run, bench, greeter);
}

/*
 * Polls |run|'s queue until |until|; false once no slot has anything left.
 * The clock is read after every event too: the queue hands out ready events
 * past its deadline, and calls failing at once would never let it expire.
 */
bool PollUntil(Run *run, Clock::time_point until,
               const std::vector<std::unique_ptr<Slot>> &slots) {
  auto deadline = std::chrono::system_clock::now() + (until - Clock::now());
  void *tag;
  bool ok;
  while (run->cq.AsyncNext(&tag, &ok, deadline) ==
         grpc::CompletionQueue::GOT_EVENT) {
    Slot *slot = static_cast<Slot *>(tag);
    slot->Proceed(ok);
    if (slot->done && std::all_of(slots.begin(), slots.end(),
                                  [](const auto &s) { return s->done; }))
      return false;
    if (Clock::now() >= until)
      break;
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  Options o = ParseOptions(argc, argv);
  Run run;
  run.req.set_response_size(o.resp_size);
  if (o.req_size > 0)
    run.req.mutable_payload()->mutable_body()->assign(o.req_size, '\0');
  run.hello.set_name("bench");
  run.samples.reserve(kMaxSamples); /* no copying in the measured window */
  std::shared_ptr<grpc::ChannelCredentials> creds =
      grpc::InsecureChannelCredentials();
  if (!o.tls_ca.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs =
        ReadFile("grpcpp-bench-client", "tls_ca", o.tls_ca.c_str());
    creds = grpc::SslCredentials(ssl);
  }

  /* Without a local subchannel pool, channels to one target share one
   * connection. */
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<BenchmarkService::Stub>> bench;
  std::vector<std::unique_ptr<helloworld::Greeter::Stub>> greeter;
  for (int i = 0; i < o.channels; i++) {
    channels.push_back(grpc::CreateCustomChannel(o.target, creds, args));
    if (!channels.back()->WaitForConnected(std::chrono::system_clock::now() +
                                           std::chrono::seconds(5))) {
      std::fprintf(stderr, "grpcpp-bench-client: cannot connect to %s\n",
                   o.target.c_str());
      return 1;
    }
    bench.push_back(BenchmarkService::NewStub(channels.back()));
    greeter.push_back(helloworld::Greeter::NewStub(channels.back()));
  }

  auto secs = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(s));
  };
  /* Calls never outlive the run by much, even against a stuck server. */
  run.call_deadline =
      std::chrono::system_clock::now() + secs(o.warmup_s + o.duration_s + 5);
  std::vector<std::unique_ptr<Slot>> slots;
  for (int c = 0; c < o.channels; c++)
    for (int i = 0; i < o.outstanding; i++)
      slots.push_back(
          NewSlot(o.scenario, &run, bench[c].get(), greeter[c].get()));
  for (auto &s : slots)
    s->Start();

  PollUntil(&run, Clock::now() + secs(o.warmup_s), slots);
  run.phase = Run::kMeasure;
  Clock::time_point started = Clock::now();
  PollUntil(&run, started + secs(o.duration_s), slots);
  run.phase = Run::kStopping;
  double seconds =
      std::chrono::duration<double>(Clock::now() - started).count();
  for (auto &s : slots)
    s->Cancel();
  bool drained =
      !PollUntil(&run, Clock::now() + std::chrono::seconds(5), slots);

  std::sort(run.samples.begin(), run.samples.end());
  std::printf("scenario=%s channels=%d outstanding=%d req_size=%d "
              "resp_size=%d seconds=%.2f calls=%llu rate=%.1f p50_us=%ld "
              "p90_us=%ld p99_us=%ld errors=%llu\n",
              o.scenario.c_str(), o.channels, o.outstanding, o.req_size,
              o.resp_size, seconds, (unsigned long long)run.calls,
              seconds > 0 ? run.calls / seconds : 0.0,
              Percentile(run.samples, 0.50), Percentile(run.samples, 0.90),
              Percentile(run.samples, 0.99), (unsigned long long)run.errors);
  std::fflush(stdout);
  int rc = run.errors > 0 || run.calls == 0 ? 1 : 0;
  if (!drained)
    std::_Exit(rc); /* a call is still pending: tearing down would wait */
  run.cq.Shutdown();
  void *tag;
  bool ok;
  while (run.cq.Next(&tag, &ok)) {
  }
  return rc;
}
