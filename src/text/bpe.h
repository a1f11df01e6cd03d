/* bpe.h — CLIP's byte-level BPE tokenizer (Radford et al. 2021; OpenAI's simple_tokenizer.py,
 * whose behaviour this reproduces without its ftfy and HTML-unescaping pass: docs/models.md).
 *
 *   1. white space (the White_Space property) runs become one space, the ends are stripped;
 *      the text is lowercased as Python's str.lower() (text/unicode.h);
 *   2. pre-tokens, left to right, the first that matches at each position (white space between
 *      them is skipped): "<|startoftext|>", "<|endoftext|>", 's 't 're 've 'm 'll 'd, a run of
 *      letters (L*), one number character (N*), a run of anything else but white space;
 *   3. (a pre-token of more than 256 code points is cut into pieces of 256, each on its own: BPE
 *      costs the square of a pre-token's length; OpenAI's code has no such cut, and no caption
 *      has such a run) each pre-token's UTF-8 bytes become the printable characters of the byte encoder (the 256
 *      bytes mapped to 256 code points), the last with "</w>" appended; then the adjacent pair
 *      of lowest merge rank is merged everywhere, left to right, until no pair has a rank;
 *   4. the ids of the symbols: the vocabulary is the 256 byte characters, the same with "</w>",
 *      one entry per merge (its two sides joined), "<|startoftext|>", "<|endoftext|>".
 * Encoding to a fixed length L (L >= 2): start, the tokens, end; longer than L: cut to L with
 * the end token last (OpenCLIP's rule); then padding id 0.
 *
 * Merges come from a merges file (bpe_simple_vocab_16e6.txt.gz, gzip or plain): the first line
 * is a header and is skipped, empty lines are ignored, each other line is two symbols separated
 * by one space; at most 48,894 merges are used (OpenAI's cut: a vocabulary of 49,408). A merge
 * whose joined symbol is already an entry maps it to its last id (as the Python dictionary). */
#ifndef HP_TEXT_BPE_H
#define HP_TEXT_BPE_H

#include <stdint.h>

#define HP_BPE_MAX_MERGES 48894

typedef struct hp_bpe hp_bpe;

/* From merges[0..n) ("a b" each; copied). HP_ERR_INPUT naming `what` for a malformed merge. */
int hp_bpe_create(const char *const *merges, int64_t n, const char *what, hp_bpe **out);
void hp_bpe_free(hp_bpe *b);

/* The merges of a merges file (caller frees with hp_text_free_lines, text/lines.h). */
int hp_bpe_read_merges(const char *path, char ***merges, int64_t *n);

/* Token ids of text (no start/end); *ids allocated (caller frees). */
int hp_bpe_tokenize(const hp_bpe *b, const char *text, int32_t **ids, int64_t *n);
/* ids[0..L) as described above; *n_tokens (may be NULL) = the tokens before truncation. */
int hp_bpe_encode(const hp_bpe *b, const char *text, int64_t L, int32_t *ids, int64_t *n_tokens);

int64_t hp_bpe_vocab_size(const hp_bpe *b);
int32_t hp_bpe_start_id(const hp_bpe *b);
int32_t hp_bpe_end_id(const hp_bpe *b);

#endif
