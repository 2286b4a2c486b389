/* runtime/metadata.c */
