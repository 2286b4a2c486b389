/* runtime/buf.c */
