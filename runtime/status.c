/* runtime/status.c */
