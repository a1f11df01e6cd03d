/* search_png.h — the search stage's top-k image grid (the study's figure 4): search_top5.png.
 *
 * Layout (documented in hdf5-schemas/results.md): `rows` rows x `cols` columns of cells; a cell
 * is the dataset image (H x W, uint8 RGB) enlarged by an integer factor Z = ceil(96 / max(H, W))
 * (1 for images of 96 pixels or more) by pixel repetition, framed by a border of B = 4 pixels:
 * green (0,170,0) for a relevant image, red (220,0,0) for a not relevant one, grey (160,160,160)
 * around an empty light-grey cell when the list is shorter. Cells are separated from each other
 * and from the edges by G = 4 white pixels. Size: width = cols*(W*Z + 2B) + (cols+1)*G,
 * height = rows*(H*Z + 2B) + (rows+1)*G. 8-bit RGB, no interlace.
 */
#ifndef HP_STAGES_SEARCH_PNG_H
#define HP_STAGES_SEARCH_PNG_H

#include <mpi.h>
#include <stdint.h>

#define HP_PNG_TARGET 96
#define HP_PNG_BORDER 4
#define HP_PNG_GAP 4

/* Collective (every rank the same ids/rel): the images ids[rows*cols] (global dataset rows, -1 =
 * empty) of the dataset at `dataset`, relevance rel[rows*cols]; rank 0 writes `png` atomically
 * (png.tmp renamed). Errors agreed over comm. */
int hp_search_png(MPI_Comm comm, const char *dataset, const char *png, int rows, int cols, const int64_t *ids,
                  const uint8_t *rel);

/* Pixel size of the grid for images of H x W. */
void hp_search_png_size(int64_t H, int64_t W, int rows, int cols, int64_t *width, int64_t *height);

#endif
