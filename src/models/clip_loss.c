/* clip_loss.c — global symmetric contrastive loss with gathered features (see clip_loss.h). */
#include "models/clip_loss.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/watchdog.h"

int hp_clip_loss_ws_init(hp_clip_loss_ws *ws, MPI_Comm comm, int B, int E) {
  int size, rank;
  memset(ws, 0, sizeof *ws);
  MPI_Comm_size(comm, &size);
  MPI_Comm_rank(comm, &rank);
  if (B < 0 || E <= 0) HP_ERROR(HP_ERR_INTERNAL, "clip loss: bad local batch %d or width %d", B, E);
  HP_CALLOC(ws->counts, size, "clip loss row counts");
  HP_CALLOC(ws->displs, size, "clip loss row displacements");
  HP_CALLOC(ws->elem_counts, size, "clip loss element counts");
  HP_CALLOC(ws->elem_displs, size, "clip loss element displacements");
  HP_MPI(MPI_Allgather(&B, 1, MPI_INT, ws->counts, 1, MPI_INT, comm));
  int64_t N = 0;
  for (int r = 0; r < size; r++) {
    ws->displs[r] = (int)N;
    N += ws->counts[r];
    if ((int64_t)ws->counts[r] * E > INT32_MAX) HP_ERROR(HP_ERR_MEM, "clip loss: local batch too large");
    ws->elem_counts[r] = ws->counts[r] * E;
    ws->elem_displs[r] = ws->displs[r] * E;
  }
  if (N <= 0 || N * (int64_t)E > INT32_MAX) HP_ERROR(HP_ERR_INTERNAL, "clip loss: global batch %lld", (long long)N);
  ws->N = (int)N;
  ws->E = E;
  ws->B = B;
  ws->row0 = ws->displs[rank];
  size_t ne = (size_t)N * (size_t)E, bn = (size_t)(B > 0 ? B : 1) * (size_t)N;
  HP_CALLOC(ws->all_img, ne, "clip loss gathered image embeddings");
  HP_CALLOC(ws->all_txt, ne, "clip loss gathered text embeddings");
  HP_CALLOC(ws->dall_img, ne, "clip loss image gradients");
  HP_CALLOC(ws->dall_txt, ne, "clip loss text gradients");
  HP_CALLOC(ws->probs_i, bn, "clip loss image-row probabilities");
  HP_CALLOC(ws->probs_t, bn, "clip loss text-row probabilities");
  return 0;
}

void hp_clip_loss_ws_free(hp_clip_loss_ws *ws) {
  free(ws->counts);
  free(ws->displs);
  free(ws->elem_counts);
  free(ws->elem_displs);
  free(ws->all_img);
  free(ws->all_txt);
  free(ws->dall_img);
  free(ws->dall_txt);
  free(ws->probs_i);
  free(ws->probs_t);
  free(ws->tgt);
  memset(ws, 0, sizeof *ws);
}

int hp_clip_loss_set_targets(hp_clip_loss_ws *ws, const unsigned char *labels, int L) {
  const int N = ws->N, B = ws->B, row0 = ws->row0;
  ws->soft = 0;
  if (!labels) return 0;
  if (L <= 0) HP_ERROR(HP_ERR_INTERNAL, "clip loss: soft targets with %d labels", L);
  if (!ws->tgt) HP_CALLOC(ws->tgt, (size_t)(B > 0 ? B : 1) * (size_t)N, "clip loss soft targets");
  for (int b = 0; b < B; b++) {
    const unsigned char *li = labels + (size_t)(row0 + b) * L;
    float *t = ws->tgt + (size_t)b * N;
    int ni = 0;
    for (int k = 0; k < L; k++) ni += li[k] != 0;
    double sum = 0.0;
    for (int j = 0; j < N; j++) {
      t[j] = 0.0f;
      if (ni == 0) continue;
      const unsigned char *lj = labels + (size_t)j * L;
      int nj = 0, both = 0;
      for (int k = 0; k < L; k++) {
        nj += lj[k] != 0;
        both += li[k] != 0 && lj[k] != 0;
      }
      if (both) t[j] = (float)((double)both / sqrt((double)ni * (double)nj));
      sum += t[j];
    }
    if (ni == 0) {
      t[row0 + b] = 1.0f;
    } else {
      for (int j = 0; j < N; j++) t[j] = (float)(t[j] / sum);
    }
  }
  ws->soft = 1;
  return 0;
}

/* probs [B,N] <- softmax(s * q [B,E] . keys [N,E]^T) row-wise; returns the sum over rows of
 * the cross-entropy against the targets (tgt [B,N], or NULL: row b's target is column row0+b)
 * and counts rows whose argmax is their own pair (column row0+b). */
static double rows_softmax(float *probs, const float *q, const float *keys, int B, int N, int E, float s, int row0,
                           const float *tgt, int *correct) {
  if (B == 0) return 0.0;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, N, E, s, q, E, keys, E, 0.0f, probs, N);
  double loss = 0.0;
  for (int b = 0; b < B; b++) {
    float *p = probs + (size_t)b * N;
    float mx = p[0];
    int arg = 0;
    for (int j = 1; j < N; j++)
      if (p[j] > mx) { mx = p[j]; arg = j; }
    double z = 0.0;
    for (int j = 0; j < N; j++) z += exp((double)p[j] - mx);
    double logz = log(z) + mx;
    if (tgt) {
      const float *t = tgt + (size_t)b * N;
      double dot = 0.0;
      for (int j = 0; j < N; j++) dot += (double)t[j] * p[j];
      loss += logz - dot; /* sum_j t_j (logz - logit_j), sum_j t_j = 1 */
    } else {
      loss += logz - p[row0 + b];
    }
    for (int j = 0; j < N; j++) p[j] = (float)exp((double)p[j] - logz);
    *correct += (arg == row0 + b);
  }
  return loss;
}

int hp_clip_loss(hp_clip_loss_ws *ws, MPI_Comm comm, const float *img, const float *txt, float logit_scale,
                 float *dimg, float *dtxt, hp_clip_loss_out *out) {
  const int N = ws->N, E = ws->E, B = ws->B, row0 = ws->row0;
  const float s = expf(logit_scale);
  int size;
  MPI_Comm_size(comm, &size);
  const char *prev = hp_watch_enter("exchanging embeddings for the global contrastive loss (MPI_Allgatherv)");
  HP_MPI(MPI_Allgatherv(img, B * E, MPI_FLOAT, ws->all_img, ws->elem_counts, ws->elem_displs, MPI_FLOAT, comm));
  HP_MPI(MPI_Allgatherv(txt, B * E, MPI_FLOAT, ws->all_txt, ws->elem_counts, ws->elem_displs, MPI_FLOAT, comm));
  hp_watch_leave(prev);

  /* Image rows against every caption, caption rows against every image. */
  int correct[2] = {0, 0};
  double local[4];
  const float *tgt = ws->soft ? ws->tgt : NULL;
  local[0] = rows_softmax(ws->probs_i, img, ws->all_txt, B, N, E, s, row0, tgt, &correct[0]);
  local[1] = rows_softmax(ws->probs_t, txt, ws->all_img, B, N, E, s, row0, tgt, &correct[1]);
  local[2] = correct[0];
  local[3] = correct[1];
  double global[4];
  HP_MPI(MPI_Allreduce(local, global, 4, MPI_DOUBLE, MPI_SUM, comm));
  out->loss = (global[0] + global[1]) / (2.0 * N);
  out->acc_i2t = global[2] / N;
  out->acc_t2i = global[3] / N;
  out->dlogit_scale = 0.0;
  if (!dimg || !dtxt) return 0;

  /* dlogits = (P - targets) / (2N), in place in the probability buffers. dL/dlogit_scale =
   * sum(dlogits * logits) = s * sum(dlogits * raw); raw = log p + logz is not kept, so it is
   * recomputed from the embeddings below as a dot product per entry only where needed:
   * sum_j dlogits[b,j] * raw[b,j] = sum_j dlogits[b,j] * (q_b . k_j). */
  const float inv = 1.0f / (2.0f * (float)N);
  if (tgt) {
    for (size_t k = 0; k < (size_t)B * N; k++) {
      ws->probs_i[k] -= tgt[k];
      ws->probs_t[k] -= tgt[k];
    }
  } else {
    for (int b = 0; b < B; b++) {
      ws->probs_i[(size_t)b * N + row0 + b] -= 1.0f;
      ws->probs_t[(size_t)b * N + row0 + b] -= 1.0f;
    }
  }
  for (size_t k = 0; k < (size_t)B * N; k++) {
    ws->probs_i[k] *= inv;
    ws->probs_t[k] *= inv;
  }
  memset(ws->dall_img, 0, (size_t)N * E * sizeof(float));
  memset(ws->dall_txt, 0, (size_t)N * E * sizeof(float));
  if (B > 0) {
    float *dimg_rows = ws->dall_img + (size_t)row0 * E, *dtxt_rows = ws->dall_txt + (size_t)row0 * E;
    /* own rows: d img_b = s * sum_j dlogits_i[b,j] txt_j ; d txt_b = s * sum_j dlogits_t[b,j] img_j */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, E, N, s, ws->probs_i, N, ws->all_txt, E, 0.0f,
                dimg_rows, E);
    /* d logit_scale: sum_b,j dlogits[b,j] * logits[b,j] = sum_b (d img_b / s . img_b) * s = sum_b d img_b . img_b */
    double ds = 0.0;
    for (size_t k = 0; k < (size_t)B * E; k++) ds += (double)dimg_rows[k] * img[k];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, E, N, s, ws->probs_t, N, ws->all_img, E, 0.0f,
                dtxt_rows, E);
    for (size_t k = 0; k < (size_t)B * E; k++) ds += (double)dtxt_rows[k] * txt[k];
    out->dlogit_scale = ds;
    /* columns: d txt_j += s * sum_b dlogits_i[b,j] img_b ; d img_j += s * sum_b dlogits_t[b,j] txt_b */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, E, B, s, ws->probs_i, N, img, E, 1.0f, ws->dall_txt, E);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, E, B, s, ws->probs_t, N, txt, E, 1.0f, ws->dall_img, E);
  }
  /* Every rank computed gradients for all N rows from its own loss terms: sum them and keep
   * each rank's own rows. */
  HP_MPI(MPI_Reduce_scatter(ws->dall_img, dimg, ws->elem_counts, MPI_FLOAT, MPI_SUM, comm));
  HP_MPI(MPI_Reduce_scatter(ws->dall_txt, dtxt, ws->elem_counts, MPI_FLOAT, MPI_SUM, comm));
  return 0;
}
