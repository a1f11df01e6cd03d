/* clip_loss.h — the symmetric contrastive loss of CLIP (Radford et al.), data-parallel.
 *
 * Global batch of N pairs spread over the ranks of comm (rank r holds B_r consecutive pairs,
 * sum B_r = N). With s = exp(logit_scale) (1/temperature) and L2-normalised embeddings,
 *   logits = s * I T^T  [N,N],   L = ( CE(logits, diag) + CE(logits^T, diag) ) / 2,
 * CE averaged over the N rows. Negatives are global: every rank all-gathers the image and
 * text embeddings, computes the loss terms of ITS rows against ALL columns (OpenCLIP's "local
 * loss" with gathered features), and the exact gradient for its own embeddings arrives with one
 * reduce-scatter of the gradients it computed for the gathered ones. Each rank's loss is its
 * share of the global mean, so parameter gradients are SUMMED (not averaged) across ranks.
 *
 * Shapes: img, txt [B,E] local rows (row-major); dimg, dtxt [B,E] (overwritten); N = sum B_r.
 *
 * Label-aware soft targets (MedCLIP-style, hp_clip_loss_set_targets): with multi-hot labels
 * l_i of the N pairs, the target of row i (image i against every caption, and caption i
 * against every image) is no longer the one-hot diag but
 *     t_ij = c_ij / sum_k c_ik,   c_ij = l_i . l_j / (|l_i| |l_j|)   (label cosine, 0 if unlabelled)
 * when |l_i| > 0, and one-hot when row i has no label. So pairs that share labels are not pushed
 * apart (pairs with the same label set share the target mass equally, partial overlaps get
 * less); t is symmetric and t_ii > 0. Loss per row: -sum_j t_ij log softmax(logits)_ij, whose
 * gradient w.r.t. the logits is (p_ij - t_ij); the rest (global negatives, reduce-scatter,
 * summing across ranks) is unchanged. The one-hot case is exactly the CLIP loss.
 */
#ifndef HP_MODELS_CLIP_LOSS_H
#define HP_MODELS_CLIP_LOSS_H

#include <mpi.h>

typedef struct {
  int N, E, B, row0;   /* global rows, width, local rows, first local global row */
  int *counts, *displs; /* per rank, in rows */
  float *all_img, *all_txt;  /* [N,E] gathered */
  float *probs_i, *probs_t;  /* [B,N] softmax of local image rows / text rows */
  float *dall_img, *dall_txt; /* [N,E] gradients for the gathered embeddings */
  int *elem_counts, *elem_displs; /* per rank, in floats */
  float *tgt;                /* [B,N] soft targets of the local rows, or NULL (one-hot) */
  int soft;                  /* tgt set for the next calls */
} hp_clip_loss_ws;

typedef struct {
  double loss;        /* global loss (same on every rank) */
  double acc_i2t;     /* share of image rows whose argmax is their own caption (global) */
  double acc_t2i;
  double dlogit_scale; /* this rank's share of dL/dlogit_scale (sum across ranks) */
} hp_clip_loss_out;

/* Workspace for B local rows of width E (B may differ between ranks). Collective. */
int hp_clip_loss_ws_init(hp_clip_loss_ws *ws, MPI_Comm comm, int B, int E);
void hp_clip_loss_ws_free(hp_clip_loss_ws *ws);

/* Soft targets for the following hp_clip_loss calls from labels [N,L] (uint8 multi-hot) of ALL
 * N pairs of the global batch, in global row order (every rank passes the same array); no
 * communication. labels = NULL restores the one-hot CLIP targets. */
int hp_clip_loss_set_targets(hp_clip_loss_ws *ws, const unsigned char *labels, int L);

/* Forward and backward in one collective call. dimg/dtxt may be NULL (evaluation). */
int hp_clip_loss(hp_clip_loss_ws *ws, MPI_Comm comm, const float *img, const float *txt, float logit_scale,
                 float *dimg, float *dtxt, hp_clip_loss_out *out);

#endif
