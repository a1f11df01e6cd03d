/* eval_topk.c — see eval_topk.h. */
#include "stages/eval_topk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

float hp_eval_dot(const float *a, const float *b, int64_t E) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= E; i += 8)
    for (int j = 0; j < 8; j++) s[j] += a[i + j] * b[i + j];
  for (int j = 0; i < E; i++, j++) s[j] += a[i] * b[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* 1 if (s, id) ranks before (t, jd). */
static int before(float s, int64_t id, float t, int64_t jd) {
  if (jd < 0) return id >= 0;
  if (id < 0) return 0;
  return s > t || (s == t && id < jd);
}

/* Insert (s, id) into the sorted list of length k if it belongs there. */
static void insert(int64_t *ids, float *sc, int k, float s, int64_t id) {
  if (!before(s, id, sc[k - 1], ids[k - 1])) return;
  int p = k - 1;
  while (p > 0 && before(s, id, sc[p - 1], ids[p - 1])) {
    ids[p] = ids[p - 1];
    sc[p] = sc[p - 1];
    p--;
  }
  ids[p] = id;
  sc[p] = s;
}

int hp_eval_topk(MPI_Comm comm, const float *items, const int64_t *ids, int64_t n, const float *queries,
                 int64_t nq, int64_t E, int k, int64_t *out_ids, float *out_scores) {
  int size;
  HP_MPI(MPI_Comm_size(comm, &size));
  if (k < 1) HP_ERROR(HP_ERR_INTERNAL, "top-k with k = %d", k);
  int64_t cnt;
  if (hp_mul_i64(nq, k, &cnt) || cnt > INT32_MAX / size)
    HP_ERROR(HP_ERR_MEM, "top-k: %lld queries x %d results x %d ranks exceed one all-gather", (long long)nq, k, size);
  int64_t *lid = NULL, *gid = NULL;
  float *lsc = NULL, *gsc = NULL;
  HP_CALLOC(lid, cnt > 0 ? cnt : 1, "local top-k ids");
  HP_CALLOC(lsc, cnt > 0 ? cnt : 1, "local top-k scores");
  HP_CALLOC(gid, (size_t)(cnt > 0 ? cnt : 1) * (size_t)size, "gathered top-k ids");
  HP_CALLOC(gsc, (size_t)(cnt > 0 ? cnt : 1) * (size_t)size, "gathered top-k scores");
  for (int64_t i = 0; i < cnt; i++) {
    lid[i] = -1;
    lsc[i] = -INFINITY;
  }
  /* blocks of items reused across a block of queries (cache) */
  const int64_t IB = 256, QB = 16;
  for (int64_t i0 = 0; i0 < n; i0 += IB) {
    int64_t i1 = i0 + IB < n ? i0 + IB : n;
    for (int64_t q0 = 0; q0 < nq; q0 += QB) {
      int64_t q1 = q0 + QB < nq ? q0 + QB : nq;
      for (int64_t q = q0; q < q1; q++)
        for (int64_t i = i0; i < i1; i++)
          insert(lid + q * k, lsc + q * k, k, hp_eval_dot(queries + q * E, items + i * E, E), ids[i]);
    }
  }
  HP_MPI(MPI_Allgather(lid, (int)cnt, MPI_INT64_T, gid, (int)cnt, MPI_INT64_T, comm));
  HP_MPI(MPI_Allgather(lsc, (int)cnt, MPI_FLOAT, gsc, (int)cnt, MPI_FLOAT, comm));
  for (int64_t q = 0; q < nq; q++) {
    int64_t *oi = out_ids + q * k;
    float *os = out_scores + q * k;
    for (int j = 0; j < k; j++) {
      oi[j] = -1;
      os[j] = -INFINITY;
    }
    for (int r = 0; r < size; r++)
      for (int j = 0; j < k; j++) {
        int64_t at = (int64_t)r * cnt + q * k + j;
        if (gid[at] >= 0) insert(oi, os, k, gsc[at], gid[at]);
      }
  }
  free(lid);
  free(lsc);
  free(gid);
  free(gsc);
  return 0;
}
