/* support_memory.c — see support_memory.h. */
#include "models/support_memory.h"

#include "base/error.h"

int hp_support_project(MPI_Comm comm, const float *mem, int64_t m_local, int d, const float *v,
                       int64_t nq, int renorm, float *out, int64_t *n_fallback) {
  HP_ERROR(HP_ERR_NOTIMPL, "support-memory projection: not implemented yet");
}
