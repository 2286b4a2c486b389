/* tests/runtime/test_h2mem.c: the per-loop caching allocator for nghttp2. */
#include <criterion/criterion.h>

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "h2mem.h"

static crpc__h2mem m;
static nghttp2_mem mem;

static void setup(void) {
  crpc__h2mem_init(&m);
  mem = crpc__h2mem_allocator(&m);
}

static void teardown(void) {
  crpc__h2mem_cleanup(&m);
}

static void *xmalloc(size_t n) {
  void *p = mem.malloc(n, mem.mem_user_data);
  cr_assert_not_null(p);
  cr_assert_eq((uintptr_t)p % alignof(max_align_t), 0);
  return p;
}

static void xfree(void *p) {
  mem.free(p, mem.mem_user_data);
}

TestSuite(h2mem, .init = setup, .fini = teardown, .timeout = 30);

Test(h2mem, a_freed_block_serves_the_next_of_its_class) {
  void *a = xmalloc(100);
  memset(a, 1, 100);
  xfree(a);
  /* 65 to 128 bytes share a class: the same block comes back. */
  cr_assert_eq(xmalloc(120), a);
  /* Another class does not take it. */
  void *b = xmalloc(40);
  cr_assert_neq(b, a);
  xfree(b);
  xfree(a);
  cr_assert_eq(m.n_free[crpc__h2mem_class_of(40)], 1);
  cr_assert_eq(m.n_free[crpc__h2mem_class_of(120)], 1);
}

Test(h2mem, classes_waste_at_most_a_third) {
  cr_assert_eq(crpc__h2mem_class_of(0), 0);
  cr_assert_eq(crpc__h2mem_class_of(64), 0);
  cr_assert_eq(crpc__h2mem_class_of(65), 1);
  cr_assert_eq(crpc__h2mem_class_of(4096), CRPC__H2MEM_CLASSES - 1);
  cr_assert_eq(crpc__h2mem_class_of(4097), CRPC__H2MEM_CLASSES);
  /* Each size has a class, no smaller than that of a smaller size, whose
   * freed block serves the next of that size. */
  for (size_t size = 65; size <= 4096; size++) {
    size_t cls = crpc__h2mem_class_of(size);
    void *p = xmalloc(size);
    memset(p, 0x5A, size);
    xfree(p);
    cr_assert_eq(m.n_free[cls], 1, "%zu bytes", size);
    cr_assert_eq(crpc__h2mem_class_of(size - 1) <= cls, 1);
    cr_assert_eq(xmalloc(size), p);
    xfree(p);
    crpc__h2mem_cleanup(&m);
  }
  /* Each class is the smallest that holds the size: 64, 96, 128, 192 ... */
  for (size_t cls = 0; cls < CRPC__H2MEM_CLASSES; cls++) {
    size_t bytes = (size_t)(cls % 2 == 0 ? 64 : 96) << (cls / 2);
    cr_assert_eq(crpc__h2mem_class_of(bytes), cls, "%zu bytes", bytes);
    cr_assert_eq(crpc__h2mem_class_of(bytes + 1), cls + 1, "%zu bytes",
                 bytes + 1);
  }
  cr_assert_eq(crpc__h2mem_class_of(SIZE_MAX), CRPC__H2MEM_CLASSES);
  /* nghttp2's session (2,928 bytes in 1.52) no longer takes 4 KiB. */
  cr_assert_lt(crpc__h2mem_class_of(2928), crpc__h2mem_class_of(4096));
}

Test(h2mem, large_blocks_are_not_cached) {
  void *p = xmalloc(5000);
  memset(p, 7, 5000);
  xfree(p);
  for (size_t c = 0; c < CRPC__H2MEM_CLASSES; c++)
    cr_assert_eq(m.n_free[c], 0);
  xfree(NULL);
}

Test(h2mem, calloc_zeroes_a_reused_block) {
  unsigned char *p = xmalloc(256);
  memset(p, 0xAB, 256);
  xfree(p);
  unsigned char *q = mem.calloc(16, 16, mem.mem_user_data);
  cr_assert_eq(q, p);
  for (size_t i = 0; i < 256; i++)
    cr_assert_eq(q[i], 0);
  xfree(q);
  cr_assert_null(mem.calloc(SIZE_MAX / 2, 4, mem.mem_user_data));
}

Test(h2mem, realloc_keeps_the_bytes_across_classes) {
  unsigned char *p = mem.realloc(NULL, 10, mem.mem_user_data);
  for (int i = 0; i < 10; i++)
    p[i] = (unsigned char)i;
  /* Within its class: the same block. */
  cr_assert_eq(mem.realloc(p, 64, mem.mem_user_data), p);
  /* Up a class, then to a large block, then back down. */
  unsigned char *q = mem.realloc(p, 1000, mem.mem_user_data);
  cr_assert_not_null(q);
  q[999] = 99;
  unsigned char *r = mem.realloc(q, 100000, mem.mem_user_data);
  cr_assert_not_null(r);
  r[99999] = 42;
  unsigned char *s = mem.realloc(r, 20000, mem.mem_user_data);
  cr_assert_not_null(s);
  unsigned char *t = mem.realloc(s, 2000, mem.mem_user_data);
  cr_assert_not_null(t);
  for (int i = 0; i < 10; i++)
    cr_assert_eq(t[i], i);
  cr_assert_eq(t[999], 99);
  xfree(t);
}

Test(h2mem, trim_keeps_the_last_peak_then_gives_it_back) {
  void *p[32];
  for (int i = 0; i < 32; i++)
    p[i] = xmalloc(500);
  for (int i = 0; i < 32; i++)
    xfree(p[i]);
  cr_assert_eq(m.n_free[crpc__h2mem_class_of(500)], 32);
  /* The period's peak was 32 blocks out: all stay. */
  crpc__h2mem_trim(&m);
  cr_assert_eq(m.n_free[crpc__h2mem_class_of(500)], 32);
  /* A quiet period: all go. */
  crpc__h2mem_trim(&m);
  cr_assert_eq(m.n_free[crpc__h2mem_class_of(500)], 0);
  /* Blocks out across a trim count against the next peak. */
  for (int i = 0; i < 4; i++)
    p[i] = xmalloc(500);
  crpc__h2mem_trim(&m);
  for (int i = 0; i < 4; i++)
    xfree(p[i]);
  crpc__h2mem_trim(&m);
  cr_assert_eq(m.n_free[crpc__h2mem_class_of(500)], 4);
  crpc__h2mem_trim(&m);
  cr_assert_eq(m.n_free[crpc__h2mem_class_of(500)], 0);
}

/* nghttp2 itself, through the cache: a server and a client session
 * exchanging a request, then freed; the cache holds what they gave back. */
static ssize_t no_send(nghttp2_session *s, const uint8_t *d, size_t n, int f,
                       void *u) {
  (void)s, (void)d, (void)f, (void)u;
  return (ssize_t)n;
}

Test(h2mem, serves_nghttp2_sessions) {
  nghttp2_session_callbacks *cb;
  nghttp2_session *client, *server;
  cr_assert_eq(nghttp2_session_callbacks_new(&cb), 0);
  nghttp2_session_callbacks_set_send_callback(cb, no_send);
  cr_assert_eq(nghttp2_session_client_new3(&client, cb, NULL, NULL, &mem), 0);
  cr_assert_eq(nghttp2_session_server_new3(&server, cb, NULL, NULL, &mem), 0);
  nghttp2_submit_settings(client, NGHTTP2_FLAG_NONE, NULL, 0);
  nghttp2_submit_settings(server, NGHTTP2_FLAG_NONE, NULL, 0);
  const nghttp2_nv nv[] = {
      {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
      {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
      {(uint8_t *)":path", (uint8_t *)"/a.B/C", 5, 6, 0},
      {(uint8_t *)":authority", (uint8_t *)"x", 10, 1, 0},
      {(uint8_t *)"x-custom", (uint8_t *)"value", 8, 5, 0},
  };
  for (int round = 0; round < 3; round++) {
    cr_assert_gt(nghttp2_submit_request(client, NULL, nv, 5, NULL, NULL), 0);
    for (;;) {
      const uint8_t *p;
      ssize_t n = nghttp2_session_mem_send(client, &p);
      cr_assert_geq(n, 0);
      if (n == 0)
        break;
      cr_assert_eq(nghttp2_session_mem_recv(server, p, (size_t)n), n);
    }
  }
  nghttp2_session_del(client);
  nghttp2_session_del(server);
  nghttp2_session_callbacks_del(cb);
  size_t cached = 0;
  for (size_t c = 0; c < CRPC__H2MEM_CLASSES; c++) {
    cr_assert_eq(m.out[c], 0, "class %zu: %zu blocks never freed", c, m.out[c]);
    cached += m.n_free[c];
  }
  cr_assert_gt(cached, 0);
}
