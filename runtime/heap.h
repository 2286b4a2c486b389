/*
 * runtime/heap.h: giving freed memory back to the system. glibc's malloc
 * keeps what is freed in its arenas (one per thread that allocates, up to
 * eight per CPU) and returns pages only from the top of each; after a
 * burst (thousands of connections or calls that came and went) most of
 * the burst's memory stays resident in the middle of the arenas. The
 * server's sweep asks for it back once a burst is over.
 */
#ifndef CRPC_HEAP_H
#define CRPC_HEAP_H

/*
 * Returns the free pages of every malloc arena to the system (glibc's
 * malloc_trim(0)), unless it was done less than a second ago anywhere in
 * the process. Costs about a walk of the arenas' free chunks, and the
 * arenas' locks in turn. Returns 1 when it ran (or there is nothing to
 * run: the C library has no such call), 0 when it was too soon, and the
 * caller should ask again later. Thread: any.
 */
int crpc__heap_release(void);

#endif /* CRPC_HEAP_H */
