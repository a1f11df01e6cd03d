/* split.h — seeded train / validation / test assignment of images.
 *
 * The assignment depends only on (seed, N, fractions), never on the rank count: images are
 * ordered by the keyed hash hp_hash4(seed, HP_STREAM_SPLIT, i, 0) (ties by index i); the first
 * n_train of that order are train, the next n_val validation, the rest test, with
 *   n_train = floor(N * train_frac + 0.5),  n_val = floor(N * val_frac + 0.5)
 * (n_val is reduced if n_train + n_val would exceed N). The proportions are therefore exact, not
 * merely expected. Values are HP_SPLIT_TRAIN / _VAL / _TEST (io/dataset.h). */
#ifndef HP_DATA_SPLIT_H
#define HP_DATA_SPLIT_H

#include <stdint.h>

/* Counts of each split for N images (fractions must be in [0, 1]). */
void hp_split_counts(int64_t n_total, double train_frac, double val_frac, int64_t *n_train,
                     int64_t *n_val, int64_t *n_test);

/* Split of images [row0, row0 + n) out of n_total, written to out[0 .. n). Every caller
 * computes the two cut points over all n_total images (O(n_total) time, O(n_total / 65536)
 * temporary memory), so any slicing of the images gives the same answer.
 * HP_ERR_CONFIG for fractions outside [0,1] or summing above 1, HP_ERR_MEM if the temporary
 * does not fit. */
int hp_split_assign(uint64_t seed, int64_t n_total, double train_frac, double val_frac, int64_t row0,
                    int64_t n, uint8_t *out);

/* The per-image rule: image `row` (a global row number) is train when u < train_frac, validation
 * when u < train_frac + val_frac, else test, with u = hp_hash4(seed, HP_STREAM_SPLIT, row, 2) as a
 * uniform number in [0, 1): an image's split depends on nothing but its row, so a dataset grown by
 * appends and one made at once agree. Writes out[0 .. n) for rows [row0, row0 + n). */
void hp_split_assign_per_image(uint64_t seed, double train_frac, double val_frac, int64_t row0, int64_t n,
                               uint8_t *out);

#endif
