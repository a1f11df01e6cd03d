/* row_reader.h — independent per-rank reads of arbitrary rows of one HDF5 dataset, for the
 * per-step batches of training (each rank reads only its own rows: nothing of the whole table
 * is held in memory).
 *
 * The rows of a call may come in any order and repeat; they are read in one H5Dread of the
 * union of hyperslabs of their distinct ascending runs, then scattered back into call order.
 * The handle is serial and read-only (one per rank; no collective calls). */
#ifndef HP_IO_ROW_READER_H
#define HP_IO_ROW_READER_H

#include <hdf5.h>
#include <stdint.h>

typedef struct hp_row_reader hp_row_reader;

/* Open PATH:OBJ, a dataset of rank >= 1 whose rows (first dimension) are read as `memtype`
 * (e.g. H5T_NATIVE_FLOAT); at most max_rows rows per call. Errors name the file and object. */
int hp_row_reader_open(const char *path, const char *obj, hid_t memtype, int64_t max_rows, hp_row_reader **out);
/* Rows the dataset has, and bytes of one row in memory. */
int64_t hp_row_reader_rows(const hp_row_reader *r);
size_t hp_row_reader_row_bytes(const hp_row_reader *r);
/* rows[0..n) (each in [0, rows)) into out [n, row]; n <= max_rows. */
int hp_row_reader_read(hp_row_reader *r, const int64_t *rows, int64_t n, void *out);
void hp_row_reader_close(hp_row_reader *r);

#endif
