/* checkpoint.c — ckpt.h5 writer and validating reader (see checkpoint.h). */
#include "io/checkpoint.h"

#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/check.h"
#include "io/h5.h"
#include "io/strtab.h"

static int tensor_path(char *buf, size_t n, const char *group, const char *name) {
  if (snprintf(buf, n, "%s/%s", group, name) >= (int)n) HP_ERROR(HP_ERR_INTERNAL, "tensor name too long: %s", name);
  return 0;
}

static int write_group(hp_h5file *f, const char *group, const hp_params *p, const float *base) {
  HP_CALL(hp_h5_create_group(f, group));
  for (int i = 0; i < p->n; i++) {
    const hp_tensor_info *t = &p->t[i];
    char obj[HP_H5_PATH_MAX];
    int64_t dims[HP_PARAM_MAXDIM];
    for (int d = 0; d < t->ndim; d++) dims[d] = t->shape[d];
    HP_CALL(tensor_path(obj, sizeof obj, group, t->name));
    HP_CALL(hp_h5_create_dataset(f, obj, H5T_IEEE_F32LE, t->ndim, dims));
    /* replicated data: rank 0 writes, the others join the collective with nothing */
    HP_CALL(hp_h5_write_rows(f, obj, H5T_NATIVE_FLOAT, 0, f->rank == 0 ? dims[0] : 0, base + t->offset));
  }
  return 0;
}

/* the optional curves of /history beside the losses (checkpoint.h) */
static const char *const g_curves[3] = {"/history/train_metric", "/history/val_metric", "/history/lr"};

int hp_ckpt_write(MPI_Comm comm, const char *path, const hp_params *p, const hp_ckpt_meta *meta) {
  hp_h5file f;
  HP_CALL(hp_h5_create(comm, path, &f));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "schema", HP_CKPT_SCHEMA));
  HP_CALL(hp_h5_attr_write_int(&f, "/", "schema_version", 1));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "config", meta->config_text ? meta->config_text : ""));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "fingerprint", meta->fingerprint ? meta->fingerprint : ""));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "created_by", "hpclip " HPCLIP_VERSION));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "model", meta->model ? meta->model : ""));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "optimizer", meta->optimizer ? meta->optimizer : "none"));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "state", meta->state ? meta->state : ""));
  HP_CALL(hp_h5_attr_write_int(&f, "/", "step", meta->step));
  HP_CALL(hp_h5_attr_write_int(&f, "/", "epoch", meta->epoch));
  if (meta->tokenizer) HP_CALL(hp_h5_attr_write_str(&f, "/", "tokenizer", meta->tokenizer));
  HP_CALL(write_group(&f, "/params", p, p->data));
  if (meta->m) {
    HP_CALL(hp_h5_create_group(&f, "/optim"));
    HP_CALL(write_group(&f, "/optim/m", p, meta->m));
    if (meta->v) HP_CALL(write_group(&f, "/optim/v", p, meta->v));
  }
  if (meta->n_vocab > 0)
    HP_CALL(hp_strtab_write(&f, "/vocab", f.rank == 0 ? meta->n_vocab : 0, meta->vocab));
  if (meta->n_history > 0) {
    HP_CALL(hp_h5_create_group(&f, "/history"));
    int64_t n = meta->n_history;
    HP_CALL(hp_h5_create_dataset(&f, "/history/train_loss", H5T_IEEE_F64LE, 1, &n));
    HP_CALL(hp_h5_write_rows(&f, "/history/train_loss", H5T_NATIVE_DOUBLE, 0, f.rank == 0 ? n : 0, meta->train_loss));
    HP_CALL(hp_h5_create_dataset(&f, "/history/val_loss", H5T_IEEE_F64LE, 1, &n));
    HP_CALL(hp_h5_write_rows(&f, "/history/val_loss", H5T_NATIVE_DOUBLE, 0, f.rank == 0 ? n : 0, meta->val_loss));
    const double *extra[3] = {meta->train_metric, meta->val_metric, meta->lr};
    for (int k = 0; k < 3; k++)
      if (extra[k]) {
        HP_CALL(hp_h5_create_dataset(&f, g_curves[k], H5T_IEEE_F64LE, 1, &n));
        HP_CALL(hp_h5_write_rows(&f, g_curves[k], H5T_NATIVE_DOUBLE, 0, f.rank == 0 ? n : 0, extra[k]));
      }
  }
  HP_CALL(hp_h5_commit(&f));
  return 0;
}

static int bcast_floats(MPI_Comm comm, float *buf, size_t n) {
  const size_t chunk = (size_t)1 << 28;
  for (size_t lo = 0; lo < n; lo += chunk) {
    size_t len = n - lo < chunk ? n - lo : chunk;
    HP_MPI(MPI_Bcast(buf + lo, (int)len, MPI_FLOAT, 0, comm));
  }
  return 0;
}

/* Every tensor of p present in `group` with p's shape; nothing else there. */
static int read_group(hp_h5file *f, const char *group, hp_params *p, float *base) {
  for (int i = 0; i < p->n; i++) {
    const hp_tensor_info *t = &p->t[i];
    char obj[HP_H5_PATH_MAX];
    int exists, nd;
    int64_t dims[8];
    HP_CALL(tensor_path(obj, sizeof obj, group, t->name));
    HP_CALL(hp_h5_exists(f->fid, f->path, obj, &exists));
    if (!exists) HP_ERROR(HP_ERR_INPUT, "%s: %s: missing: this model needs tensor %s", f->path, obj, t->name);
    HP_CALL(hp_h5_dims(f, obj, 8, &nd, dims));
    int same = nd == t->ndim;
    for (int d = 0; same && d < nd; d++) same = dims[d] == t->shape[d];
    if (!same) {
      char want[96] = "", have[96] = "";
      for (int d = 0; d < t->ndim; d++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", d ? "," : "", t->shape[d]);
      for (int d = 0; d < nd && d < 8; d++)
        snprintf(have + strlen(have), sizeof have - strlen(have), "%s%lld", d ? "," : "", (long long)dims[d]);
      HP_ERROR(HP_ERR_INPUT, "%s: %s: shape [%s], but this model's %s is [%s]", f->path, obj, have, t->name, want);
    }
    HP_CALL(hp_h5_read_rows(f, obj, H5T_NATIVE_FLOAT, 0, f->rank == 0 ? dims[0] : 0, base + t->offset));
  }
  hid_t g = H5Gopen2(f->fid, group, H5P_DEFAULT);
  if (g < 0) HP_H5_ERROR(HP_ERR_INPUT, f->path, group, "cannot open");
  H5G_info_t gi;
  herr_t r = H5Gget_info(g, &gi);
  H5Gclose(g);
  if (r < 0) HP_H5_ERROR(HP_ERR_INPUT, f->path, group, "cannot list");
  if (gi.nlinks != (hsize_t)p->n)
    HP_ERROR(HP_ERR_INPUT, "%s: %s: holds %llu tensors, this model has %d (a checkpoint of another model?)", f->path,
             group, (unsigned long long)gi.nlinks, p->n);
  HP_CALL(bcast_floats(f->comm, base, p->total));
  return 0;
}

int hp_ckpt_read(MPI_Comm comm, const char *path, const char *model, hp_params *p, float *m, float *v,
                 hp_ckpt_info *info) {
  memset(info, 0, sizeof *info);
  HP_CALL(hp_check_file_as(comm, path, "hpclip.checkpoint"));
  hp_h5file f;
  HP_CALL(hp_h5_open_read(comm, path, &f));
  HP_CALL(hp_h5_attr_read_str(f.fid, path, "/", "model", 1 << 20, &info->model));
  if (model && strcmp(model, info->model) != 0)
    HP_ERROR(HP_ERR_INPUT, "%s: checkpoint of model '%s', but this job's config describes '%s'", path, info->model,
             model);
  HP_CALL(hp_h5_attr_read_str(f.fid, path, "/", "state", 1 << 20, &info->state));
  HP_CALL(hp_h5_attr_read_str(f.fid, path, "/", "optimizer", 256, &info->optimizer));
  HP_CALL(hp_h5_attr_read_str(f.fid, path, "/", "config", 16 << 20, &info->config));
  HP_CALL(hp_h5_attr_read_str(f.fid, path, "/", "fingerprint", 256, &info->fingerprint));
  HP_CALL(hp_h5_attr_read_int(f.fid, path, "/", "step", &info->step));
  HP_CALL(hp_h5_attr_read_int(f.fid, path, "/", "epoch", &info->epoch));
  HP_CALL(read_group(&f, "/params", p, p->data));
  HP_CALL(hp_h5_exists(f.fid, path, "/optim/m", &info->has_m));
  HP_CALL(hp_h5_exists(f.fid, path, "/optim/v", &info->has_v));
  if (m && info->has_m) HP_CALL(read_group(&f, "/optim/m", p, m));
  if (v && info->has_v) HP_CALL(read_group(&f, "/optim/v", p, v));
  int has_vocab;
  HP_CALL(hp_h5_exists(f.fid, path, "/vocab", &has_vocab));
  if (has_vocab) {
    HP_CALL(hp_strtab_count(&f, "/vocab", &info->n_vocab));
    HP_CALL(hp_strtab_read(&f, "/vocab", 0, info->n_vocab, &info->vocab));
  }
  int has_history;
  HP_CALL(hp_h5_exists(f.fid, path, "/history", &has_history));
  if (has_history) {
    int nd;
    int64_t n;
    HP_CALL(hp_h5_dims(&f, "/history/train_loss", 1, &nd, &n));
    HP_CALLOC(info->train_loss, n > 0 ? n : 1, "training-loss history");
    HP_CALLOC(info->val_loss, n > 0 ? n : 1, "validation-loss history");
    HP_CALL(hp_h5_read_rows(&f, "/history/train_loss", H5T_NATIVE_DOUBLE, 0, n, info->train_loss));
    HP_CALL(hp_h5_read_rows(&f, "/history/val_loss", H5T_NATIVE_DOUBLE, 0, n, info->val_loss));
    double **extra[3] = {&info->train_metric, &info->val_metric, &info->lr};
    for (int k = 0; k < 3; k++) {
      int has;
      HP_CALL(hp_h5_exists(f.fid, path, g_curves[k], &has));
      if (!has) continue;
      HP_CALLOC(*extra[k], n > 0 ? n : 1, "history curve");
      HP_CALL(hp_h5_read_rows(&f, g_curves[k], H5T_NATIVE_DOUBLE, 0, n, *extra[k]));
    }
    info->n_history = n;
  }
  HP_CALL(hp_h5_close(&f));
  return 0;
}

void hp_ckpt_info_free(hp_ckpt_info *info) {
  free(info->model);
  free(info->state);
  free(info->optimizer);
  free(info->config);
  free(info->fingerprint);
  free(info->train_loss);
  free(info->val_loss);
  free(info->train_metric);
  free(info->val_metric);
  free(info->lr);
  if (info->vocab) {
    for (int64_t i = 0; i < info->n_vocab; i++) free(info->vocab[i]);
    free(info->vocab);
  }
  memset(info, 0, sizeof *info);
}

int hp_ckpt_read_tokenizer(MPI_Comm comm, const char *path, char **spec, char ***entries, int64_t *n) {
  *spec = NULL;
  *entries = NULL;
  *n = 0;
  hp_h5file f;
  HP_CALL(hp_h5_open_read(comm, path, &f));
  int has = 0;
  htri_t a = H5Aexists_by_name(f.fid, "/", "tokenizer", H5P_DEFAULT);
  int e = a < 0 ? HP_ERROR_SET(HP_ERR_INPUT, "%s: cannot read the root attributes", path) : 0;
  if (!e && a > 0) e = hp_h5_attr_read_str(f.fid, path, "/", "tokenizer", 4096, spec);
  if (!e && a == 0) {
    *spec = malloc(5);
    if (*spec) memcpy(*spec, "word", 5);
    else e = HP_ERROR_SET(HP_ERR_MEM, "tokenizer spec");
  }
  if (!e) e = hp_h5_exists(f.fid, path, "/vocab", &has);
  if (!e && !has)
    e = HP_ERROR_SET(HP_ERR_INPUT, "%s: /vocab: missing: the checkpoint has no tokenizer, so it cannot encode text "
                     "(scripts/ckpt_convert.py to-hpclip --tokenizer writes one)", path);
  if (!e) e = hp_strtab_count(&f, "/vocab", n);
  if (!e) e = hp_strtab_read(&f, "/vocab", 0, *n, entries);
  int ce = hp_h5_close(&f);
  if (e || ce) {
    free(*spec);
    *spec = NULL;
    for (int64_t i = 0; *entries && i < *n; i++) free((*entries)[i]);
    free(*entries);
    *entries = NULL;
    *n = 0;
    return hp_error_trace(e ? e : ce, __FILE__, __LINE__, __func__);
  }
  return 0;
}
