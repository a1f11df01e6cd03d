/* index.c — the index object: parameters, shards, dispatch to exact.c / forest.c, the
 * collective search with merge.c, recall, HDF5 save/load, memory report. See index.h. */
#define _DEFAULT_SOURCE /* madvise */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/error.h"
#include "comm/shard.h"
#include "index/index_impl.h"
#include "io/h5.h"

#define SCHEMA "hpclip-index"
#define SCHEMA_VERSION 1

void hp_index_params_default(hp_index_params *p, hp_index_kind kind, int64_t dim) {
  memset(p, 0, sizeof *p);
  p->kind = kind;
  p->dim = dim;
  p->n_trees = 10;
  p->leaf_size = 64;
  p->search_k = 0;
  p->two_means_iters = 64;
  p->seed = 1;
}

int hp_index_params_check(const hp_index_params *p) {
  if (p->kind != HP_INDEX_EXACT && p->kind != HP_INDEX_FOREST)
    HP_ERROR(HP_ERR_CONFIG, "index: unknown kind %d", (int)p->kind);
  if (p->dim <= 0 || p->dim > (1 << 24)) HP_ERROR(HP_ERR_CONFIG, "index: dim = %lld out of range [1, 2^24]", (long long)p->dim);
  if (p->tile_q < 0 || p->tile_n < 0) HP_ERROR(HP_ERR_CONFIG, "index: negative tile size");
  if (p->kind == HP_INDEX_FOREST) {
    if (p->n_trees < 1 || p->n_trees > 100000) HP_ERROR(HP_ERR_CONFIG, "index: n_trees = %d out of range [1, 100000]", p->n_trees);
    if (p->leaf_size < 2) HP_ERROR(HP_ERR_CONFIG, "index: leaf_size = %d, must be >= 2", p->leaf_size);
    if (p->two_means_iters < 0) HP_ERROR(HP_ERR_CONFIG, "index: two_means_iters = %d, must be >= 0", p->two_means_iters);
  }
  return 0;
}

const hp_index_params *hp_index_get_params(const hp_index *ix) { return &ix->p; }

int hp_index_create(const hp_index_params *p, MPI_Comm comm, hp_index **out) {
  *out = NULL;
  HP_CALL(hp_index_params_check(p));
  hp_index *ix = NULL;
  HP_CALLOC(ix, 1, "index");
  ix->p = *p;
  HP_MPI(MPI_Comm_dup(comm, &ix->comm));
  HP_MPI(MPI_Comm_rank(ix->comm, &ix->rank));
  HP_MPI(MPI_Comm_size(ix->comm, &ix->size));
  *out = ix;
  return 0;
}

void hp_index_free(hp_index *ix) {
  if (!ix) return;
  for (int s = 0; s < ix->n_shards; s++) hp_forest_free_shard(&ix->shards[s]);
  free(ix->shards);
  free(ix->x);
  free(ix->ids);
  if (ix->comm != MPI_COMM_NULL) MPI_Comm_free(&ix->comm);
  free(ix);
}

/* Row storage: 2 MiB aligned and advised to use huge pages, since the forest reads rows in
 * random order (one TLB miss per row with 4 KiB pages). Moves `keep` bytes from *x. */
#define ROW_ALIGN ((size_t)2 << 20)
static int alloc_rows(float **x, size_t keep, size_t bytes) {
  void *p = NULL;
  size_t sz = (bytes + ROW_ALIGN - 1) / ROW_ALIGN * ROW_ALIGN;
  if (sz < bytes || posix_memalign(&p, ROW_ALIGN, sz) != 0)
    HP_ERROR(HP_ERR_MEM, "index: cannot allocate %zu bytes of rows", bytes);
#ifdef MADV_HUGEPAGE
  (void)madvise(p, sz, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
  if (keep) memcpy(p, *x, keep);
  free(*x);
  *x = p;
  return 0;
}

static int reserve_rows(hp_index *ix, int64_t need) {
  if (need <= ix->cap) return 0;
  int64_t c = ix->cap ? ix->cap : need; /* the first shard exactly, then doubling */
  while (c < need) c = c > INT64_MAX / 2 ? need : c * 2;
  size_t xb, ib;
  HP_CALL(hp_mul_size((size_t)c, (size_t)ix->p.dim * sizeof(float), &xb));
  HP_CALL(hp_mul_size((size_t)c, sizeof(int64_t), &ib));
  HP_CALL(alloc_rows(&ix->x, (size_t)ix->n * (size_t)ix->p.dim * sizeof(float), xb));
  int64_t *ids = realloc(ix->ids, ib);
  if (!ids) HP_ERROR(HP_ERR_MEM, "index: cannot grow ids to %lld", (long long)c);
  ix->ids = ids;
  ix->cap = c;
  return 0;
}

static int new_shard(hp_index *ix, int64_t row0, int64_t n) {
  if (ix->n_shards == ix->cap_shards) {
    int c = ix->cap_shards ? 2 * ix->cap_shards : 4;
    hp_ishard *s = realloc(ix->shards, (size_t)c * sizeof *s);
    if (!s) HP_ERROR(HP_ERR_MEM, "index: cannot grow the shard list");
    ix->shards = s;
    ix->cap_shards = c;
  }
  hp_ishard *s = &ix->shards[ix->n_shards++];
  memset(s, 0, sizeof *s);
  s->row0 = row0;
  s->n = n;
  return 0;
}

static void update_xmax(hp_index *ix, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    double t = 0;
    for (int64_t e = 0; e < ix->p.dim; e++) t += (double)x[i * ix->p.dim + e] * x[i * ix->p.dim + e];
    if (t > ix->xmax2) ix->xmax2 = t;
  }
}

static int check_finite(const float *v, size_t n, const char *what) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i])) HP_ERROR(HP_ERR_NUMERIC, "index: %s: element %zu is not finite", what, i);
  return 0;
}

int hp_index_add(hp_index *ix, int64_t n, const float *x, const int64_t *ids) {
  if (ix->built) HP_ERROR(HP_ERR_USAGE, "index: hp_index_add after hp_index_build");
  if (n < 0) HP_ERROR(HP_ERR_USAGE, "index: hp_index_add with n = %lld", (long long)n);
  if (n == 0) return 0;
  if (ix->reserved && n > ix->cap - ix->n)
    HP_ERROR(HP_ERR_USAGE, "index: %lld rows added beyond the %lld reserved", (long long)(ix->n + n), (long long)ix->cap);
  size_t elems;
  HP_CALL(hp_mul_size((size_t)n, (size_t)ix->p.dim, &elems));
  HP_CALL(check_finite(x, elems, "rows"));
  for (int64_t i = 0; i < n; i++)
    if (ids[i] < 0) HP_ERROR(HP_ERR_USAGE, "index: id %lld of row %lld is negative", (long long)ids[i], (long long)i);
  if (!ix->reserved) {
    HP_CALL(reserve_rows(ix, ix->n + n));
    HP_CALL(new_shard(ix, ix->n, n));
  }
  memcpy(ix->x + ix->n * ix->p.dim, x, elems * sizeof(float));
  memcpy(ix->ids + ix->n, ids, (size_t)n * sizeof(int64_t));
  update_xmax(ix, x, n);
  ix->n += n;
  return 0;
}

int hp_index_reserve(hp_index *ix, int n_shards, const int64_t *rows) {
  if (ix->built || ix->n > 0 || ix->n_shards > 0 || ix->reserved)
    HP_ERROR(HP_ERR_USAGE, "index: hp_index_reserve after rows were added");
  if (n_shards < 0) HP_ERROR(HP_ERR_USAGE, "index: hp_index_reserve with %d shards", n_shards);
  int64_t total = 0;
  for (int s = 0; s < n_shards; s++) {
    if (rows[s] < 0 || rows[s] > INT64_MAX / 2 - total)
      HP_ERROR(HP_ERR_USAGE, "index: hp_index_reserve: shard %d has %lld rows", s, (long long)rows[s]);
    total += rows[s];
  }
  HP_CALL(reserve_rows(ix, total));
  int64_t row0 = 0;
  for (int s = 0; s < n_shards; s++) {
    if (rows[s] == 0) continue;
    HP_CALL(new_shard(ix, row0, rows[s]));
    row0 += rows[s];
  }
  ix->reserved = 1;
  return 0;
}

/* every declared row added (always true without hp_index_reserve) */
static int check_filled(const hp_index *ix) {
  if (ix->reserved && ix->n != ix->cap)
    HP_ERROR(HP_ERR_USAGE, "index: %lld of the %lld reserved rows added", (long long)ix->n, (long long)ix->cap);
  return 0;
}

static int build_local(hp_index *ix) {
  if (ix->p.kind == HP_INDEX_FOREST)
    for (int s = 0; s < ix->n_shards; s++)
      if (!ix->shards[s].nodes) /* not taken from a saved forest (hp_index_reuse_trees) */
        HP_CALL(hp_forest_build_shard(&ix->p, ix->x + ix->shards[s].row0 * ix->p.dim,
                                    ix->ids + ix->shards[s].row0, &ix->shards[s]));
  return 0;
}

/* give back the slack of the doubling growth */
static void shrink(hp_index *ix) {
  if (ix->cap == ix->n || ix->n == 0) return;
  size_t bytes = (size_t)ix->n * (size_t)ix->p.dim * sizeof(float);
  if (alloc_rows(&ix->x, bytes, bytes)) { /* a failed shrink keeps the old blocks: harmless */
    hp_error_clear();
    return;
  }
  int64_t *ids = realloc(ix->ids, (size_t)ix->n * sizeof(int64_t));
  if (ids) ix->ids = ids;
  ix->cap = ix->n;
}

int hp_index_build(hp_index *ix) {
  HP_CALL(hp_agree(ix->comm, check_filled(ix)));
  if (!ix->built) shrink(ix);
  HP_CALL(hp_agree(ix->comm, ix->built ? 0 : build_local(ix)));
  ix->built = 1;
  return 0;
}

void hp_index_set_search_k(hp_index *ix, int64_t search_k) { ix->p.search_k = search_k; }

/* local top-k, exact or by the index's kind */
static int search_local(hp_index *ix, int exact, int64_t nq, const float *q, int k, int64_t *ids,
                        float *scores) {
  if (nq < 0 || k < 1) HP_ERROR(HP_ERR_USAGE, "index: search with nq = %lld, k = %d", (long long)nq, k);
  HP_CALL(check_filled(ix));
  if (!exact && ix->p.kind == HP_INDEX_FOREST && !ix->built)
    HP_ERROR(HP_ERR_USAGE, "index: forest searched before hp_index_build");
  if (nq == 0) return 0;
  size_t qe, he;
  HP_CALL(hp_mul_size((size_t)nq, (size_t)ix->p.dim, &qe));
  HP_CALL(hp_mul_size((size_t)nq, (size_t)k, &he));
  HP_CALL(check_finite(q, qe, "queries"));
  hp_index_hit *h = NULL;
  HP_CALLOC(h, he, "index: top-k heaps");
  for (int64_t i = 0; i < nq; i++) hp_topk_init(h + (size_t)i * (size_t)k, k);
  if (exact || ix->p.kind == HP_INDEX_EXACT)
    HP_CALL(hp_exact_topk(ix->x, ix->ids, ix->n, ix->p.dim, ix->xmax2, q, nq, k, ix->p.tile_q, ix->p.tile_n, h));
  else
    HP_CALL(hp_forest_search_local(ix, nq, q, k, h));
  for (int64_t i = 0; i < nq; i++)
    hp_topk_finish(h + (size_t)i * (size_t)k, k, ids + (size_t)i * (size_t)k, scores + (size_t)i * (size_t)k);
  free(h);
  return 0;
}

int hp_index_search_local(hp_index *ix, int64_t nq, const float *q, int k, int64_t *ids, float *scores) {
  HP_CALL(search_local(ix, 0, nq, q, k, ids, scores));
  return 0;
}

int hp_index_search(hp_index *ix, int64_t nq, const float *q, int k, int64_t *ids, float *scores) {
  HP_CALL(hp_agree(ix->comm, search_local(ix, 0, nq, q, k, ids, scores)));
  HP_CALL(hp_index_merge(ix->comm, nq, k, ids, scores));
  return 0;
}

int hp_index_search_exact(hp_index *ix, int64_t nq, const float *q, int k, int64_t *ids, float *scores) {
  HP_CALL(hp_agree(ix->comm, search_local(ix, 1, nq, q, k, ids, scores)));
  HP_CALL(hp_index_merge(ix->comm, nq, k, ids, scores));
  return 0;
}

int hp_index_recall(hp_index *ix, int64_t nq, const float *q, int k, double *recall) {
  *recall = 1.0;
  if (nq <= 0 || k < 1) return 0;
  size_t he;
  HP_CALL(hp_mul_size((size_t)nq, (size_t)k, &he));
  int64_t *ia = NULL, *ie = NULL;
  float *sa = NULL, *se = NULL;
  HP_CALLOC(ia, he, "index: recall ids");
  HP_CALLOC(ie, he, "index: recall ids");
  HP_CALLOC(sa, he, "index: recall scores");
  HP_CALLOC(se, he, "index: recall scores");
  HP_CALL(hp_index_search(ix, nq, q, k, ia, sa));
  HP_CALL(hp_index_search_exact(ix, nq, q, k, ie, se));
  double sum = 0;
  int64_t counted = 0;
  for (int64_t i = 0; i < nq; i++) {
    const int64_t *a = ia + (size_t)i * (size_t)k, *e = ie + (size_t)i * (size_t)k;
    int valid = 0, hit = 0;
    for (int j = 0; j < k; j++) {
      if (e[j] < 0) continue;
      valid++;
      for (int m = 0; m < k; m++)
        if (a[m] == e[j]) { hit++; break; }
    }
    if (valid) {
      sum += (double)hit / valid;
      counted++;
    }
  }
  *recall = counted ? sum / (double)counted : 1.0;
  free(ia);
  free(ie);
  free(sa);
  free(se);
  return 0;
}

void hp_index_memory(const hp_index *ix, hp_index_mem *m) {
  memset(m, 0, sizeof *m);
  m->vectors = (size_t)ix->cap * (size_t)ix->p.dim * sizeof(float);
  m->ids = (size_t)ix->cap * sizeof(int64_t);
  for (int s = 0; s < ix->n_shards; s++) m->trees += hp_forest_shard_bytes(&ix->p, &ix->shards[s]);
  m->total = m->vectors + m->ids + m->trees + (size_t)ix->cap_shards * sizeof(hp_ishard) + sizeof *ix;
  m->n_local = ix->n;
  m->n_shards = ix->n_shards;
}

/* ---- save ------------------------------------------------------------------------------------ */

/* Per-shard sizes of all ranks, in rank order: tab[3*s + {0,1,2}] = rows, nodes, planes. */
static int gather_shards(hp_index *ix, int64_t **tab, int *S, int *first) {
  int *counts = NULL, *displs = NULL, *c3 = NULL, *d3 = NULL;
  HP_CALLOC(counts, ix->size, "index: shard counts");
  HP_CALLOC(displs, ix->size, "index: shard counts");
  HP_CALLOC(c3, ix->size, "index: shard counts");
  HP_CALLOC(d3, ix->size, "index: shard counts");
  HP_MPI(MPI_Allgather(&ix->n_shards, 1, MPI_INT, counts, 1, MPI_INT, ix->comm));
  int tot = 0;
  for (int r = 0; r < ix->size; r++) {
    if (counts[r] > (INT32_MAX / 3) - tot) HP_ERROR(HP_ERR_MEM, "index: too many shards");
    displs[r] = tot;
    c3[r] = 3 * counts[r];
    d3[r] = 3 * tot;
    tot += counts[r];
  }
  int64_t *mine = NULL;
  HP_CALLOC(mine, 3 * (size_t)ix->n_shards + 1, "index: shard table");
  HP_CALLOC(*tab, 3 * (size_t)tot + 1, "index: shard table");
  for (int s = 0; s < ix->n_shards; s++) {
    mine[3 * s] = ix->shards[s].n;
    mine[3 * s + 1] = ix->shards[s].n_nodes;
    mine[3 * s + 2] = ix->shards[s].n_planes;
  }
  HP_MPI(MPI_Allgatherv(mine, 3 * ix->n_shards, MPI_INT64_T, *tab, c3, d3, MPI_INT64_T, ix->comm));
  *S = tot;
  *first = displs[ix->rank];
  free(mine);
  free(counts);
  free(displs);
  free(c3);
  free(d3);
  return 0;
}

static int write_offsets(hp_h5file *f, const char *obj, const int64_t *tab, int S, int col) {
  int64_t n = S + 1;
  int64_t *off = NULL;
  HP_CALLOC(off, (size_t)n, "index: offsets");
  for (int s = 0; s < S; s++) off[s + 1] = off[s] + tab[3 * s + col];
  HP_CALL(hp_h5_create_dataset(f, obj, H5T_STD_I64LE, 1, &n));
  HP_CALL(hp_h5_write_rows(f, obj, H5T_NATIVE_INT64, 0, f->rank == 0 ? n : 0, off));
  free(off);
  return 0;
}

/* Trees move between memory and the file shard by shard, straight from/into the shards' own
 * arrays; only the nodes are converted (hp_fnode <-> the file's three columns), through a buffer
 * of NODE_CHUNK nodes. So saving or loading holds the forest once, plus that buffer. */
#define NODE_CHUNK 65536

/* Collective: nodes [m, m+cnt) of the file <-> v[0..cnt), in rounds of NODE_CHUNK nodes (the same
 * number of rounds on every rank). */
static int nodes_io(hp_h5file *f, hp_fnode *v, int64_t m, int64_t cnt, int writing) {
  int64_t rounds = (cnt + NODE_CHUNK - 1) / NODE_CHUNK, all = 0;
  HP_MPI(MPI_Allreduce(&rounds, &all, 1, MPI_INT64_T, MPI_MAX, f->comm));
  int32_t *n4 = NULL;
  int64_t *start = NULL;
  float *bias = NULL;
  HP_CALLOC(n4, 4 * (size_t)NODE_CHUNK, "index: node buffer");
  HP_CALLOC(start, NODE_CHUNK, "index: node buffer");
  HP_CALLOC(bias, NODE_CHUNK, "index: node buffer");
  for (int64_t r = 0; r < all; r++) {
    int64_t a = r * NODE_CHUNK, k = cnt - a < NODE_CHUNK ? cnt - a : NODE_CHUNK;
    if (k < 0) k = 0;
    for (int64_t i = 0; writing && i < k; i++) {
      const hp_fnode *w = &v[a + i];
      n4[4 * i] = w->c0;
      n4[4 * i + 1] = w->c1;
      n4[4 * i + 2] = w->n;
      n4[4 * i + 3] = w->plane;
      start[i] = w->start;
      bias[i] = w->bias;
    }
    if (writing) {
      HP_CALL(hp_h5_write_rows(f, "/forest/nodes", H5T_NATIVE_INT32, m + a, k, n4));
      HP_CALL(hp_h5_write_rows(f, "/forest/node_start", H5T_NATIVE_INT64, m + a, k, start));
      HP_CALL(hp_h5_write_rows(f, "/forest/node_bias", H5T_NATIVE_FLOAT, m + a, k, bias));
      continue;
    }
    HP_CALL(hp_h5_read_rows(f, "/forest/nodes", H5T_NATIVE_INT32, m + a, k, n4));
    HP_CALL(hp_h5_read_rows(f, "/forest/node_start", H5T_NATIVE_INT64, m + a, k, start));
    HP_CALL(hp_h5_read_rows(f, "/forest/node_bias", H5T_NATIVE_FLOAT, m + a, k, bias));
    for (int64_t i = 0; i < k; i++) {
      hp_fnode *w = &v[a + i];
      w->c0 = n4[4 * i];
      w->c1 = n4[4 * i + 1];
      w->n = n4[4 * i + 2];
      w->plane = n4[4 * i + 3];
      w->start = start[i];
      w->bias = bias[i];
    }
  }
  free(n4);
  free(start);
  free(bias);
  return 0;
}

/* Collective: every local shard's trees <-> the file, the rank's first shard being the file's
 * shard `first`, its rows, nodes and planes starting at r0, m0, p0 (the shards are contiguous in
 * the file). Loading: the shards' sizes (n, n_nodes, n_planes) are set; their arrays are
 * allocated here. Ranks with fewer shards make empty transfers. */
static int forest_io(hp_h5file *f, hp_index *ix, int64_t first, int64_t r0, int64_t m0, int64_t p0, int writing) {
  const int64_t dim = ix->p.dim, T = ix->p.n_trees;
  int ns = ix->n_shards, all = 0;
  HP_MPI(MPI_Allreduce(&ns, &all, 1, MPI_INT, MPI_MAX, f->comm));
  int64_t r = r0, m = m0, pl = p0;
  for (int i = 0; i < all; i++) {
    hp_ishard empty, *sh = i < ns ? &ix->shards[i] : &empty;
    if (i >= ns) memset(&empty, 0, sizeof empty);
    if (!writing && i < ns) {
      HP_CALLOC(sh->nodes, (size_t)sh->n_nodes + 1, "index: forest nodes");
      HP_CALLOC(sh->planes, (size_t)sh->n_planes * (size_t)dim + 1, "index: forest planes");
      HP_CALLOC(sh->items, (size_t)sh->n * (size_t)T + 1, "index: forest items");
      HP_CALLOC(sh->roots, (size_t)T, "index: forest roots");
    }
    int64_t nr = i < ns ? 1 : 0;
    if (writing) {
      HP_CALL(hp_h5_write_rows(f, "/forest/planes", H5T_NATIVE_FLOAT, pl, sh->n_planes, sh->planes));
      HP_CALL(hp_h5_write_rows(f, "/forest/items", H5T_NATIVE_UINT32, r * T, sh->n * T, sh->items));
      HP_CALL(hp_h5_write_rows(f, "/forest/roots", H5T_NATIVE_INT32, nr ? first + i : 0, nr, sh->roots));
    } else {
      HP_CALL(hp_h5_read_rows(f, "/forest/planes", H5T_NATIVE_FLOAT, pl, sh->n_planes, sh->planes));
      HP_CALL(hp_h5_read_rows(f, "/forest/items", H5T_NATIVE_UINT32, r * T, sh->n * T, sh->items));
      HP_CALL(hp_h5_read_rows(f, "/forest/roots", H5T_NATIVE_INT32, nr ? first + i : 0, nr, sh->roots));
    }
    HP_CALL(nodes_io(f, sh->nodes, m, sh->n_nodes, writing));
    r += sh->n;
    m += sh->n_nodes;
    pl += sh->n_planes;
  }
  return 0;
}

int hp_index_save(hp_index *ix, const char *path) {
  const hp_index_params *p = &ix->p;
  if (p->kind == HP_INDEX_FOREST && !ix->built) HP_ERROR(HP_ERR_USAGE, "index: forest saved before hp_index_build");
  HP_CALL(hp_agree(ix->comm, check_filled(ix)));
  int64_t *tab = NULL;
  int S = 0, first = 0;
  HP_CALL(gather_shards(ix, &tab, &S, &first));
  int64_t N = 0, M = 0, PL = 0, r0 = 0, m0 = 0, p0 = 0;
  for (int s = 0; s < S; s++) {
    if (s == first) { r0 = N; m0 = M; p0 = PL; }
    N += tab[3 * s];
    M += tab[3 * s + 1];
    PL += tab[3 * s + 2];
  }
  if (first >= S) { r0 = N; m0 = M; p0 = PL; }
  hp_h5file f;
  HP_CALL(hp_h5_create(ix->comm, path, &f));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "schema", SCHEMA));
  HP_CALL(hp_h5_attr_write_int(&f, "/", "schema_version", SCHEMA_VERSION));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "kind", p->kind == HP_INDEX_EXACT ? "exact" : "forest"));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "created_by", "hpclip " HPCLIP_VERSION));
  HP_CALL(hp_h5_attr_write_int(&f, "/", "dim", p->dim));
  HP_CALL(hp_h5_attr_write_int(&f, "/", "n_total", N));
  HP_CALL(hp_h5_attr_write_int(&f, "/", "n_shards", S));
  HP_CALL(hp_h5_attr_write_int(&f, "/", "n_trees", p->n_trees));
  HP_CALL(hp_h5_attr_write_int(&f, "/", "leaf_size", p->leaf_size));
  HP_CALL(hp_h5_attr_write_int(&f, "/", "search_k", p->search_k));
  HP_CALL(hp_h5_attr_write_int(&f, "/", "two_means_iters", p->two_means_iters));
  HP_CALL(hp_h5_attr_write_int(&f, "/", "seed", (int64_t)p->seed));
  int64_t dims[2] = {N, p->dim};
  HP_CALL(hp_h5_create_dataset(&f, "/vectors", H5T_IEEE_F32LE, 2, dims));
  HP_CALL(hp_h5_write_rows(&f, "/vectors", H5T_NATIVE_FLOAT, r0, ix->n, ix->x));
  HP_CALL(hp_h5_create_dataset(&f, "/ids", H5T_STD_I64LE, 1, &N));
  HP_CALL(hp_h5_write_rows(&f, "/ids", H5T_NATIVE_INT64, r0, ix->n, ix->ids));
  HP_CALL(write_offsets(&f, "/shard_rows", tab, S, 0));
  if (p->kind == HP_INDEX_FOREST) {
    int T = p->n_trees;
    HP_CALL(write_offsets(&f, "/forest/shard_nodes", tab, S, 1));
    HP_CALL(write_offsets(&f, "/forest/shard_planes", tab, S, 2));
    int64_t d4[2] = {M, 4}, dp[2] = {PL, p->dim}, dr[2] = {S, T}, ni = N * T;
    HP_CALL(hp_h5_create_dataset(&f, "/forest/nodes", H5T_STD_I32LE, 2, d4));
    HP_CALL(hp_h5_create_dataset(&f, "/forest/node_start", H5T_STD_I64LE, 1, &M));
    HP_CALL(hp_h5_create_dataset(&f, "/forest/node_bias", H5T_IEEE_F32LE, 1, &M));
    HP_CALL(hp_h5_create_dataset(&f, "/forest/planes", H5T_IEEE_F32LE, 2, dp));
    HP_CALL(hp_h5_create_dataset(&f, "/forest/items", H5T_STD_U32LE, 1, &ni));
    HP_CALL(hp_h5_create_dataset(&f, "/forest/roots", H5T_STD_I32LE, 2, dr));
    HP_CALL(forest_io(&f, ix, first, r0, m0, p0, 1));
  }
  HP_CALL(hp_h5_commit(&f));
  free(tab);
  return 0;
}

/* ---- load ------------------------------------------------------------------------------------ */

static int read_offsets(hp_h5file *f, const char *obj, int64_t S, int64_t total, int64_t **out) {
  int nd = 0;
  int64_t dims[2] = {0, 0};
  HP_CALL(hp_h5_dims(f, obj, 2, &nd, dims));
  if (nd != 1 || dims[0] != S + 1) HP_ERROR(HP_ERR_INPUT, "%s: %s: expected [%lld]", f->path, obj, (long long)(S + 1));
  HP_CALLOC(*out, (size_t)S + 1, "index: offsets");
  HP_CALL(hp_h5_read_rows(f, obj, H5T_NATIVE_INT64, 0, S + 1, *out));
  int64_t *o = *out;
  if (o[0] != 0 || o[S] != total) HP_ERROR(HP_ERR_INPUT, "%s: %s: offsets do not span [0, %lld]", f->path, obj, (long long)total);
  for (int64_t s = 0; s < S; s++)
    if (o[s + 1] < o[s]) HP_ERROR(HP_ERR_INPUT, "%s: %s: offsets decrease", f->path, obj);
  return 0;
}

static int expect_dims(hp_h5file *f, const char *obj, int nd_want, int64_t d0, int64_t d1) {
  int nd = 0;
  int64_t dims[2] = {0, 0};
  HP_CALL(hp_h5_dims(f, obj, 2, &nd, dims));
  if (nd != nd_want || dims[0] != d0 || (nd == 2 && dims[1] != d1))
    HP_ERROR(HP_ERR_INPUT, "%s: %s: unexpected shape", f->path, obj);
  return 0;
}

/* The root attributes: schema, version and the build parameters (checked as a build would check
 * them) -> *p, the total row count N and the shard count S. */
static int load_params(hp_h5file *f, hp_index_params *p, int64_t *N_out, int64_t *S_out) {
  char *schema = NULL, *kind = NULL;
  int64_t ver, dim, N, S, T, leaf, sk, iters, seed;
  HP_CALL(hp_h5_attr_read_str(f->fid, f->path, "/", "schema", 256, &schema));
  if (strcmp(schema, SCHEMA) != 0) HP_ERROR(HP_ERR_INPUT, "%s: not an hpclip index (schema '%s')", f->path, schema);
  HP_CALL(hp_h5_attr_read_int(f->fid, f->path, "/", "schema_version", &ver));
  if (ver != SCHEMA_VERSION) HP_ERROR(HP_ERR_INPUT, "%s: index schema version %lld, this build reads %d", f->path, (long long)ver, SCHEMA_VERSION);
  HP_CALL(hp_h5_attr_read_str(f->fid, f->path, "/", "kind", 64, &kind));
  HP_CALL(hp_h5_attr_read_int(f->fid, f->path, "/", "dim", &dim));
  HP_CALL(hp_h5_attr_read_int(f->fid, f->path, "/", "n_total", &N));
  HP_CALL(hp_h5_attr_read_int(f->fid, f->path, "/", "n_shards", &S));
  HP_CALL(hp_h5_attr_read_int(f->fid, f->path, "/", "n_trees", &T));
  HP_CALL(hp_h5_attr_read_int(f->fid, f->path, "/", "leaf_size", &leaf));
  HP_CALL(hp_h5_attr_read_int(f->fid, f->path, "/", "search_k", &sk));
  HP_CALL(hp_h5_attr_read_int(f->fid, f->path, "/", "two_means_iters", &iters));
  HP_CALL(hp_h5_attr_read_int(f->fid, f->path, "/", "seed", &seed));
  if (!strcmp(kind, "exact")) hp_index_params_default(p, HP_INDEX_EXACT, dim);
  else if (!strcmp(kind, "forest")) hp_index_params_default(p, HP_INDEX_FOREST, dim);
  else HP_ERROR(HP_ERR_INPUT, "%s: unknown index kind '%s'", f->path, kind);
  free(schema);
  free(kind);
  if (T < 1 || T > 100000 || leaf < 2 || leaf > INT32_MAX || iters < 0 || iters > INT32_MAX || N < 0 || S < 0 || S > INT32_MAX / 3)
    HP_ERROR(HP_ERR_INPUT, "%s: index attributes out of range", f->path);
  p->n_trees = (int)T;
  p->leaf_size = (int)leaf;
  p->search_k = sk;
  p->two_means_iters = (int)iters;
  p->seed = (uint64_t)seed;
  if (hp_index_params_check(p)) HP_ERROR(HP_ERR_INPUT, "%s: %s", f->path, hp_error_message());
  *N_out = N;
  *S_out = S;
  return 0;
}

/* The forest's tables: node and plane offsets per shard, and every forest array of the shapes
 * those and N, S, dim, T imply. */
static int forest_tables(hp_h5file *f, int64_t N, int64_t S, int64_t dim, int64_t T, int64_t **nodes_off,
                         int64_t **planes_off) {
  int nd;
  int64_t d2[2], M, PL;
  HP_CALL(hp_h5_dims(f, "/forest/nodes", 2, &nd, d2));
  M = d2[0];
  HP_CALL(hp_h5_dims(f, "/forest/planes", 2, &nd, d2));
  PL = d2[0];
  HP_CALL(read_offsets(f, "/forest/shard_nodes", S, M, nodes_off));
  HP_CALL(read_offsets(f, "/forest/shard_planes", S, PL, planes_off));
  HP_CALL(expect_dims(f, "/forest/nodes", 2, M, 4));
  HP_CALL(expect_dims(f, "/forest/node_start", 1, M, 0));
  HP_CALL(expect_dims(f, "/forest/node_bias", 1, M, 0));
  HP_CALL(expect_dims(f, "/forest/planes", 2, PL, dim));
  HP_CALL(expect_dims(f, "/forest/items", 1, N * T, 0));
  HP_CALL(expect_dims(f, "/forest/roots", 2, S, T));
  return 0;
}

/* Forest: this rank's shards s0.. s0+ns-1 (rows [lo, lo+cnt), row offsets rows[]): their sizes
 * from the offset tables, then their trees read shard by shard into their own arrays. */
static int load_forest(hp_h5file *f, hp_index *ix, const int64_t *rows, int64_t lo, int64_t S, int64_t N) {
  const int64_t dim = ix->p.dim, T = ix->p.n_trees;
  int64_t s0, ns, *nodes_off = NULL, *planes_off = NULL;
  hp_shard_range(S, ix->size, ix->rank, &s0, &ns);
  HP_CALL(forest_tables(f, N, S, dim, T, &nodes_off, &planes_off));
  for (int64_t s = s0; s < s0 + ns; s++) {
    HP_CALL(new_shard(ix, rows[s] - lo, rows[s + 1] - rows[s]));
    hp_ishard *sh = &ix->shards[ix->n_shards - 1];
    sh->n_nodes = nodes_off[s + 1] - nodes_off[s];
    sh->n_planes = planes_off[s + 1] - planes_off[s];
  }
  HP_CALL(forest_io(f, ix, s0, lo, nodes_off[s0], planes_off[s0], 0));
  free(nodes_off);
  free(planes_off);
  return 0;
}

/* The parameters, then this rank's rows (exact: an even cut of all rows; forest: its whole
 * shards) and, for a forest, their trees. */
static int load_body(hp_h5file *f, hp_index *ix) {
  hp_index_params p;
  int64_t N = 0, S = 0;
  HP_CALL(load_params(f, &p, &N, &S));
  const int64_t dim = p.dim;
  ix->p = p;
  HP_CALL(expect_dims(f, "/vectors", 2, N, dim));
  HP_CALL(expect_dims(f, "/ids", 1, N, 0));
  int64_t *rows = NULL;
  HP_CALL(read_offsets(f, "/shard_rows", S, N, &rows));
  int64_t lo, cnt;
  if (p.kind == HP_INDEX_EXACT) {
    hp_shard_range(N, ix->size, ix->rank, &lo, &cnt);
  } else {
    int64_t s0, ns;
    hp_shard_range(S, ix->size, ix->rank, &s0, &ns);
    lo = rows[s0];
    cnt = rows[s0 + ns] - lo;
  }
  HP_CALL(reserve_rows(ix, cnt > 0 ? cnt : 1));
  HP_CALL(hp_h5_read_rows(f, "/vectors", H5T_NATIVE_FLOAT, lo, cnt, ix->x));
  HP_CALL(hp_h5_read_rows(f, "/ids", H5T_NATIVE_INT64, lo, cnt, ix->ids));
  ix->n = cnt;
  if (p.kind == HP_INDEX_EXACT) {
    if (cnt > 0) HP_CALL(new_shard(ix, 0, cnt));
  } else {
    HP_CALL(load_forest(f, ix, rows, lo, S, N));
  }
  free(rows);
  return 0;
}

/* checks of this rank's part, after every collective read */
static int load_check(hp_index *ix, const char *path) {
  size_t e = (size_t)ix->n * (size_t)ix->p.dim;
  for (size_t i = 0; i < e; i++)
    if (!isfinite(ix->x[i])) HP_ERROR(HP_ERR_INPUT, "%s: /vectors: element %zu is not finite", path, i);
  for (int64_t i = 0; i < ix->n; i++)
    if (ix->ids[i] < 0) HP_ERROR(HP_ERR_INPUT, "%s: /ids: negative id at row %lld", path, (long long)i);
  if (ix->p.kind == HP_INDEX_FOREST)
    for (int s = 0; s < ix->n_shards; s++) HP_CALL(hp_forest_check_shard(&ix->p, &ix->shards[s], path));
  update_xmax(ix, ix->x, ix->n);
  return 0;
}

int hp_index_load(MPI_Comm comm, const char *path, hp_index **out) {
  *out = NULL;
  hp_index_params p0;
  hp_index_params_default(&p0, HP_INDEX_EXACT, 1);
  hp_index *ix = NULL;
  HP_CALL(hp_index_create(&p0, comm, &ix));
  hp_h5file f;
  HP_CALL(hp_h5_open_read(comm, path, &f));
  HP_CALL(load_body(&f, ix));
  HP_CALL(hp_h5_close(&f));
  HP_CALL(hp_agree(ix->comm, load_check(ix, path)));
  ix->built = 1;
  *out = ix;
  return 0;
}

/* ---- reuse ----------------------------------------------------------------------------------- */

/* The file's shard holding exactly the n ids `ids`, or -1 (S is the shard count: small). */
static int64_t find_shard(const int64_t *fids, const int64_t *rows, int64_t S, const int64_t *ids, int64_t n) {
  for (int64_t j = 0; j < S; j++)
    if (rows[j + 1] - rows[j] == n && fids[rows[j]] == ids[0])
      return memcmp(fids + rows[j], ids, (size_t)n * sizeof *ids) == 0 ? j : -1;
  return -1;
}

/* Collective: shard i of this rank takes the trees of file shard match[i] (-1: none, an empty
 * transfer) when the file's rows there equal its own bitwise; match[i] is set to -1 otherwise. */
static int reuse_body(hp_h5file *f, hp_index *ix, const int64_t *rows, const int64_t *nodes_off,
                      const int64_t *planes_off, int64_t *match) {
  const int64_t dim = ix->p.dim, T = ix->p.n_trees;
  int ns = ix->n_shards, all = 0;
  HP_MPI(MPI_Allreduce(&ns, &all, 1, MPI_INT, MPI_MAX, ix->comm));
  int64_t most = 0;
  for (int i = 0; i < ns; i++) most = ix->shards[i].n > most ? ix->shards[i].n : most;
  float *v = NULL;
  HP_CALLOC(v, (size_t)most * (size_t)dim + 1, "index: saved rows");
  for (int i = 0; i < all; i++) {
    hp_ishard empty, *sh = i < ns ? &ix->shards[i] : &empty;
    if (i >= ns) memset(&empty, 0, sizeof empty);
    int64_t j = i < ns ? match[i] : -1, n = j >= 0 ? sh->n : 0;
    HP_CALL(hp_h5_read_rows(f, "/vectors", H5T_NATIVE_FLOAT, j >= 0 ? rows[j] : 0, n, v));
    if (j >= 0 && memcmp(v, ix->x + sh->row0 * dim, (size_t)n * (size_t)dim * sizeof(float)) != 0) match[i] = j = -1;
    n = j >= 0 ? sh->n : 0;
    if (j >= 0) {
      sh->n_nodes = nodes_off[j + 1] - nodes_off[j];
      sh->n_planes = planes_off[j + 1] - planes_off[j];
      HP_CALLOC(sh->nodes, (size_t)sh->n_nodes + 1, "index: forest nodes");
      HP_CALLOC(sh->planes, (size_t)sh->n_planes * (size_t)dim + 1, "index: forest planes");
      HP_CALLOC(sh->items, (size_t)n * (size_t)T + 1, "index: forest items");
      HP_CALLOC(sh->roots, (size_t)T, "index: forest roots");
    }
    HP_CALL(hp_h5_read_rows(f, "/forest/planes", H5T_NATIVE_FLOAT, j >= 0 ? planes_off[j] : 0, j >= 0 ? sh->n_planes : 0,
                            j >= 0 ? sh->planes : (void *)v));
    HP_CALL(hp_h5_read_rows(f, "/forest/items", H5T_NATIVE_UINT32, j >= 0 ? rows[j] * T : 0, n * T,
                            j >= 0 ? sh->items : (void *)v));
    HP_CALL(hp_h5_read_rows(f, "/forest/roots", H5T_NATIVE_INT32, j >= 0 ? j : 0, j >= 0 ? 1 : 0,
                            j >= 0 ? sh->roots : (void *)v));
    HP_CALL(nodes_io(f, j >= 0 ? sh->nodes : NULL, j >= 0 ? nodes_off[j] : 0, j >= 0 ? sh->n_nodes : 0, 0));
  }
  free(v);
  return 0;
}

/* The file's tables after its parameters were found to match: shard rows, node and plane
 * offsets, every id (every rank), the shapes of the forest arrays. */
static int reuse_tables(hp_h5file *f, int64_t N, int64_t S, int64_t dim, int64_t T, int64_t **rows, int64_t **nodes_off,
                        int64_t **planes_off, int64_t **fids) {
  HP_CALL(expect_dims(f, "/vectors", 2, N, dim));
  HP_CALL(expect_dims(f, "/ids", 1, N, 0));
  HP_CALL(read_offsets(f, "/shard_rows", S, N, rows));
  HP_CALL(forest_tables(f, N, S, dim, T, nodes_off, planes_off));
  HP_CALLOC(*fids, (size_t)N + 1, "index: saved ids");
  HP_CALL(hp_h5_read_rows(f, "/ids", H5T_NATIVE_INT64, 0, N, *fids));
  return 0;
}

static int reuse_trees(hp_index *ix, const char *path, int64_t *n_reused) {
  hp_h5file f;
  HP_CALL(hp_h5_open_read(ix->comm, path, &f));
  hp_index_params p;
  int64_t N = 0, S = 0, *rows = NULL, *nodes_off = NULL, *planes_off = NULL, *fids = NULL, *match = NULL;
  int e = load_params(&f, &p, &N, &S);
  /* the trees depend on these and on the rows; search_k only on how they are searched */
  int same = !e && p.kind == HP_INDEX_FOREST && p.dim == ix->p.dim && p.n_trees == ix->p.n_trees &&
             p.leaf_size == ix->p.leaf_size && p.two_means_iters == ix->p.two_means_iters && p.seed == ix->p.seed;
  HP_CALL(hp_agree(ix->comm, e));
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, &same, 1, MPI_INT, MPI_MIN, ix->comm));
  if (same) HP_CALL(reuse_tables(&f, N, S, ix->p.dim, ix->p.n_trees, &rows, &nodes_off, &planes_off, &fids));
  HP_CALLOC(match, (size_t)ix->n_shards + 1, "index: reused shards");
  for (int i = 0; i < ix->n_shards; i++)
    match[i] = same && ix->shards[i].n > 0
                   ? find_shard(fids, rows, S, ix->ids + ix->shards[i].row0, ix->shards[i].n) : -1;
  if (same) HP_CALL(reuse_body(&f, ix, rows, nodes_off, planes_off, match));
  HP_CALL(hp_h5_close(&f));
  int err = 0;
  int64_t n = 0;
  for (int i = 0; same && i < ix->n_shards && !err; i++)
    if (match[i] >= 0) {
      err = hp_forest_check_shard(&ix->p, &ix->shards[i], path);
      n++;
    }
  HP_CALL(hp_agree(ix->comm, err));
  HP_MPI(MPI_Allreduce(&n, n_reused, 1, MPI_INT64_T, MPI_SUM, ix->comm));
  free(rows);
  free(nodes_off);
  free(planes_off);
  free(fids);
  free(match);
  return 0;
}

int hp_index_reuse_trees(hp_index *ix, const char *path, int64_t *n_reused) {
  *n_reused = 0;
  if (ix->p.kind != HP_INDEX_FOREST || ix->built) return 0;
  HP_CALL(hp_agree(ix->comm, check_filled(ix)));
  int e = hp_agree(ix->comm, reuse_trees(ix, path, n_reused));
  if (e) { /* nothing half-taken: every shard is then built */
    for (int s = 0; s < ix->n_shards; s++) hp_forest_free_shard(&ix->shards[s]);
    *n_reused = 0;
  }
  return e;
}
