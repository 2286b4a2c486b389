/* runtime/future.c */
