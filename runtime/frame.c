/* runtime/frame.c */
