/* runtime/compress.c */
