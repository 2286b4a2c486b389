/*
 * runtime/metadata_wire.h: metadata as HTTP/2 header fields, for the
 * transport. Values of "-bin" keys go out as base64 without padding, as
 * gRPC C core sends them, and come in padded or not.
 */
#ifndef CRPC_METADATA_WIRE_H
#define CRPC_METADATA_WIRE_H

#include "crpc/metadata.h"

/*
 * Returns the length of |e|'s value as sent: the unpadded base64 length
 * for a "-bin" key, the raw length otherwise.
 * Thread: any (on metadata the caller owns).
 */
size_t crpc__metadata_wire_value_len(const crpc_metadata_entry *e);

/*
 * Writes |e|'s value as sent to |dst|, which must have room for
 * crpc__metadata_wire_value_len(e) bytes. No NUL is written. Returns the
 * number of bytes written.
 * Thread: any (on metadata the caller owns).
 */
size_t crpc__metadata_wire_value_write(const crpc_metadata_entry *e,
                                       uint8_t *dst);

/*
 * Appends a received header field |name| = |value| to |md|. The key must
 * have the charset of crpc_metadata_add(), but the reserved "grpc-" prefix
 * is allowed: the transport filters those. A "-bin" value is base64,
 * padded or unpadded, and is stored decoded; any other value may hold tab
 * and 0x20-0x7E, more than crpc_metadata_add() allows, to be lenient on
 * what peers send.
 * Ownership: |name| and |value| are copied.
 * Thread: any (on metadata the caller owns).
 * Returns 0, or one of these, and then |md| is unchanged:
 *   CRPC_EBADKEY    |name| is empty or has a character outside [0-9a-z_.-].
 *   CRPC_EBADVALUE  a non-binary value has a byte outside tab, 0x20-0x7E.
 *   CRPC_EBASE64    a binary value is not valid base64.
 *   CRPC_ENOMEM     out of memory.
 */
int crpc__metadata_add_wire(crpc_metadata *md, const char *name,
                            size_t name_len, const uint8_t *value,
                            size_t value_len);

#endif /* CRPC_METADATA_WIRE_H */
