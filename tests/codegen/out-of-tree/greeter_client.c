/* Client calls through the typed stubs, blocking and with futures. */
#include "greeter.crpc.h"

crpc_status greet_twice(crpc_channel *ch, const char *name);

crpc_status greet_twice(crpc_channel *ch, const char *name) {
  Demo__HelloRequest req = DEMO__HELLO_REQUEST__INIT;
  Demo__HelloReply *reply = NULL;
  req.name = (char *)name;
  crpc_status st = demo_greeter_say_hello(ch, &req, &reply, NULL);
  if (st != CRPC_STATUS_OK)
    return st;
  demo__hello_reply__free_unpacked(reply, NULL);
  crpc_future *f = demo_greeter_lookup_async(ch, &req, NULL);
  st = demo_greeter_lookup_result(f, &reply);
  crpc_future_unref(f);
  if (st == CRPC_STATUS_OK)
    demo__hello_reply__free_unpacked(reply, NULL);
  return st;
}
