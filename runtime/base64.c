/* runtime/base64.c */
