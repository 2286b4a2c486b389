/*
 * runtime/buf.h: a bounded, growable byte buffer. Its content may never grow
 * past the limit given at init, so a peer cannot make it allocate more than
 * that (as curl's dynbuf with its "toobig" limit). Bytes are appended at the
 * back and consumed from the front; consuming is O(1) and the gap it leaves
 * is reclaimed by the next growth.
 *
 * The fields are private: read the content with crpc__buf_data() and
 * crpc__buf_len(). Pointers into the buffer stay valid until the next call
 * that may grow or free it (reserve, append, detach, cleanup).
 */
#ifndef CRPC_BUF_H
#define CRPC_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct crpc__buf {
  uint8_t *mem; /* allocation, NULL until the first growth */
  size_t off;   /* start of the content in |mem| */
  size_t len;   /* bytes of content */
  size_t cap;   /* bytes allocated at |mem| */
  size_t max;   /* the content never exceeds this */
} crpc__buf;

/*
 * Initializes |b| empty, holding at most |max| bytes (SIZE_MAX for no
 * limit). Allocates nothing, so it cannot fail.
 * Thread: any, on a |b| the caller owns.
 */
void crpc__buf_init(crpc__buf *b, size_t max);

/*
 * Frees the memory of |b| and leaves it empty, as after crpc__buf_init()
 * with the same limit. Thread: any, on a |b| the caller owns.
 */
void crpc__buf_cleanup(crpc__buf *b);

/*
 * Empties |b| but keeps its memory for reuse.
 * Thread: any, on a |b| the caller owns.
 */
void crpc__buf_reset(crpc__buf *b);

/*
 * Makes room for |n| more bytes after the content, starting at
 * crpc__buf_tail(). The content is kept but may move.
 * Thread: any, on a |b| the caller owns.
 * Returns 0, or one of these, and then the content of |b| is unchanged:
 *   CRPC_ETOOBIG  the content plus |n| would exceed the limit.
 *   CRPC_ENOMEM   out of memory.
 */
int crpc__buf_reserve(crpc__buf *b, size_t n);

/*
 * As crpc__buf_reserve(), but when |b| must grow it grows to exactly the
 * content plus |n| instead of the next power of two: for a size known in
 * advance, such as a message whose length prefix has arrived.
 */
int crpc__buf_reserve_exact(crpc__buf *b, size_t n);

/*
 * Appends the |n| bytes at |p| (copied) to |b|.
 * Thread: any, on a |b| the caller owns.
 * Returns 0, or one of these, and then the content of |b| is unchanged:
 *   CRPC_ETOOBIG  the content plus |n| would exceed the limit.
 *   CRPC_ENOMEM   out of memory.
 */
int crpc__buf_append(crpc__buf *b, const void *p, size_t n);

/*
 * Returns where the next appended byte goes, for writing in place into room
 * made by crpc__buf_reserve(); crpc__buf_commit() then adds the bytes to
 * the content. NULL while |b| has no memory.
 * Thread: any, on a |b| the caller owns.
 */
uint8_t *crpc__buf_tail(crpc__buf *b);

/*
 * Returns how many bytes can be written at crpc__buf_tail() without growing.
 * Thread: any, on a |b| the caller owns.
 */
size_t crpc__buf_room(const crpc__buf *b);

/*
 * Adds the |n| bytes written at crpc__buf_tail() to the content. |n| must
 * not exceed crpc__buf_room(). Thread: any, on a |b| the caller owns.
 */
void crpc__buf_commit(crpc__buf *b, size_t n);

/*
 * Drops the first |n| bytes of the content; |n| must not exceed the length.
 * Thread: any, on a |b| the caller owns.
 */
void crpc__buf_consume(crpc__buf *b, size_t n);

/*
 * Drops the content after its first |len| bytes; |len| must not exceed the
 * length. Used to undo appends. Thread: any, on a |b| the caller owns.
 */
void crpc__buf_truncate(crpc__buf *b, size_t len);

/*
 * Returns the first byte of the content (NULL while |b| has no memory).
 * Thread: any, on a |b| the caller owns.
 */
uint8_t *crpc__buf_data(const crpc__buf *b);

/*
 * Returns the length of the content. Thread: any, on a |b| the caller owns.
 */
size_t crpc__buf_len(const crpc__buf *b);

/*
 * Hands the memory of |b| to the caller with its content at the start
 * (|*len| bytes, in |*cap| bytes of memory), and gives |b| the |n| bytes
 * at |mem| (from malloc) in exchange, empty: a buffer that fills and is
 * handed on this way takes back memory that is already warm instead of
 * growing new memory.
 * Ownership: the caller frees the result with free(); |b| owns |mem|.
 * Thread: any, on a |b| the caller owns.
 * Returns the old memory, NULL when |b| had none (|mem| is its own then).
 */
uint8_t *crpc__buf_exchange(crpc__buf *b, uint8_t *mem, size_t n, size_t *len,
                            size_t *cap);

/*
 * Hands the content of |b| to the caller, sets |*len| to its length, and
 * leaves |b| empty without memory, as after crpc__buf_init() with the same
 * limit.
 * Ownership: the caller frees the result with free().
 * Thread: any, on a |b| the caller owns.
 * Returns NULL (and sets |*len| to 0) when |b| was empty; its memory, if
 * any, is then freed.
 */
uint8_t *crpc__buf_detach(crpc__buf *b, size_t *len);

#endif /* CRPC_BUF_H */
