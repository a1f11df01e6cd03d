/* tool_ckpt_embed.c — test helper (not a test): embeddings of fixed inputs from a checkpoint,
 * and seeded checkpoints written by hpclip; used by tests/models/cli_ckpt_torch.sh.
 *
 *   tool_ckpt_embed embed CKPT.h5 IN.h5 OUT.h5
 *       builds the model CKPT.h5 describes (hp_clip_load: the `model` attribute, validated
 *       tensors), embeds IN.h5's /ids int32 [N,T] (padding id 0) and /images uint8 [N,S,S,3]
 *       in eval mode, batches of 4, and writes OUT.h5: /text_emb, /image_emb float32 [N,E].
 *   tool_ckpt_embed init DESC SEED CKPT.h5
 *       builds model DESC, initialises it with SEED (hp_clip_init), then adds
 *       0.05*sin(0.37*e + k) to element e of tensor k, so biases, batch-norm affine parameters
 *       and running statistics (variance stays >= 0.95) are all non-trivial, and writes an
 *       hpclip checkpoint (optimizer "none", step 3).
 * Plain serial HDF5 for IN/OUT (h5py writes and reads them). Exit status 0 ok, 1 failure.
 */
#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/checkpoint.h"
#include "models/clip_ckpt.h"

static int read_dataset(hid_t f, const char *path, const char *name, hid_t memtype, size_t elem, int want_nd,
                        hsize_t *dims, void **out) {
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  if (d < 0) HP_ERROR(HP_ERR_INPUT, "%s: cannot open %s", path, name);
  hid_t s = H5Dget_space(d);
  int nd = s < 0 ? -1 : H5Sget_simple_extent_ndims(s);
  if (nd != want_nd) {
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    HP_ERROR(HP_ERR_INPUT, "%s: %s has %d dimensions, expected %d", path, name, nd, want_nd);
  }
  int got = H5Sget_simple_extent_dims(s, dims, NULL);
  H5Sclose(s);
  if (got != nd) {
    H5Dclose(d);
    HP_ERROR(HP_ERR_INPUT, "%s: cannot read the shape of %s", path, name);
  }
  size_t n = 1;
  for (int i = 0; i < nd; i++) n *= (size_t)dims[i];
  int err = hp_calloc_(out, n ? n : 1, elem, name, __FILE__, __LINE__, __func__);
  if (!err && H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
    err = HP_ERROR_SET(HP_ERR_INPUT, "%s: cannot read %s", path, name);
  H5Dclose(d);
  return err;
}

static int write_dataset(hid_t f, const char *path, const char *name, hsize_t n, hsize_t e, const float *v) {
  hsize_t dims[2] = {n, e};
  hid_t s = H5Screate_simple(2, dims, NULL);
  if (s < 0) HP_ERROR(HP_ERR_IO, "%s: H5Screate_simple failed", path);
  hid_t d = H5Dcreate2(f, name, H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Sclose(s);
  if (d < 0) HP_ERROR(HP_ERR_IO, "%s: cannot create %s", path, name);
  herr_t r = H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
  H5Dclose(d);
  if (r < 0) HP_ERROR(HP_ERR_IO, "%s: cannot write %s", path, name);
  return 0;
}

static int cmd_embed(const char *ckpt, const char *in, const char *out) {
  hp_clip m;
  HP_CALL(hp_clip_load(MPI_COMM_WORLD, ckpt, 4, &m, NULL));
  hid_t f = H5Fopen(in, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) HP_ERROR(HP_ERR_IO, "%s: cannot open", in);
  hsize_t di[2], dm[4];
  int32_t *ids = NULL;
  uint8_t *img = NULL;
  int err = read_dataset(f, in, "/ids", H5T_NATIVE_INT32, sizeof *ids, 2, di, (void **)&ids);
  if (!err) err = read_dataset(f, in, "/images", H5T_NATIVE_UINT8, 1, 4, dm, (void **)&img);
  H5Fclose(f);
  HP_CALL(err);
  const int S = m.cfg.image_kind == HP_CLIP_IMAGE_VIT ? m.cfg.vit.image : m.cfg.resnet.image_size;
  if ((int)di[1] > m.cfg.text.max_len || dm[1] != (hsize_t)S || dm[2] != (hsize_t)S || dm[3] != 3)
    HP_ERROR(HP_ERR_INPUT, "%s: inputs [%d,%d] / [%d,%d,%d,%d] do not fit model %s", in, (int)di[0], (int)di[1],
             (int)dm[0], (int)dm[1], (int)dm[2], (int)dm[3], m.desc);
  const int E = m.cfg.embed_dim;
  float *te, *ie;
  HP_CALLOC(te, (size_t)di[0] * E, "text embeddings");
  HP_CALLOC(ie, (size_t)dm[0] * E, "image embeddings");
  HP_CALL(hp_clip_embed_text(&m, ids, (int64_t)di[0], (int)di[1], te));
  HP_CALL(hp_clip_embed_images(&m, img, (int64_t)dm[0], ie));
  hid_t o = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (o < 0) HP_ERROR(HP_ERR_IO, "%s: cannot create", out);
  err = write_dataset(o, out, "/text_emb", di[0], (hsize_t)E, te);
  if (!err) err = write_dataset(o, out, "/image_emb", dm[0], (hsize_t)E, ie);
  if (H5Fclose(o) < 0 && !err) err = HP_ERROR_SET(HP_ERR_IO, "%s: close failed", out);
  HP_CALL(err);
  printf("tool_ckpt_embed: %s: %d texts, %d images embedded (E=%d) -> %s\n", m.desc, (int)di[0], (int)dm[0], E,
         out);
  free(ids);
  free(img);
  free(te);
  free(ie);
  hp_clip_free(&m);
  return 0;
}

static int cmd_init(const char *desc, const char *seed_text, const char *ckpt) {
  hp_clip_config cfg;
  hp_clip m;
  char *end;
  unsigned long long seed = strtoull(seed_text, &end, 10);
  if (!*seed_text || *end) HP_ERROR(HP_ERR_USAGE, "seed '%s' is not a number", seed_text);
  HP_CALL(hp_clip_config_from_desc(desc, &cfg));
  HP_CALL(hp_clip_build(&m, &cfg));
  if (strcmp(m.desc, desc) != 0) HP_ERROR(HP_ERR_INPUT, "description '%s' rebuilds as '%s'", desc, m.desc);
  hp_clip_init(&m, (uint64_t)seed);
  for (int k = 0; k < m.p.n; k++) {
    const hp_tensor_info *t = &m.p.t[k];
    for (size_t e = 0; e < t->numel; e++) m.p.data[t->offset + e] += 0.05f * sinf(0.37f * (float)e + (float)k);
  }
  hp_ckpt_meta meta;
  memset(&meta, 0, sizeof meta);
  meta.model = m.desc;
  meta.optimizer = "none";
  meta.state = "";
  meta.config_text = "# tool_ckpt_embed init";
  meta.fingerprint = "0";
  meta.step = 3;
  /* a word tokenizer of the model's V ids ("", "[UNK]", "w2", ...): a checkpoint needs one */
  int64_t V = m.cfg.text.vocab;
  char **words = calloc((size_t)V, sizeof *words);
  for (int64_t i = 0; words && i < V; i++) {
    words[i] = malloc(24);
    if (words[i]) snprintf(words[i], 24, "%s%lld", i == 0 ? "" : i == 1 ? "[UNK]" : "w", i < 2 ? 0LL : (long long)i);
    if (words[i] && i < 2) words[i][i == 0 ? 0 : 5] = 0;
  }
  meta.n_vocab = V;
  meta.vocab = (const char *const *)words;
  meta.tokenizer = "word";
  int e = hp_ckpt_write(MPI_COMM_WORLD, ckpt, &m.p, &meta);
  for (int64_t i = 0; words && i < V; i++) free(words[i]);
  free(words);
  HP_CALL(e);
  printf("tool_ckpt_embed: %s (seed %llu) -> %s\n", m.desc, seed, ckpt);
  hp_clip_free(&m);
  return 0;
}

int main(int argc, char **argv) {
  if (MPI_Init(&argc, &argv) != MPI_SUCCESS) return 1;
  int err;
  if (argc == 5 && strcmp(argv[1], "embed") == 0)
    err = cmd_embed(argv[2], argv[3], argv[4]);
  else if (argc == 5 && strcmp(argv[1], "init") == 0)
    err = cmd_init(argv[2], argv[3], argv[4]);
  else
    err = HP_ERROR_SET(HP_ERR_USAGE,
                       "usage: tool_ckpt_embed embed CKPT.h5 IN.h5 OUT.h5 | init DESC SEED CKPT.h5");
  if (err) fprintf(stderr, "tool_ckpt_embed: %s: %s\n%s", hp_error_name(err), hp_error_message(),
                   hp_error_trace_text());
  MPI_Finalize();
  return err ? 1 : 0;
}
