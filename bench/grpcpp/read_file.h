/*
 * bench/grpcpp/read_file.h: a file named on a bench program's command
 * line, read whole (the TLS certificates, keys and CAs).
 */
#ifndef CRPC_BENCH_GRPCPP_READ_FILE_H
#define CRPC_BENCH_GRPCPP_READ_FILE_H

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

/* The whole of |path|, given as --|flag| to |prog|; exits 2 naming all
 * three if it cannot be read. */
inline std::string ReadFile(const char *prog, const char *flag,
                            const char *path) {
  std::string out;
  FILE *f = std::fopen(path, "rb");
  if (f) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
      out.append(buf, n);
  }
  if (!f || std::ferror(f)) {
    std::fprintf(stderr, "%s: --%s %s: %s\n", prog, flag, path,
                 std::strerror(errno));
    std::exit(2);
  }
  std::fclose(f);
  return out;
}

#endif /* CRPC_BENCH_GRPCPP_READ_FILE_H */
