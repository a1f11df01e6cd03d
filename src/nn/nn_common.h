/* nn_common.h — conventions shared by every kernel in src/nn/.
 *
 * Kernels come in *_forward / *_backward pairs of plain C functions over contiguous float
 * arrays (row-major, last index fastest). Conventions, true for every kernel unless its
 * header says otherwise:
 *   - Shapes are in the one-line comment above each function: [B,T,C] etc.
 *   - Forward functions OVERWRITE their outputs (out, saved statistics).
 *   - Backward functions ACCUMULATE (+=) into every gradient they produce, parameters and
 *     inputs alike, so several consumers of one tensor just sum into the same buffer. The
 *     caller zeroes gradient buffers once per step. A gradient pointer that is NULL is not
 *     computed (skipping its work).
 *   - No allocation inside kernels: scratch space is passed in by the caller; each header
 *     says how many floats it needs.
 *   - Kernels cannot fail and return void; shapes and index ranges are the caller's to get
 *     right (see hp_embedding_check_ids for validating token ids once, outside hot loops).
 *   - Dimensions are int (cblas's index type); element offsets are computed in size_t.
 *   - Reductions (means, variances, norms, loss sums) accumulate in double.
 *   - Element-wise loops use HP_OMP("omp parallel for ...") which vanishes without OpenMP.
 */
#ifndef HP_NN_COMMON_H
#define HP_NN_COMMON_H

#include <stddef.h>

#if defined(_OPENMP)
#define HP_OMP(directive) _Pragma(directive)
#else
#define HP_OMP(directive)
#endif

/* 1 if BLAS may be called from inside an OpenMP parallel region without oversubscription:
 * OpenBLAS built for OpenMP (nested calls then run single-threaded) or limited to one
 * thread. With the pthread OpenBLAS running >1 threads (Debian's default variant), BLAS
 * calls inside a parallel region thrash (measured 15-30x slower), so kernels that loop
 * over many small GEMMs (attention) then run the loop serially and let BLAS thread each
 * call instead. */
int hp_nn_blas_nestable(void);

/* Element counts above which element-wise loops go parallel (below, threads cost more). */
#define HP_OMP_MIN_ELEMS 32768

#endif
