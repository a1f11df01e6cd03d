/* wordpiece.c — see wordpiece.h. */
#include "text/wordpiece.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "text/lines.h"
#include "text/strmap.h"
#include "text/token_frame.h"
#include "text/unicode.h"

struct hp_wordpiece {
  hp_strmap *vocab;
  int64_t n;
  hp_wordpiece_opts o;
  int32_t pad, unk, cls, sep;
};

void hp_wordpiece_free(hp_wordpiece *w) {
  if (!w) return;
  hp_strmap_free(w->vocab);
  free(w);
}

int hp_wordpiece_read_vocab(const char *path, char ***tokens, int64_t *n) {
  return hp_text_read_lines(path, 1, 0, tokens, n); /* Python's text mode, as the reference reader */
}

void hp_wordpiece_free_lines(char **lines, int64_t n) { hp_text_free_lines(lines, n); }

int hp_wordpiece_create(const char *const *tokens, int64_t n, const hp_wordpiece_opts *o, const char *what,
                        hp_wordpiece **out) {
  *out = NULL;
  if (n < 4 || n > INT32_MAX) HP_ERROR(HP_ERR_INPUT, "%s: %lld vocabulary entries (BERT's has 30522)", what, (long long)n);
  hp_wordpiece *w = calloc(1, sizeof *w);
  if (!w) HP_ERROR(HP_ERR_MEM, "WordPiece tokenizer");
  w->o = *o;
  if (w->o.max_chars <= 0) w->o.max_chars = 100;
  w->n = n;
  int e = hp_strmap_create(n, &w->vocab);
  for (int64_t i = 0; !e && i < n; i++) {
    size_t len = strlen(tokens[i]);
    if (!hp_uni_valid_utf8(tokens[i], len))
      e = HP_ERROR_SET(HP_ERR_INPUT, "%s: entry %lld (line %lld) is not valid UTF-8", what, (long long)i,
                       (long long)(i + 1));
    else
      e = hp_strmap_put(w->vocab, tokens[i], len, (int32_t)i, NULL);
  }
  static const char *const special[4] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]"};
  int32_t *id[4] = {&w->pad, &w->unk, &w->cls, &w->sep};
  for (int k = 0; !e && k < 4; k++)
    if ((*id[k] = hp_strmap_get(w->vocab, special[k], strlen(special[k]))) < 0)
      e = HP_ERROR_SET(HP_ERR_INPUT, "%s: no %s entry (a BERT vocab.txt has [PAD], [UNK], [CLS] and [SEP])", what,
                       special[k]);
  if (e) {
    hp_wordpiece_free(w);
    return hp_error_trace(e, __FILE__, __LINE__, __func__);
  }
  *out = w;
  return 0;
}

int64_t hp_wordpiece_vocab_size(const hp_wordpiece *w) { return w->n; }

int32_t hp_wordpiece_id(const hp_wordpiece *w, const char *token) {
  return hp_strmap_get(w->vocab, token, strlen(token));
}

static int is_cjk(int32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int is_bert_punct(int32_t c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126) ||
         hp_uni_is_punct(c);
}

typedef struct {
  hp_i32_list a, b, c;   /* scratch code point arrays */
  char *buf;        /* scratch UTF-8 */
  size_t blen, bcap;
  char *key;        /* "##" + a piece */
  size_t keycap;
  int64_t *off;     /* byte offset of each code point of the current word */
  int64_t offcap;
  hp_i32_list ids;  /* the token ids so far */
} scratch;

static void scratch_free(scratch *s) {
  hp_i32_list_free(&s->a);
  hp_i32_list_free(&s->b);
  hp_i32_list_free(&s->c);
  free(s->buf);
  free(s->key);
  free(s->off);
  hp_i32_list_free(&s->ids);
}

static int emit(scratch *s, int32_t id) { return hp_i32_list_push(&s->ids, id); }

/* WordPiece of one word cp[0..n) (no white space, already lowercased / split). */
static int wordpiece(const hp_wordpiece *w, scratch *s, const int32_t *cp, int64_t n) {
  if (n > w->o.max_chars) return emit(s, w->unk);
  /* "##" then the word's UTF-8, with the byte offset of every code point */
  if (s->offcap < n + 1) {
    int64_t *p = realloc(s->off, (size_t)(n + 1) * sizeof *p);
    if (!p) HP_ERROR(HP_ERR_MEM, "word offsets");
    s->off = p;
    s->offcap = n + 1;
  }
  s->blen = 0;
  for (int64_t i = 0; i < n; i++) {
    s->off[i] = (int64_t)s->blen;
    HP_CALL(hp_utf8_encode(cp + i, 1, &s->buf, &s->blen, &s->bcap));
  }
  s->off[n] = (int64_t)s->blen;
  int64_t first = s->ids.n;
  for (int64_t start = 0; start < n;) {
    int32_t id = -1;
    int64_t end = n;
    for (; end > start; end--) {
      /* the piece: bytes [off[start], off[end]), with "##" before it when it does not start the word */
      const char *p = s->buf + s->off[start];
      size_t len = (size_t)(s->off[end] - s->off[start]);
      if (start > 0) {
        if (s->keycap < len + 2) {
          char *k = realloc(s->key, len + 2);
          if (!k) HP_ERROR(HP_ERR_MEM, "WordPiece piece");
          s->key = k;
          s->keycap = len + 2;
        }
        memcpy(s->key, "##", 2);
        memcpy(s->key + 2, p, len);
        p = s->key;
        len += 2;
      }
      if ((id = hp_strmap_get(w->vocab, p, len)) >= 0) break;
    }
    if (id < 0) { /* the whole word is unknown */
      s->ids.n = first;
      return emit(s, w->unk);
    }
    HP_CALL(emit(s, id));
    start = end;
  }
  return 0;
}

/* Steps 4 and WordPiece for one white-space-delimited token a[0..n). */
static int word(const hp_wordpiece *w, scratch *s, const int32_t *cp, int64_t n) {
  hp_i32_list tok = {.v = (int32_t *)cp, .n = n, .cap = n};
  const hp_i32_list *cur = &tok;
  if (w->o.lowercase) {
    HP_CALL(hp_uni_lower(cur, 0, &s->b)); /* character by character, as Hugging Face's */
    cur = &s->b;
  }
  if (w->o.strip_accents) {
    HP_CALL(hp_uni_strip_accents(cur, &s->c));
    cur = &s->c;
  }
  /* split around punctuation (and on any white space lowercasing or NFD could have made) */
  int64_t a = 0;
  for (int64_t i = 0; i <= cur->n; i++) {
    int end = i == cur->n, sp = !end && hp_uni_is_py_space(cur->v[i]), pu = !end && !sp && is_bert_punct(cur->v[i]);
    if (end || sp || pu) {
      if (i > a) HP_CALL(wordpiece(w, s, cur->v + a, i - a));
      if (pu) HP_CALL(wordpiece(w, s, cur->v + i, 1));
      a = i + 1;
    }
  }
  return 0;
}

/* Steps 1-4 and WordPiece for text[0..len) without special tokens. */
static int tokenize_plain(const hp_wordpiece *w, const char *text, size_t len, scratch *s) {
  s->a.n = 0;
  HP_CALL(hp_utf8_decode(text, len, &s->a));
  /* 1-2: clean, space around CJK, in place (the array only grows by the CJK spaces: rebuild) */
  hp_i32_list t = {0};
  int e = 0;
  for (int64_t i = 0; !e && i < s->a.n; i++) {
    int32_t c = s->a.v[i];
    int tnr = c == '\t' || c == '\n' || c == '\r';
    if (c == 0 || c == 0xFFFD || (!tnr && hp_uni_is_control(c))) continue;
    if (tnr || c == ' ' || hp_uni_is_space_sep(c)) e = hp_i32_list_push(&t, ' ');
    else if (is_cjk(c)) {
      if (!(e = hp_i32_list_push(&t, ' ')) && !(e = hp_i32_list_push(&t, c))) e = hp_i32_list_push(&t, ' ');
    } else
      e = hp_i32_list_push(&t, c);
  }
  /* 3: white-space tokens */
  int64_t a = 0;
  for (int64_t i = 0; !e && i <= t.n; i++)
    if (i == t.n || hp_uni_is_py_space(t.v[i])) {
      if (i > a) e = word(w, s, t.v + a, i - a);
      a = i + 1;
    }
  hp_i32_list_free(&t);
  return e;
}

/* The special tokens of the vocabulary written literally in a text stay whole, as Hugging Face's
 * tokenizers keep their added tokens (matched exactly, case and all, before normalising); the text
 * between them is tokenized on its own. */
static const char *const g_special[5] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

static int tokenize(const hp_wordpiece *w, const char *text, scratch *s) {
  for (const char *p = text;;) {
    const char *hit = NULL;
    int32_t id = -1;
    size_t hl = 0;
    for (const char *q = strchr(p, '['); q && !hit; q = strchr(q + 1, '['))
      for (int k = 0; k < 5 && !hit; k++) {
        size_t l = strlen(g_special[k]);
        if (strncmp(q, g_special[k], l) == 0 && (id = hp_strmap_get(w->vocab, g_special[k], l)) >= 0) hit = q, hl = l;
      }
    HP_CALL(tokenize_plain(w, p, hit ? (size_t)(hit - p) : strlen(p), s));
    if (!hit) return 0;
    HP_CALL(emit(s, id));
    p = hit + hl;
  }
}

int hp_wordpiece_tokenize(const hp_wordpiece *w, const char *text, int32_t **ids, int64_t *n) {
  scratch s;
  memset(&s, 0, sizeof s);
  int e = tokenize(w, text, &s);
  if (!e) {
    *ids = s.ids.v;
    *n = s.ids.n;
    s.ids.v = NULL;
  }
  scratch_free(&s);
  HP_CALL(e);
  return 0;
}

int hp_wordpiece_encode(const hp_wordpiece *w, const char *text, int64_t L, int32_t *ids, int64_t *n_pieces) {
  if (L < 2) HP_ERROR(HP_ERR_CONFIG, "WordPiece: a context of %lld tokens cannot hold [CLS] and [SEP]", (long long)L);
  scratch s;
  memset(&s, 0, sizeof s);
  int e = tokenize(w, text, &s);
  if (!e) {
    hp_token_frame(s.ids.v, s.ids.n, w->cls, w->sep, w->pad, L, ids);
    if (n_pieces) *n_pieces = s.ids.n;
  }
  scratch_free(&s);
  HP_CALL(e);
  return 0;
}
