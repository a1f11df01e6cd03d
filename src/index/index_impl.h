/* index_impl.h — the index object shared by index.c, exact.c, forest.c (private). */
#ifndef HP_INDEX_IMPL_H
#define HP_INDEX_IMPL_H

#include "index/index.h"

/* One tree node. Internal: c0/c1 children (node indices within the shard), plane >= 0 indexes
 * the shard's planes [.., dim] (-1: a random split, margin 0), bias added to the dot product;
 * an item goes to c1 when its margin > 0. Leaf: c0 = -1, n items at items[start .. start+n). */
typedef struct {
  int32_t c0, c1, n, plane;
  int64_t start;
  float bias;
  int32_t pad_;
} hp_fnode;

typedef struct {
  int64_t row0, n;    /* rows [row0, row0+n) of the rank's arrays */
  /* forest (empty until built/loaded) */
  int64_t n_nodes, n_planes;
  hp_fnode *nodes;
  float *planes;      /* [n_planes, dim] unit normals */
  uint32_t *items;    /* [n_trees * n] shard-local rows; tree t's leaves live in [t*n, (t+1)*n) */
  int32_t *roots;     /* [n_trees] */
} hp_ishard;

struct hp_index {
  hp_index_params p;
  MPI_Comm comm;
  int rank, size;
  float *x;           /* [n, dim] */
  int64_t *ids;       /* [n] */
  int64_t n, cap;
  double xmax2;       /* largest squared row norm */
  hp_ishard *shards;
  int n_shards, cap_shards;
  int built;
};

/* forest.c */
int hp_forest_build_shard(const hp_index_params *p, const float *x, const int64_t *ids,
                          hp_ishard *s);
int hp_forest_search_local(hp_index *ix, int64_t nq, const float *q, int k, hp_index_hit *h);
void hp_forest_free_shard(hp_ishard *s);
size_t hp_forest_shard_bytes(const hp_index_params *p, const hp_ishard *s);
/* Check a loaded shard's trees (indices in range); HP_ERR_INPUT naming `path`. */
int hp_forest_check_shard(const hp_index_params *p, const hp_ishard *s, const char *path);

#endif
