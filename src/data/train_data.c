/* train_data.c — dataset access for the train stage (see train_data.h). */
#include "data/train_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/rng.h"
#include "comm/shard.h"
#include "io/dataset.h"
#include "io/h5.h"

#define CAPTION_CHUNK 65536 /* captions read and encoded per collective round */

/* Tokenise this rank's block of captions in bounded collective rounds, then all-gather. */
static int load_caption_ids(MPI_Comm comm, hp_dataset *ds, hp_train_data *d) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int64_t k0, n, r0max, nmax;
  hp_shard_range(d->M, size, rank, &k0, &n);
  hp_shard_range(d->M, size, 0, &r0max, &nmax); /* rank 0's block is the largest */
  int64_t total;
  if (hp_mul_i64(d->M, d->T, &total) || total > INT32_MAX)
    HP_ERROR(HP_ERR_MEM, "%s: %lld captions x %lld ids exceed the 2^31 ids one all-gather can move", d->path,
             (long long)d->M, (long long)d->T);
  HP_CALLOC(d->ids, (size_t)total, "caption token ids");
  int32_t *mine = d->ids + k0 * d->T;
  int64_t rounds = (nmax + CAPTION_CHUNK - 1) / CAPTION_CHUNK;
  for (int64_t r = 0; r < rounds; r++) {
    int64_t a = r * CAPTION_CHUNK, len = n - a < CAPTION_CHUNK ? n - a : CAPTION_CHUNK;
    if (len < 0) len = 0;
    char **text = NULL;
    HP_CALL(hp_dataset_read_strings(ds, "captions/text", len > 0 ? k0 + a : 0, len, &text));
    for (int64_t i = 0; i < len; i++) HP_CALL(hp_tokenizer_encode(d->tok, text[i], d->T, mine + (a + i) * d->T, NULL));
    hp_strings_free(text, len);
  }
  int *counts = NULL, *displs = NULL;
  HP_CALLOC(counts, size, "caption id counts");
  HP_CALLOC(displs, size, "caption id displacements");
  for (int r = 0; r < size; r++) {
    int64_t a, c;
    hp_shard_range(d->M, size, r, &a, &c);
    counts[r] = (int)(c * d->T);
    displs[r] = (int)(a * d->T);
  }
  HP_MPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_INT32_T, d->ids, counts, displs, MPI_INT32_T, comm));
  free(counts);
  free(displs);
  return 0;
}

int hp_train_data_open(MPI_Comm comm, const char *path, int64_t T, int64_t max_rows, const hp_tokenizer *tok,
                       hp_train_data *d) {
  memset(d, 0, sizeof *d);
  if (snprintf(d->path, sizeof d->path, "%s", path) >= (int)sizeof d->path)
    HP_ERROR(HP_ERR_USAGE, "dataset path too long: %s", path);
  hp_dataset *ds = NULL;
  HP_CALL(hp_dataset_open(comm, path, &ds));
  hp_dataset_dims dims = hp_dataset_get_dims(ds);
  d->N = dims.n_images;
  d->S = dims.height;
  d->M = dims.n_captions;
  d->T = T;
  if (dims.height != dims.width)
    HP_ERROR(HP_ERR_INPUT, "%s: /images: %lldx%lld images; training needs square images", path,
             (long long)dims.height, (long long)dims.width);
  if (dims.n_vocab < 2)
    HP_ERROR(HP_ERR_INPUT, "%s: /vocab: missing; the train stage needs the dataset's vocabulary (synth and "
             "ingest write it)", path);
  /* vocabulary */
  char **words = NULL;
  HP_CALL(hp_dataset_read_strings(ds, "vocab", 0, dims.n_vocab, &words));
  int e = hp_vocab_from_words((const char *const *)words, dims.n_vocab, &d->vocab);
  hp_strings_free(words, dims.n_vocab);
  if (e) return hp_error_trace(e, __FILE__, __LINE__, __func__);
  if (!tok) HP_CALL(hp_tokenizer_from_vocab(d->vocab, &d->tok_word));
  d->tok = tok ? tok : d->tok_word;
  /* split and caption links */
  HP_CALLOC(d->split, d->N, "image split");
  HP_CALL(hp_dataset_read_split(ds, 0, d->N, d->split));
  int64_t *cap_image = NULL;
  HP_CALLOC(cap_image, d->M, "caption image index");
  HP_CALL(hp_dataset_read_caption_image(ds, cap_image));
  HP_CALLOC(d->cap_first, d->N, "first caption of each image");
  HP_CALLOC(d->cap_count, d->N, "captions of each image");
  for (int64_t c = d->M - 1; c >= 0; c--) { /* validated on open: in range, non-decreasing */
    d->cap_first[cap_image[c]] = c;
    d->cap_count[cap_image[c]]++;
  }
  free(cap_image);
  for (int s = 0; s < 3; s++) {
    HP_CALLOC(d->rows[s], d->N, "split image list");
    d->nrows[s] = 0;
  }
  /* an image without a caption (format folder) cannot be trained or validated on; test images
   * are kept: caption -> image ranks them all, image -> caption skips them */
  int64_t bare[3] = {0, 0, 0};
  for (int64_t i = 0; i < d->N; i++) {
    if (d->cap_count[i] == 0 && d->split[i] != HP_SPLIT_TEST) {
      bare[d->split[i]]++;
      continue;
    }
    d->rows[d->split[i]][d->nrows[d->split[i]]++] = i;
  }
  if (bare[0] + bare[1] > 0)
    hp_log_info("%s: %lld training and %lld validation images have no caption and are left out", path,
                (long long)bare[0], (long long)bare[1]);
  if (d->nrows[0] == 0 && bare[0] > 0)
    HP_ERROR(HP_ERR_INPUT, "%s: none of the %lld training images has a caption: training needs image-caption pairs "
             "(format folder: the captions of NAME.jpg go in NAME.txt beside it)", path, (long long)bare[0]);
  HP_CALL(load_caption_ids(comm, ds, d));
  hp_dataset_close(ds);
  /* independent per-rank reads from here on */
  HP_CALL(hp_row_reader_open(path, "/images", H5T_NATIVE_UINT8, max_rows > 0 ? max_rows : 1, &d->images));
  return 0;
}

void hp_train_data_close(hp_train_data *d) {
  hp_row_reader_close(d->images);
  free(d->split);
  free(d->cap_first);
  free(d->cap_count);
  free(d->ids);
  for (int s = 0; s < 3; s++) free(d->rows[s]);
  hp_tokenizer_free(d->tok_word);
  hp_vocab_free(d->vocab);
  memset(d, 0, sizeof *d);
}

static int cmp_pair(const void *a, const void *b) {
  const int64_t *x = a, *y = b;
  return (x[0] > y[0]) - (x[0] < y[0]);
}

int hp_train_read_images(hp_train_data *d, const int64_t *rows, int64_t n, uint8_t *out) {
  return hp_row_reader_read(d->images, rows, n, out);
}

int hp_train_perm(const hp_train_data *d, uint64_t seed, int64_t epoch, int64_t *perm) {
  int64_t n = d->nrows[0];
  int64_t *kv = NULL;
  HP_CALLOC(kv, (size_t)(n > 0 ? n : 1) * 2, "epoch permutation keys");
  for (int64_t i = 0; i < n; i++) {
    int64_t img = d->rows[0][i];
    /* the top 63 bits of the key, then the image: a strict total order */
    kv[2 * i] = (int64_t)(hp_hash4(seed, HP_STREAM_SHUFFLE, (uint64_t)img, (uint64_t)epoch) >> 1);
    kv[2 * i + 1] = img;
  }
  qsort(kv, (size_t)n, 2 * sizeof(int64_t), cmp_pair);
  /* equal keys (probability ~n^2/2^64): cmp_pair ignores the image; fix the order of such runs */
  for (int64_t i = 1; i < n; i++)
    if (kv[2 * i] == kv[2 * i - 2] && kv[2 * i + 1] < kv[2 * i - 1]) {
      int64_t t = kv[2 * i + 1];
      kv[2 * i + 1] = kv[2 * i - 1];
      kv[2 * i - 1] = t;
      if (i > 1) i -= 2;
    }
  for (int64_t i = 0; i < n; i++) perm[i] = kv[2 * i + 1];
  free(kv);
  return 0;
}

int64_t hp_train_pick_caption(const hp_train_data *d, uint64_t seed, int64_t img, int64_t epoch) {
  uint64_t h = hp_hash4(seed, HP_STREAM_CAPTION_PICK, (uint64_t)img, (uint64_t)epoch);
  uint64_t k = (uint64_t)(((unsigned __int128)h * (uint64_t)d->cap_count[img]) >> 64);
  return d->cap_first[img] + (int64_t)k;
}
