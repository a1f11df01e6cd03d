/* ckpt_tokenizer.c — see ckpt_tokenizer.h. */
#include "data/ckpt_tokenizer.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/error.h"
#include "io/checkpoint.h"
#include "io/dataset.h"

int hp_tokenizer_from_ckpt(MPI_Comm comm, const char *path, hp_tokenizer **out) {
  char *spec_text = NULL, **entries = NULL;
  int64_t n = 0;
  HP_CALL(hp_ckpt_read_tokenizer(comm, path, &spec_text, &entries, &n));
  hp_tokenizer_spec spec;
  char what[4200];
  snprintf(what, sizeof what, "%s: /vocab", path);
  int err = hp_tokenizer_spec_parse(spec_text, path, &spec);
  if (!err) err = hp_tokenizer_create(&spec, (const char *const *)entries, n, what, out);
  free(spec_text);
  hp_strings_free(entries, n);
  if (err) return hp_error_trace(err, __FILE__, __LINE__, __func__);
  return 0;
}
