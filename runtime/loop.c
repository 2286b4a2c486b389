/* runtime/loop.c */
