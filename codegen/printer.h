/*
 * codegen/printer.h: the text buffer the emitters write into, and the line
 * breaking that makes generated code come out exactly as clang-format (the
 * repository's .clang-format: LLVM, 80 columns) would leave it.
 *
 * Errors are sticky: once out of memory or past the bound, every later call
 * is a no-op and |failed| stays set, so emitters check once at the end (as
 * curl's dynbuf does).
 *
 * The layout calls take one line of C as a printf format and break it the
 * way clang-format 14 does for that shape of line, for the shapes the
 * generator emits: function declarations and definition heads, function
 * pointer members, calls, assignments, and definitions with braced
 * initializers. They assume the argument lists protoc-gen-crpc writes
 * (identifiers, pointer declarators and casts; no nested calls).
 * Thread: any; a printer belongs to one thread at a time.
 */
#ifndef CRPC_CODEGEN_PRINTER_H
#define CRPC_CODEGEN_PRINTER_H

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define CRPC__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CRPC__PRINTF(f, a)
#endif

typedef struct crpc__printer {
  char *data; /* NUL-terminated once anything was written */
  size_t len;
  size_t cap;
  size_t max; /* the text may not grow past this many bytes */
  int limit;  /* column limit of laid-out lines */
  int macro;  /* the lines are a macro's body (see crpc__printer_line()) */
  int failed; /* sticky: out of memory, past |max|, or a bad format */
} crpc__printer;

/* Starts an empty printer bounded to |max| bytes whose lines break at
 * column 80. Cannot fail; nothing is allocated until the first write. */
void crpc__printer_init(crpc__printer *p, size_t max);

/* Frees the text. The printer can be initialized again. */
void crpc__printer_cleanup(crpc__printer *p);

/* Appends |n| bytes of |s|. */
void crpc__printer_add(crpc__printer *p, const char *s, size_t n);

/* Appends formatted text as is. */
void crpc__printer_printf(crpc__printer *p, const char *fmt, ...)
    CRPC__PRINTF(2, 3);

/* The formatted text in a new string, or NULL when out of memory; the
 * caller frees it. Needs no printer. */
char *crpc__printer_format(const char *fmt, ...) CRPC__PRINTF(1, 2);
char *crpc__printer_vformat(const char *fmt, va_list ap) CRPC__PRINTF(1, 0);

/*
 * For the line layouts in layout.c: appends the NUL-terminated |s|, or |n|
 * spaces; and formats for |p|, returning NULL (and marking |p| failed) when
 * out of memory, and NULL once |p| has failed, so that emitters need not
 * check every line. The caller frees the result.
 */
void crpc__printer_puts(crpc__printer *p, const char *s);
void crpc__printer_spaces(crpc__printer *p, int n);
char *crpc__printer_vformat_for(crpc__printer *p, const char *fmt, va_list ap)
    CRPC__PRINTF(2, 0);

/* The shapes of line the layout knows. */
typedef enum crpc__line_shape {
  CRPC__LINE_DECL,      /* "RET NAME(PARAM, ...)" then ";" or " {" */
  CRPC__LINE_FPTR,      /* "RET (*NAME)(PARAM, ...);", a struct member */
  CRPC__LINE_CALL,      /* "HEAD(ARG, ...)" then ";", "," or ")"; HEAD is
                           "f", "return f", "return x->f" or "#define F" */
  CRPC__LINE_ASSIGN,    /* "LHS = RHS;": RHS a name, "(T *)name" or a call */
  CRPC__LINE_DECLARATOR /* "typedef struct A A;", "typedef struct A {",
                           "extern TYPE NAME;", "extern TYPE NAME[N];" */
} crpc__line_shape;

/*
 * Appends one line of C of the given shape, formatted from |fmt| without
 * indentation or newline, indented by |indent| (ignored by DECLARATOR,
 * which is top-level) and broken as clang-format would.
 */
void crpc__printer_line(crpc__printer *p, crpc__line_shape shape, int indent,
                        const char *fmt, ...) CRPC__PRINTF(4, 5);

/* Writes the elements of an initializer into |out|, indented by |indent|. */
typedef void (*crpc__printer_body_fn)(crpc__printer *out, int indent,
                                      const void *arg);

/*
 * Appends a definition with a braced initializer: the line formatted from
 * |fmt| ("TYPE NAME = {" or "TYPE NAME[N] = {"), the elements |body|
 * writes (one per line, each ending with a comma) and "};", broken as
 * clang-format would.
 */
void crpc__printer_initializer(crpc__printer *p, crpc__printer_body_fn body,
                               const void *arg, const char *fmt, ...)
    CRPC__PRINTF(4, 5);

/*
 * The number of columns clang-format lays out the |n| elements of a braced
 * list with a trailing comma in, when each element starts on a new line at
 * the list's indent and |width| columns remain from there: |len| holds
 * each element's width with its comma. 1 means one per line; otherwise
 * element i goes in column i % columns, padded to |sizes|[that column]
 * (which has room for CRPC__PRINTER_MAX_COLUMNS) and followed by a space
 * unless last on its line. Lists of fewer than five are one per line.
 */
#define CRPC__PRINTER_MAX_COLUMNS 26 /* a limit of 80 over 3 */
int crpc__printer_columns(const int *len, size_t n, int width, int *sizes);

/* Columns |n| bytes of UTF-8 take, as clang-format counts them: East
 * Asian wide characters two, combining marks none, bytes that do not
 * decode one each. */
int crpc__printer_width(const char *s, size_t n);

#endif /* CRPC_CODEGEN_PRINTER_H */
