/*
 * runtime/msg_cache.h: messages' memory, and the memory kept of them for
 * the messages after them: a channel's (its calls' replies, and the
 * requests they pack) and a server loop's (its calls' requests).
 *
 * glibc gives the top of a thread's heap back to the kernel when a free
 * leaves more than M_TRIM_THRESHOLD (128 KiB) there, and the next message
 * faults it in again page by page. A client receiving 64 KiB messages did
 * that at nearly every message (16 page faults each): 2.5k unary calls a
 * second (4 channels x 32 outstanding) and 8k streamed messages a second,
 * against 23k and 57k with the memory kept, as many as with glibc's
 * trimming turned off. A channel's cache is shared with its calls, which
 * may outlive it: each holds a reference. The channel trims it every
 * CRPC__MSG_CACHE_SWEEP_MS while it keeps anything; a server loop, with
 * its sweep.
 */
#ifndef CRPC_MSG_CACHE_H
#define CRPC_MSG_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "compress.h"

/* A received message: a unary reply, or a streamed one (a reply on a
 * channel, a request on a server) not yet read. */
typedef struct crpc__cmsg {
  struct crpc__cmsg *next;
  size_t len;
  size_t cap;  /* bytes |data| has room for */
  size_t wire; /* DATA bytes it took, given back to the window when read */
  int compressed;
  crpc__encoding enc;
  uint8_t data[];
} crpc__cmsg;

/* Messages' memory smaller than this is not kept: glibc serves it from
 * its bins, and it never makes glibc trim (a free considers trimming
 * only when it leaves a free chunk of 64 KiB or more). */
#define CRPC__MSG_CACHE_MIN ((size_t)16 << 10)

/* The most a channel's cache keeps by default, in bytes of memory
 * (crpc_channel_opts.message_cache_bytes): the replies of 32 calls of
 * 64 KiB in flight, or four streams' whole queues of unread messages
 * (CRPC__H2_READ_QUEUE_BYTES). 1 MiB left 4 x 32 calls of 64 KiB at 11k
 * a second, against 24k with 4 MiB and 25k with glibc's trimming off.
 * Requests packed from it too, 32 MiB did worse than 4 MiB at 4 x 8
 * calls of 1 MiB (260-634 calls a second against 633-874). */
#define CRPC__MSG_CACHE_BYTES ((size_t)4 << 20)

typedef struct crpc__msg_cache crpc__msg_cache;

/*
 * Returns a new, empty cache with one reference, that keeps at most
 * |max_bytes| (0: keeps nothing), or NULL when out of memory.
 * Thread: any.
 */
crpc__msg_cache *crpc__msg_cache_new(size_t max_bytes);

/* Adds a reference to |c| and returns it. Thread: any. */
crpc__msg_cache *crpc__msg_cache_ref(crpc__msg_cache *c);

/* Drops a reference to |c|; the last frees it and what it keeps. NULL is
 * a no-op. Thread: any. */
void crpc__msg_cache_unref(crpc__msg_cache *c);

/*
 * Memory for a message of |len| bytes: a crpc__cmsg whose |cap| is at
 * least |len|, kept by |c| or else from malloc.
 * Ownership: the caller gives it back with crpc__msg_cache_put().
 * Thread: any. Returns NULL when out of memory.
 */
crpc__cmsg *crpc__msg_cache_get(crpc__msg_cache *c, size_t len);

/*
 * Gives back |m| (a message done with, or memory never used), which |c|
 * keeps or frees. NULL is a no-op. Thread: any.
 */
void crpc__msg_cache_put(crpc__msg_cache *c, crpc__cmsg *m);

/*
 * Frees the memory |c| kept all along since the last trim (none of it was
 * needed meanwhile), so that an idle channel gives back what its last
 * burst left. Thread: any.
 * Returns the bytes |c| still keeps.
 */
size_t crpc__msg_cache_trim(crpc__msg_cache *c);

/* The bytes of memory |c| keeps. Thread: any. */
size_t crpc__msg_cache_kept(crpc__msg_cache *c);

/*
 * Memory |c| took from malloc because it kept none that fitted, since it
 * was made: requests of CRPC__MSG_CACHE_MIN bytes or more from
 * crpc__msg_cache_get() and crpc__msg_cache_mem(). Thread: any.
 */
uint64_t crpc__msg_cache_fresh(crpc__msg_cache *c);

/*
 * A decoder's memory function (crpc__frame_decoder_set_mem()) for a
 * decoder whose headroom is a crpc__cmsg's header, |c| being the cache:
 * as crpc__msg_cache_get() for a message of CRPC__MSG_CACHE_MIN bytes or
 * more, else NULL (the decoder allocates it). Thread: any.
 */
uint8_t *crpc__msg_cache_mem(void *c, size_t want, size_t *n);

/*
 * Gives back the memory |mem| of |n| bytes (a crpc__cmsg's header, then
 * its room) that a decoder or crpc__msg_cache_mem() handed out. NULL is a
 * no-op. Thread: any.
 */
void crpc__msg_cache_put_mem(crpc__msg_cache *c, uint8_t *mem, size_t n);

#endif /* CRPC_MSG_CACHE_H */
