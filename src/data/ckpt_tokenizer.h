/* ckpt_tokenizer.h — the tokenizer a checkpoint carries (its `tokenizer` attribute and /vocab,
 * hdf5-schemas/checkpoint.md), for whoever encodes text for that checkpoint: the evaluation
 * stages always, train with model.from_checkpoint. */
#ifndef HP_DATA_CKPT_TOKENIZER_H
#define HP_DATA_CKPT_TOKENIZER_H

#include <mpi.h>

#include "text/text_tokenizer.h"

/* Collective: the tokenizer of ckpt.h5 `path` (no attribute = the word tokenizer of its /vocab).
 * Errors name the file and what is wrong. */
int hp_tokenizer_from_ckpt(MPI_Comm comm, const char *path, hp_tokenizer **out);

#endif
