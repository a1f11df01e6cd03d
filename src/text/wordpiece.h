/* wordpiece.h — BERT's tokenizer: the basic tokenizer, then greedy longest-match-first
 * WordPiece over a vocab.txt (Devlin et al. 2019; Hugging Face's BertTokenizer / Google's
 * tokenization.py, whose behaviour this reproduces).
 *
 * Basic tokenizer, on code points (text/unicode.h):
 *   1. clean: U+0000, U+FFFD and control characters (category C*, except tab, newline and
 *      carriage return) are removed; tab, newline, carriage return and category Zs become spaces;
 *   2. CJK ideographs (the CJK Unified Ideographs blocks and extensions A-E, the compatibility
 *      blocks) get a space on both sides;
 *   3. split on white space (Python's str.isspace);
 *   4. each word: lowercased character by character as Python's str.lower() (opts.lowercase; so
 *      a capital sigma is always U+03C3, as in Hugging Face's tokenizers), accents stripped (NFD,
 *      category Mn removed; opts.strip_accents), then split before and after every punctuation
 *      character (ASCII !-/ :-@ [-` {-~ and category P*), each its own word.
 * The vocabulary's special tokens written in the text ([PAD] [UNK] [CLS] [SEP] [MASK], exactly) stay
 * whole, as Hugging Face keeps its added tokens; the text between them is tokenized as above.
 * WordPiece, each word: more than opts.max_chars code points -> [UNK]; else the longest vocabulary
 * entry that prefixes it, then the longest "##"-prefixed entry that prefixes the rest, and so on;
 * when some rest has none, the whole word is [UNK].
 * Encoding to a fixed length L (L >= 2): [CLS], the first L - 2 pieces, [SEP], then [PAD].
 *
 * The vocabulary is a list of entries in id order (a vocab.txt line each, read as Python's text
 * mode does: "\r\n", "\r" and "\n" end lines); an entry listed twice maps to its last id (as the Python code's dictionary does).
 * [PAD], [UNK], [CLS] and [SEP] must be entries. */
#ifndef HP_TEXT_WORDPIECE_H
#define HP_TEXT_WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  int lowercase;      /* 1: lowercase (an "uncased" model) */
  int strip_accents;  /* 1: strip accents (BERT does when it lowercases) */
  int64_t max_chars;  /* words longer than this many code points are [UNK] (BERT: 100) */
} hp_wordpiece_opts;

typedef struct hp_wordpiece hp_wordpiece;

/* From the entries tokens[0..n) (copied). HP_ERR_INPUT naming `what` (the file) when a special
 * token is missing or an entry is not UTF-8. */
int hp_wordpiece_create(const char *const *tokens, int64_t n, const hp_wordpiece_opts *o, const char *what,
                        hp_wordpiece **out);
void hp_wordpiece_free(hp_wordpiece *w);

/* The entries of a vocab.txt file, one per line (caller frees with hp_wordpiece_free_lines). */
int hp_wordpiece_read_vocab(const char *path, char ***tokens, int64_t *n);
void hp_wordpiece_free_lines(char **lines, int64_t n);

/* The pieces of text (no [CLS]/[SEP]); *ids is allocated (caller frees), *n its length. */
int hp_wordpiece_tokenize(const hp_wordpiece *w, const char *text, int32_t **ids, int64_t *n);
/* ids[0..L) as described above; *n_pieces (may be NULL) = the pieces before truncation. */
int hp_wordpiece_encode(const hp_wordpiece *w, const char *text, int64_t L, int32_t *ids, int64_t *n_pieces);

int64_t hp_wordpiece_vocab_size(const hp_wordpiece *w);
int32_t hp_wordpiece_id(const hp_wordpiece *w, const char *token); /* -1 when absent */

#endif
