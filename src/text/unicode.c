/* unicode.c — see unicode.h. */
#include "text/unicode.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/error.h"

void hp_i32_list_free(hp_i32_list *s) {
  free(s->v);
  memset(s, 0, sizeof *s);
}

int hp_i32_list_push(hp_i32_list *s, int32_t c) {
  if (s->n == s->cap) {
    int64_t cap = s->cap ? 2 * s->cap : 64;
    int32_t *p = realloc(s->v, (size_t)cap * sizeof *p);
    if (!p) HP_ERROR(HP_ERR_MEM, "code points: cannot allocate %lld", (long long)cap);
    s->v = p;
    s->cap = cap;
  }
  s->v[s->n++] = c;
  return 0;
}

int hp_uni_valid_utf8(const char *text, size_t len) {
  const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
  for (size_t i = 0; i < len;) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &c);
    if (k <= 0 || c < 0) return 0;
    i += (size_t)k;
  }
  return 1;
}

int hp_utf8_decode(const char *text, size_t len, hp_i32_list *out) {
  const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
  size_t i = 0;
  while (i < len) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &c);
    if (k <= 0 || c < 0) HP_ERROR(HP_ERR_INPUT, "invalid UTF-8 at byte %zu", i);
    HP_CALL(hp_i32_list_push(out, c));
    i += (size_t)k;
  }
  return 0;
}

int hp_utf8_encode(const int32_t *cp, int64_t n, char **buf, size_t *len, size_t *cap) {
  for (int64_t i = 0; i < n; i++) {
    if (*len + 5 > *cap) {
      size_t c = *cap ? 2 * *cap : 64;
      while (c < *len + 5) c *= 2;
      char *b = realloc(*buf, c);
      if (!b) HP_ERROR(HP_ERR_MEM, "text: cannot allocate %zu bytes", c);
      *buf = b;
      *cap = c;
    }
    utf8proc_ssize_t k = utf8proc_encode_char(cp[i], (utf8proc_uint8_t *)*buf + *len);
    if (k <= 0) HP_ERROR(HP_ERR_INPUT, "code point U+%04X cannot be encoded", (unsigned)cp[i]);
    *len += (size_t)k;
  }
  if (!*buf || *len + 1 > *cap) {
    char *b = realloc(*buf, *len + 1);
    if (!b) HP_ERROR(HP_ERR_MEM, "text: cannot allocate");
    *buf = b;
    *cap = *len + 1;
  }
  (*buf)[*len] = 0;
  return 0;
}

static utf8proc_category_t cat(int32_t c) { return utf8proc_category(c); }

int hp_uni_is_letter(int32_t c) {
  utf8proc_category_t k = cat(c);
  return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

int hp_uni_is_number(int32_t c) {
  utf8proc_category_t k = cat(c);
  return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

int hp_uni_is_white_space(int32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

int hp_uni_is_py_space(int32_t c) { return hp_uni_is_white_space(c) || (c >= 0x1C && c <= 0x1F); }

int hp_uni_is_control(int32_t c) {
  utf8proc_category_t k = cat(c);
  return k == UTF8PROC_CATEGORY_CN || (k >= UTF8PROC_CATEGORY_CC && k <= UTF8PROC_CATEGORY_CO);
}

int hp_uni_is_space_sep(int32_t c) { return cat(c) == UTF8PROC_CATEGORY_ZS; }

int hp_uni_is_punct(int32_t c) {
  utf8proc_category_t k = cat(c);
  return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

/* The Cased and Case_Ignorable properties of the final-sigma rule, from the category and the
 * case mappings (utf8proc has no property flags for them). */
static int is_cased(int32_t c) {
  utf8proc_category_t k = cat(c);
  return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
         utf8proc_tolower(c) != c || utf8proc_toupper(c) != c;
}

static int is_case_ignorable(int32_t c) {
  utf8proc_category_t k = cat(c);
  if (k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME || k == UTF8PROC_CATEGORY_CF ||
      k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK)
    return 1;
  static const int32_t mid[] = {0x27, 0x2E, 0x3A, 0xB7, 0x387, 0x55F, 0x5F4, 0x2018, 0x2019, 0x2024, 0x2027,
                                0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A};
  for (size_t i = 0; i < sizeof mid / sizeof mid[0]; i++)
    if (c == mid[i]) return 1;
  return 0;
}

static int32_t lower_sigma(const hp_i32_list *s, int64_t i) {
  int64_t j = i - 1;
  while (j >= 0 && is_case_ignorable(s->v[j])) j--;
  int before = j >= 0 && is_cased(s->v[j]);
  j = i + 1;
  while (j < s->n && is_case_ignorable(s->v[j])) j++;
  int after = j < s->n && is_cased(s->v[j]);
  return before && !after ? 0x3C2 : 0x3C3;
}

int hp_uni_lower(const hp_i32_list *s, int final_sigma, hp_i32_list *out) {
  out->n = 0;
  for (int64_t i = 0; i < s->n; i++) {
    int32_t c = s->v[i];
    if (c == 0x130) { /* SpecialCasing: capital I with dot above -> i + combining dot above */
      HP_CALL(hp_i32_list_push(out, 0x69));
      HP_CALL(hp_i32_list_push(out, 0x307));
    } else if (c == 0x3A3 && final_sigma) {
      HP_CALL(hp_i32_list_push(out, lower_sigma(s, i)));
    } else {
      HP_CALL(hp_i32_list_push(out, utf8proc_tolower(c)));
    }
  }
  return 0;
}

int hp_uni_strip_accents(const hp_i32_list *s, hp_i32_list *out) {
  out->n = 0;
  utf8proc_int32_t d[32];
  for (int64_t i = 0; i < s->n; i++) {
    int last = 0;
    utf8proc_ssize_t k = utf8proc_decompose_char(s->v[i], d, 32, UTF8PROC_DECOMPOSE, &last);
    if (k < 0 || k > 32) HP_ERROR(HP_ERR_INPUT, "U+%04X: cannot decompose", (unsigned)s->v[i]);
    /* canonical order only matters among combining marks, and those are all removed */
    for (utf8proc_ssize_t j = 0; j < k; j++)
      if (cat(d[j]) != UTF8PROC_CATEGORY_MN) HP_CALL(hp_i32_list_push(out, d[j]));
  }
  return 0;
}
