/* test_row_reader.c — io/row_reader: rows in any order, repeated, in runs and alone, read back
 * into call order; bad rows, too many rows, a missing object and a non-HDF5 file are clean
 * errors naming the file and the object. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "io/row_reader.h"

enum { R = 50, C = 3 };
static const char *PATH = "row_reader.h5";

static int setup(void **state) {
  (void)state;
  static float x[R][C];
  for (int i = 0; i < R; i++)
    for (int j = 0; j < C; j++) x[i][j] = (float)(i * 10 + j);
  hid_t f = H5Fcreate(PATH, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims[2] = {R, C};
  hid_t s = H5Screate_simple(2, dims, NULL);
  hid_t d = H5Dcreate2(f, "/x", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
  H5Dclose(d);
  H5Sclose(s);
  H5Fclose(f);
  FILE *t = fopen("not_hdf5.h5", "w");
  fputs("plain text\n", t);
  fclose(t);
  return 0;
}

static void test_any_order(void **state) {
  (void)state;
  hp_row_reader *r = NULL;
  assert_int_equal(hp_row_reader_open(PATH, "/x", H5T_NATIVE_FLOAT, 16, &r), 0);
  assert_int_equal(hp_row_reader_rows(r), R);
  assert_int_equal(hp_row_reader_row_bytes(r), C * sizeof(float));
  /* descending, a run (20..23), repeats (7 three times), the first and the last row */
  const int64_t rows[] = {49, 7, 22, 20, 7, 21, 0, 23, 7, 3};
  const int64_t n = sizeof rows / sizeof rows[0];
  float out[16][C];
  memset(out, 0xff, sizeof out);
  assert_int_equal(hp_row_reader_read(r, rows, n, out), 0);
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < C; j++) assert_true(out[i][j] == (float)(rows[i] * 10 + j));
  assert_true(out[n][0] != out[n][0]); /* past n: untouched (NaN pattern) */
  assert_int_equal(hp_row_reader_read(r, rows, 0, out), 0);
  hp_row_reader_close(r);
}

static void expect_error(int code, int want, const char *needle) {
  assert_int_equal(code, want);
  assert_non_null(strstr(hp_error_message(), needle));
  hp_error_clear();
}

static void test_errors(void **state) {
  (void)state;
  hp_row_reader *r = NULL;
  assert_int_equal(hp_row_reader_open(PATH, "/x", H5T_NATIVE_FLOAT, 2, &r), 0);
  float out[4][C];
  const int64_t past[] = {3, R}, neg[] = {-1}, three[] = {1, 2, 3};
  expect_error(hp_row_reader_read(r, past, 2, out), HP_ERR_INPUT, "row_reader.h5: /x: row 50 out of range");
  expect_error(hp_row_reader_read(r, neg, 1, out), HP_ERR_INPUT, "row -1 out of range");
  expect_error(hp_row_reader_read(r, three, 3, out), HP_ERR_INTERNAL, "capacity 2");
  hp_row_reader_close(r);
  r = NULL;
  expect_error(hp_row_reader_open(PATH, "/missing", H5T_NATIVE_FLOAT, 2, &r), HP_ERR_INPUT, "/missing");
  hp_row_reader_close(r);
  r = NULL;
  expect_error(hp_row_reader_open("not_hdf5.h5", "/x", H5T_NATIVE_FLOAT, 2, &r), HP_ERR_INPUT, "not_hdf5.h5");
  hp_row_reader_close(r);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_any_order), cmocka_unit_test(test_errors)};
  int failed = cmocka_run_group_tests(tests, setup, NULL);
  remove(PATH);
  remove("not_hdf5.h5");
  MPI_Finalize();
  return failed;
}
