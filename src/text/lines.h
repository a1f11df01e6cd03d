/* lines.h — the lines of a text file, plain or gzip-compressed (zlib reads both), for the
 * tokenizers' vocabulary and merges files. */
#ifndef HP_TEXT_LINES_H
#define HP_TEXT_LINES_H

#include <stdint.h>

/* Every line of path without its line end; a last line without one counts, an empty file has
 * none. universal = 0: only '\n' ends a line (a '\r' before it is kept), as Python's binary
 * read + split("\n"); 1: "\r\n", "\r" and "\n" end lines, as Python's text mode. At most
 * max_lines lines are kept (0 = all). HP_ERR_INPUT naming the file when it cannot be opened or
 * read, or when a line holds a NUL byte. Caller frees with hp_text_free_lines. */
int hp_text_read_lines(const char *path, int universal, int64_t max_lines, char ***lines, int64_t *n);
void hp_text_free_lines(char **lines, int64_t n);

#endif
