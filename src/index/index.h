/* index.h — sharded nearest-neighbour search by inner product, exact or approximate, behind
 * one interface (in the spirit of FAISS's Index: create, add, build, search, save, load).
 *
 * Data model. Every rank of a communicator holds a part of the database: rows of float32
 * [n_local, dim] (L2-normalised embeddings in practice; any finite values work) with int64
 * global ids (>= 0, unique over all ranks). A rank's rows are organised in one or more
 * *shards*: hp_index_add appends one shard, or, after hp_index_reserve declared the shards,
 * fills them in pieces; hp_index_load may give a rank several shards (or none). Approximate
 * structures are built per shard, independently, so a shard answers the same way whichever
 * rank holds it.
 *
 * Memory. The index keeps its own copy of the rows. A caller that cannot afford its rows twice
 * (a large index) declares its shards with hp_index_reserve and adds them in bounded pieces as it
 * reads them: the rows are allocated once at their final size and nothing else grows with them.
 * Building, saving and loading hold at most one tree beyond the forest itself.
 *
 * Kinds.
 *   HP_INDEX_EXACT   blocked queries x rows tiles through cblas_sgemm, per-query top-k kept in
 *                    a fixed-size heap (no sort of the scores); OpenMP over tiles.
 *   HP_INDEX_FOREST  Annoy-style forest of random-projection trees per shard: every split is the
 *                    hyperplane between the two centroids of a short two-means run on sampled
 *                    items, leaves hold <= leaf_size items; search walks all trees with one
 *                    priority queue ordered by margin until search_k distinct candidates of the
 *                    shard are collected, then re-ranks them exactly by dot product.
 *
 * Results. Searching is collective: every rank passes the same queries [nq, dim] and k, and
 * every rank receives the global top-k: ids [nq, k] and scores [nq, k], best first, ordered by
 * score descending with ties broken by smaller global id. When fewer than k rows exist the
 * tail is padded with id -1 and score -INFINITY. A score is hp_index_dot(query, row), a float
 * dot product with a fixed summation order (sgemm only preselects: its last bits depend on a
 * row's position in a tile), and the order is total, so the exact index returns identical
 * results for any number of ranks, threads, shards or tile sizes (mpi_search checks this
 * bitwise at 1-3 ranks), and the forest's scores for the same rows are the same numbers.
 * The forest's search_k is per shard: more shards means more candidates in total.
 *
 * Randomness. Tree t of the shard whose first row has global id g is built from
 * hp_rng(seed, HP_STREAM_INDEX_FOREST, hash(g, t)) by one thread: a build is reproducible and
 * independent of the thread count and of which rank builds it.
 *
 * File (hp_index_save / hp_index_load), a layout independent of the rank count:
 *   /  attrs schema="hpclip-index", schema_version=1, kind="exact"|"forest", dim, n_total,
 *      n_shards, n_trees, leaf_size, search_k, seed
 *   /vectors float32 [N, dim], /ids int64 [N]     all rows, shard after shard
 *   /shard_rows int64 [S+1]                       row offsets of the shards
 *   /forest/...                                   (forest only) per-shard trees concatenated,
 *                                                 with offset tables [S+1] (see forest.c)
 * Loading on P ranks: the exact index splits the N rows into P balanced blocks (one shard per
 * rank); the forest gives rank r the contiguous block of whole shards hp_shard_range(S, P, r)
 * — ranks beyond S hold none — so every saved tree is reused as built and the search results
 * are identical for any loading rank count.
 */
#ifndef HP_INDEX_INDEX_H
#define HP_INDEX_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include <mpi.h>

typedef enum { HP_INDEX_EXACT = 1, HP_INDEX_FOREST = 2 } hp_index_kind;

typedef struct {
  hp_index_kind kind;
  int64_t dim;        /* vector length, > 0 */
  /* exact: tile sizes (queries x rows per sgemm); 0 = tuned defaults (HP_INDEX_TILE_Q/_N) */
  int64_t tile_q, tile_n;
  /* forest */
  int n_trees;        /* trees per shard, >= 1 (default 10) */
  int leaf_size;      /* max items per leaf, >= 2 (default 64) */
  int64_t search_k;   /* distinct candidates per shard per query; <= 0: n_trees * leaf_size */
  int two_means_iters;/* sampled items per split's two-means (default 64) */
  uint64_t seed;      /* tree randomness (default 1) */
} hp_index_params;

/* Tuned here (AMD EPYC Zen 3, 2 cores, OpenMP OpenBLAS 0.3.21, dim 768): OpenBLAS re-packs a
 * tile's rows for every sgemm, a cost amortised over tile_q queries — 1024x1024 spent 10% less
 * CPU per search than 256x1024 (docs/benchmarks.md, "Search"). */
#define HP_INDEX_TILE_Q 1024
#define HP_INDEX_TILE_N 1024

typedef struct hp_index hp_index;

/* Defaults for `kind`, then override fields. */
void hp_index_params_default(hp_index_params *p, hp_index_kind kind, int64_t dim);
/* Validate parameters (HP_ERR_CONFIG with the reason). */
int hp_index_params_check(const hp_index_params *p);

/* Local: a new empty index on this rank, searched collectively over comm. comm is duplicated. */
int hp_index_create(const hp_index_params *p, MPI_Comm comm, hp_index **out);
/* Local: append a shard of n rows (copied) with their global ids. n may be 0. Rows must be
 * finite (HP_ERR_NUMERIC otherwise) and ids >= 0. Not after hp_index_build. After
 * hp_index_reserve: the rows fill the declared shards instead, in order; a piece may end
 * anywhere, even across a shard's end (HP_ERR_USAGE beyond the declared total). */
int hp_index_add(hp_index *ix, int64_t n, const float *x, const int64_t *ids);
/* Local, before the first hp_index_add: this rank's shards will hold rows[0..n_shards) rows
 * (0-row entries are skipped); allocates the rows once, exactly (adding a shard at a time grows
 * the allocation by doubling, and a move holds the old and new blocks at once). Search, build
 * and save fail (HP_ERR_USAGE) until every declared row was added. */
int hp_index_reserve(hp_index *ix, int n_shards, const int64_t *rows);
/* Collective, after every row was added and before hp_index_build: each local shard that the
 * forest saved at `path` holds identically — the same ids, bitwise the same rows, built with the
 * same n_trees, leaf_size, two_means_iters and seed — takes its trees from the file, so build
 * makes only the others (a grown index rebuilds only its new shards; the trees are the ones a
 * build would make, so results do not change). A file of another kind or parameters gives none;
 * an unreadable or inconsistent one is an error, after which no shard has trees (build makes
 * them all). *n_reused = shards taken, over all ranks. */
int hp_index_reuse_trees(hp_index *ix, const char *path, int64_t *n_reused);
/* Collective: builds the forest of every local shard (no-op for exact); errors are agreed. */
int hp_index_build(hp_index *ix);
/* Collective: global top-k of nq queries (same on every rank); results on every rank.
 * nq >= 0, k >= 1; ids [nq*k], scores [nq*k]. Forest: needs hp_index_build. */
int hp_index_search(hp_index *ix, int64_t nq, const float *q, int k, int64_t *ids, float *scores);
/* Local: this rank's top-k only (same ordering and padding), no communication. */
int hp_index_search_local(hp_index *ix, int64_t nq, const float *q, int k, int64_t *ids,
                          float *scores);
/* Collective: exact search over the same rows, whatever the kind (the forest keeps its rows). */
int hp_index_search_exact(hp_index *ix, int64_t nq, const float *q, int k, int64_t *ids,
                          float *scores);
/* Collective: recall@k of hp_index_search against hp_index_search_exact on the same queries:
 * the mean over queries of |approx ∩ exact| / (number of valid exact ids). 1.0 for exact. */
int hp_index_recall(hp_index *ix, int64_t nq, const float *q, int k, double *recall);

/* Forest: change the search effort after build/load (per shard; <= 0: default). */
void hp_index_set_search_k(hp_index *ix, int64_t search_k);

/* Collective save (atomic: PATH.tmp renamed) / load (see the layout above). */
int hp_index_save(hp_index *ix, const char *path);
int hp_index_load(MPI_Comm comm, const char *path, hp_index **out);

void hp_index_free(hp_index *ix);

/* Bytes held by this rank. */
typedef struct {
  size_t vectors;  /* rows */
  size_t ids;      /* global ids */
  size_t trees;    /* forest nodes, split planes and leaf item lists */
  size_t total;
  int64_t n_local; /* rows on this rank */
  int n_shards;    /* shards on this rank */
} hp_index_mem;
void hp_index_memory(const hp_index *ix, hp_index_mem *m);
const hp_index_params *hp_index_get_params(const hp_index *ix);

/* The top-k heap, the exact kernel, the rank merge and the synthetic generator of tests and
 * benchmarks are internals: index/index_impl.h. */

/* dot product with a fixed summation order (AVX2/FMA when available). */
float hp_index_dot(const float *a, const float *b, int64_t n);

#endif
