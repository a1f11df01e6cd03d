/* support_memory.h — the DeCap-style projection of image embeddings into the text embedding
 * space through a support memory of caption embeddings (the study's section 3.4; docs/captioning.md).
 *
 *   out[q] = sum_i w_i m_i,  w_i = ReLU(m_i . v_q) / sum_k ReLU(m_k . v_q)
 *
 * The memory is sharded over the ranks of comm in rank order (rank 0's rows, then rank 1's...;
 * any counts, zero allowed). The result is bitwise identical for any rank count and any such
 * split: the similarities come from sgemm on tiles aligned to the global row index (every row
 * is computed by an identical sgemm call, at the same place in its tile), and the sums are
 * exact integer sums of fixed-point values (a double GEMM on integer-valued operands, exact by
 * construction, then int64 partial sums and one MPI_SUM allreduce per block of queries).
 * Precision (docs/captioning.md): memory values on a grid of 2^(eA-b), weights on a grid of
 * 2^(eW-a) (eA, eW: power-of-two bounds of max|m_ij| and max||m_i|| ||v_q||; a + b = 44 bits
 * while the memory has at most 2^18 rows, one bit less per doubling beyond).
 */
#ifndef HP_MODELS_SUPPORT_MEMORY_H
#define HP_MODELS_SUPPORT_MEMORY_H

#include <mpi.h>
#include <stdint.h>

/* mem: this rank's rows [m_local, d] of the support memory (caption embeddings, rows are
 * sharded across comm in any way — rank order is the global order); v: [nq, d] queries,
 * identical on every rank. out[q] = sum_i w_i m_i with w_i = ReLU(m_i . v_q) / sum_k
 * ReLU(m_k . v_q); renorm != 0 L2-normalises out[q]. Collective. n_fallback (may be NULL)
 * counts queries for which every ReLU was zero: for those out[q] = v_q (then L2-normalised
 * too when renorm != 0; a zero vector stays zero). out [nq, d] on every rank.
 * Errors: d < 1, nq < 0, m_local < 0, NULL arrays (HP_ERR_INTERNAL: caller bugs, checked
 * before any communication), an empty memory or NaN/Inf in it (HP_ERR_INPUT, agreed on every
 * rank), NaN/Inf in a query (HP_ERR_INPUT). */
int hp_support_project(MPI_Comm comm, const float *mem, int64_t m_local, int d, const float *v,
                       int64_t nq, int renorm, float *out, int64_t *n_fallback);

#endif
