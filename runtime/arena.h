/*
 * runtime/arena.h: the per-call arena, a bump allocator working in blocks.
 * A server call unpacks its request into the arena, the handler builds the
 * reply from it, and the whole lot is released at once by
 * crpc__arena_reset() or crpc__arena_cleanup(); nothing is freed singly.
 *
 * Every allocation is aligned to CRPC__ARENA_ALIGN. Blocks come from a base
 * ProtobufCAllocator (malloc/free by default) and hold |block_size| usable
 * bytes; an allocation larger than a quarter of that gets a block of its own,
 * so a large one neither wastes the current block nor forces a new one.
 * The fields are private.
 */
#ifndef CRPC_ARENA_H
#define CRPC_ARENA_H

#include <stdalign.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* The alignment of every allocation: max_align_t's, and at least 16. */
#define CRPC__ARENA_ALIGN                                                      \
  (alignof(max_align_t) > 16 ? alignof(max_align_t) : 16)

/* The block size used when crpc__arena_init() is given 0. */
#define CRPC__ARENA_DEFAULT_BLOCK 4096

typedef struct crpc__arena_block crpc__arena_block;

typedef struct crpc__arena {
  ProtobufCAllocator base;  /* where blocks come from */
  crpc__arena_block *head;  /* the block bumped from, then older blocks */
  crpc__arena_block *first; /* the first standard block, kept by reset */
  crpc__arena_block *spare; /* a large block kept by crpc__arena_keep() */
  size_t block_size;        /* usable bytes of a standard block */
  size_t max_bytes;         /* bound on |footprint| */
  size_t footprint;         /* bytes currently taken from |base| */
} crpc__arena;

/*
 * Initializes |a| empty. Blocks of |block_size| usable bytes (0 for
 * CRPC__ARENA_DEFAULT_BLOCK) are taken from |base| (NULL for malloc/free)
 * as needed, and the arena never holds more than |max_bytes| bytes taken
 * from |base|, block headers included (0 for no limit). Allocates nothing,
 * so it cannot fail.
 * Ownership: |*base| is copied; its allocator_data is borrowed and must
 * outlive |a|.
 * Thread: any, on an |a| the caller owns.
 */
void crpc__arena_init(crpc__arena *a, const ProtobufCAllocator *base,
                      size_t block_size, size_t max_bytes);

/*
 * Frees every block of |a|, invalidating all its allocations, and leaves it
 * empty as after crpc__arena_init() with the same settings.
 * Thread: any, on an |a| the caller owns.
 */
void crpc__arena_cleanup(crpc__arena *a);

/*
 * Invalidates all allocations of |a| and frees its blocks except the first
 * standard one, which later allocations reuse.
 * Thread: any, on an |a| the caller owns.
 */
void crpc__arena_reset(crpc__arena *a);

/*
 * As crpc__arena_reset(), but also keeps the largest block that a large
 * allocation had to itself, when its usable size is at most |max| bytes
 * (or the one kept before, when that is larger): the next allocation too
 * large for a standard block takes it if it fits, instead of a new one.
 * A pooled call whose messages are large this way allocates nothing for
 * them once warm. Returns the bytes the kept large block takes.
 * Thread: any, on an |a| the caller owns.
 */
size_t crpc__arena_keep(crpc__arena *a, size_t max);

/*
 * Returns |n| bytes (uninitialized, aligned to CRPC__ARENA_ALIGN) from |a|;
 * 0 bytes gives a distinct non-NULL pointer.
 * Ownership: the memory belongs to |a| until its reset or cleanup.
 * Thread: any, on an |a| the caller owns.
 * Returns NULL when |base| fails or |max_bytes| would be exceeded, and then
 * |a| is unchanged.
 */
void *crpc__arena_alloc(crpc__arena *a, size_t n);

/*
 * As crpc__arena_alloc() for |count| elements of |size| bytes each, zeroed.
 * Returns NULL also when |count| * |size| overflows.
 * Thread: any, on an |a| the caller owns.
 */
void *crpc__arena_calloc(crpc__arena *a, size_t count, size_t size);

/*
 * Returns a copy of the |n| bytes at |p| in |a|, as crpc__arena_alloc().
 * Ownership: |p| is borrowed for the call.
 * Thread: any, on an |a| the caller owns.
 */
void *crpc__arena_memdup(crpc__arena *a, const void *p, size_t n);

/*
 * Returns a copy of the NUL-terminated |s| in |a|, as crpc__arena_alloc().
 * Ownership: |s| is borrowed for the call.
 * Thread: any, on an |a| the caller owns.
 */
char *crpc__arena_strdup(crpc__arena *a, const char *s);

/*
 * Returns the number of bytes |a| currently holds from its base allocator,
 * block headers included. Thread: any, on an |a| the caller owns.
 */
size_t crpc__arena_footprint(const crpc__arena *a);

/*
 * Returns a ProtobufCAllocator that allocates from |a| and whose free does
 * nothing, so that protobuf_c_message_unpack() with it unpacks into |a| and
 * the message is released with |a| (free_unpacked with it does nothing).
 * Ownership: |a| is borrowed and must outlive every use of the result.
 * Thread: any, on an |a| the caller owns; so is every use of the result.
 */
ProtobufCAllocator crpc__arena_allocator(crpc__arena *a);

#endif /* CRPC_ARENA_H */
