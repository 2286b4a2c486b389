/*
 * runtime/msgcheck.h: whether protobuf-c can pack a message safely.
 *
 * protobuf-c trusts the message it packs: a NULL element of a repeated
 * string or message field, a bytes field with a length and no data, a
 * repeated field with a count and no array, or a sub-message that was never
 * initialized makes protobuf_c_message_pack() read through a NULL or wild
 * pointer. A handler's reply is user code, so crpc checks before it packs
 * and turns such a message into a status instead of a crash.
 */
#ifndef CRPC_MSGCHECK_H
#define CRPC_MSGCHECK_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* Sub-messages nested deeper than this are refused (as protobuf's own
 * default recursion limit): a message that contains itself would
 * otherwise recurse until the stack ends. */
#define CRPC__MSGCHECK_MAX_DEPTH 100

/*
 * Checks that protobuf-c can pack |msg|: every pointer it will follow is
 * there, every sub-message has the descriptor its field names, and the
 * nesting is at most CRPC__MSGCHECK_MAX_DEPTH deep. A oneof whose case
 * names a string or message field that is NULL is refused too: protobuf-c
 * would silently send the oneof unset.
 * Ownership: |msg| is borrowed for the call.
 * Thread: any.
 * Returns 0, or CRPC_EPACK, and then, when |why| is not NULL and |len| >
 * 0, |why| holds the field and the problem ("demo.Reply.items[2].name:
 * NULL string in a repeated field"), cut to |len| bytes and terminated.
 */
int crpc__msgcheck(const ProtobufCMessage *msg, char *why, size_t len);

#endif /* CRPC_MSGCHECK_H */
