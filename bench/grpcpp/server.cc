/*
 * grpcpp-bench-server: grpc.testing.BenchmarkService and helloworld.Greeter
 * on gRPC C++'s async completion-queue API, set up as gRPC's own qps
 * benchmark server is: one completion queue per polling thread, handlers
 * posted ahead for every method, one small state machine per call.
 *
 *   grpcpp-bench-server --port N [--host H] [--threads N]
 *       [--tls_cert FILE --tls_key FILE]
 *
 * Port 0 picks a free port. --tls_cert and --tls_key (both or neither: PEM
 * certificate chain and private key) serve TLS with ALPN h2 instead of
 * cleartext HTTP/2 (grpc::SslServerCredentials). Once serving it prints
 * "listening on H:PORT"; SIGTERM or SIGINT stops it and it exits 0.
 * bench/run.py drives it.
 */
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "grpc/examples/helloworld.grpc.pb.h"
#include "grpc/testing/benchmark_service.grpc.pb.h"
#include "read_file.h"

namespace {

using grpc::ServerAsyncReader;
using grpc::ServerAsyncReaderWriter;
using grpc::ServerAsyncResponseWriter;
using grpc::ServerAsyncWriter;
using grpc::ServerCompletionQueue;
using grpc::ServerContext;
using grpc::Status;
using grpc::testing::SimpleRequest;
using grpc::testing::SimpleResponse;

/*
 * Handlers waiting per method and completion queue. Each call that arrives
 * posts its own replacement, so this many stay posted whatever the load;
 * more would only add to the idle memory.
 */
constexpr int kPostedPerMethod = 16;

struct Services {
  grpc::testing::BenchmarkService::AsyncService bench;
  helloworld::Greeter::AsyncService greeter;
};

/* The request's response_size zero bytes; no payload at all for 0. */
void FillResponse(const SimpleRequest &req, SimpleResponse *resp) {
  if (req.response_size() > 0)
    resp->mutable_payload()->mutable_body()->assign(req.response_size(), '\0');
}

/*
 * One call from being posted to its end. Its address is the tag of its one
 * pending operation; Proceed runs its next step once that completes and
 * returns false when the call is over and can be deleted.
 */
class Call {
public:
  Call(Services *svc, ServerCompletionQueue *cq) : svc_(svc), cq_(cq) {
  }
  virtual ~Call() = default;
  virtual bool Proceed(bool ok) = 0;

protected:
  Services *svc_;
  ServerCompletionQueue *cq_;
  ServerContext ctx_;
  int step_ = 0; /* 0: posted, waiting for a call; then per class */
};

class UnaryCall final : public Call {
public:
  UnaryCall(Services *svc, ServerCompletionQueue *cq)
      : Call(svc, cq), writer_(&ctx_) {
    svc->bench.RequestUnaryCall(&ctx_, &req_, &writer_, cq, cq, this);
  }
  bool Proceed(bool ok) override {
    if (step_ == 1 || !ok)
      return false;
    new UnaryCall(svc_, cq_);
    FillResponse(req_, &resp_);
    step_ = 1;
    writer_.Finish(resp_, Status::OK, this);
    return true;
  }

private:
  SimpleRequest req_;
  SimpleResponse resp_;
  ServerAsyncResponseWriter<SimpleResponse> writer_;
};

class SayHello final : public Call {
public:
  SayHello(Services *svc, ServerCompletionQueue *cq)
      : Call(svc, cq), writer_(&ctx_) {
    svc->greeter.RequestSayHello(&ctx_, &req_, &writer_, cq, cq, this);
  }
  bool Proceed(bool ok) override {
    if (step_ == 1 || !ok)
      return false;
    new SayHello(svc_, cq_);
    resp_.set_message("Hello " + req_.name());
    step_ = 1;
    writer_.Finish(resp_, Status::OK, this);
    return true;
  }

private:
  helloworld::HelloRequest req_;
  helloworld::HelloReply resp_;
  ServerAsyncResponseWriter<helloworld::HelloReply> writer_;
};

/* StreamingCall: one response per request until the client half-closes. */
class PingPong final : public Call {
public:
  PingPong(Services *svc, ServerCompletionQueue *cq)
      : Call(svc, cq), stream_(&ctx_) {
    svc->bench.RequestStreamingCall(&ctx_, &stream_, cq, cq, this);
  }
  bool Proceed(bool ok) override {
    enum { kPosted, kRead, kWrite, kFinish };
    if (step_ == kPosted) {
      if (!ok)
        return false;
      new PingPong(svc_, cq_);
    }
    if (step_ == kFinish)
      return false;
    if (!ok) {
      step_ = kFinish;
      stream_.Finish(Status::OK, this);
    } else if (step_ == kRead) {
      FillResponse(req_, &resp_);
      step_ = kWrite;
      stream_.Write(resp_, this);
    } else {
      step_ = kRead;
      stream_.Read(&req_, this);
    }
    return true;
  }

private:
  SimpleRequest req_;
  SimpleResponse resp_;
  ServerAsyncReaderWriter<SimpleResponse, SimpleRequest> stream_;
};

/* StreamingFromServer: the same response back to back until cancelled. */
class FromServer final : public Call {
public:
  FromServer(Services *svc, ServerCompletionQueue *cq)
      : Call(svc, cq), writer_(&ctx_) {
    svc->bench.RequestStreamingFromServer(&ctx_, &req_, &writer_, cq, cq, this);
  }
  bool Proceed(bool ok) override {
    enum { kPosted, kWrite, kFinish };
    if (step_ == kFinish || (step_ == kPosted && !ok))
      return false;
    if (step_ == kPosted) {
      new FromServer(svc_, cq_);
      FillResponse(req_, &resp_);
      step_ = kWrite;
    }
    if (ok) {
      writer_.Write(resp_, this);
    } else {
      step_ = kFinish;
      writer_.Finish(Status::OK, this);
    }
    return true;
  }

private:
  SimpleRequest req_;
  SimpleResponse resp_;
  ServerAsyncWriter<SimpleResponse> writer_;
};

/* StreamingFromClient: reads all, replies once as the last request asks. */
class FromClient final : public Call {
public:
  FromClient(Services *svc, ServerCompletionQueue *cq)
      : Call(svc, cq), reader_(&ctx_) {
    svc->bench.RequestStreamingFromClient(&ctx_, &reader_, cq, cq, this);
  }
  bool Proceed(bool ok) override {
    enum { kPosted, kRead, kFinish };
    if (step_ == kFinish || (step_ == kPosted && !ok))
      return false;
    if (step_ == kPosted) {
      new FromClient(svc_, cq_);
      step_ = kRead;
    }
    if (ok) {
      reader_.Read(&req_, this);
    } else {
      FillResponse(req_, &resp_);
      step_ = kFinish;
      reader_.Finish(resp_, Status::OK, this);
    }
    return true;
  }

private:
  SimpleRequest req_;
  SimpleResponse resp_;
  ServerAsyncReader<SimpleResponse, SimpleRequest> reader_;
};

/*
 * StreamingBothWays is not served, but an async method must still be
 * answered: a call nobody takes would wait for its deadline.
 */
class BothWays final : public Call {
public:
  BothWays(Services *svc, ServerCompletionQueue *cq)
      : Call(svc, cq), stream_(&ctx_) {
    svc->bench.RequestStreamingBothWays(&ctx_, &stream_, cq, cq, this);
  }
  bool Proceed(bool ok) override {
    if (step_ == 1 || !ok)
      return false;
    new BothWays(svc_, cq_);
    step_ = 1;
    stream_.Finish(Status(grpc::StatusCode::UNIMPLEMENTED, ""), this);
    return true;
  }

private:
  ServerAsyncReaderWriter<SimpleResponse, SimpleRequest> stream_;
};

/*
 * A completion queue and the thread polling it. |stopped| is set under |mu|
 * before the queue shuts down, so that no handler posts an operation to a
 * queue that has been shut down.
 */
struct Poller {
  std::unique_ptr<ServerCompletionQueue> cq;
  std::mutex mu;
  bool stopped = false;
  std::thread thread;
};

void Poll(Poller *p) {
  void *tag;
  bool ok;
  while (p->cq->Next(&tag, &ok)) {
    Call *call = static_cast<Call *>(tag);
    std::lock_guard<std::mutex> lock(p->mu);
    if (p->stopped || !call->Proceed(ok))
      delete call;
  }
}

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: grpcpp-bench-server --port N [--host H] [--threads N]\n"
               "  [--tls_cert FILE --tls_key FILE]\n");
  std::exit(2);
}

/* Reads "--name value" or "--name=value" at argv[*i]; null if no match. */
const char *FlagValue(int argc, char **argv, int *i, const char *name) {
  size_t n = std::strlen(name);
  const char *a = argv[*i];
  if (std::strncmp(a, name, n) != 0)
    return nullptr;
  if (a[n] == '=')
    return a + n + 1;
  if (a[n] != '\0' || *i + 1 >= argc)
    return nullptr;
  return argv[++*i];
}

int ParseInt(const char *s, int min, int max) {
  char *end;
  long v = std::strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < min || v > max)
    Usage();
  return static_cast<int>(v);
}

} // namespace

int main(int argc, char **argv) {
  std::string host = "127.0.0.1";
  int port = -1, threads = 1;
  const char *cert = nullptr, *key = nullptr;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if ((v = FlagValue(argc, argv, &i, "--port")))
      port = ParseInt(v, 0, 65535);
    else if ((v = FlagValue(argc, argv, &i, "--host")))
      host = v;
    else if ((v = FlagValue(argc, argv, &i, "--threads")))
      threads = ParseInt(v, 1, 256);
    else if ((v = FlagValue(argc, argv, &i, "--tls_cert")))
      cert = v;
    else if ((v = FlagValue(argc, argv, &i, "--tls_key")))
      key = v;
    else
      Usage();
  }
  if (port < 0)
    Usage();
  if ((cert == nullptr) != (key == nullptr)) {
    std::fprintf(stderr, "grpcpp-bench-server: %s without %s: TLS needs both\n",
                 cert ? "--tls_cert" : "--tls_key",
                 cert ? "--tls_key" : "--tls_cert");
    return 2;
  }
  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::InsecureServerCredentials();
  if (cert) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back(
        {ReadFile("grpcpp-bench-server", "tls_key", key),
         ReadFile("grpcpp-bench-server", "tls_cert", cert)});
    creds = grpc::SslServerCredentials(ssl);
  }

  /* Signals are taken by sigwait below, so every thread must block them. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  std::string shown =
      host.find(':') != std::string::npos ? "[" + host + "]" : host;
  Services svc;
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort(shown + ":" + std::to_string(port), creds, &bound);
  builder.RegisterService(&svc.bench);
  builder.RegisterService(&svc.greeter);
  std::vector<Poller> pollers(threads);
  for (Poller &p : pollers)
    p.cq = builder.AddCompletionQueue();
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound == 0) {
    std::fprintf(stderr, "grpcpp-bench-server: cannot listen on %s:%d\n",
                 shown.c_str(), port);
    return 1;
  }

  for (Poller &p : pollers) {
    ServerCompletionQueue *cq = p.cq.get();
    for (int i = 0; i < kPostedPerMethod; i++) {
      new UnaryCall(&svc, cq);
      new SayHello(&svc, cq);
      new PingPong(&svc, cq);
      new FromServer(&svc, cq);
      new FromClient(&svc, cq);
      new BothWays(&svc, cq);
    }
    p.thread = std::thread(Poll, &p);
  }
  std::printf("listening on %s:%d\n", shown.c_str(), bound);
  std::fflush(stdout);

  int sig;
  sigwait(&sigs, &sig);
  /* Cancels the calls in flight; the pollers see them end meanwhile. */
  server->Shutdown(std::chrono::system_clock::now());
  for (Poller &p : pollers) {
    {
      std::lock_guard<std::mutex> lock(p.mu);
      p.stopped = true;
    }
    p.cq->Shutdown();
  }
  for (Poller &p : pollers)
    p.thread.join();
  return 0;
}
