/* runtime/log.c */
