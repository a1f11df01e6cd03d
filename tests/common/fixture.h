/* fixture.h — the one loader of "hpfix1" test fixtures (tests/data/<subdir>/<name>.bin),
 * written by the generators in tests/fixtures/ (one writer, hpfix.py):
 * a line "hpfix1 <count>", one line "<name> <f32|i32> <ndim> <dims...>" per tensor, then the
 * raw little-endian 4-byte data in order. Found through $HP_TEST_DATA. Every problem is a
 * cmocka failure naming the file and tensor. */
#ifndef HP_TESTS_COMMON_FIXTURE_H
#define HP_TESTS_COMMON_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#define HP_FIXTURE_NAME_MAX 128

typedef struct {
  int count;
  char (*name)[HP_FIXTURE_NAME_MAX];
  int *is_int;
  size_t *numel;
  void **data;
} hp_fixture;

/* `file` with or without the ".bin" suffix. */
hp_fixture *hp_fixture_load(const char *subdir, const char *file);
void hp_fixture_free(hp_fixture *fx);
/* Index of tensor `name`, -1 if absent. */
int hp_fixture_index(const hp_fixture *fx, const char *name);
/* The tensor's data; fails the test if it is missing, of the other type, or (numel != 0) of
 * another size. */
float *hp_fixture_f(const hp_fixture *fx, const char *name, size_t numel);
int32_t *hp_fixture_i(const hp_fixture *fx, const char *name, size_t numel);

#endif
