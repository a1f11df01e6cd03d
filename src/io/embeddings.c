/* embeddings.c — embeddings.h5 writer and validating reader (see embeddings.h). */
#include "io/embeddings.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "io/check.h"
#include "io/strtab.h"

int hp_embeddings_write(MPI_Comm comm, const char *path, const hp_embeddings_meta *m,
                        const hp_embeddings_shard *s) {
  hp_h5file f;
  int64_t dims[2];
  HP_CALL(hp_h5_create(comm, path, &f));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "schema", HP_EMBEDDINGS_SCHEMA));
  HP_CALL(hp_h5_attr_write_int(&f, "/", "schema_version", HP_EMBEDDINGS_VERSION));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "config", m->config_text));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "fingerprint", m->fingerprint));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "created_by", "hpclip " HPCLIP_VERSION));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "model", m->model));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "model_fingerprint", m->model_fingerprint));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "dataset_fingerprint", m->dataset_fingerprint));
  HP_CALL(hp_h5_attr_write_int(&f, "/", "image_size", m->image_size));
  if (m->embed_key) HP_CALL(hp_h5_attr_write_str(&f, "/", "embed_key", m->embed_key));
  dims[0] = m->n_images;
  dims[1] = m->embed_dim;
  HP_CALL(hp_h5_create_dataset(&f, "/images/embedding", H5T_IEEE_F32LE, 2, dims));
  HP_CALL(hp_h5_write_rows(&f, "/images/embedding", H5T_NATIVE_FLOAT, s->row0, s->n, s->image_embedding));
  HP_CALL(hp_h5_create_dataset(&f, "/images/split", H5T_STD_U8LE, 1, dims));
  HP_CALL(hp_h5_write_rows(&f, "/images/split", H5T_NATIVE_UINT8, s->row0, s->n, s->split));
  dims[0] = m->n_captions;
  HP_CALL(hp_h5_create_dataset(&f, "/captions/embedding", H5T_IEEE_F32LE, 2, dims));
  HP_CALL(hp_h5_write_rows(&f, "/captions/embedding", H5T_NATIVE_FLOAT, s->cap0, s->n_captions,
                           s->caption_embedding));
  HP_CALL(hp_h5_create_dataset(&f, "/captions/image", H5T_STD_I64LE, 1, dims));
  HP_CALL(hp_h5_write_rows(&f, "/captions/image", H5T_NATIVE_INT64, s->cap0, s->n_captions, s->caption_image));
  if (m->n_labels > 0) {
    dims[0] = m->n_images;
    dims[1] = m->n_labels;
    HP_CALL(hp_h5_create_group(&f, "/labels"));
    HP_CALL(hp_h5_create_dataset(&f, "/labels/matrix", H5T_STD_U8LE, 2, dims));
    HP_CALL(hp_h5_write_rows(&f, "/labels/matrix", H5T_NATIVE_UINT8, s->row0, s->n, s->labels));
    HP_CALL(hp_strtab_write(&f, "/labels/names", f.rank == 0 ? m->n_labels : 0, m->label_names));
  }
  HP_CALL(hp_h5_commit(&f));
  return 0;
}

int hp_embeddings_open(MPI_Comm comm, const char *path, hp_embeddings *e) {
  memset(e, 0, sizeof *e);
  HP_CALL(hp_check_file_as(comm, path, "hpclip.embeddings"));
  HP_CALL(hp_h5_open_read(comm, path, &e->f));
  int nd, has;
  int64_t dims[2];
  HP_CALL(hp_h5_attr_read_str(e->f.fid, path, "/", "model", 1 << 16, &e->model));
  HP_CALL(hp_h5_attr_read_str(e->f.fid, path, "/", "model_fingerprint", 256, &e->model_fingerprint));
  HP_CALL(hp_h5_attr_read_str(e->f.fid, path, "/", "fingerprint", 256, &e->fingerprint));
  HP_CALL(hp_h5_attr_read_int(e->f.fid, path, "/", "image_size", &e->image_size));
  HP_CALL(hp_h5_dims(&e->f, "/images/embedding", 2, &nd, dims));
  e->n_images = dims[0];
  e->embed_dim = dims[1];
  HP_CALL(hp_h5_dims(&e->f, "/captions/embedding", 2, &nd, dims));
  e->n_captions = dims[0];
  HP_CALL(hp_h5_exists(e->f.fid, path, "/labels", &has));
  if (has) {
    HP_CALL(hp_h5_dims(&e->f, "/labels/matrix", 2, &nd, dims));
    e->n_labels = dims[1];
    HP_CALL(hp_strtab_read(&e->f, "/labels/names", 0, e->n_labels, &e->label_names));
  }
  return 0;
}

void hp_embeddings_close(hp_embeddings *e) {
  if (e->f.fid >= 0) hp_h5_close(&e->f);
  for (int64_t i = 0; e->label_names && i < e->n_labels; i++) free(e->label_names[i]);
  free(e->label_names);
  free(e->model);
  free(e->model_fingerprint);
  free(e->fingerprint);
  memset(e, 0, sizeof *e);
  e->f.fid = H5I_INVALID_HID;
}

int hp_embeddings_read_images(hp_embeddings *e, int64_t row0, int64_t n, float *out) {
  HP_CALL(hp_h5_read_rows(&e->f, "/images/embedding", H5T_NATIVE_FLOAT, row0, n, out));
  return 0;
}

int hp_embeddings_read_captions(hp_embeddings *e, int64_t k0, int64_t n, float *out) {
  HP_CALL(hp_h5_read_rows(&e->f, "/captions/embedding", H5T_NATIVE_FLOAT, k0, n, out));
  return 0;
}

int hp_embeddings_read_split(hp_embeddings *e, int64_t row0, int64_t n, uint8_t *out) {
  HP_CALL(hp_h5_read_rows(&e->f, "/images/split", H5T_NATIVE_UINT8, row0, n, out));
  return 0;
}

int hp_embeddings_read_labels(hp_embeddings *e, int64_t row0, int64_t n, uint8_t *out) {
  if (e->n_labels == 0) HP_ERROR(HP_ERR_INPUT, "%s: /labels: missing (the dataset had no labels)", e->f.path);
  HP_CALL(hp_h5_read_rows(&e->f, "/labels/matrix", H5T_NATIVE_UINT8, row0, n, out));
  return 0;
}

int hp_embeddings_read_caption_image(hp_embeddings *e, int64_t *out) {
  /* every rank reads all of it: rank 0 reads, broadcast would be the same bytes */
  HP_CALL(hp_h5_read_rows(&e->f, "/captions/image", H5T_NATIVE_INT64, 0, e->n_captions, out));
  return 0;
}
