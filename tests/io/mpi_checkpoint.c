/* mpi_checkpoint.c — ckpt.h5 round trip at 1, 2, 3 ranks (parameters, optimiser moments,
 * vocabulary, attributes), and the loader's refusals: another model description, a missing
 * tensor, a tensor of another shape, an extra tensor — each naming file and tensor. */
#include <hdf5.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <mpi.h>

#include "base/error.h"
#include "io/check.h"
#include "io/checkpoint.h"

static const char *PATH = "mpi_checkpoint_test.h5";

/* shapes: a [3,4] matrix, a [5] vector, a [2,3,2,4] conv-like tensor; extra/changed by mode */
static void build(hp_params *p, int mode) {
  hp_params_init(p);
  int s1[2] = {3, 4}, s2[1] = {5}, s3[4] = {2, 3, 2, 4}, s4[1] = {7};
  size_t off;
  assert_int_equal(hp_params_add(p, "text.encoder.layer.0.attention.self.query.weight", 2, s1, HP_PARAM_DECAY, &off), 0);
  if (mode == 2) s2[0] = 6; /* another shape */
  assert_int_equal(hp_params_add(p, "text.embeddings.LayerNorm.bias", 1, s2, 0, &off), 0);
  if (mode != 3) assert_int_equal(hp_params_add(p, "visual.conv1.weight", 4, s3, HP_PARAM_DECAY, &off), 0);
  if (mode == 1) assert_int_equal(hp_params_add(p, "visual.extra", 1, s4, 0, &off), 0);
  assert_int_equal(hp_params_alloc(p), 0);
}

static void test_round_trip(void **state) {
  (void)state;
  hp_params p, q;
  build(&p, 0);
  float *m = calloc(p.total, 4), *v = calloc(p.total, 4);
  for (size_t i = 0; i < p.total; i++) {
    p.data[i] = (float)i * 0.5f - 3.0f;
    m[i] = (float)i;
    v[i] = (float)(i * i);
  }
  const char *vocab[] = {"", "[UNK]", "a", "red", "circle"};
  hp_ckpt_meta meta = {.step = 42, .epoch = 3, .model = "test-model(D=4)", .state = "best_val_loss=0.25 bad_epochs=1",
                       .config_text = "run = { dir = \"x\"; };", .fingerprint = "00ff", .optimizer = "adamw",
                       .m = m, .v = v, .n_vocab = 5, .vocab = vocab};
  assert_int_equal(hp_ckpt_write(MPI_COMM_WORLD, PATH, &p, &meta), 0);
  assert_int_equal(hp_check_file(MPI_COMM_WORLD, PATH), 0);

  build(&q, 0);
  float *m2 = calloc(q.total, 4), *v2 = calloc(q.total, 4);
  hp_ckpt_info info;
  int e = hp_ckpt_read(MPI_COMM_WORLD, PATH, "test-model(D=4)", &q, m2, v2, &info);
  if (e) fail_msg("%s", hp_error_message());
  for (int i = 0; i < p.n; i++)
    for (size_t k = 0; k < p.t[i].numel; k++) {
      size_t o = p.t[i].offset + k;
      assert_true(q.data[o] == p.data[o] && m2[o] == m[o] && v2[o] == v[o]);
    }
  assert_int_equal(info.step, 42);
  assert_int_equal(info.epoch, 3);
  assert_string_equal(info.state, "best_val_loss=0.25 bad_epochs=1");
  assert_string_equal(info.optimizer, "adamw");
  assert_int_equal(info.n_vocab, 5);
  assert_string_equal(info.vocab[4], "circle");
  assert_true(info.has_m && info.has_v);
  hp_ckpt_info_free(&info);
  hp_params_free(&q);

  /* refusals */
  struct { int mode; const char *model; const char *want; } bad[] = {
      {0, "other-model", "checkpoint of model 'test-model(D=4)', but this job's config describes 'other-model'"},
      {1, "test-model(D=4)", "/params/visual.extra: missing"},
      {2, "test-model(D=4)", "/params/text.embeddings.LayerNorm.bias: shape [5], but this model's"},
      {3, "test-model(D=4)", "holds 3 tensors, this model has 2"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    build(&q, bad[k].mode);
    e = hp_ckpt_read(MPI_COMM_WORLD, PATH, bad[k].model, &q, NULL, NULL, &info);
    assert_int_equal(e, HP_ERR_INPUT);
    if (!strstr(hp_error_message(), bad[k].want) || !strstr(hp_error_message(), PATH))
      fail_msg("case %zu: message '%s' lacks '%s'", k, hp_error_message(), bad[k].want);
    hp_ckpt_info_free(&info);
    hp_params_free(&q);
    hp_error_clear();
  }
  hp_params_free(&p);
  free(m); free(v); free(m2); free(v2);
}

/* Tampered files, through the schema validator. */
static void test_tampered(void **state) {
  (void)state;
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  hp_params p;
  build(&p, 0);
  float *m = calloc(p.total, 4);
  hp_ckpt_meta meta = {.model = "t", .state = "", .optimizer = "sgd", .m = m};
  const char *cases[] = {"int_tensor", "mirror_missing", "group_member", "rank5"};
  const char *want[] = {"/params/visual.conv1.weight: datatype is int32", "has no twin", "not a dataset", "rank 5"};
  for (int k = 0; k < 4; k++) {
    assert_int_equal(hp_ckpt_write(MPI_COMM_WORLD, PATH, &p, &meta), 0);
    if (rank == 0) {
      hid_t f = H5Fopen(PATH, H5F_ACC_RDWR, H5P_DEFAULT);
      assert_true(f >= 0);
      hsize_t d5[5] = {1, 1, 1, 1, 2}, d1[1] = {4};
      if (k == 0) {
        H5Ldelete(f, "/params/visual.conv1.weight", H5P_DEFAULT);
        hid_t s = H5Screate_simple(1, d1, NULL);
        hid_t d = H5Dcreate2(f, "/params/visual.conv1.weight", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        int z[4] = {0};
        H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, z);
        H5Dclose(d); H5Sclose(s);
      } else if (k == 1) {
        H5Ldelete(f, "/optim/m/visual.conv1.weight", H5P_DEFAULT);
      } else if (k == 2) {
        hid_t g = H5Gcreate2(f, "/params/sub", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Gclose(g);
      } else {
        hid_t s = H5Screate_simple(5, d5, NULL);
        hid_t d = H5Dcreate2(f, "/params/five", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        float z[2] = {0};
        H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, z);
        H5Dclose(d); H5Sclose(s);
      }
      H5Fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    int e = hp_check_file(MPI_COMM_WORLD, PATH);
    assert_int_equal(e, HP_ERR_INPUT);
    if (!strstr(hp_error_message(), want[k])) fail_msg("case %s: '%s' lacks '%s'", cases[k], hp_error_message(), want[k]);
    hp_error_clear();
  }
  hp_params_free(&p);
  free(m);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_round_trip), cmocka_unit_test(test_tampered)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) remove(PATH);
  MPI_Finalize();
  return rc;
}
