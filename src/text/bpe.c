/* bpe.c — see bpe.h. */
#include "text/bpe.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "text/lines.h"
#include "text/strmap.h"
#include "text/token_frame.h"
#include "text/unicode.h"

struct hp_bpe {
  hp_strmap *vocab;  /* symbol -> id */
  hp_strmap *ranks;  /* "first second" -> merge rank */
  int64_t n_vocab;
  int32_t sot, eot;
  char byte_sym[256][3]; /* UTF-8 of the byte encoder's character of each byte (1 or 2 bytes) */
  unsigned char byte_len[256];
};

static const char *const SOT = "<|startoftext|>", *const EOT = "<|endoftext|>";
#define MAX_PRETOKEN 256

void hp_bpe_free(hp_bpe *b) {
  if (!b) return;
  hp_strmap_free(b->vocab);
  hp_strmap_free(b->ranks);
  free(b);
}

/* OpenAI's bytes_to_unicode: the printable bytes ! .. ~, ¡ .. ¬, ® .. ÿ map to themselves, the
 * others in order to 256, 257, ... */
static void byte_encoder(hp_bpe *b) {
  int n = 0;
  for (int c = 0; c < 256; c++) {
    int printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
    int32_t cp = printable ? c : 256 + n++;
    char *s = b->byte_sym[c];
    if (cp < 0x80) {
      s[0] = (char)cp;
      b->byte_len[c] = 1;
    } else {
      s[0] = (char)(0xC0 | (cp >> 6));
      s[1] = (char)(0x80 | (cp & 0x3F));
      b->byte_len[c] = 2;
    }
  }
}

int hp_bpe_read_merges(const char *path, char ***merges, int64_t *n) {
  char **lines = NULL;
  int64_t nl = 0;
  HP_CALL(hp_text_read_lines(path, 0, 0, &lines, &nl)); /* binary, split at '\n' */
  /* line 0 is the header; empty lines are skipped; at most HP_BPE_MAX_MERGES */
  int64_t k = 0;
  char *header = nl > 0 ? lines[0] : NULL;
  for (int64_t i = 1; i < nl; i++) {
    size_t len = strlen(lines[i]); /* a "\r\n" line end: the '\r' goes (Python's split() drops it) */
    if (len > 0 && lines[i][len - 1] == '\r') lines[i][len - 1] = 0;
    if (!lines[i][0] || k >= HP_BPE_MAX_MERGES) {
      free(lines[i]);
      continue;
    }
    lines[k++] = lines[i];
  }
  free(header);
  if (k == 0) {
    free(lines);
    HP_ERROR(HP_ERR_INPUT, "%s: no merges (a header line, then one \"a b\" merge per line)", path);
  }
  *merges = lines;
  *n = k;
  return 0;
}

int hp_bpe_create(const char *const *merges, int64_t n, const char *what, hp_bpe **out) {
  *out = NULL;
  if (n < 1 || n > HP_BPE_MAX_MERGES)
    HP_ERROR(HP_ERR_INPUT, "%s: %lld merges (1 .. %d)", what, (long long)n, HP_BPE_MAX_MERGES);
  hp_bpe *b = calloc(1, sizeof *b);
  if (!b) HP_ERROR(HP_ERR_MEM, "BPE tokenizer");
  byte_encoder(b);
  int e = hp_strmap_create(512 + n + 2, &b->vocab);
  if (!e) e = hp_strmap_create(n, &b->ranks);
  int32_t id = 0;
  char sym[8];
  /* the byte characters in the byte encoder's order (the printable bytes, then the others),
   * then the same with "</w>" */
  int order[256], no = 0;
  for (int pass = 0; pass < 2; pass++)
    for (int c = 0; c < 256; c++) {
      int printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
      if (printable == (pass == 0)) order[no++] = c;
    }
  for (int w = 0; !e && w < 2; w++)
    for (int k = 0; !e && k < 256; k++) {
      int c = order[k];
      memcpy(sym, b->byte_sym[c], b->byte_len[c]);
      size_t len = b->byte_len[c];
      if (w) memcpy(sym + len, "</w>", 4), len += 4;
      e = hp_strmap_put(b->vocab, sym, len, id++, NULL);
    }
  char *joined = NULL;
  size_t jcap = 0;
  for (int64_t i = 0; !e && i < n; i++) {
    const char *m = merges[i];
    size_t len = strlen(m);
    const char *sp = strchr(m, ' ');
    if (!sp || sp == m || !sp[1] || strchr(sp + 1, ' ') || !hp_uni_valid_utf8(m, len)) {
      e = HP_ERROR_SET(HP_ERR_INPUT, "%s: merge %lld (line %lld) \"%.60s\" is not two symbols separated by one space",
                       what, (long long)(i + 1), (long long)(i + 2), m);
      break;
    }
    if (!(e = hp_strmap_put(b->ranks, m, len, (int32_t)i, NULL))) {
      if (jcap < len) {
        char *j = realloc(joined, len);
        if (!j) {
          e = HP_ERROR_SET(HP_ERR_MEM, "BPE merge");
          break;
        }
        joined = j;
        jcap = len;
      }
      size_t a = (size_t)(sp - m);
      memcpy(joined, m, a);
      memcpy(joined + a, sp + 1, len - a - 1);
      e = hp_strmap_put(b->vocab, joined, len - 1, id++, NULL);
    }
  }
  free(joined);
  if (!e) e = hp_strmap_put(b->vocab, SOT, strlen(SOT), b->sot = id++, NULL);
  if (!e) e = hp_strmap_put(b->vocab, EOT, strlen(EOT), b->eot = id++, NULL);
  b->n_vocab = id;
  if (e) {
    hp_bpe_free(b);
    return hp_error_trace(e, __FILE__, __LINE__, __func__);
  }
  *out = b;
  return 0;
}

int64_t hp_bpe_vocab_size(const hp_bpe *b) { return b->n_vocab; }
int32_t hp_bpe_start_id(const hp_bpe *b) { return b->sot; }
int32_t hp_bpe_end_id(const hp_bpe *b) { return b->eot; }

typedef struct {
  hp_i32_list raw, low;
  char *s;          /* the pre-token's byte characters + "</w>" */
  size_t slen, scap;
  int64_t *a, *z;   /* symbol k = s[a[k], z[k]) */
  int64_t nsym, capsym;
  char *key;        /* "first second" */
  size_t keycap;
  hp_i32_list ids;  /* the token ids so far */
} scratch;

static void scratch_free(scratch *s) {
  hp_i32_list_free(&s->raw);
  hp_i32_list_free(&s->low);
  free(s->s);
  free(s->a);
  free(s->z);
  free(s->key);
  hp_i32_list_free(&s->ids);
}

static int emit(scratch *s, int32_t id) { return hp_i32_list_push(&s->ids, id); }

static int reserve(char **p, size_t *cap, size_t need) {
  if (*cap >= need) return 0;
  size_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  char *q = realloc(*p, c);
  if (!q) HP_ERROR(HP_ERR_MEM, "BPE scratch");
  *p = q;
  *cap = c;
  return 0;
}

/* rank of the adjacent pair (k, k+1), -1 when it is not a merge */
static int32_t pair_rank(const hp_bpe *b, scratch *s, int64_t k) {
  size_t l1 = (size_t)(s->z[k] - s->a[k]), l2 = (size_t)(s->z[k + 1] - s->a[k + 1]);
  if (reserve(&s->key, &s->keycap, l1 + l2 + 1)) return -2;
  memcpy(s->key, s->s + s->a[k], l1);
  s->key[l1] = ' ';
  memcpy(s->key + l1 + 1, s->s + s->a[k + 1], l2);
  return hp_strmap_get(b->ranks, s->key, l1 + l2 + 1);
}

/* BPE of one pre-token cp[0..n) (not a special token), ids appended. */
static int bpe_token(const hp_bpe *b, scratch *s, const int32_t *cp, int64_t n) {
  /* UTF-8 bytes -> byte characters; one symbol per byte character, "</w>" on the last */
  char *u = NULL;
  size_t ulen = 0, ucap = 0;
  int ee = hp_utf8_encode(cp, n, &u, &ulen, &ucap);
  if (ee) {
    free(u);
    return hp_error_trace(ee, __FILE__, __LINE__, __func__);
  }
  int e = reserve(&s->s, &s->scap, 2 * ulen + 5);
  if (!e && s->capsym < (int64_t)ulen) {
    int64_t *a = realloc(s->a, ulen * sizeof *a), *z = a ? realloc(s->z, ulen * sizeof *z) : NULL;
    if (a) s->a = a;
    if (z) s->z = z;
    if (!a || !z) e = HP_ERROR_SET(HP_ERR_MEM, "BPE symbols");
    else s->capsym = (int64_t)ulen;
  }
  if (e) {
    free(u);
    return e;
  }
  s->slen = 0;
  s->nsym = (int64_t)ulen;
  for (size_t i = 0; i < ulen; i++) {
    unsigned char c = (unsigned char)u[i];
    s->a[i] = (int64_t)s->slen;
    memcpy(s->s + s->slen, b->byte_sym[c], b->byte_len[c]);
    s->slen += b->byte_len[c];
    s->z[i] = (int64_t)s->slen;
  }
  free(u);
  memcpy(s->s + s->slen, "</w>", 4);
  s->slen += 4;
  s->z[s->nsym - 1] = (int64_t)s->slen;
  /* merge the lowest-ranked pair everywhere, left to right, until none is a merge */
  while (s->nsym > 1) {
    int32_t best = -1;
    for (int64_t k = 0; k + 1 < s->nsym; k++) {
      int32_t r = pair_rank(b, s, k);
      if (r == -2) HP_ERROR(HP_ERR_MEM, "BPE pair");
      if (r >= 0 && (best < 0 || r < best)) best = r;
    }
    if (best < 0) break;
    int64_t w = 0;
    for (int64_t k = 0; k < s->nsym; w++) {
      if (k + 1 < s->nsym && pair_rank(b, s, k) == best) {
        s->a[w] = s->a[k];
        s->z[w] = s->z[k + 1];
        k += 2;
      } else {
        s->a[w] = s->a[k];
        s->z[w] = s->z[k];
        k++;
      }
    }
    s->nsym = w;
  }
  for (int64_t k = 0; k < s->nsym; k++) {
    int32_t id = hp_strmap_get(b->vocab, s->s + s->a[k], (size_t)(s->z[k] - s->a[k]));
    if (id < 0) HP_ERROR(HP_ERR_INTERNAL, "BPE: a symbol not in the vocabulary");
    HP_CALL(emit(s, id));
  }
  return 0;
}

static int starts_with(const hp_i32_list *t, int64_t i, const char *lit) {
  int64_t n = (int64_t)strlen(lit);
  if (i + n > t->n) return 0;
  for (int64_t k = 0; k < n; k++)
    if (t->v[i + k] != (unsigned char)lit[k]) return 0;
  return 1;
}

/* length of the contraction at i ('s 't 're 've 'm 'll 'd, in that order of trial), 0 if none;
 * the pattern matches ignoring case, and U+017F (long s) folds to s */
static int64_t contraction(const hp_i32_list *t, int64_t i) {
  if (i + 1 >= t->n || t->v[i] != '\'') return 0;
  int32_t c = t->v[i + 1], d = i + 2 < t->n ? t->v[i + 2] : 0;
  if (c == 's' || c == 'S' || c == 0x17F || c == 't' || c == 'T') return 2;
  if ((c == 'r' || c == 'R') && (d == 'e' || d == 'E')) return 3;
  if ((c == 'v' || c == 'V') && (d == 'e' || d == 'E')) return 3;
  if (c == 'm' || c == 'M') return 2;
  if ((c == 'l' || c == 'L') && (d == 'l' || d == 'L')) return 3;
  if (c == 'd' || c == 'D') return 2;
  return 0;
}

static int tokenize(const hp_bpe *b, const char *text, scratch *s) {
  s->raw.n = 0;
  HP_CALL(hp_utf8_decode(text, strlen(text), &s->raw));
  /* white space runs -> one space, ends stripped (Python's strip: str.isspace) */
  hp_i32_list *r = &s->raw;
  int64_t w = 0;
  for (int64_t i = 0; i < r->n; i++) {
    if (hp_uni_is_white_space(r->v[i])) {
      if (w == 0 || r->v[w - 1] != ' ') r->v[w++] = ' ';
    } else
      r->v[w++] = r->v[i];
  }
  int64_t a = 0;
  while (a < w && hp_uni_is_py_space(r->v[a])) a++;
  while (w > a && hp_uni_is_py_space(r->v[w - 1])) w--;
  hp_i32_list view = {.v = r->v + a, .n = w - a, .cap = w - a};
  HP_CALL(hp_uni_lower(&view, 1, &s->low)); /* str.lower() of the whole text */
  const hp_i32_list *t = &s->low;
  for (int64_t i = 0; i < t->n;) {
    int32_t c = t->v[i];
    int64_t len = 0;
    if (starts_with(t, i, SOT)) {
      HP_CALL(emit(s, b->sot));
      i += (int64_t)strlen(SOT);
      continue;
    }
    if (starts_with(t, i, EOT)) {
      HP_CALL(emit(s, b->eot));
      i += (int64_t)strlen(EOT);
      continue;
    }
    if ((len = contraction(t, i)) == 0) {
      if (hp_uni_is_letter(c)) {
        while (i + len < t->n && hp_uni_is_letter(t->v[i + len])) len++;
      } else if (hp_uni_is_number(c)) {
        len = 1;
      } else if (!hp_uni_is_white_space(c)) {
        while (i + len < t->n && !hp_uni_is_white_space(t->v[i + len]) && !hp_uni_is_letter(t->v[i + len]) &&
               !hp_uni_is_number(t->v[i + len]))
          len++;
      }
    }
    if (len == 0) { /* white space: not part of any pre-token */
      i++;
      continue;
    }
    /* BPE is quadratic in a pre-token's length: a run longer than MAX_PRETOKEN code points (no
     * caption has one) is merged in pieces of that many */
    for (int64_t p = 0; p < len; p += MAX_PRETOKEN)
      HP_CALL(bpe_token(b, s, t->v + i + p, len - p < MAX_PRETOKEN ? len - p : MAX_PRETOKEN));
    i += len;
  }
  return 0;
}

int hp_bpe_tokenize(const hp_bpe *b, const char *text, int32_t **ids, int64_t *n) {
  scratch s;
  memset(&s, 0, sizeof s);
  int e = tokenize(b, text, &s);
  if (!e) {
    *ids = s.ids.v;
    *n = s.ids.n;
    s.ids.v = NULL;
  }
  scratch_free(&s);
  HP_CALL(e);
  return 0;
}

int hp_bpe_encode(const hp_bpe *b, const char *text, int64_t L, int32_t *ids, int64_t *n_tokens) {
  if (L < 2) HP_ERROR(HP_ERR_CONFIG, "BPE: a context of %lld tokens cannot hold the start and end tokens", (long long)L);
  scratch s;
  memset(&s, 0, sizeof s);
  int e = tokenize(b, text, &s);
  if (!e) {
    hp_token_frame(s.ids.v, s.ids.n, b->sot, b->eot, 0, L, ids);
    if (n_tokens) *n_tokens = s.ids.n;
  }
  scratch_free(&s);
  HP_CALL(e);
  return 0;
}
