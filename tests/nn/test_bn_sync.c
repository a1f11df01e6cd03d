/* test_bn_sync.c — synchronised batch norm (nn/bn_relu.h with a reducer) against full-batch
 * batch norm: a batch of M rows is split into P "ranks" (P = 1, 2, 3, uneven splits, one with
 * an empty rank) inside one process, and every rank's mean/rstd, running statistics, dinp (plain
 * and ReLU-masked) and the sum over the ranks of dweight/dbias must equal the full-batch result
 * within 1e-5 relative (err measure of nn_test.h). Also: reducer errors propagate, a global
 * batch of one value per channel is refused, and the reducer is called once per forward and
 * once per backward with n = 2C+1.
 *
 * Fake reducer: the layer calls fn(arg, buf, n) synchronously, so a one-process simulation runs
 * in two passes: "record" runs every rank on throwaway copies and adds their buffers (the
 * buffer handed to the reducer depends only on the rank's own data), "replay" runs every rank
 * for real with fn replacing buf by the recorded sum — exactly what an allreduce returns. */
#include "nn_test.h"
#include "base/error.h"
#include "nn/bn_relu.h"

enum { RECORD, REPLAY };

typedef struct {
  int mode, calls, fail, n;
  double acc[2 * 64 + 1];
} fake;

static int fake_fn(void *arg, double *buf, int n) {
  fake *f = arg;
  f->calls++;
  if (f->fail) return HP_ERR_MPI;
  assert_true(n <= (int)(sizeof f->acc / sizeof f->acc[0]));
  if (f->mode == RECORD) {
    if (f->n == 0) {
      f->n = n;
      memset(f->acc, 0, sizeof f->acc);
    }
    assert_int_equal(n, f->n);
    for (int i = 0; i < n; i++) f->acc[i] += buf[i];
  } else {
    assert_int_equal(n, f->n);
    memcpy(buf, f->acc, (size_t)n * sizeof(double));
  }
  return 0;
}

enum { C = 40, IMG = 48 }; /* rows per "image" (e.g. 6x8 map) */

typedef struct {
  int M;
  float *x, *dy, *relu, *w, *b, *rm0, *rv0;
} data;

static void make(data *d, int images) {
  d->M = images * IMG;
  size_t n = (size_t)d->M * C;
  d->x = fbuf(n);
  d->dy = fbuf(n);
  d->relu = fbuf(n);
  d->w = fbuf(C);
  d->b = fbuf(C);
  d->rm0 = fbuf(C);
  d->rv0 = fbuf(C);
  fill_uniform(d->x, n, 1, 2.0f, 6.0f); /* mean 4, std ~1.2: a non-trivial offset */
  for (size_t i = 0; i < n; i += 7) d->x[i] *= 1.5f; /* channels not identically distributed */
  fill_uniform(d->dy, n, 2, -1.0f, 1.0f);
  fill_uniform(d->w, C, 3, 0.5f, 1.5f);
  fill_uniform(d->b, C, 4, -0.5f, 0.5f);
  fill_uniform(d->rm0, C, 5, -0.5f, 0.5f);
  fill_uniform(d->rv0, C, 6, 0.5f, 1.5f);
}

static void unmake(data *d) {
  free(d->x); free(d->dy); free(d->relu); free(d->w); free(d->b); free(d->rm0); free(d->rv0);
}

typedef struct {
  float mean[C], rstd[C], rm[C], rv[C], dw[C], db[C];
  float *dx, *dxr; /* [M,C] plain and ReLU-masked input gradients */
} result;

/* full batch, local statistics (the reference) */
static void reference(const data *d, result *r) {
  double *scr = malloc(hp_bn_scratch_doubles(C) * sizeof(double));
  assert_non_null(scr);
  size_t n = (size_t)d->M * C;
  memcpy(r->rm, d->rm0, sizeof r->rm);
  memcpy(r->rv, d->rv0, sizeof r->rv);
  memset(r->dw, 0, sizeof r->dw);
  memset(r->db, 0, sizeof r->db);
  assert_int_equal(hp_bn_stats(r->mean, r->rstd, r->rm, r->rv, d->x, d->M, C, 1e-5f, 0.1f, 1, scr, NULL), 0);
  hp_bn_apply(d->relu, d->x, r->mean, r->rstd, d->w, d->b, d->M, C, 1); /* the ReLU mask */
  r->dx = fbuf(n);
  r->dxr = fbuf(n);
  assert_int_equal(hp_bn_backward(r->dx, r->dw, r->db, d->dy, NULL, d->x, d->w, r->mean, r->rstd, d->M, C, 1, scr,
                                  NULL), 0);
  memcpy(r->dxr, d->dy, n * sizeof(float)); /* in place, as resnet50.c does */
  assert_int_equal(hp_bn_backward(r->dxr, NULL, NULL, r->dxr, d->relu, d->x, d->w, r->mean, r->rstd, d->M, C, 1,
                                  scr, NULL), 0);
  free(scr);
}

/* rank q of P holds rows [cut[q], cut[q+1]) */
static void split_run(const data *d, int P, const int *cut) {
  double *scr = malloc(hp_bn_scratch_doubles(C) * sizeof(double));
  assert_non_null(scr);
  result ref;
  reference(d, &ref);
  float dw[C] = {0}, db[C] = {0};
  float *dx = fbuf((size_t)d->M * C), *dxr = fbuf((size_t)d->M * C);
  fake fs = {0}, fb = {0}, fr = {0};
  hp_bn_reducer rs = {fake_fn, &fs}, rb = {fake_fn, &fb}, rr = {fake_fn, &fr};
  float mean[3][C], rstd[3][C];
  for (int mode = RECORD; mode <= REPLAY; mode++) {
    fs.mode = fb.mode = fr.mode = mode;
    /* forward */
    for (int q = 0; q < P; q++) {
      int m0 = cut[q], m = cut[q + 1] - m0;
      float rm[C], rv[C];
      memcpy(rm, d->rm0, sizeof rm);
      memcpy(rv, d->rv0, sizeof rv);
      const float *x = d->x + (size_t)m0 * C;
      int e = hp_bn_stats(mean[q], rstd[q], rm, rv, x, m, C, 1e-5f, 0.1f, 1, scr, &rs);
      /* (the record pass sees only this rank's count: a rank with 0 or 1 rows fails there) */
      if (mode == REPLAY) assert_int_equal(e, 0);
      hp_error_clear();
      if (mode == REPLAY) {
        char what[64];
        snprintf(what, sizeof what, "P=%d rank %d mean", P, q);
        expect_close(what, mean[q], ref.mean, C, 1e-5);
        snprintf(what, sizeof what, "P=%d rank %d rstd", P, q);
        expect_close(what, rstd[q], ref.rstd, C, 1e-5);
        snprintf(what, sizeof what, "P=%d rank %d running_mean", P, q);
        expect_close(what, rm, ref.rm, C, 1e-5);
        snprintf(what, sizeof what, "P=%d rank %d running_var", P, q);
        expect_close(what, rv, ref.rv, C, 1e-5);
      }
    }
    /* backward (the record pass uses the recorded forward's statistics: the buffers handed to
     * the reducer depend on them, so record again after the forward replay) */
    if (mode == RECORD) continue;
    for (int pass = RECORD; pass <= REPLAY; pass++) {
      fb.mode = fr.mode = pass;
      for (int q = 0; q < P; q++) {
        int m0 = cut[q], m = cut[q + 1] - m0;
        size_t o = (size_t)m0 * C, n = (size_t)m * C;
        float tw[C] = {0}, tb[C] = {0};
        float *gx = pass == REPLAY ? dx + o : fbuf(n), *gr = pass == REPLAY ? dxr + o : fbuf(n);
        assert_int_equal(hp_bn_backward(gx, pass == REPLAY ? dw : tw, pass == REPLAY ? db : tb, d->dy + o, NULL,
                                        d->x + o, d->w, mean[q], rstd[q], m, C, 1, scr, &rb), 0);
        memcpy(gr, d->dy + o, n * sizeof(float));
        assert_int_equal(hp_bn_backward(gr, NULL, NULL, gr, d->relu + o, d->x + o, d->w, mean[q], rstd[q], m, C, 1,
                                        scr, &rr), 0);
        if (pass == RECORD) {
          free(gx);
          free(gr);
        }
      }
    }
  }
  /* one reducer call per rank per forward / backward and pass, n = 2C+1 */
  assert_int_equal(fs.calls, 2 * P);
  assert_int_equal(fb.calls, 2 * P);
  assert_int_equal(fs.n, 2 * C + 1);
  assert_int_equal(fb.n, 2 * C + 1);
  assert_true(fs.acc[2 * C] == (double)d->M && fb.acc[2 * C] == (double)d->M);
  char what[64];
  snprintf(what, sizeof what, "P=%d dinp", P);
  expect_close(what, dx, ref.dx, (size_t)d->M * C, 1e-5);
  snprintf(what, sizeof what, "P=%d dinp (ReLU-masked)", P);
  expect_close(what, dxr, ref.dxr, (size_t)d->M * C, 1e-5);
  snprintf(what, sizeof what, "P=%d sum of dweight", P);
  expect_close(what, dw, ref.dw, C, 1e-5);
  snprintf(what, sizeof what, "P=%d sum of dbias", P);
  expect_close(what, db, ref.db, C, 1e-5);
  free(dx); free(dxr); free(ref.dx); free(ref.dxr); free(scr);
}

static void test_bn_sync_splits(void **state) {
  (void)state;
  data d;
  make(&d, 12);
  const int M = d.M;
  int one[2] = {0, M};
  split_run(&d, 1, one);
  int two[3] = {0, M / 2, M};
  split_run(&d, 2, two);
  int three[4] = {0, M / 3, 2 * M / 3, M};
  split_run(&d, 3, three);
  int uneven[4] = {0, 5 * IMG, 5 * IMG, M}; /* a rank with no rows */
  split_run(&d, 3, uneven);
  int tiny[4] = {0, 1, 2, M}; /* single-row ranks */
  split_run(&d, 3, tiny);
  unmake(&d);
}

/* the local path is unchanged by a NULL reducer or one with fn == NULL */
static void test_bn_sync_null_reducer(void **state) {
  (void)state;
  data d;
  make(&d, 2);
  double *scr = malloc(hp_bn_scratch_doubles(C) * sizeof(double));
  assert_non_null(scr);
  float m1[C], s1[C], m2[C], s2[C], rm1[C], rv1[C], rm2[C], rv2[C];
  memcpy(rm1, d.rm0, sizeof rm1);
  memcpy(rv1, d.rv0, sizeof rv1);
  memcpy(rm2, d.rm0, sizeof rm2);
  memcpy(rv2, d.rv0, sizeof rv2);
  hp_bn_reducer none = {NULL, NULL};
  assert_int_equal(hp_bn_stats(m1, s1, rm1, rv1, d.x, d.M, C, 1e-5f, 0.1f, 1, scr, NULL), 0);
  assert_int_equal(hp_bn_stats(m2, s2, rm2, rv2, d.x, d.M, C, 1e-5f, 0.1f, 1, scr, &none), 0);
  assert_memory_equal(m1, m2, sizeof m1);
  assert_memory_equal(s1, s2, sizeof s1);
  assert_memory_equal(rv1, rv2, sizeof rv1);
  /* eval mode never calls the reducer */
  fake f = {0};
  f.fail = 1;
  hp_bn_reducer r = {fake_fn, &f};
  assert_int_equal(hp_bn_stats(m2, s2, rm2, rv2, d.x, d.M, C, 1e-5f, 0.1f, 0, scr, &r), 0);
  float *dx = fbuf((size_t)d.M * C);
  assert_int_equal(hp_bn_backward(dx, NULL, NULL, d.dy, NULL, d.x, d.w, m2, s2, d.M, C, 0, scr, &r), 0);
  assert_int_equal(f.calls, 0);
  free(dx); free(scr);
  unmake(&d);
}

/* the reducer's error comes back from forward and backward; a global batch of one value per
 * channel is refused with HP_ERR_CONFIG */
static void test_bn_sync_errors(void **state) {
  (void)state;
  data d;
  make(&d, 1);
  double *scr = malloc(hp_bn_scratch_doubles(C) * sizeof(double));
  assert_non_null(scr);
  float mean[C], rstd[C], rm[C], rv[C];
  memcpy(rm, d.rm0, sizeof rm);
  memcpy(rv, d.rv0, sizeof rv);
  fake f = {0};
  f.fail = 1;
  hp_bn_reducer r = {fake_fn, &f};
  hp_error_clear();
  assert_int_equal(hp_bn_stats(mean, rstd, rm, rv, d.x, d.M, C, 1e-5f, 0.1f, 1, scr, &r), HP_ERR_MPI);
  assert_memory_equal(rm, d.rm0, sizeof rm); /* running statistics untouched */
  float *dx = fbuf((size_t)d.M * C);
  assert_int_equal(hp_bn_backward(dx, NULL, NULL, d.dy, NULL, d.x, d.w, mean, rstd, d.M, C, 1, scr, &r),
                   HP_ERR_MPI);
  assert_int_equal(f.calls, 2);
  /* one row on this rank, none elsewhere (the fake adds nothing: a one-rank sum) */
  fake g = {0};
  g.mode = RECORD;
  hp_bn_reducer rg = {fake_fn, &g};
  hp_error_clear();
  assert_int_equal(hp_bn_stats(mean, rstd, rm, rv, d.x, 1, C, 1e-5f, 0.1f, 1, scr, &rg), HP_ERR_CONFIG);
  assert_non_null(strstr(hp_error_message(), "synchronised batch norm over 1 value"));
  hp_error_clear();
  free(dx); free(scr);
  unmake(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bn_sync_splits),
      cmocka_unit_test(test_bn_sync_null_reducer),
      cmocka_unit_test(test_bn_sync_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
