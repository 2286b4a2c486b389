/* runtime/coro.c */
