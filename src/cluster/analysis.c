/* analysis.c — see analysis.h. */
#include "cluster/analysis.h"

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

typedef struct {
  MPI_Comm comm;
  int rank, size, handle, ctxt;
} grid;

/* P x 1 grid: process row = MPI rank */
static int grid_open(MPI_Comm comm, grid *g) {
  HP_MPI(MPI_Comm_rank(comm, &g->rank));
  HP_MPI(MPI_Comm_size(comm, &g->size));
  g->comm = comm;
  g->handle = Csys2blacs_handle(comm);
  g->ctxt = g->handle;
  Cblacs_gridinit(&g->ctxt, "R", g->size, 1);
  int pr, pc, myr, myc;
  Cblacs_gridinfo(g->ctxt, &pr, &pc, &myr, &myc);
  if (pr != g->size || pc != 1 || myr != g->rank)
    HP_ERROR(HP_ERR_INTERNAL, "BLACS grid %d x %d, row %d; expected %d x 1, row %d", pr, pc, myr, g->size, g->rank);
  return 0;
}

static void grid_close(grid *g) {
  Cblacs_gridexit(g->ctxt);
  Cfree_blacs_system_handle(g->handle);
}

/* This rank's rows (global order rank by rank, n of them, w doubles each, row-major `in`) into
 * the block layout of an N x w matrix on the P x 1 grid: rows [r*MB, (r+1)*MB) on rank r,
 * column-major with leading dimension lld. *mb, *nloc, *lld out; *out allocated. */
static int to_blocks(const grid *g, const double *in, int64_t n, int64_t w, int64_t *N, int *mb, int *nloc, int *lld,
                     double **out) {
  int64_t row0 = 0;
  HP_MPI(MPI_Allreduce(&n, N, 1, MPI_INT64_T, MPI_SUM, g->comm));
  HP_MPI(MPI_Exscan(&n, &row0, 1, MPI_INT64_T, MPI_SUM, g->comm));
  if (g->rank == 0) row0 = 0;
  if (*N * w > INT32_MAX) HP_ERROR(HP_ERR_INPUT, "ScaLAPACK analysis: %lld x %lld values exceed 2^31", (long long)*N, (long long)w);
  int MB = (int)((*N + g->size - 1) / g->size);
  if (MB < 1) MB = 1;
  int P = g->size, izero = 0, iN = (int)*N;
  int *sc = NULL, *sd = NULL, *rc = NULL, *rd = NULL;
  HP_CALLOC(sc, P, "redistribution");
  HP_CALLOC(sd, P, "redistribution");
  HP_CALLOC(rc, P, "redistribution");
  HP_CALLOC(rd, P, "redistribution");
  for (int64_t i = 0; i < n; i++) sc[(row0 + i) / MB] += (int)w;
  for (int r = 1; r < P; r++) sd[r] = sd[r - 1] + sc[r - 1];
  HP_MPI(MPI_Alltoall(sc, 1, MPI_INT, rc, 1, MPI_INT, g->comm));
  for (int r = 1; r < P; r++) rd[r] = rd[r - 1] + rc[r - 1];
  int nl = numroc_(&iN, &MB, &g->rank, &izero, &P);
  double *tmp = NULL;
  HP_CALLOC(tmp, (size_t)(nl > 0 ? nl : 1) * (size_t)w, "redistributed rows");
  HP_MPI(MPI_Alltoallv(in, sc, sd, MPI_DOUBLE, tmp, rc, rd, MPI_DOUBLE, g->comm));
  *lld = nl > 1 ? nl : 1;
  HP_CALLOC(*out, (size_t)(*lld) * (size_t)w, "block-layout matrix");
  for (int i = 0; i < nl; i++)
    for (int64_t j = 0; j < w; j++) (*out)[(size_t)j * (size_t)(*lld) + (size_t)i] = tmp[(size_t)i * w + j];
  *mb = MB;
  *nloc = nl;
  free(tmp);
  free(sc);
  free(sd);
  free(rc);
  free(rd);
  return 0;
}

/* A distributed E1 x E2 matrix (NB x NB blocks, P x 1 grid) */
typedef struct {
  int desc[9], m, n, nl, lld, nb;
  double *a;
} dmat;

static int dmat_init(const grid *g, int m, int n, dmat *d) {
  int izero = 0, info, P = g->size, nb = block_of(m, P);
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
  return 0;
}

/* local row li -> global row (block-cyclic over P process rows) */
static int64_t l2g(int li, int rank, int P, int nb) { return (int64_t)(li / nb) * P * nb + (int64_t)rank * nb + li % nb; }

/* every rank gets the whole matrix, row-major [m,n] */
static int dmat_gather(const grid *g, const dmat *d, double *full) {
  memset(full, 0, (size_t)d->m * (size_t)d->n * sizeof(double));
  for (int li = 0; li < d->nl; li++) {
    int64_t gi = l2g(li, g->rank, g->size, d->nb);
    for (int j = 0; j < d->n; j++) full[gi * d->n + j] = d->a[(size_t)j * d->lld + li];
  }
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, full, d->m * d->n, MPI_DOUBLE, MPI_SUM, g->comm));
  return 0;
}

/* C = A^T B for A (N x wa), B (N x wb) in row-block layout -> C (wa x wb, NB blocks). */
static int gram(const grid *g, const double *A, int wa, const double *B, int wb, int64_t N, int mb, int lld,
                dmat *C) {
  int da[9], db[9], info, izero = 0, iN = (int)N, one = 1;
  descinit_(da, &iN, &wa, &mb, &wa, &izero, &izero, &g->ctxt, &lld, &info);
  if (info != 0) HP_ERROR(HP_ERR_INTERNAL, "descinit (A): info %d", info);
  descinit_(db, &iN, &wb, &mb, &wb, &izero, &izero, &g->ctxt, &lld, &info);
  if (info != 0) HP_ERROR(HP_ERR_INTERNAL, "descinit (B): info %d", info);
  HP_CALL(dmat_init(g, wa, wb, C));
  double alpha = 1.0, beta = 0.0;
  pdgemm_("T", "N", &wa, &wb, &iN, &alpha, A, &one, &one, da, B, &one, &one, db, &beta, C->a, &one, &one, C->desc);
  return 0;
}

/* ---- PCA --------------------------------------------------------------------------------- */

int hp_pca_run(MPI_Comm comm, const float *x, int64_t n, int64_t E, hp_pca *out) {
  memset(out, 0, sizeof *out);
  out->E = E;
  /* exact, rank-independent mean */
  hp_km_data d;
  HP_CALL(hp_km_data_init(comm, x, n, E, &d));
  double *mean = NULL;
  int64_t *zero = NULL, cnt = 0;
  HP_CALLOC(mean, E, "PCA: mean");
  HP_CALLOC(zero, n > 0 ? n : 1, "PCA: zeros");
  HP_CALL(hp_km_means(&d, 1, zero, mean, &cnt));
  const int64_t Nall = d.N;
  hp_km_data_free(&d);
  free(zero);
  double *xc = NULL;
  HP_CALLOC(xc, (size_t)(n > 0 ? n : 1) * (size_t)E, "PCA: centred rows");
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < E; j++) xc[i * E + j] = (double)x[i * E + j] - mean[j];
  grid g;
  HP_CALL(grid_open(comm, &g));
  int64_t N;
  int mb, nl, lld;
  double *Xb = NULL;
  HP_CALL(to_blocks(&g, xc, n, E, &N, &mb, &nl, &lld, &Xb));
  dmat C, Z;
  HP_CALL(gram(&g, Xb, (int)E, Xb, (int)E, N, mb, lld, &C));
  free(Xb);
  for (size_t t = 0; t < (size_t)C.lld * (size_t)C.n; t++) C.a[t] /= (double)Nall;
  HP_CALL(dmat_init(&g, (int)E, (int)E, &Z));
  HP_CALLOC(out->eig, E, "PCA: eigenvalues");
  int iE = (int)E, one = 1, info = 0, lwork = -1, liwork = -1, iwq = 0;
  double wq = 0;
  pdsyevd_("V", "U", &iE, C.a, &one, &one, C.desc, out->eig, Z.a, &one, &one, Z.desc, &wq, &lwork, &iwq, &liwork,
           &info);
  if (info != 0) HP_ERROR(HP_ERR_NUMERIC, "pdsyevd (workspace query): info %d", info);
  lwork = 2 * (int)wq + 1024; /* generous: the query is known to be tight on some grids */
  liwork = 2 * (iwq > 1 ? iwq : 1) + 64;
  double *work = NULL;
  int *iwork = NULL;
  HP_CALLOC(work, lwork, "pdsyevd workspace");
  HP_CALLOC(iwork, liwork, "pdsyevd integer workspace");
  pdsyevd_("V", "U", &iE, C.a, &one, &one, C.desc, out->eig, Z.a, &one, &one, Z.desc, work, &lwork, iwork, &liwork,
           &info);
  if (info != 0) HP_ERROR(HP_ERR_NUMERIC, "pdsyevd: info %d (covariance %lld x %lld)", info, (long long)E, (long long)E);
  free(work);
  free(iwork);
  double *Zf = NULL;
  HP_CALLOC(Zf, (size_t)E * (size_t)E, "PCA: eigenvectors");
  HP_CALL(dmat_gather(&g, &Z, Zf)); /* Zf[i*E + j]: entry i of eigenvector j (ascending) */
  free(C.a);
  free(Z.a);
  grid_close(&g);
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
  HP_CALLOC(out->proj, (size_t)(n > 0 ? n : 1) * 3, "PCA: projection");
  for (int64_t i = 0; i < n; i++)
    for (int c = 0; c < nc; c++) {
      double v = 0;
      for (int64_t j = 0; j < E; j++) v += xc[i * E + j] * out->components[c * E + j];
      out->proj[i * 3 + c] = v;
    }
  free(Zf);
  free(xc);
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

int hp_probe_run(MPI_Comm comm, const float *xtr, const uint8_t *ytr, int64_t ntr, const float *xte,
                 const uint8_t *yte, int64_t nte, int64_t E, int64_t L, double ridge, hp_probe *out) {
  memset(out, 0, sizeof *out);
  const int64_t W = E + 1; /* bias column */
  double *X = NULL, *Y = NULL;
  HP_CALLOC(X, (size_t)(ntr > 0 ? ntr : 1) * (size_t)W, "probe: design rows");
  HP_CALLOC(Y, (size_t)(ntr > 0 ? ntr : 1) * (size_t)L, "probe: targets");
  int64_t k = 0;
  for (int64_t i = 0; i < ntr; i++) {
    if (!any_label(ytr + i * L, L)) continue;
    for (int64_t j = 0; j < E; j++) X[k * W + j] = xtr[i * E + j];
    X[k * W + E] = 1.0;
    for (int64_t c = 0; c < L; c++) Y[k * L + c] = ytr[i * L + c] ? 1.0 : 0.0;
    k++;
  }
  HP_MPI(MPI_Allreduce(&k, &out->n_train, 1, MPI_INT64_T, MPI_SUM, comm));
  if (out->n_train == 0) HP_ERROR(HP_ERR_INPUT, "linear probe: no labelled training images");
  grid g;
  HP_CALL(grid_open(comm, &g));
  int64_t N;
  int mb, nl, lld, lld2;
  double *Xb = NULL, *Yb = NULL;
  HP_CALL(to_blocks(&g, X, k, W, &N, &mb, &nl, &lld, &Xb));
  HP_CALL(to_blocks(&g, Y, k, L, &N, &mb, &nl, &lld2, &Yb));
  free(X);
  free(Y);
  dmat A, B;
  HP_CALL(gram(&g, Xb, (int)W, Xb, (int)W, N, mb, lld, &A));
  HP_CALL(gram(&g, Xb, (int)W, Yb, (int)L, N, mb, lld, &B));
  free(Xb);
  free(Yb);
  for (int li = 0; li < A.nl; li++) {
    int64_t gi = l2g(li, g.rank, g.size, A.nb);
    A.a[(size_t)gi * A.lld + li] += ridge;
  }
  int iW = (int)W, iL = (int)L, one = 1, info = 0;
  pdposv_("U", &iW, &iL, A.a, &one, &one, A.desc, B.a, &one, &one, B.desc, &info);
  if (info != 0)
    HP_ERROR(HP_ERR_NUMERIC, "linear probe: pdposv info %d (X^T X + ridge I not positive definite: raise "
             "cluster.probe_ridge)", info);
  double *Wf = NULL;
  HP_CALLOC(Wf, (size_t)W * (size_t)L, "probe: weights");
  HP_CALL(dmat_gather(&g, &B, Wf));
  free(A.a);
  free(B.a);
  grid_close(&g);
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
