/* runtime/percent.c */
