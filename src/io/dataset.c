/* dataset.c — dataset.h5 (schema hpclip.dataset v1): collective writer and reader. */
#include "io/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "io/check.h"
#include "io/h5.h"
#include "io/strtab.h"

struct hp_dataset {
  hp_h5file f;
  hp_dataset_dims dims;
};

/* ---- writing -------------------------------------------------------------------------------- */

/* Caller data checked before anything is created, so a bad shard never leaves a half file and
 * every rank fails together (hp_agree) instead of some ranks waiting in a collective write. */
static int check_meta(const char *path, const hp_dataset_meta *m) {
  int64_t px;
  if (m->n_images < 1) HP_ERROR(HP_ERR_INPUT, "%s: a dataset needs at least one image", path);
  if (m->height < 1 || m->width < 1 || hp_mul_i64(m->height, m->width, &px) || hp_mul_i64(px, 3, &px))
    HP_ERROR(HP_ERR_INPUT, "%s: bad image size %lldx%lld", path, (long long)m->height, (long long)m->width);
  if (m->n_labels < 0 || (m->n_labels > 0 && !m->label_names))
    HP_ERROR(HP_ERR_INTERNAL, "%s: %lld labels without names", path, (long long)m->n_labels);
  if (m->n_vocab < 0 || (m->n_vocab > 0 && !m->vocab))
    HP_ERROR(HP_ERR_INTERNAL, "%s: %lld vocabulary words without the words", path, (long long)m->n_vocab);
  if (!m->config_text || !m->fingerprint) HP_ERROR(HP_ERR_INTERNAL, "%s: config text and fingerprint are required", path);
  return 0;
}

static int check_shard(MPI_Comm comm, const char *path, const hp_dataset_meta *m, int64_t first,
                       const hp_dataset_shard *s) {
  int rank, size;
  HP_MPI(MPI_Comm_rank(comm, &rank));
  HP_MPI(MPI_Comm_size(comm, &size));
  /* Slices must tile [0, N) in rank order: captions are placed by rank order too. */
  int64_t mine[2] = {s->row0, s->n}, *all = NULL;
  HP_CALLOC(all, 2 * (size_t)size, "slice table");
  HP_MPI(MPI_Allgather(mine, 2, MPI_INT64_T, all, 2, MPI_INT64_T, comm));
  int64_t next = first;
  for (int r = 0; r < size; r++) {
    if (all[2 * r + 1] < 0 || (all[2 * r + 1] > 0 && all[2 * r] != next))
      HP_ERROR(HP_ERR_INTERNAL, "%s: rank %d writes images [%lld, +%lld), expected to start at %lld "
               "(slices must tile the images in rank order)", path, r, (long long)all[2 * r],
               (long long)all[2 * r + 1], (long long)next);
    next += all[2 * r + 1];
  }
  free(all);
  if (next != m->n_images)
    HP_ERROR(HP_ERR_INTERNAL, "%s: the ranks' slices hold %lld images, the dataset declares %lld", path,
             (long long)next, (long long)m->n_images);
  if (s->n > 0 && (!s->images || !s->split || !s->source_id || (m->n_labels > 0 && !s->labels)))
    HP_ERROR(HP_ERR_INTERNAL, "%s: shard of %lld images with missing arrays", path, (long long)s->n);
  if (s->n_captions < 0 || (s->n_captions > 0 && (!s->captions || !s->caption_image)))
    HP_ERROR(HP_ERR_INTERNAL, "%s: bad caption arrays", path);
  for (int64_t i = 0; i < s->n; i++)
    if (s->split[i] > HP_SPLIT_TEST)
      HP_ERROR(HP_ERR_INPUT, "%s: image %lld: split %d is not 0, 1 or 2", path, (long long)(s->row0 + i),
               s->split[i]);
  for (int64_t i = 0; i < s->n * m->n_labels; i++)
    if (s->labels[i] > 1)
      HP_ERROR(HP_ERR_INPUT, "%s: image %lld: label value %d is not 0 or 1", path,
               (long long)(s->row0 + i / m->n_labels), s->labels[i]);
  /* Captions in image order (an image may have none: format folder). */
  int64_t prev = s->row0 - 1;
  for (int64_t c = 0; c < s->n_captions; c++) {
    int64_t im = s->caption_image[c];
    if (im < s->row0 || im >= s->row0 + s->n)
      HP_ERROR(HP_ERR_INPUT, "%s: caption %lld of this rank belongs to image %lld, outside the rank's "
               "images [%lld, %lld)", path, (long long)c, (long long)im, (long long)s->row0,
               (long long)(s->row0 + s->n));
    if (im < prev) HP_ERROR(HP_ERR_INPUT, "%s: captions are not in image order (caption %lld)", path, (long long)c);
    prev = im;
  }
  return 0;
}

typedef struct {
  const int64_t *col; /* [L_prefix] -> column of meta's labels */
  int64_t l_in, l_out;
} label_map;

static void map_labels(const void *in, void *out, int64_t n, void *ctx) {
  const label_map *m = ctx;
  const uint8_t *a = in;
  uint8_t *b = out;
  memset(b, 0, (size_t)(n * m->l_out));
  for (int64_t i = 0; a && i < n; i++)
    for (int64_t j = 0; j < m->l_in; j++) b[i * m->l_out + m->col[j]] = a[i * m->l_in + j];
}

static int check_prefix(const char *path, const hp_dataset_meta *m, const hp_dataset *p, const int64_t *col) {
  if (!p) return 0;
  if (p->dims.height != m->height || p->dims.width != m->width)
    HP_ERROR(HP_ERR_INPUT, "%s: its images are %lldx%lld, the new ones %lldx%lld: appended images must have the "
             "dataset's size (data.image_size)", p->f.path, (long long)p->dims.height, (long long)p->dims.width,
             (long long)m->height, (long long)m->width);
  if (p->dims.n_images >= m->n_images)
    HP_ERROR(HP_ERR_INTERNAL, "%s: %lld images, no more after the append", path, (long long)m->n_images);
  for (int64_t j = 0; j < p->dims.n_labels; j++)
    if (!col || col[j] < 0 || col[j] >= m->n_labels)
      HP_ERROR(HP_ERR_INTERNAL, "%s: label %lld of %s has no column in the new label set", path, (long long)j,
               p->f.path);
  return 0;
}

static int write_root_attrs(hp_h5file *f, const hp_dataset_meta *meta) {
  HP_CALL(hp_h5_attr_write_str(f, "/", "schema", HP_DATASET_SCHEMA));
  HP_CALL(hp_h5_attr_write_int(f, "/", "schema_version", HP_DATASET_VERSION));
  HP_CALL(hp_h5_attr_write_str(f, "/", "config", meta->config_text));
  HP_CALL(hp_h5_attr_write_str(f, "/", "fingerprint", meta->fingerprint));
  HP_CALL(hp_h5_attr_write_str(f, "/", "created_by", "hpclip " HPCLIP_VERSION));
  if (meta->split_method) HP_CALL(hp_h5_attr_write_str(f, "/", "split", meta->split_method));
  if (meta->base_fingerprint) HP_CALL(hp_h5_attr_write_str(f, "/", "base_fingerprint", meta->base_fingerprint));
  if (meta->history) HP_CALL(hp_h5_attr_write_str(f, "/", "history", meta->history));
  if (meta->appends) HP_CALL(hp_h5_attr_write_str(f, "/", "appends", meta->appends));
  return 0;
}

int hp_dataset_write(MPI_Comm comm, const char *path, const hp_dataset_meta *meta,
                     const hp_dataset_shard *shard) {
  return hp_dataset_write_after(comm, path, meta, NULL, NULL, shard);
}

int hp_dataset_write_after(MPI_Comm comm, const char *path, const hp_dataset_meta *meta, hp_dataset *prefix,
                           const int64_t *prefix_label_col, const hp_dataset_shard *shard) {
  const int64_t N0 = prefix ? prefix->dims.n_images : 0, M0 = prefix ? prefix->dims.n_captions : 0;
  hp_h5file *src = prefix ? &prefix->f : NULL;
  int err = check_meta(path, meta);
  if (!err) err = check_prefix(path, meta, prefix, prefix_label_col);
  if (!err) err = check_shard(comm, path, meta, N0, shard);
  HP_CALL(hp_agree(comm, err));

  hp_h5file f;
  HP_CALL(hp_h5_create(comm, path, &f));
  HP_CALL(write_root_attrs(&f, meta));

  const int64_t N = meta->n_images, L = meta->n_labels;
  int64_t M = 0, dims[4] = {N, meta->height, meta->width, 3};
  HP_MPI(MPI_Allreduce(&shard->n_captions, &M, 1, MPI_INT64_T, MPI_SUM, comm));
  M += M0;

  HP_CALL(hp_h5_create_dataset(&f, "/images", H5T_STD_U8LE, 4, dims));
  if (src) HP_CALL(hp_h5_copy_rows(&f, "/images", 0, src, "/images", H5T_NATIVE_UINT8, N0, NULL, NULL));
  HP_CALL(hp_h5_write_rows(&f, "/images", H5T_NATIVE_UINT8, shard->row0, shard->n, shard->images));
  HP_CALL(hp_h5_create_dataset(&f, "/split", H5T_STD_U8LE, 1, &N));
  if (src) HP_CALL(hp_h5_copy_rows(&f, "/split", 0, src, "/split", H5T_NATIVE_UINT8, N0, NULL, NULL));
  HP_CALL(hp_h5_write_rows(&f, "/split", H5T_NATIVE_UINT8, shard->row0, shard->n, shard->split));
  HP_CALL(hp_strtab_write_after(&f, "/source_id", src, "/source_id", shard->n, shard->source_id));

  /* Caption rows start where the prefix's and the previous ranks' captions end. */
  int64_t c0 = 0;
  HP_MPI(MPI_Exscan(&shard->n_captions, &c0, 1, MPI_INT64_T, MPI_SUM, comm));
  if (f.rank == 0) c0 = 0;
  HP_CALL(hp_h5_create_dataset(&f, "/captions/image", H5T_STD_I64LE, 1, &M));
  if (src) HP_CALL(hp_h5_copy_rows(&f, "/captions/image", 0, src, "/captions/image", H5T_NATIVE_INT64, M0, NULL, NULL));
  HP_CALL(hp_h5_write_rows(&f, "/captions/image", H5T_NATIVE_INT64, M0 + c0, shard->n_captions, shard->caption_image));
  HP_CALL(hp_strtab_write_after(&f, "/captions/text", src, "/captions/text", shard->n_captions, shard->captions));

  /* Global lists (label names, vocabulary) are identical everywhere: rank 0 writes them. */
  if (L > 0) {
    int64_t ldims[2] = {N, L};
    label_map lm = {prefix_label_col, prefix ? prefix->dims.n_labels : 0, L};
    HP_CALL(hp_h5_create_dataset(&f, "/labels/matrix", H5T_STD_U8LE, 2, ldims));
    if (src)
      HP_CALL(hp_h5_copy_rows(&f, "/labels/matrix", 0, lm.l_in > 0 ? src : NULL, "/labels/matrix", H5T_NATIVE_UINT8,
                              N0, map_labels, &lm));
    HP_CALL(hp_h5_write_rows(&f, "/labels/matrix", H5T_NATIVE_UINT8, shard->row0, shard->n, shard->labels));
    HP_CALL(hp_strtab_write(&f, "/labels/names", f.rank == 0 ? L : 0, meta->label_names));
  }
  if (meta->n_vocab > 0)
    HP_CALL(hp_strtab_write(&f, "/vocab", f.rank == 0 ? meta->n_vocab : 0, meta->vocab));
  HP_CALL(hp_h5_commit(&f));
  return 0;
}

/* ---- reading -------------------------------------------------------------------------------- */

int hp_dataset_open(MPI_Comm comm, const char *path, hp_dataset **out) {
  *out = NULL;
  /* One validator for `hpclip check` and for every reader: a file that opens is consistent. */
  HP_CALL(hp_check_file_as(comm, path, "hpclip.dataset"));
  hp_dataset *ds = NULL;
  HP_CALLOC(ds, 1, "dataset handle");
  HP_CALL(hp_h5_open_read(comm, path, &ds->f));
  int nd, exists;
  int64_t d[4];
  HP_CALL(hp_h5_dims(&ds->f, "/images", 4, &nd, d));
  ds->dims.n_images = d[0];
  ds->dims.height = d[1];
  ds->dims.width = d[2];
  HP_CALL(hp_h5_dims(&ds->f, "/captions/image", 1, &nd, d));
  ds->dims.n_captions = d[0];
  HP_CALL(hp_h5_exists(ds->f.fid, path, "/labels", &exists));
  if (exists) HP_CALL(hp_strtab_count(&ds->f, "/labels/names", &ds->dims.n_labels));
  HP_CALL(hp_h5_exists(ds->f.fid, path, "/vocab", &exists));
  if (exists) HP_CALL(hp_strtab_count(&ds->f, "/vocab", &ds->dims.n_vocab));
  *out = ds;
  return 0;
}

void hp_dataset_close(hp_dataset *ds) {
  if (!ds) return;
  if (hp_h5_close(&ds->f)) hp_log_warn("%s", hp_error_message()); /* read-only: nothing is lost */
  free(ds);
}

hp_dataset_dims hp_dataset_get_dims(const hp_dataset *ds) { return ds->dims; }
const char *hp_dataset_path(const hp_dataset *ds) { return ds->f.path; }

int hp_dataset_attr(hp_dataset *ds, const char *name, char **out) {
  *out = NULL;
  htri_t has = H5Aexists(ds->f.fid, name);
  if (has < 0) HP_ERROR(HP_ERR_INPUT, "%s: cannot look for the root attribute %s", ds->f.path, name);
  if (has) HP_CALL(hp_h5_attr_read_str(ds->f.fid, ds->f.path, "/", name, (size_t)1 << 24, out));
  return 0;
}

int hp_dataset_read_images(hp_dataset *ds, int64_t row0, int64_t n, uint8_t *out) {
  HP_CALL(hp_h5_read_rows(&ds->f, "/images", H5T_NATIVE_UINT8, row0, n, out));
  return 0;
}

int hp_dataset_read_split(hp_dataset *ds, int64_t row0, int64_t n, uint8_t *out) {
  HP_CALL(hp_h5_read_rows(&ds->f, "/split", H5T_NATIVE_UINT8, row0, n, out));
  return 0;
}

int hp_dataset_read_labels(hp_dataset *ds, int64_t row0, int64_t n, uint8_t *out) {
  if (ds->dims.n_labels == 0) {
    /* Same answer on every rank (dims are global), so no collective call is skipped unevenly. */
    if (row0 < 0 || n < 0 || row0 > ds->dims.n_images - n)
      HP_ERROR(HP_ERR_INTERNAL, "%s: /labels/matrix: bad row range", ds->f.path);
    return 0;
  }
  HP_CALL(hp_h5_read_rows(&ds->f, "/labels/matrix", H5T_NATIVE_UINT8, row0, n, out));
  return 0;
}

int hp_dataset_read_caption_image(hp_dataset *ds, int64_t *out) {
  HP_CALL(hp_h5_read_rows(&ds->f, "/captions/image", H5T_NATIVE_INT64, 0, ds->dims.n_captions, out));
  return 0;
}

int hp_dataset_read_strings(hp_dataset *ds, const char *which, int64_t k0, int64_t n, char ***out) {
  static const char *const known[] = {"captions/text", "source_id", "labels/names", "vocab"};
  char group[64];
  *out = NULL;
  int ok = 0;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) ok |= strcmp(which, known[i]) == 0;
  if (!ok)
    HP_ERROR(HP_ERR_INTERNAL, "%s: no string table '%s' (known: captions/text, source_id, labels/names, vocab)",
             ds->f.path, which);
  if ((strcmp(which, "labels/names") == 0 && ds->dims.n_labels == 0) ||
      (strcmp(which, "vocab") == 0 && ds->dims.n_vocab == 0))
    HP_ERROR(HP_ERR_INPUT, "%s: /%s: this dataset has none", ds->f.path, which);
  snprintf(group, sizeof group, "/%s", which);
  HP_CALL(hp_strtab_read(&ds->f, group, k0, n, out));
  return 0;
}

void hp_strings_free(char **s, int64_t n) {
  if (!s) return;
  for (int64_t i = 0; i < n; i++) free(s[i]);
  free(s);
}
