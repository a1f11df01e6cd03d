/* unicode.h — the Unicode operations the pretrained tokenizers (wordpiece.h, bpe.h) are defined
 * by, on code point arrays, with utf8proc's character database (Unicode 15):
 *   - UTF-8 <-> code points (invalid bytes are an error: texts are validated UTF-8 everywhere);
 *   - the lowercasing of Python's str.lower(), which those tokenizers' reference code calls: the
 *     simple lowercase mapping, plus U+0130 -> "i\u0307" and the final-sigma rule (a capital
 *     sigma after a cased letter and not before one lowercases to U+03C2);
 *   - NFD with the combining marks (category Mn) removed: BERT's accent stripping;
 *   - the character classes the tokenizers split on. */
#ifndef HP_TEXT_UNICODE_H
#define HP_TEXT_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* A growable int32 array: code points here, token ids in the tokenizers. */
typedef struct {
  int32_t *v;
  int64_t n, cap;
} hp_i32_list;

void hp_i32_list_free(hp_i32_list *s);
int hp_i32_list_push(hp_i32_list *s, int32_t c);

/* 1 if text[0..len) is valid UTF-8 (utf8proc's rules: no overlong forms, no surrogates). */
int hp_uni_valid_utf8(const char *text, size_t len);
/* Code points of text[0..len); HP_ERR_INPUT on invalid UTF-8. Appends to out. */
int hp_utf8_decode(const char *text, size_t len, hp_i32_list *out);
/* UTF-8 of cp[0..n) appended to *buf (capacity *cap, NUL-terminated, length *len). */
int hp_utf8_encode(const int32_t *cp, int64_t n, char **buf, size_t *len, size_t *cap);

/* Python's str.lower() of s (see above), into out (cleared first). final_sigma = 0: each code
 * point on its own (Hugging Face's BERT tokenizers lowercase character by character, so a capital
 * sigma always becomes U+03C3); 1: with the final-sigma rule (str.lower() of a whole string). */
int hp_uni_lower(const hp_i32_list *s, int final_sigma, hp_i32_list *out);
/* NFD of s without the category Mn code points, into out (cleared first). */
int hp_uni_strip_accents(const hp_i32_list *s, hp_i32_list *out);

/* Classes. */
int hp_uni_is_letter(int32_t c);       /* category L* (regex \p{L}) */
int hp_uni_is_number(int32_t c);       /* category N* (regex \p{N}) */
int hp_uni_is_white_space(int32_t c);  /* the White_Space property (regex \s) */
int hp_uni_is_py_space(int32_t c);     /* Python's str.isspace(): White_Space + U+001C..U+001F */
int hp_uni_is_control(int32_t c);      /* category C* (Cc, Cf, Cs, Co, Cn) */
int hp_uni_is_space_sep(int32_t c);    /* category Zs */
int hp_uni_is_punct(int32_t c);        /* category P* */

#endif
