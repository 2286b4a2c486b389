/* runtime/arena.c */
