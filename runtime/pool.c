/* runtime/pool.c */
