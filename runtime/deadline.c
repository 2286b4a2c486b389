/* runtime/deadline.c */
