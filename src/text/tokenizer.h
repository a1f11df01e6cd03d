/* tokenizer.h — the study's text vectorisation: normalise, split into words, map words to ids.
 *
 * Normalisation (one rule set, used for counting, encoding and by every stage):
 *   - ASCII letters are lowercased; ASCII digits are word characters.
 *   - Bytes >= 0x80 (UTF-8 multi-byte sequences) are kept unchanged as word characters, so
 *     non-English words survive intact (they are not case-folded).
 *   - The apostrophe ' is deleted without splitting a word: "don't" -> "dont", "dog's" -> "dogs".
 *   - Every other ASCII byte (punctuation, white space, control characters) separates words:
 *     "red-and-blue" -> "red and blue", "a,b" -> "a b".
 *   - Words have any length (no fixed-size buffers); empty words never occur.
 * Vocabulary: id 0 = "" (padding), id 1 = "[UNK]" (out of vocabulary), then the most frequent
 * words (count descending, ties by ascending byte order of the word), at most vocab_size ids in
 * total. "[UNK]" can never collide with a real word because '[' is a separator.
 * Encoding: exactly L ids per text: the first L words (truncation), then padding id 0.
 * Decoding: non-padding ids joined by single spaces; id 1 decodes as "[UNK]".
 * Counting is exact and parallel (hp_vocab_build_mpi): the vocabulary is identical for any
 * rank count and any distribution of the texts over ranks. */
#ifndef HP_TEXT_TOKENIZER_H
#define HP_TEXT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include <mpi.h>

#define HP_TOK_PAD 0
#define HP_TOK_UNK 1
#define HP_TOK_UNK_TEXT "[UNK]"

/* Normalised text: the words joined by single spaces ("" for a text without words). Caller
 * frees. */
int hp_tok_normalize(const char *text, char **out);

/* Call fn(word, len, arg) for each normalised word of text in order (word is NUL-terminated,
 * valid only during the call). A non-zero return of fn stops and is returned. */
typedef int (*hp_tok_word_fn)(const char *word, size_t len, void *arg);
int hp_tok_foreach_word(const char *text, hp_tok_word_fn fn, void *arg);

/* ---- word counts ---------------------------------------------------------------------------- */
typedef struct hp_wordcount hp_wordcount;

int hp_wordcount_create(hp_wordcount **out);
void hp_wordcount_free(hp_wordcount *wc);
/* Add n to the count of one (already normalised) word. */
int hp_wordcount_add(hp_wordcount *wc, const char *word, size_t len, int64_t n);
/* Count every word of a text. */
int hp_wordcount_add_text(hp_wordcount *wc, const char *text);
int64_t hp_wordcount_distinct(const hp_wordcount *wc);
/* Count of a word, 0 if absent. */
int64_t hp_wordcount_get(const hp_wordcount *wc, const char *word, size_t len);

/* ---- vocabulary ----------------------------------------------------------------------------- */
typedef struct hp_vocab hp_vocab;

/* Vocabulary from counts (serial): pad, [UNK], then the top vocab_size - 2 words.
 * vocab_size >= 2, else HP_ERR_CONFIG. */
int hp_vocab_build(const hp_wordcount *wc, int64_t vocab_size, hp_vocab **out);
/* Collective over comm: each rank passes the counts of its own texts; every rank gets the
 * vocabulary of the summed counts. */
int hp_vocab_build_mpi(MPI_Comm comm, const hp_wordcount *local, int64_t vocab_size, hp_vocab **out);
/* Convenience: count this rank's texts and build collectively. */
int hp_vocab_build_texts_mpi(MPI_Comm comm, const char *const *texts, int64_t n, int64_t vocab_size,
                             hp_vocab **out);
/* A vocabulary read back from a file (/vocab): words[0] must be "" and words[1] "[UNK]", the
 * rest distinct non-empty normalised words; HP_ERR_INPUT otherwise. */
int hp_vocab_from_words(const char *const *words, int64_t n, hp_vocab **out);
void hp_vocab_free(hp_vocab *v);

int64_t hp_vocab_size(const hp_vocab *v);
const char *hp_vocab_word(const hp_vocab *v, int64_t id); /* NULL if out of range */
/* Id of a normalised word: its id, or HP_TOK_UNK. */
int32_t hp_vocab_lookup(const hp_vocab *v, const char *word, size_t len);
/* The word list in id order (for meta.vocab); valid while v lives. */
const char *const *hp_vocab_words(const hp_vocab *v);

/* ---- encode / decode ------------------------------------------------------------------------ */
/* ids[0 .. L) = the first L word ids of text, padded with HP_TOK_PAD. *n_words (may be NULL)
 * receives the number of words of the text before truncation. */
int hp_tok_encode(const hp_vocab *v, const char *text, int64_t L, int32_t *ids, int64_t *n_words);
/* Text of ids[0 .. L): non-padding ids joined by single spaces. HP_ERR_INPUT for an id outside
 * the vocabulary. Caller frees. */
int hp_tok_decode(const hp_vocab *v, const int32_t *ids, int64_t L, char **text);

#endif
