/* neighbours.c — see neighbours.h. */
#include "io/neighbours.h"

#include <stdio.h>

#include "base/error.h"
#include "io/h5.h"

int hp_neighbours_write(MPI_Comm comm, const char *path, const hp_neighbours_meta *m, int64_t row0, int64_t count,
                        const int64_t *ids, const int64_t *nbr, const float *scores) {
  hp_h5file f;
  HP_CALL(hp_h5_create(comm, path, &f));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "schema", HP_NEIGHBOURS_SCHEMA));
  HP_CALL(hp_h5_attr_write_int(&f, "/", "schema_version", HP_NEIGHBOURS_VERSION));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "config", m->config_text));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "fingerprint", m->fingerprint));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "created_by", "hpclip " HPCLIP_VERSION));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "model", m->model));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "model_fingerprint", m->model_fingerprint));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "embeddings_fingerprint", m->embeddings_fingerprint));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "split", m->split));
  HP_CALL(hp_h5_attr_write_str(&f, "/", "index", m->index));
  HP_CALL(hp_h5_attr_write_int(&f, "/", "k", m->k));
  int64_t dims[2] = {m->n, m->k};
  HP_CALL(hp_h5_create_dataset(&f, "/images/ids", H5T_STD_I64LE, 1, dims));
  HP_CALL(hp_h5_write_rows(&f, "/images/ids", H5T_NATIVE_INT64, row0, count, ids));
  HP_CALL(hp_h5_create_dataset(&f, "/images/neighbours", H5T_STD_I64LE, 2, dims));
  HP_CALL(hp_h5_write_rows(&f, "/images/neighbours", H5T_NATIVE_INT64, row0, count, nbr));
  HP_CALL(hp_h5_create_dataset(&f, "/images/scores", H5T_IEEE_F32LE, 2, dims));
  HP_CALL(hp_h5_write_rows(&f, "/images/scores", H5T_NATIVE_FLOAT, row0, count, scores));
  if (m->dedup_threshold > 0) {
    int64_t one = 1, pd[2] = {m->n_pairs, 2};
    int me = f.rank == 0; /* rank 0 writes the small tables */
    HP_CALL(hp_h5_create_dataset(&f, "/dedup/threshold", H5T_IEEE_F64LE, 1, &one));
    HP_CALL(hp_h5_write_rows(&f, "/dedup/threshold", H5T_NATIVE_DOUBLE, 0, me, &m->dedup_threshold));
    HP_CALL(hp_h5_create_dataset(&f, "/dedup/pairs", H5T_STD_I64LE, 2, pd));
    HP_CALL(hp_h5_write_rows(&f, "/dedup/pairs", H5T_NATIVE_INT64, 0, me ? m->n_pairs : 0, m->pairs));
    HP_CALL(hp_h5_create_dataset(&f, "/dedup/scores", H5T_IEEE_F32LE, 1, pd));
    HP_CALL(hp_h5_write_rows(&f, "/dedup/scores", H5T_NATIVE_FLOAT, 0, me ? m->n_pairs : 0, m->pair_scores));
  }
  HP_CALL(hp_h5_commit(&f));
  return 0;
}
