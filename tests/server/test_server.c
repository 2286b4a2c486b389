/*
 * tests/server/test_server.c: what crpc_server_listen() (server/server.c)
 * refuses in its TLS options, and the message it leaves. The checks come
 * before any file is read, so no certificate is needed.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "crpc/error.h"
#include "crpc/server.h"

static crpc_server *srv;

static void start(void) {
  crpc_server_opts o;

  crpc_server_opts_init(&o);
  o.loops = 1;
  o.workers = 1;
  cr_assert_eq(crpc_server_new(&o, &srv), 0);
}

static void stop(void) {
  crpc_server_free(srv);
}

TestSuite(server, .init = start, .fini = stop, .timeout = 30);

static void assert_refused(const crpc_tls_opts *tls, const char *why) {
  cr_assert_eq(crpc_server_listen(srv, "127.0.0.1:0", tls), CRPC_EINVAL);
  cr_assert_not_null(strstr(crpc_server_error(srv), why), "error: '%s'",
                     crpc_server_error(srv));
  cr_assert_eq(crpc_server_port(srv, 0), -1, "the address was added");
}

Test(server, client_names_need_a_client_ca) {
  const char *names[] = {"client.example.com"};
  crpc_tls_opts tls = {.cert_file = "/nonexistent/server.pem",
                       .key_file = "/nonexistent/server.key",
                       .client_names = names,
                       .n_client_names = 1};

  assert_refused(&tls, "TLS client names need a client CA file");
}

Test(server, client_names_must_not_be_empty) {
  const char *names[] = {"client.example.com", ""};
  crpc_tls_opts tls = {.cert_file = "/nonexistent/server.pem",
                       .key_file = "/nonexistent/server.key",
                       .client_ca_file = "/nonexistent/ca.pem",
                       .client_names = names,
                       .n_client_names = 2};

  assert_refused(&tls, "TLS client name 1 is empty");
  names[1] = NULL;
  assert_refused(&tls, "TLS client name 1 is empty");
  tls.client_names = NULL;
  assert_refused(&tls, "TLS client name 0 is empty");
}

Test(server, client_names_are_checked_before_the_files) {
  const char *names[] = {"client.example.com"};
  crpc_tls_opts tls = {.cert_file = "/nonexistent/server.pem",
                       .key_file = "/nonexistent/server.key",
                       .client_ca_file = "/nonexistent/ca.pem",
                       .client_names = names,
                       .n_client_names = 1};

  /* Valid names: the next problem is the certificate. */
  assert_refused(&tls, "/nonexistent/server.pem");
}
