/* nn_common.c — see nn_common.h. */
#include "nn/nn_common.h"

#include <cblas.h>

int hp_nn_blas_nestable(void) {
  return openblas_get_parallel() == 2 || openblas_get_num_threads() <= 1;
}
