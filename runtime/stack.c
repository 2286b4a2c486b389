/* runtime/stack.c */
