/* text_tokenizer.c — see text_tokenizer.h. */
#include "text/text_tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "text/bpe.h"
#include "text/lines.h"
#include "text/wordpiece.h"

struct hp_tokenizer {
  hp_tokenizer_spec spec;
  const hp_vocab *word;  /* word kind: borrowed or owned_word */
  hp_vocab *owned_word;
  hp_wordpiece *wp;
  hp_bpe *bpe;
  char **entries;        /* wordpiece and bpe: copies, to store; word: NULL (the vocabulary's words) */
  int64_t n_entries;
};

int hp_tokenizer_spec_parse(const char *text, const char *what, hp_tokenizer_spec *out) {
  memset(out, 0, sizeof *out);
  char kind[32];
  int used = 0;
  if (sscanf(text, "%31s%n", kind, &used) != 1)
    HP_ERROR(HP_ERR_INPUT, "%s: tokenizer \"%s\": empty (word, wordpiece or bpe)", what, text);
  if (strcmp(kind, "word") == 0) out->kind = HP_TOKENIZER_WORD;
  else if (strcmp(kind, "wordpiece") == 0) out->kind = HP_TOKENIZER_WORDPIECE, out->lowercase = out->strip_accents = 1;
  else if (strcmp(kind, "bpe") == 0) out->kind = HP_TOKENIZER_BPE;
  else HP_ERROR(HP_ERR_INPUT, "%s: tokenizer \"%s\": unknown kind \"%s\" (word, wordpiece or bpe)", what, text, kind);
  for (const char *p = text + used;;) {
    while (*p == ' ') p++;
    if (!*p) break;
    char opt[64];
    int k = 0, v = -1;
    int ok = sscanf(p, "%63[a-z_]=%d%n", opt, &v, &k) == 2 && (v == 0 || v == 1) &&
             out->kind == HP_TOKENIZER_WORDPIECE && (strcmp(opt, "lowercase") == 0 || strcmp(opt, "strip_accents") == 0);
    if (!ok)
      HP_ERROR(HP_ERR_INPUT, "%s: tokenizer \"%s\": unknown option \"%.40s\" (only wordpiece has options: "
               "lowercase=0|1, strip_accents=0|1)", what, text, p);
    *(strcmp(opt, "lowercase") == 0 ? &out->lowercase : &out->strip_accents) = v;
    p += k;
  }
  return 0;
}

void hp_tokenizer_spec_format(const hp_tokenizer_spec *s, char *buf, size_t n) {
  if (s->kind == HP_TOKENIZER_WORDPIECE)
    snprintf(buf, n, "wordpiece lowercase=%d strip_accents=%d", s->lowercase, s->strip_accents);
  else snprintf(buf, n, "%s", s->kind == HP_TOKENIZER_BPE ? "bpe" : "word");
}

void hp_tokenizer_free(hp_tokenizer *t) {
  if (!t) return;
  hp_vocab_free(t->owned_word);
  hp_wordpiece_free(t->wp);
  hp_bpe_free(t->bpe);
  hp_text_free_lines(t->entries, t->n_entries);
  free(t);
}

int hp_tokenizer_from_vocab(const hp_vocab *v, hp_tokenizer **out) {
  hp_tokenizer *t = calloc(1, sizeof *t);
  if (!t) HP_ERROR(HP_ERR_MEM, "tokenizer");
  t->spec.kind = HP_TOKENIZER_WORD;
  t->word = v;
  *out = t;
  return 0;
}

int hp_tokenizer_create(const hp_tokenizer_spec *s, const char *const *entries, int64_t n, const char *what,
                        hp_tokenizer **out) {
  *out = NULL;
  hp_tokenizer *t = calloc(1, sizeof *t);
  if (!t) HP_ERROR(HP_ERR_MEM, "tokenizer");
  t->spec = *s;
  int e = 0;
  if (s->kind == HP_TOKENIZER_WORD) {
    e = hp_vocab_from_words(entries, n, &t->owned_word);
    t->word = t->owned_word;
  } else {
    if (!(t->entries = calloc((size_t)(n > 0 ? n : 1), sizeof *t->entries))) e = HP_ERROR_SET(HP_ERR_MEM, "tokenizer");
    for (int64_t i = 0; !e && i < n; i++) {
      size_t len = strlen(entries[i]);
      if (!(t->entries[i] = malloc(len + 1))) e = HP_ERROR_SET(HP_ERR_MEM, "tokenizer entries");
      else memcpy(t->entries[i], entries[i], len + 1), t->n_entries++;
    }
    hp_wordpiece_opts o = {s->lowercase, s->strip_accents, 100};
    if (!e && s->kind == HP_TOKENIZER_WORDPIECE) e = hp_wordpiece_create(entries, n, &o, what, &t->wp);
    if (!e && s->kind == HP_TOKENIZER_BPE) e = hp_bpe_create(entries, n, what, &t->bpe);
  }
  if (e) {
    hp_tokenizer_free(t);
    return hp_error_trace(e, __FILE__, __LINE__, __func__);
  }
  *out = t;
  return 0;
}

int hp_tokenizer_from_file(const hp_tokenizer_spec *s, const char *path, hp_tokenizer **out) {
  char **lines = NULL;
  int64_t n = 0;
  if (s->kind == HP_TOKENIZER_WORDPIECE) HP_CALL(hp_wordpiece_read_vocab(path, &lines, &n));
  else if (s->kind == HP_TOKENIZER_BPE) HP_CALL(hp_bpe_read_merges(path, &lines, &n));
  else HP_ERROR(HP_ERR_CONFIG, "%s: the word tokenizer has no file (its vocabulary is the dataset's)", path);
  int e = hp_tokenizer_create(s, (const char *const *)lines, n, path, out);
  hp_text_free_lines(lines, n);
  HP_CALL(e);
  return 0;
}

const hp_tokenizer_spec *hp_tokenizer_get_spec(const hp_tokenizer *t) { return &t->spec; }

const char *const *hp_tokenizer_entries(const hp_tokenizer *t, int64_t *n) {
  if (t->spec.kind == HP_TOKENIZER_WORD) {
    *n = hp_vocab_size(t->word);
    return hp_vocab_words(t->word);
  }
  *n = t->n_entries;
  return (const char *const *)t->entries;
}

int64_t hp_tokenizer_vocab_size(const hp_tokenizer *t) {
  switch (t->spec.kind) {
  case HP_TOKENIZER_WORDPIECE: return hp_wordpiece_vocab_size(t->wp);
  case HP_TOKENIZER_BPE: return hp_bpe_vocab_size(t->bpe);
  default: return hp_vocab_size(t->word);
  }
}

int32_t hp_tokenizer_pad_id(const hp_tokenizer *t) {
  return t->spec.kind == HP_TOKENIZER_WORDPIECE ? hp_wordpiece_id(t->wp, "[PAD]") : HP_TOK_PAD;
}

int hp_tokenizer_encode(const hp_tokenizer *t, const char *text, int64_t L, int32_t *ids, int64_t *n_tokens) {
  switch (t->spec.kind) {
  case HP_TOKENIZER_WORDPIECE: return hp_wordpiece_encode(t->wp, text, L, ids, n_tokens);
  case HP_TOKENIZER_BPE: return hp_bpe_encode(t->bpe, text, L, ids, n_tokens);
  default: return hp_tok_encode(t->word, text, L, ids, n_tokens);
  }
}
