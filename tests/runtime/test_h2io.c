/*
 * tests/runtime/test_h2io.c: a batch of output with DATA payloads left
 * with their owners (runtime/h2io.c): written in order among the bytes
 * around them, what the socket does not take kept aside (the bytes
 * copied, the payloads where they are), and every payload given back
 * once, on every path.
 */
#include <criterion/criterion.h>
#include <nghttp2/nghttp2.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "buf.h"
#include "h2io.h"

typedef struct owner {
  int released;
  size_t bytes; /* of the buffers given back */
} owner;

static void release(void *o, crpc__buf *buf) {
  owner *w = o;
  w->released++;
  w->bytes += crpc__buf_len(buf);
  crpc__buf_cleanup(buf);
}

/* A DATA frame header for |n| payload bytes on stream 1. */
static void data_header(uint8_t hd[9], size_t n) {
  hd[0] = (uint8_t)(n >> 16);
  hd[1] = (uint8_t)(n >> 8);
  hd[2] = (uint8_t)n;
  hd[3] = NGHTTP2_DATA;
  hd[4] = 0;
  hd[5] = hd[6] = hd[7] = 0;
  hd[8] = 1;
}

/* Puts a frame of |n| bytes of |fill| into |out| as an owned payload,
 * and appends what must reach the peer to |want|. */
static void put(crpc__h2io_out *out, owner *w, size_t n, uint8_t fill,
                crpc__buf *want) {
  nghttp2_frame frame;
  memset(&frame, 0, sizeof(frame));
  uint8_t hd[9];
  data_header(hd, n);
  crpc__buf p;
  crpc__buf_init(&p, SIZE_MAX);
  cr_assert_eq(crpc__buf_reserve(&p, n), 0);
  memset(crpc__buf_tail(&p), fill, n);
  crpc__buf_commit(&p, n);
  cr_assert_gt(crpc__h2io_owned_room(out), 0);
  cr_assert_eq(crpc__h2io_put_frame(out, &frame, hd), 0);
  crpc__h2io_put_owned_piece(out, &p, w, release);
  cr_assert_null(crpc__buf_data(&p), "the payload was not taken");
  crpc__buf_append(want, hd, sizeof(hd));
  uint8_t *t;
  cr_assert_eq(crpc__buf_reserve(want, n), 0);
  t = crpc__buf_tail(want);
  memset(t, fill, n);
  crpc__buf_commit(want, n);
}

static void put_bytes(crpc__h2io_out *out, const char *s, crpc__buf *want) {
  crpc__buf_append(&out->bytes, s, strlen(s));
  crpc__buf_append(want, s, strlen(s));
}

static uv_loop_t loop;
static uv_pipe_t pipe_h;
static int fds[2];
static int written;

static void setup(void) {
  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  /* A small send buffer, so that a large batch is taken in part. */
  int small = 4096;
  setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  cr_assert_eq(uv_pipe_init(&loop, &pipe_h, 0), 0);
  cr_assert_eq(uv_pipe_open(&pipe_h, fds[0]), 0);
  written = 0;
}

static void teardown(void) {
  uv_close((uv_handle_t *)&pipe_h, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  close(fds[1]);
}

/* As a connection does: the rest goes back once written. */
static void on_written(uv_write_t *req, int status) {
  cr_assert_eq(status, 0);
  crpc__h2io_rest_cleanup(req->data);
  written = 1;
}

/* Reads from the peer's end until |n| bytes came, running the loop so
 * that a pending write goes on. */
static void read_all(crpc__buf *got, size_t n) {
  uint8_t chunk[65536];
  while (crpc__buf_len(got) < n) {
    uv_run(&loop, UV_RUN_NOWAIT);
    ssize_t r = recv(fds[1], chunk, sizeof(chunk), MSG_DONTWAIT);
    if (r > 0)
      crpc__buf_append(got, chunk, (size_t)r);
  }
}

Test(h2io, payloads_go_out_in_place_and_back_once, .init = setup,
     .fini = teardown, .timeout = 30) {
  crpc__h2io_out out;
  crpc__h2io_out_init(&out);
  crpc__buf want, got;
  crpc__buf_init(&want, SIZE_MAX);
  crpc__buf_init(&got, SIZE_MAX);
  crpc__h2io_rest rest;
  crpc__h2io_rest_init(&rest);
  owner w = {0};
  /* Bytes, a payload, bytes, two payloads back to back, bytes: a batch
   * (under CRPC__H2IO_WRITE_BATCH) far larger than the socket takes at
   * once. */
  put_bytes(&out, "headers", &want);
  put(&out, &w, 30000, 'a', &want);
  put_bytes(&out, "between", &want);
  put(&out, &w, 20000, 'b', &want);
  put(&out, &w, 10000, 'c', &want);
  put_bytes(&out, "trailers", &want);
  cr_assert_eq(crpc__h2io_out_len(&out), crpc__buf_len(&want));

  uv_write_t req;
  req.data = &rest;
  size_t total = crpc__h2io_out_len(&out);
  int rc = crpc__h2io_write((crpc__stream_handle *)&pipe_h, &out, &rest, &req,
                            on_written);
  cr_assert_eq(rc, 1, "a partial write carries on through |req|: %d", rc);
  cr_assert_eq(crpc__h2io_out_len(&out), 0);
  /* What the socket did not take waits in |rest|: the bytes copied, the
   * payloads not (each still its owner's until written). */
  size_t left = crpc__h2io_rest_len(&rest);
  cr_assert(left > 0 && left < total, "%zu of %zu bytes left", left, total);
  cr_assert_gt(rest.n_seg, 0, "the payloads not written are kept, not copied");
  cr_assert_lt(crpc__buf_len(&rest.bytes), 64, "only bytes are copied: %zu",
               crpc__buf_len(&rest.bytes));
  cr_assert_eq(w.released + (int)rest.n_seg, 3);
  read_all(&got, crpc__buf_len(&want));
  cr_assert(written);
  cr_assert_eq(w.released, 3, "each payload given back once");
  cr_assert_eq(crpc__h2io_rest_len(&rest), 0);
  cr_assert_eq(crpc__buf_len(&got), crpc__buf_len(&want));
  cr_assert_arr_eq(crpc__buf_data(&got), crpc__buf_data(&want),
                   crpc__buf_len(&want));
  crpc__buf_cleanup(&want);
  crpc__buf_cleanup(&got);
  crpc__h2io_out_cleanup(&out);
}

static int cancelled;

static void on_cancelled(uv_write_t *req, int status) {
  cr_assert_eq(status, UV_ECANCELED);
  crpc__h2io_rest_cleanup(req->data);
  cancelled = 1;
}

Test(h2io, a_closed_socket_gives_the_rest_back, .init = setup, .timeout = 30) {
  crpc__h2io_out out;
  crpc__h2io_out_init(&out);
  crpc__buf want;
  crpc__buf_init(&want, SIZE_MAX);
  crpc__h2io_rest rest;
  crpc__h2io_rest_init(&rest);
  owner w = {0};
  put(&out, &w, 30000, 'a', &want);
  put_bytes(&out, "between", &want);
  put(&out, &w, 20000, 'b', &want);
  uv_write_t req;
  req.data = &rest;
  cancelled = 0;
  cr_assert_eq(crpc__h2io_write((crpc__stream_handle *)&pipe_h, &out, &rest,
                                &req, on_cancelled),
               1);
  cr_assert_gt(rest.n_seg, 0);
  /* Closed before the peer read anything more: libuv cancels the write. */
  teardown();
  cr_assert(cancelled);
  cr_assert_eq(w.released, 2, "each payload given back once: %d", w.released);
  crpc__buf_cleanup(&want);
  crpc__h2io_out_cleanup(&out);
}

Test(h2io, a_dropped_batch_gives_its_payloads_back, .timeout = 10) {
  crpc__h2io_out out;
  crpc__h2io_out_init(&out);
  crpc__buf want;
  crpc__buf_init(&want, SIZE_MAX);
  owner w = {0};
  put(&out, &w, 20000, 'x', &want);
  put(&out, &w, 30000, 'y', &want);
  crpc__h2io_out_reset(&out);
  cr_assert_eq(w.released, 2);
  cr_assert_eq(crpc__h2io_out_len(&out), 0);
  put(&out, &w, 20000, 'z', &want);
  crpc__h2io_out_cleanup(&out);
  cr_assert_eq(w.released, 3);
  crpc__buf_cleanup(&want);
}

Test(h2io, a_full_batch_refuses_another_frame, .timeout = 10) {
  crpc__h2io_out out;
  crpc__h2io_out_init(&out);
  crpc__buf want;
  crpc__buf_init(&want, SIZE_MAX);
  owner w = {0};
  nghttp2_frame frame;
  memset(&frame, 0, sizeof(frame));
  uint8_t hd[9];
  data_header(hd, 5);
  /* Payloads handed over cost no copy: the frame behind them still goes. */
  put(&out, &w, CRPC__H2IO_WRITE_BATCH, 'x', &want);
  cr_assert_not(crpc__h2io_out_full(&out));
  cr_assert_eq(
      crpc__h2io_put_data(&out, &frame, hd, (const uint8_t *)"hello", 5), 0);
  /* Copied bytes fill it. */
  crpc__buf pad;
  crpc__buf_init(&pad, SIZE_MAX);
  cr_assert_eq(crpc__buf_reserve(&pad, CRPC__H2IO_WRITE_BATCH), 0);
  memset(crpc__buf_tail(&pad), 'y', CRPC__H2IO_WRITE_BATCH);
  crpc__buf_commit(&pad, CRPC__H2IO_WRITE_BATCH);
  cr_assert_eq(crpc__h2io_put_data(&out, &frame, hd, crpc__buf_data(&pad),
                                   crpc__buf_len(&pad)),
               0);
  cr_assert(crpc__h2io_out_full(&out));
  size_t copied = crpc__buf_len(&out.bytes);
  cr_assert_eq(crpc__h2io_put_frame(&out, &frame, hd), NGHTTP2_ERR_WOULDBLOCK);
  cr_assert_eq(
      crpc__h2io_put_data(&out, &frame, hd, (const uint8_t *)"hello", 5),
      NGHTTP2_ERR_WOULDBLOCK);
  cr_assert_eq(crpc__buf_len(&out.bytes), copied,
               "a refused frame adds nothing");
  crpc__buf_cleanup(&pad);
  crpc__h2io_out_cleanup(&out);
  cr_assert_eq(w.released, 1);
  crpc__buf_cleanup(&want);
}

/* A payload buffer of |n| bytes of |fill|. */
static crpc__buf filled(size_t n, uint8_t fill) {
  crpc__buf p;
  crpc__buf_init(&p, SIZE_MAX);
  cr_assert_eq(crpc__buf_reserve(&p, n), 0);
  memset(crpc__buf_tail(&p), fill, n);
  crpc__buf_commit(&p, n);
  return p;
}

Test(h2io, a_frame_of_pieces_goes_out_in_order, .init = setup, .fini = teardown,
     .timeout = 30) {
  crpc__h2io_out out;
  crpc__h2io_out_init(&out);
  crpc__buf want, got;
  crpc__buf_init(&want, SIZE_MAX);
  crpc__buf_init(&got, SIZE_MAX);
  crpc__h2io_rest rest;
  crpc__h2io_rest_init(&rest);
  owner w = {0};
  /* One frame whose payload is a copied piece, two handed over back to
   * back, and a copied piece: as a call's queue of messages makes it. */
  nghttp2_frame frame;
  memset(&frame, 0, sizeof(frame));
  uint8_t hd[9];
  const size_t n = 5 + 30000 + 20000 + 7;
  data_header(hd, n);
  cr_assert_eq(crpc__h2io_owned_room(&out), CRPC__H2IO_SEGS);
  cr_assert_eq(crpc__h2io_put_frame(&out, &frame, hd), 0);
  crpc__buf_append(&want, hd, sizeof(hd));
  cr_assert_eq(crpc__h2io_put_piece(&out, (const uint8_t *)"small", 5), 0);
  crpc__buf_append(&want, "small", 5);
  crpc__buf a = filled(30000, 'a'), b = filled(20000, 'b');
  crpc__buf_append(&want, crpc__buf_data(&a), 30000);
  crpc__buf_append(&want, crpc__buf_data(&b), 20000);
  crpc__h2io_put_owned_piece(&out, &a, &w, release);
  crpc__h2io_put_owned_piece(&out, &b, &w, release);
  cr_assert_null(crpc__buf_data(&a), "the payload was taken");
  cr_assert_eq(crpc__h2io_owned_room(&out), CRPC__H2IO_SEGS - 2);
  cr_assert_eq(crpc__h2io_put_piece(&out, (const uint8_t *)"tail...", 7), 0);
  crpc__buf_append(&want, "tail...", 7);
  put_bytes(&out, "next frame", &want);
  /* Only the bytes around the payloads were copied. */
  cr_assert_eq(crpc__buf_len(&out.bytes), 9 + 5 + 7 + strlen("next frame"));
  cr_assert_eq(crpc__h2io_out_len(&out), crpc__buf_len(&want));

  uv_write_t req;
  req.data = &rest;
  written = 0;
  int rc = crpc__h2io_write((crpc__stream_handle *)&pipe_h, &out, &rest, &req,
                            on_written);
  cr_assert_geq(rc, 0);
  read_all(&got, crpc__buf_len(&want));
  if (rc == 1)
    while (!written)
      uv_run(&loop, UV_RUN_ONCE);
  cr_assert_eq(w.released, 2, "each payload given back once");
  cr_assert_eq(crpc__buf_len(&got), crpc__buf_len(&want));
  cr_assert_arr_eq(crpc__buf_data(&got), crpc__buf_data(&want),
                   crpc__buf_len(&want));
  crpc__buf_cleanup(&want);
  crpc__buf_cleanup(&got);
  crpc__h2io_out_cleanup(&out);
}

static int views_released;

/* A borrowed piece's buffer only views its bytes: nothing to free. */
static void release_view(void *o, crpc__buf *view) {
  (void)o;
  cr_assert_eq(crpc__buf_len(view) <= 40000, 1);
  views_released++;
}

Test(h2io, a_borrowed_piece_is_written_from_where_it_is, .init = setup,
     .fini = teardown, .timeout = 30) {
  static uint8_t request[40000]; /* not the heap's: never freed */
  for (size_t i = 0; i < sizeof(request); i++)
    request[i] = (uint8_t)(i * 13);
  crpc__h2io_out out;
  crpc__h2io_out_init(&out);
  crpc__buf want, got;
  crpc__buf_init(&want, SIZE_MAX);
  crpc__buf_init(&got, SIZE_MAX);
  crpc__h2io_rest rest;
  crpc__h2io_rest_init(&rest);
  nghttp2_frame frame;
  memset(&frame, 0, sizeof(frame));
  uint8_t hd[9];
  data_header(hd, sizeof(request));
  cr_assert_eq(crpc__h2io_put_frame(&out, &frame, hd), 0);
  crpc__h2io_put_borrowed_piece(&out, request, sizeof(request), NULL,
                                release_view);
  crpc__buf_append(&want, hd, sizeof(hd));
  crpc__buf_append(&want, request, sizeof(request));
  cr_assert_eq(crpc__buf_len(&out.bytes), 9, "the request was not copied");
  uv_write_t req;
  req.data = &rest;
  views_released = 0;
  written = 0;
  int rc = crpc__h2io_write((crpc__stream_handle *)&pipe_h, &out, &rest, &req,
                            on_written);
  cr_assert_geq(rc, 0);
  read_all(&got, crpc__buf_len(&want));
  if (rc == 1)
    while (!written)
      uv_run(&loop, UV_RUN_ONCE);
  cr_assert_eq(views_released, 1, "given back once: %d", views_released);
  cr_assert_arr_eq(crpc__buf_data(&got), crpc__buf_data(&want),
                   crpc__buf_len(&want));
  crpc__buf_cleanup(&want);
  crpc__buf_cleanup(&got);
  crpc__h2io_out_cleanup(&out);
}
