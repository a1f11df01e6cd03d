/* text_tokenizer.h — one interface over the three tokenizers a CLIP text tower can use, so that
 * the tokenizer is data (a kind, its options and its entries, stored in ckpt.h5) rather than a
 * code path:
 *   word       the study's word-level vocabulary (tokenizer.h): entries = the words, id order;
 *   wordpiece  BERT's (wordpiece.h): entries = the vocab.txt lines; options lowercase,
 *              strip_accents;
 *   bpe        CLIP's byte-level BPE (bpe.h): entries = the merges.
 * The spec text, as stored in the checkpoint's "tokenizer" attribute: "word",
 * "wordpiece lowercase=1 strip_accents=1", "bpe". */
#ifndef HP_TEXT_TEXT_TOKENIZER_H
#define HP_TEXT_TEXT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"

typedef enum { HP_TOKENIZER_WORD = 0, HP_TOKENIZER_WORDPIECE = 1, HP_TOKENIZER_BPE = 2 } hp_tokenizer_kind;

typedef struct {
  hp_tokenizer_kind kind;
  int lowercase, strip_accents; /* wordpiece */
} hp_tokenizer_spec;

/* Parse / format the spec text. Parse fails (HP_ERR_INPUT, naming `what`) on an unknown kind
 * or option. */
int hp_tokenizer_spec_parse(const char *text, const char *what, hp_tokenizer_spec *out);
void hp_tokenizer_spec_format(const hp_tokenizer_spec *s, char *buf, size_t n);

typedef struct hp_tokenizer hp_tokenizer;

/* From the kind's entries (copied); `what` names their source in errors. */
int hp_tokenizer_create(const hp_tokenizer_spec *s, const char *const *entries, int64_t n, const char *what,
                        hp_tokenizer **out);
/* From the kind's file: a vocab.txt (wordpiece) or a merges file (bpe, gzip or plain); the word
 * kind has no file of its own (HP_ERR_CONFIG). */
int hp_tokenizer_from_file(const hp_tokenizer_spec *s, const char *path, hp_tokenizer **out);
/* A word tokenizer over v (borrowed: v must outlive it). */
int hp_tokenizer_from_vocab(const hp_vocab *v, hp_tokenizer **out);
void hp_tokenizer_free(hp_tokenizer *t);

const hp_tokenizer_spec *hp_tokenizer_get_spec(const hp_tokenizer *t);
/* The entries to store (see above); valid while t lives. */
const char *const *hp_tokenizer_entries(const hp_tokenizer *t, int64_t *n);
int64_t hp_tokenizer_vocab_size(const hp_tokenizer *t);
/* The id that pads a fixed-length encoding (the text tower masks it out): word 0, wordpiece
 * [PAD], bpe 0 (OpenAI's padding; the CLIP text tower pools at the end token and never reads
 * it). */
int32_t hp_tokenizer_pad_id(const hp_tokenizer *t);

/* ids[0..L): the kind's fixed-length encoding (word: the first L words then padding; wordpiece:
 * [CLS] .. [SEP] then [PAD]; bpe: start .. end then 0). *n_tokens (may be NULL): the tokens
 * of the text before truncation. */
int hp_tokenizer_encode(const hp_tokenizer *t, const char *text, int64_t L, int32_t *ids, int64_t *n_tokens);

#endif
