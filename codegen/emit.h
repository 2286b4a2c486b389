/*
 * codegen/emit.h: writing a .proto file's <path>.crpc.h and <path>.crpc.c
 * from its names (naming.h).
 *
 * The output is laid out as clang-format (the repository's .clang-format)
 * leaves it, compiles as C11 with -Wall -Wextra -pedantic, and the header
 * also as C++11. It uses only the public crpc headers crpc/call.h and
 * crpc/server.h and protoc-c's <path>.pb-c.h.
 */
#ifndef CRPC_CODEGEN_EMIT_H
#define CRPC_CODEGEN_EMIT_H

#include "naming.h"
#include "printer.h"

/* The kinds' words in comments: "unary", "server streaming", ... */
extern const char *const crpc__emit_kind_words[4];

/*
 * Appends |text| (lines separated by newlines) as a block comment indented
 * by |indent|: on one line when it is one line and fits, else an opening
 * line, one " * " line per line of text (wrapped at the column limit) and a
 * closing line. Comment delimiters inside |text| are defused, control
 * characters become spaces and trailing blanks are dropped, so any .proto
 * comment is safe to pass. (emit_header.c)
 */
void crpc__emit_comment(crpc__printer *out, int indent, const char *text);

/*
 * Appends the literal |s| (|n| bytes, without quotes) starting at column
 * |col| and a comma, split as clang-format splits a literal past |limit|
 * (to |out| unless NULL). Returns the number of splits. (emit_source.c)
 */
int crpc__emit_split_string(crpc__printer *out, int limit, const char *s, int n,
                            int col);

/* ".field = \"value\",\n" indented by |in|, broken or split as
 * clang-format would. (emit_source.c) */
void crpc__emit_string_member(crpc__printer *out, int in, const char *field,
                              const char *value);

/*
 * Appends the header (emit_header.c) or the source (emit_source.c) of the
 * file named by |n| to |out|. Returns 0, or -1 when |out| failed (out of
 * memory or past its bound).
 */
int crpc__emit_header(const crpc__file_names *n, crpc__printer *out);
int crpc__emit_source(const crpc__file_names *n, crpc__printer *out);

#endif /* CRPC_CODEGEN_EMIT_H */
