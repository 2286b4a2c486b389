/*
 * tests/fuzz/fuzz_codegen_request.c: libFuzzer target for what
 * protoc-gen-crpc reads on stdin, a CodeGeneratorRequest
 * (codegen/request.c): the input is decoded and indexed, and each file to
 * generate goes through the steps codegen/main.c takes: the group check,
 * naming, and both emitters, under a small output limit.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "emit.h"
#include "naming.h"
#include "printer.h"
#include "request.h"

/* Bytes of one generated file; protoc-gen-crpc allows far more. */
#define MAX_OUTPUT (1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Both outputs of |f|, as main.c's generate() makes them. */
static void generate(const crpc__request *r, const crpc__pb_file *f) {
  char *err = NULL, *msg = NULL;
  int oom = 0;
  if (crpc__request_find_group(f, &msg, &oom) != NULL || oom) {
    free(msg);
    return;
  }
  crpc__file_names n;
  int rc = crpc__file_names_build(r, f, &n, &err);
  if (rc == -1 && !err)
    abort(); /* -1 comes with a message */
  if (rc == 0) {
    for (int source = 0; source < 2; source++) {
      crpc__printer out;
      crpc__printer_init(&out, MAX_OUTPUT);
      (void)(source ? crpc__emit_source(&n, &out)
                    : crpc__emit_header(&n, &out));
      crpc__printer_cleanup(&out);
    }
  }
  crpc__file_names_cleanup(&n);
  free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  crpc__request *r = NULL;
  if (crpc__request_decode(data, size, &r) != 0) {
    if (r != NULL)
      abort(); /* a failed decode leaves |*out| untouched */
    return 0;
  }
  for (size_t i = 0; i < r->pb->n_file_to_generate; i++) {
    const crpc__pb_file *f = crpc__request_file(r, r->pb->file_to_generate[i]);
    if (f != NULL && f->n_service > 0)
      generate(r, f);
  }
  /* Lookups and options over every file, generated or not. */
  for (size_t i = 0; i < r->pb->n_proto_file; i++) {
    const crpc__pb_file *f = r->pb->proto_file[i];
    char *pkg = NULL;
    if (crpc__request_c_package(f, &pkg) < 0)
      abort();
    free(pkg);
    for (size_t s = 0; s < f->n_service; s++) {
      (void)crpc__request_comment(f, s, -1);
      for (size_t m = 0; m < f->service[s]->n_method; m++) {
        const crpc__pb_method *md = f->service[s]->method[m];
        (void)crpc__request_comment(f, s, (int)m);
        (void)crpc__request_coroutine(f->service[s], md);
        (void)crpc__request_message(r, md->input_type ? md->input_type : "");
      }
    }
  }
  crpc__request_free(r);
  return 0;
}
