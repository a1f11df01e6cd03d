/* analysis.c — see analysis.h. */
#include "cluster/analysis.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "cluster/kmeans.h"

/* ---- BLACS / ScaLAPACK (Fortran interfaces; Debian ships no C header) ------------------------ */
extern int Csys2blacs_handle(MPI_Comm comm);
extern void Cfree_blacs_system_handle(int handle);
extern void Cblacs_gridinit(int *ctxt, const char *order, int nprow, int npcol);
extern void Cblacs_gridinfo(int ctxt, int *nprow, int *npcol, int *myrow, int *mycol);
extern void Cblacs_gridexit(int ctxt);
extern int numroc_(const int *n, const int *nb, const int *iproc, const int *isrc, const int *nprocs);
extern void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc,
                      const int *icsrc, const int *ictxt, const int *lld, int *info);
extern void pdgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k, const double *alpha,
                    const double *a, const int *ia, const int *ja, const int *desca, const double *b, const int *ib,
                    const int *jb, const int *descb, const double *beta, double *c, const int *ic, const int *jc,
                    const int *descc);
extern void pdsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *ia, const int *ja,
                     const int *desca, double *w, double *z, const int *iz, const int *jz, const int *descz,
                     double *work, const int *lwork, int *iwork, const int *liwork, int *info);
extern void pdposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *ia, const int *ja,
                    const int *desca, double *b, const int *ib, const int *jb, const int *descb, int *info);

/* Square block of the E x E matrices: 32, smaller for small E (pdsyevd returned wrong
 * eigenvectors here with a block larger than the matrix; tests/cluster/mpi_analysis.c). */
static int block_of(int m, int P) {
  int nb = (m + P - 1) / P; /* every process row gets a block when m >= P */
  return nb < 1 ? 1 : nb > 32 ? 32 : nb;
}

/* ---- exact Gram matrices ------------------------------------------------------------------ */

/* Why exact: a floating-point A^T B summed over rows depends on how the rows are split
 * between ranks. Here every value is rounded to a multiple of 2^-q with |value| * 2^q <= 2^23
 * (q from the global max |value|, so the same for any rank count): each product is then an
 * integer of at most 2^46 in units of 2^-(qa+qb), and a block of HP_XG_ROWS = 128 rows sums to
 * an integer of at most 2^53 — exact in double whatever order (or FMA) dgemm/dsyrk use. The
 * blocks' integer results are summed in __int128, across ranks as two int64 limbs, and
 * converted to double once. So the Gram matrix is the exact one of the rounded values: the
 * same bits for any rank count, any split of the rows and any BLAS thread count. The rounding
 * is at most 2^-24 of the largest |value|'s power-of-two bound (float32's own epsilon). */
#define HP_XG_ROWS 128
#define HP_XG_BITS 23

/* fill out[r*w + j], r < nrows, with the values of rows row0..row0+nrows-1 */
typedef void (*xg_fill)(const void *ctx, int64_t row0, int64_t nrows, double *out);

static int xg_scale(MPI_Comm comm, xg_fill fill, const void *ctx, int64_t n, int w, double *buf, int *q) {
  double mx = 0;
  for (int64_t r0 = 0; r0 < n; r0 += HP_XG_ROWS) {
    int64_t nr = n - r0 < HP_XG_ROWS ? n - r0 : HP_XG_ROWS;
    fill(ctx, r0, nr, buf);
    for (int64_t t = 0; t < nr * w; t++) {
      double a = fabs(buf[t]);
      if (!(a <= DBL_MAX)) HP_ERROR(HP_ERR_NUMERIC, "Gram matrix: a value is not finite (row %lld)", (long long)(r0 + t / w));
      if (a > mx) mx = a;
    }
  }
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, &mx, 1, MPI_DOUBLE, MPI_MAX, comm));
  int e = 0;
  if (mx > 0) frexp(mx, &e); /* mx < 2^e */
  *q = HP_XG_BITS - e;       /* mx * 2^q < 2^23 */
  return 0;
}

static void xg_round(double *v, int64_t m, int q) {
  for (int64_t t = 0; t < m; t++) v[t] = nearbyint(ldexp(v[t], q)); /* round half to even */
}

/* G[wa,wb] (row-major, replicated on every rank) = sum over all ranks' rows of a_r^T b_r,
 * exactly for the values rounded as above. fb == NULL: B = A (G symmetric, dsyrk). */
static int xgram(MPI_Comm comm, int64_t n, int wa, xg_fill fa, const void *ca, int wb, xg_fill fb, const void *cb,
                 double *G) {
  const int sym = fb == NULL;
  if (sym) wb = wa;
  double *A = NULL, *B = NULL, *C = NULL;
  __int128 *acc = NULL;
  int64_t *lim = NULL;
  const size_t gw = (size_t)wa * (size_t)wb;
  HP_CALLOC(A, (size_t)HP_XG_ROWS * (size_t)wa, "Gram: row block");
  if (!sym) HP_CALLOC(B, (size_t)HP_XG_ROWS * (size_t)wb, "Gram: row block");
  HP_CALLOC(C, gw, "Gram: block product");
  HP_CALLOC(acc, gw, "Gram: exact sums");
  HP_CALLOC(lim, 2 * gw, "Gram: limbs");
  int qa = 0, qb = 0;
  HP_CALL(xg_scale(comm, fa, ca, n, wa, A, &qa));
  if (sym) qb = qa;
  else HP_CALL(xg_scale(comm, fb, cb, n, wb, B, &qb));
  for (int64_t r0 = 0; r0 < n; r0 += HP_XG_ROWS) {
    int nr = (int)(n - r0 < HP_XG_ROWS ? n - r0 : HP_XG_ROWS);
    fa(ca, r0, nr, A);
    xg_round(A, (int64_t)nr * wa, qa);
    if (sym) {
      /* C (column-major wa x wa, upper) = A^T A with A row-major [nr, wa] = column-major [wa, nr] */
      cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, wa, nr, 1.0, A, wa, 0.0, C, wa);
      for (int j = 0; j < wa; j++)
        for (int i = 0; i <= j; i++) acc[(size_t)i * wa + j] += (__int128)(int64_t)C[(size_t)j * wa + i];
    } else {
      fb(cb, r0, nr, B);
      xg_round(B, (int64_t)nr * wb, qb);
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, wa, wb, nr, 1.0, A, wa, B, wb, 0.0, C, wb);
      for (size_t t = 0; t < gw; t++) acc[t] += (__int128)(int64_t)C[t];
    }
  }
  /* exact across ranks: low 32 bits and the rest, each summed as int64 */
  for (size_t t = 0; t < gw; t++) {
    lim[t] = (int64_t)(acc[t] & 0xffffffff);
    lim[gw + t] = (int64_t)(acc[t] >> 32); /* arithmetic shift (gcc/clang) */
  }
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, lim, (int)(2 * gw), MPI_INT64_T, MPI_SUM, comm));
  for (size_t t = 0; t < gw; t++) {
    __int128 v = (__int128)lim[gw + t] * ((__int128)1 << 32) + lim[t];
    G[t] = ldexp((double)v, -(qa + qb));
  }
  if (sym)
    for (int i = 0; i < wa; i++)
      for (int j = 0; j < i; j++) G[(size_t)i * wa + j] = G[(size_t)j * wa + i];
  free(A);
  free(B);
  free(C);
  free(acc);
  free(lim);
  return 0;
}

/* ---- the solver grid --------------------------------------------------------------------- */

/* The dense m x m solves (pdsyevd, pdposv) run on the first `want` ranks (0 = all) as a
 * want x 1 grid. The matrices are replicated before and the results broadcast after, so with
 * a fixed `want` (cluster.solver_ranks, default 1) the results are the same bits for any
 * rank count; the other ranks wait in the broadcast. */
typedef struct {
  MPI_Comm comm; /* the whole job */
  MPI_Comm sub;  /* grid members, MPI_COMM_NULL elsewhere */
  int rank, size, handle, ctxt;
} grid;

static int grid_open(MPI_Comm comm, int want, grid *g) {
  int r, P;
  HP_MPI(MPI_Comm_rank(comm, &r));
  HP_MPI(MPI_Comm_size(comm, &P));
  if (want <= 0 || want > P) want = P;
  memset(g, 0, sizeof *g);
  g->comm = comm;
  HP_MPI(MPI_Comm_split(comm, r < want ? 0 : MPI_UNDEFINED, r, &g->sub));
  if (g->sub == MPI_COMM_NULL) return 0;
  g->rank = r;
  g->size = want;
  g->handle = Csys2blacs_handle(g->sub);
  g->ctxt = g->handle;
  Cblacs_gridinit(&g->ctxt, "R", g->size, 1);
  int pr, pc, myr, myc;
  Cblacs_gridinfo(g->ctxt, &pr, &pc, &myr, &myc);
  if (pr != g->size || pc != 1 || myr != g->rank)
    HP_ERROR(HP_ERR_INTERNAL, "BLACS grid %d x %d, row %d; expected %d x 1, row %d", pr, pc, myr, g->size, g->rank);
  return 0;
}

static void grid_close(grid *g) {
  if (g->sub == MPI_COMM_NULL) return;
  Cblacs_gridexit(g->ctxt);
  Cfree_blacs_system_handle(g->handle);
  MPI_Comm_free(&g->sub);
}

/* A distributed m x n matrix (NB x NB blocks, rows block-cyclic over the grid's P x 1) */
typedef struct {
  int desc[9], m, n, nl, lld, nb;
  double *a;
} dmat;

/* local row li -> global row (block-cyclic over P process rows) */
static int64_t l2g(int li, int rank, int P, int nb) { return (int64_t)(li / nb) * P * nb + (int64_t)rank * nb + li % nb; }

/* this grid member's blocks of the replicated row-major full[m,n] */
static int dmat_scatter(const grid *g, const double *full, int m, int n, int nb_rows, dmat *d) {
  int izero = 0, info, P = g->size, nb = block_of(nb_rows, P);
  d->nb = nb;
  d->m = m;
  d->n = n;
  d->nl = numroc_(&m, &nb, &g->rank, &izero, &P);
  d->lld = d->nl > 1 ? d->nl : 1;
  descinit_(d->desc, &m, &n, &nb, &nb, &izero, &izero, &g->ctxt, &d->lld, &info);
  if (info != 0) HP_ERROR(HP_ERR_INTERNAL, "descinit: info %d", info);
  /* nb spare rows, defensive: a heap corruption was seen once (block 3, order 6, 3 ranks: one process
   * row empty) before the block size and workspaces were changed; its cause was not isolated */
  HP_CALLOC(d->a, (size_t)(d->lld + nb) * (size_t)(n > 0 ? n : 1), "distributed matrix");
  if (full)
    for (int li = 0; li < d->nl; li++) {
      int64_t gi = l2g(li, g->rank, g->size, nb);
      for (int j = 0; j < n; j++) d->a[(size_t)j * d->lld + li] = full[gi * n + j];
    }
  return 0;
}

/* every grid member gets the whole matrix, row-major [m,n] (exact: one owner per entry) */
static int dmat_gather(const grid *g, const dmat *d, double *full) {
  memset(full, 0, (size_t)d->m * (size_t)d->n * sizeof(double));
  for (int li = 0; li < d->nl; li++) {
    int64_t gi = l2g(li, g->rank, g->size, d->nb);
    for (int j = 0; j < d->n; j++) full[gi * d->n + j] = d->a[(size_t)j * d->lld + li];
  }
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, full, d->m * d->n, MPI_DOUBLE, MPI_SUM, g->sub));
  return 0;
}

/* ---- PCA --------------------------------------------------------------------------------- */

typedef struct {
  const float *x;
  const double *mean;
  int64_t E;
} centred_rows;

static void fill_centred(const void *ctx, int64_t r0, int64_t nr, double *out) {
  const centred_rows *c = ctx;
  for (int64_t i = 0; i < nr; i++)
    for (int64_t j = 0; j < c->E; j++) out[i * c->E + j] = (double)c->x[(r0 + i) * c->E + j] - c->mean[j];
}

/* eigen-decomposition of the replicated symmetric C[E,E] on the grid: eig ascending, Z[i*E+j]
 * entry i of eigenvector j; both broadcast to every rank of g->comm. */
static int grid_syevd(const grid *g, const double *C, int64_t E, double *eig, double *Z) {
  int err = 0;
  if (g->sub != MPI_COMM_NULL) {
    dmat A, V;
    const int iE = (int)E;
    HP_CALL(dmat_scatter(g, C, iE, iE, iE, &A));
    HP_CALL(dmat_scatter(g, NULL, iE, iE, iE, &V));
    int one = 1, info = 0, lwork = -1, liwork = -1, iwq = 0;
    double wq = 0;
    pdsyevd_("V", "U", &iE, A.a, &one, &one, A.desc, eig, V.a, &one, &one, V.desc, &wq, &lwork, &iwq, &liwork, &info);
    if (info != 0) HP_ERROR(HP_ERR_NUMERIC, "pdsyevd (workspace query): info %d", info);
    lwork = 2 * (int)wq + 1024; /* generous: the query is known to be tight on some grids */
    liwork = 2 * (iwq > 1 ? iwq : 1) + 64;
    double *work = NULL;
    int *iwork = NULL;
    HP_CALLOC(work, lwork, "pdsyevd workspace");
    HP_CALLOC(iwork, liwork, "pdsyevd integer workspace");
    pdsyevd_("V", "U", &iE, A.a, &one, &one, A.desc, eig, V.a, &one, &one, V.desc, work, &lwork, iwork, &liwork,
             &info);
    free(work);
    free(iwork);
    if (info != 0) err = info;
    else HP_CALL(dmat_gather(g, &V, Z));
    free(A.a);
    free(V.a);
  }
  /* the grid's verdict reaches every rank (rank 0 is always a member) */
  HP_MPI(MPI_Bcast(&err, 1, MPI_INT, 0, g->comm));
  if (err != 0) HP_ERROR(HP_ERR_NUMERIC, "pdsyevd: info %d (covariance %lld x %lld)", err, (long long)E, (long long)E);
  HP_MPI(MPI_Bcast(eig, (int)E, MPI_DOUBLE, 0, g->comm));
  HP_MPI(MPI_Bcast(Z, (int)(E * E), MPI_DOUBLE, 0, g->comm));
  return 0;
}

/* exact, rank-independent mean of every rank's rows; *N = their number */
static int mean_of(MPI_Comm comm, const float *x, int64_t n, int64_t E, double *mean, int64_t *N) {
  hp_km_data d;
  HP_CALL(hp_km_data_init(comm, x, n, E, &d));
  int64_t *zero = NULL;
  HP_CALLOC(zero, n > 0 ? n : 1, "zeros");
  HP_CALL(hp_km_means(&d, 1, zero, mean, N));
  free(zero);
  hp_km_data_free(&d);
  return 0;
}

int hp_pca_run(MPI_Comm comm, const float *x, int64_t n, int64_t E, int solver_ranks, hp_pca *out) {
  memset(out, 0, sizeof *out);
  out->E = E;
  if (E < 1 || E * E > INT32_MAX) HP_ERROR(HP_ERR_INPUT, "PCA: dimension %lld out of range", (long long)E);
  /* exact, rank-independent mean */
  double *mean = NULL, *C = NULL, *Zf = NULL;
  int64_t Nall = 0;
  HP_CALLOC(mean, E, "PCA: mean");
  HP_CALL(mean_of(comm, x, n, E, mean, &Nall));
  if (Nall < 1) HP_ERROR(HP_ERR_INPUT, "PCA: no rows");
  /* covariance X_c^T X_c / N, exact and replicated */
  HP_CALLOC(C, (size_t)E * (size_t)E, "PCA: covariance");
  centred_rows cr = {x, mean, E};
  HP_CALL(xgram(comm, n, (int)E, fill_centred, &cr, 0, NULL, NULL, C));
  for (size_t t = 0; t < (size_t)E * (size_t)E; t++) C[t] /= (double)Nall;
  HP_CALLOC(out->eig, E, "PCA: eigenvalues");
  HP_CALLOC(Zf, (size_t)E * (size_t)E, "PCA: eigenvectors");
  grid g;
  HP_CALL(grid_open(comm, solver_ranks, &g));
  HP_CALL(grid_syevd(&g, C, E, out->eig, Zf));
  grid_close(&g);
  free(C);
  /* descending order; the first three eigenvectors with a sign convention */
  for (int64_t a = 0, b = E - 1; a < b; a++, b--) {
    double t = out->eig[a];
    out->eig[a] = out->eig[b];
    out->eig[b] = t;
  }
  out->total = 0;
  for (int64_t j = 0; j < E; j++) out->total += out->eig[j];
  const int nc = E < 3 ? (int)E : 3;
  HP_CALLOC(out->components, 3 * (size_t)E, "PCA: components");
  for (int c = 0; c < nc; c++) {
    int64_t col = E - 1 - c, arg = 0;
    for (int64_t i = 0; i < E; i++)
      if (fabs(Zf[i * E + col]) > fabs(Zf[arg * E + col])) arg = i;
    double s = Zf[arg * E + col] < 0 ? -1.0 : 1.0;
    for (int64_t i = 0; i < E; i++) out->components[c * E + i] = s * Zf[i * E + col];
  }
  /* per-row projection in a fixed order: the same bits whichever rank holds the row */
  HP_CALLOC(out->proj, (size_t)(n > 0 ? n : 1) * 3, "PCA: projection");
  for (int64_t i = 0; i < n; i++)
    for (int c = 0; c < nc; c++) {
      double v = 0;
      for (int64_t j = 0; j < E; j++) v += ((double)x[i * E + j] - mean[j]) * out->components[c * E + j];
      out->proj[i * 3 + c] = v;
    }
  free(Zf);
  free(mean);
  return 0;
}

void hp_pca_free(hp_pca *p) {
  free(p->eig);
  free(p->components);
  free(p->proj);
  memset(p, 0, sizeof *p);
}

/* ---- modality gap -------------------------------------------------------------------------- */

int hp_gap_run(MPI_Comm comm, const float *img, int64_t ni, const float *cap, int64_t nc, int64_t E, hp_gap *out) {
  memset(out, 0, sizeof *out);
  double *mi = NULL, *mc = NULL, *mp = NULL, *u = NULL, *v = NULL;
  HP_CALLOC(mi, E, "gap: image centroid");
  HP_CALLOC(mc, E, "gap: caption centroid");
  HP_CALLOC(mp, E, "gap: pooled centroid");
  HP_CALLOC(u, E, "gap: direction");
  HP_CALL(mean_of(comm, img, ni, E, mi, &out->n_images));
  HP_CALL(mean_of(comm, cap, nc, E, mc, &out->n_captions));
  if (out->n_images == 0 || out->n_captions == 0) HP_ERROR(HP_ERR_INPUT, "modality gap: no images or no captions");
  double g2 = 0, ii = 0, cc = 0, ic = 0;
  const double wi = (double)out->n_images / (double)(out->n_images + out->n_captions);
  for (int64_t j = 0; j < E; j++) {
    u[j] = mi[j] - mc[j];
    g2 += u[j] * u[j];
    ii += mi[j] * mi[j];
    cc += mc[j] * mc[j];
    ic += mi[j] * mc[j];
    mp[j] = wi * mi[j] + (1 - wi) * mc[j];
  }
  out->gap = sqrt(g2);
  out->cosine = ii > 0 && cc > 0 ? ic / sqrt(ii * cc) : 0.0;
  if (g2 > 0)
    for (int64_t j = 0; j < E; j++) u[j] /= out->gap;
  /* pooled variance along u and in total: exact sums of per-row values */
  int64_t nr = ni + nc;
  HP_CALLOC(v, 2 * (nr > 0 ? nr : 1), "gap: per-row values");
  for (int64_t r = 0; r < nr; r++) {
    const float *x = r < ni ? img + r * E : cap + (r - ni) * E;
    double p = 0, t = 0;
    for (int64_t j = 0; j < E; j++) {
      double c = (double)x[j] - mp[j];
      p += c * u[j];
      t += c * c;
    }
    v[r] = p * p;
    v[nr + r] = t;
  }
  double along, total;
  HP_CALL(hp_xsum(comm, v, nr, &along));
  HP_CALL(hp_xsum(comm, v + nr, nr, &total));
  out->share = total > 0 ? along / total : 0.0;
  free(mi);
  free(mc);
  free(mp);
  free(u);
  free(v);
  return 0;
}

/* ---- linear probe ------------------------------------------------------------------------ */

static int any_label(const uint8_t *y, int64_t L) {
  for (int64_t c = 0; c < L; c++)
    if (y[c]) return 1;
  return 0;
}

typedef struct {
  const float *x;
  const uint8_t *y;
  const int64_t *row; /* labelled local rows */
  int64_t E, L;
} probe_rows;

static void fill_design(const void *ctx, int64_t r0, int64_t nr, double *out) {
  const probe_rows *p = ctx;
  for (int64_t i = 0; i < nr; i++) {
    const float *x = p->x + p->row[r0 + i] * p->E;
    for (int64_t j = 0; j < p->E; j++) out[i * (p->E + 1) + j] = x[j];
    out[i * (p->E + 1) + p->E] = 1.0;
  }
}

static void fill_targets(const void *ctx, int64_t r0, int64_t nr, double *out) {
  const probe_rows *p = ctx;
  for (int64_t i = 0; i < nr; i++) {
    const uint8_t *y = p->y + p->row[r0 + i] * p->L;
    for (int64_t c = 0; c < p->L; c++) out[i * p->L + c] = y[c] ? 1.0 : 0.0;
  }
}

/* solve the replicated SPD A[W,W] X = B[W,L] on the grid; X (row-major [W,L]) to every rank */
static int grid_posv(const grid *g, const double *A, const double *B, int64_t W, int64_t L, double *X) {
  int err = 0;
  if (g->sub != MPI_COMM_NULL) {
    dmat a, b;
    const int iW = (int)W, iL = (int)L;
    HP_CALL(dmat_scatter(g, A, iW, iW, iW, &a));
    HP_CALL(dmat_scatter(g, B, iW, iL, iW, &b));
    int one = 1, info = 0;
    pdposv_("U", &iW, &iL, a.a, &one, &one, a.desc, b.a, &one, &one, b.desc, &info);
    if (info != 0) err = info;
    else HP_CALL(dmat_gather(g, &b, X));
    free(a.a);
    free(b.a);
  }
  HP_MPI(MPI_Bcast(&err, 1, MPI_INT, 0, g->comm));
  if (err != 0)
    HP_ERROR(HP_ERR_NUMERIC, "linear probe: pdposv info %d (X^T X + ridge I not positive definite: raise "
             "cluster.probe_ridge)", err);
  HP_MPI(MPI_Bcast(X, (int)(W * L), MPI_DOUBLE, 0, g->comm));
  return 0;
}

int hp_probe_run(MPI_Comm comm, const float *xtr, const uint8_t *ytr, int64_t ntr, const float *xte,
                 const uint8_t *yte, int64_t nte, int64_t E, int64_t L, double ridge, int solver_ranks,
                 hp_probe *out) {
  memset(out, 0, sizeof *out);
  const int64_t W = E + 1; /* bias column */
  if (E < 1 || L < 1 || W * W > INT32_MAX || W * L > INT32_MAX)
    HP_ERROR(HP_ERR_INPUT, "linear probe: %lld dimensions x %lld labels out of range", (long long)E, (long long)L);
  int64_t *row = NULL, k = 0;
  HP_CALLOC(row, ntr > 0 ? ntr : 1, "probe: labelled rows");
  for (int64_t i = 0; i < ntr; i++)
    if (any_label(ytr + i * L, L)) row[k++] = i;
  HP_MPI(MPI_Allreduce(&k, &out->n_train, 1, MPI_INT64_T, MPI_SUM, comm));
  if (out->n_train == 0) HP_ERROR(HP_ERR_INPUT, "linear probe: no labelled training images");
  double *A = NULL, *B = NULL, *Wf = NULL;
  HP_CALLOC(A, (size_t)W * (size_t)W, "probe: X^T X");
  HP_CALLOC(B, (size_t)W * (size_t)L, "probe: X^T Y");
  HP_CALLOC(Wf, (size_t)W * (size_t)L, "probe: weights");
  probe_rows pr = {xtr, ytr, row, E, L};
  HP_CALL(xgram(comm, k, (int)W, fill_design, &pr, 0, NULL, NULL, A));
  HP_CALL(xgram(comm, k, (int)W, fill_design, &pr, (int)L, fill_targets, &pr, B));
  free(row);
  for (int64_t i = 0; i < W; i++) A[i * W + i] += ridge;
  grid g;
  HP_CALL(grid_open(comm, solver_ranks, &g));
  HP_CALL(grid_posv(&g, A, B, W, L, Wf));
  grid_close(&g);
  free(A);
  free(B);
  int64_t cnt[2] = {0, 0};
  for (int64_t i = 0; i < nte; i++) {
    const uint8_t *y = yte + i * L;
    if (!any_label(y, L)) continue;
    int64_t best = 0;
    double bs = -INFINITY;
    for (int64_t c = 0; c < L; c++) {
      double s = Wf[E * L + c];
      for (int64_t j = 0; j < E; j++) s += (double)xte[i * E + j] * Wf[j * L + c];
      if (s > bs) {
        bs = s;
        best = c;
      }
    }
    cnt[0]++;
    cnt[1] += y[best] ? 1 : 0;
  }
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, cnt, 2, MPI_INT64_T, MPI_SUM, comm));
  out->n_test = cnt[0];
  out->accuracy = cnt[0] > 0 ? (double)cnt[1] / (double)cnt[0] : 0.0;
  free(Wf);
  return 0;
}
