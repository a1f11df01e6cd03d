/* train_data.h — what the train stage needs from dataset.h5, and per-step batch reading.
 *
 * At open (collective): the split [N] and caption -> image links [M] on every rank; the
 * vocabulary (/vocab); every caption tokenised once to T ids — each rank encodes a contiguous
 * block of captions and the ids are all-gathered ([M,T] int32 per rank, 80 bytes a caption at
 * T = 20). Images are NOT loaded: each step every rank reads only its own rows of the global
 * batch with independent I/O (io/row_reader.h: one serial read-only handle per rank).
 *
 * Batch sampling (hp_train_perm): epoch e visits the training images in the order of the key
 * hp_hash4(seed, HP_STREAM_SHUFFLE, image, e) (ties by image index) — the same permutation for
 * any rank count. Global batch g is perm[g*B, (g+1)*B); rank r takes the contiguous rows
 * [r*B/P, (r+1)*B/P) of it. The caption of an image in epoch e is its caption number
 * hp_hash4(seed, HP_STREAM_CAPTION_PICK, image, e) mod (its caption count) (Lemire reduction).
 */
#ifndef HP_DATA_TRAIN_DATA_H
#define HP_DATA_TRAIN_DATA_H

#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>

#include "io/row_reader.h"
#include "text/text_tokenizer.h"

typedef struct {
  char path[4096];
  int64_t N, S, M, T;          /* images, side, captions, ids per caption */
  uint8_t *split;              /* [N] */
  int64_t *cap_first, *cap_count; /* [N] first caption and number of captions of each image */
  int32_t *ids;                /* [M,T] token ids of every caption */
  int64_t *rows[3];            /* image indices of each split, ascending */
  int64_t nrows[3];
  hp_vocab *vocab;             /* the dataset's word vocabulary (/vocab) */
  const hp_tokenizer *tok;     /* what the captions are encoded with: the caller's, or tok_word */
  hp_tokenizer *tok_word;      /* the word tokenizer over vocab (owned), when the caller gave none */
  hp_row_reader *images;       /* /images, independent row reads */
} hp_train_data;

/* Open and load (collective). T = data.caption_len; tok = the tokenizer that encodes the captions
 * (borrowed; NULL = the word tokenizer over the dataset's /vocab). Errors name the file and
 * object. */
int hp_train_data_open(MPI_Comm comm, const char *path, int64_t T, int64_t max_rows, const hp_tokenizer *tok,
                       hp_train_data *d);
void hp_train_data_close(hp_train_data *d);

/* Images rows[0..n) (any order, distinct) into out [n,S,S,3]; independent I/O, n <= max_rows. */
int hp_train_read_images(hp_train_data *d, const int64_t *rows, int64_t n, uint8_t *out);

/* perm [ntrain] = the training images in epoch e's order. */
int hp_train_perm(const hp_train_data *d, uint64_t seed, int64_t epoch, int64_t *perm);
/* Global caption index used for image `img` in epoch e. */
int64_t hp_train_pick_caption(const hp_train_data *d, uint64_t seed, int64_t img, int64_t epoch);

#endif
