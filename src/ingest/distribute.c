/* distribute.c — see distribute.h. */
#include "ingest/distribute.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "comm/shard.h"
#include "ingest/util.h"

/* ------------------------------------------------------------------ byte buffer (packing) */

typedef struct {
  char *p;
  int64_t n, cap;
} bbuf;

static int bb_put(bbuf *b, const void *data, size_t n) {
  if ((uint64_t)n > (uint64_t)(INT64_MAX - b->n)) HP_ERROR(HP_ERR_MEM, "packed list: size overflow");
  HP_CALL(hp_ingest_grow((void **)&b->p, &b->cap, b->n + (int64_t)n, 1, "packed record list"));
  if (n) memcpy(b->p + b->n, data, n);
  b->n += (int64_t)n;
  return 0;
}

static int bb_i64(bbuf *b, int64_t v) { return bb_put(b, &v, sizeof v); }

static int bb_str(bbuf *b, const char *s) {
  size_t n = strlen(s);
  HP_CALL(bb_i64(b, (int64_t)n));
  HP_CALL(bb_put(b, s, n));
  return 0;
}

typedef struct {
  const char *p;
  size_t n, o;
} rbuf;

static int rb_get(rbuf *r, void *out, size_t n) {
  if (n > r->n - r->o) HP_ERROR(HP_ERR_INTERNAL, "packed record list is truncated");
  memcpy(out, r->p + r->o, n);
  r->o += n;
  return 0;
}

static int rb_i64(rbuf *r, int64_t *v) {
  HP_CALL(rb_get(r, v, sizeof *v));
  if (*v < 0) HP_ERROR(HP_ERR_INTERNAL, "packed record list: negative count");
  return 0;
}

static int rb_str(rbuf *r, char **out) {
  int64_t n = 0;
  HP_CALL(rb_i64(r, &n));
  if ((uint64_t)n > r->n - r->o) HP_ERROR(HP_ERR_INTERNAL, "packed record list is truncated");
  HP_CALL(hp_ingest_strndup(r->p + r->o, (size_t)n, out));
  r->o += (size_t)n;
  return 0;
}

int hp_ingest_list_pack(const hp_ingest_list *l, char **buf, size_t *len) {
  bbuf b = {0};
  int e = bb_i64(&b, l->n);
  if (!e) e = bb_i64(&b, l->n_labels);
  for (int64_t k = 0; k < l->n_labels && !e; k++) e = bb_str(&b, l->label_names[k]);
  for (int64_t i = 0; i < l->n && !e; i++) {
    const hp_ingest_item *it = &l->items[i];
    e = bb_str(&b, it->path);
    if (!e) e = bb_str(&b, it->source_id);
    if (!e) e = bb_put(&b, &it->split, 1);
    if (!e) e = bb_i64(&b, it->n_captions);
    for (int64_t c = 0; c < it->n_captions && !e; c++) e = bb_str(&b, it->captions[c]);
    if (!e && l->n_labels) e = bb_put(&b, it->labels, (size_t)l->n_labels);
  }
  if (e) {
    free(b.p);
    HP_CALL(e);
  }
  *buf = b.p;
  *len = (size_t)b.n;
  return 0;
}

static int unpack_run(rbuf *r, hp_ingest_list *l) {
  int64_t n = 0, L = 0;
  HP_CALL(rb_i64(r, &n));
  HP_CALL(rb_i64(r, &L));
  if (L > 0) {
    char **names = NULL;
    HP_CALLOC(names, L, "label names");
    int e = 0;
    int64_t k = 0;
    for (; k < L && !e; k++) e = rb_str(r, &names[k]);
    if (!e) e = hp_ingest_list_set_labels(l, L, (const char *const *)names);
    for (int64_t j = 0; j < L; j++) free(names[j]);
    free(names);
    HP_CALL(e);
  }
  for (int64_t i = 0; i < n; i++) {
    char *path = NULL, *sid = NULL;
    HP_CALL(rb_str(r, &path));
    int e = rb_str(r, &sid);
    hp_ingest_item *it = NULL;
    if (!e) e = hp_ingest_list_add(l, path, sid, &it);
    free(path);
    free(sid);
    HP_CALL(e);
    HP_CALL(rb_get(r, &it->split, 1));
    int64_t nc = 0;
    HP_CALL(rb_i64(r, &nc));
    for (int64_t c = 0; c < nc; c++) {
      int64_t len = 0;
      HP_CALL(rb_i64(r, &len));
      if ((uint64_t)len > r->n - r->o) HP_ERROR(HP_ERR_INTERNAL, "packed record list is truncated");
      HP_CALL(hp_ingest_item_add_caption(l, it, r->p + r->o, (size_t)len));
      r->o += (size_t)len;
    }
    if (L) HP_CALL(rb_get(r, it->labels, (size_t)L));
  }
  if (r->o != r->n) HP_ERROR(HP_ERR_INTERNAL, "packed record list has trailing bytes");
  return 0;
}

int hp_ingest_list_unpack(const char *buf, size_t len, hp_ingest_list *l) {
  rbuf r = {buf, len, 0};
  HP_CALL(unpack_run(&r, l));
  return 0;
}

/* ------------------------------------------------------------------ big messages in pieces */

#define HP_MSG_CHUNK ((size_t)1 << 30)

static int bcast_bytes(MPI_Comm comm, int root, char *p, size_t n) {
  for (size_t o = 0; o < n; o += HP_MSG_CHUNK) {
    size_t k = n - o < HP_MSG_CHUNK ? n - o : HP_MSG_CHUNK;
    HP_MPI(MPI_Bcast(p + o, (int)k, MPI_BYTE, root, comm));
  }
  return 0;
}

static int send_bytes(MPI_Comm comm, int dest, const char *p, size_t n) {
  for (size_t o = 0; o < n; o += HP_MSG_CHUNK) {
    size_t k = n - o < HP_MSG_CHUNK ? n - o : HP_MSG_CHUNK;
    HP_MPI(MPI_Send(p + o, (int)k, MPI_BYTE, dest, 7101, comm));
  }
  return 0;
}

static int recv_bytes(MPI_Comm comm, int src, char *p, size_t n) {
  for (size_t o = 0; o < n; o += HP_MSG_CHUNK) {
    size_t k = n - o < HP_MSG_CHUNK ? n - o : HP_MSG_CHUNK;
    HP_MPI(MPI_Recv(p + o, (int)k, MPI_BYTE, src, 7101, comm, MPI_STATUS_IGNORE));
  }
  return 0;
}

int hp_ingest_list_bcast(MPI_Comm comm, int root, hp_ingest_list *l) {
  int rank;
  HP_MPI(MPI_Comm_rank(comm, &rank));
  char *buf = NULL;
  size_t len = 0;
  int e = 0;
  if (rank == root) e = hp_ingest_list_pack(l, &buf, &len);
  HP_CALL(hp_agree(comm, e));
  int64_t n64 = (int64_t)len;
  HP_MPI(MPI_Bcast(&n64, 1, MPI_INT64_T, root, comm));
  if (rank != root) {
    if (n64 < 0 || (uint64_t)n64 >= SIZE_MAX) e = HP_ERR_INTERNAL;
    else {
      len = (size_t)n64;
      buf = malloc(len ? len : 1);
      if (!buf) e = HP_ERROR_SET(HP_ERR_MEM,
                                 "record list: cannot allocate %.1f MiB", (double)len / 1048576.0);
    }
  }
  HP_CALL(hp_agree(comm, e));
  e = bcast_bytes(comm, root, buf, len);
  if (!e && rank != root) e = hp_ingest_list_unpack(buf, len, l);
  free(buf);
  HP_CALL(hp_agree(comm, e));
  return 0;
}

int hp_report_gather(MPI_Comm comm, int root, hp_ingest_report *r) {
  int rank, size;
  HP_MPI(MPI_Comm_rank(comm, &rank));
  HP_MPI(MPI_Comm_size(comm, &size));
  char *buf = NULL;
  size_t len = 0;
  int e = 0;
  if (rank != root) e = hp_report_pack(r, &buf, &len);
  HP_CALL(hp_agree(comm, e));
  int64_t mine = (int64_t)len;
  int64_t *lens = NULL;
  if (rank == root) HP_CALLOC(lens, size, "report sizes");
  HP_MPI(MPI_Gather(&mine, 1, MPI_INT64_T, lens, 1, MPI_INT64_T, root, comm));
  /* Root allocates everything before any message moves, and all agree on that: a failure
   * here cannot leave a sender blocked. */
  char *in = NULL;
  size_t total = 0;
  if (rank == root) {
    for (int q = 0; q < size; q++) {
      if (q == root) continue;
      if (lens[q] < 0 || (uint64_t)lens[q] > SIZE_MAX - total) {
        e = HP_ERROR_SET(HP_ERR_MEM, "gathered report: size overflow");
        break;
      }
      total += (size_t)lens[q];
    }
    if (!e) {
      in = malloc(total ? total : 1);
      if (!in) e = HP_ERROR_SET(HP_ERR_MEM,
                                "gathered report: cannot allocate %.1f MiB",
                                (double)total / 1048576.0);
    }
  }
  HP_CALL(hp_agree(comm, e));
  if (rank == root) {
    size_t o = 0;
    for (int q = 0; q < size && !e; q++) {
      if (q == root || lens[q] == 0) continue;
      e = recv_bytes(comm, q, in + o, (size_t)lens[q]);
      if (!e) e = hp_report_unpack(r, in + o, (size_t)lens[q]);
      o += (size_t)lens[q];
    }
  } else if (len) {
    e = send_bytes(comm, root, buf, len);
  }
  free(in);
  free(lens);
  free(buf);
  HP_CALL(hp_agree(comm, e));
  return 0;
}

/* ------------------------------------------------------------------ decode the shard */

void hp_ingest_shard_free(hp_ingest_shard *s) {
  if (!s) return;
  for (int64_t i = 0; i < s->n; i++) {
    if (s->source_id) free(s->source_id[i]);
    if (s->path) free(s->path[i]);
  }
  for (int64_t c = 0; c < s->n_captions; c++) free(s->captions[c]);
  for (int64_t k = 0; k < s->n_labels && s->label_names; k++) free(s->label_names[k]);
  free(s->label_names);
  free(s->images);
  free(s->source_id);
  free(s->path);
  free(s->labels);
  free(s->split);
  free(s->captions);
  free(s->caption_image);
  memset(s, 0, sizeof *s);
}

/* Local part: no collectives. Fills out (rows local, caption_image local for now). */
static int decode_local(const char *root_dir, const hp_ingest_list *l, int64_t r0, int64_t cnt,
                        const hp_ingest_image_opts *o, hp_ingest_shard *out,
                        hp_ingest_report *rep) {
  size_t per;
  if (o->size <= 0 || hp_mul_size((size_t)o->size * (size_t)o->size, 3, &per))
    HP_ERROR(HP_ERR_CONFIG, "image size %lld is invalid", (long long)o->size);
  size_t bytes;
  if (hp_mul_size(per, (size_t)(cnt ? cnt : 1), &bytes))
    HP_ERROR(HP_ERR_MEM, "ingest images: size overflow (%lld images)", (long long)cnt);
  out->images = malloc(bytes);
  if (!out->images)
    HP_ERROR(HP_ERR_MEM, "ingest: cannot allocate %.1f MiB for %lld images of %lldx%lld",
             (double)bytes / 1048576.0, (long long)cnt, (long long)o->size, (long long)o->size);
  int64_t ncap = 0;
  for (int64_t i = r0; i < r0 + cnt; i++) ncap += l->items[i].n_captions;
  HP_CALLOC(out->source_id, cnt ? cnt : 1, "ingest source ids");
  HP_CALLOC(out->path, cnt ? cnt : 1, "ingest paths");
  HP_CALLOC(out->split, cnt ? cnt : 1, "ingest splits");
  HP_CALLOC(out->captions, ncap ? ncap : 1, "ingest captions");
  HP_CALLOC(out->caption_image, ncap ? ncap : 1, "ingest caption index");
  if (l->n_labels) {
    HP_CALLOC(out->label_names, l->n_labels, "label names");
    for (int64_t k = 0; k < l->n_labels; k++) {
      HP_CALL(hp_ingest_strndup(l->label_names[k], strlen(l->label_names[k]),
                                &out->label_names[k]));
      out->n_labels = k + 1;
    }
    size_t nl;
    if (hp_mul_size((size_t)(cnt ? cnt : 1), (size_t)l->n_labels, &nl))
      HP_ERROR(HP_ERR_MEM, "ingest labels: size overflow");
    HP_CALLOC(out->labels, nl, "ingest labels");
  }
  /* every rank decodes its block; rank 0 (the largest block) prints its count x the ranks, so
   * the line estimates the whole job's progress, not rank 0's share */
  hp_progress prog;
  int64_t total = l->n, scale = hp_log_size();
  hp_progress_start(&prog, "ingest: decoding (all ranks, estimated from rank 0)", "images", total);
  for (int64_t i = r0; i < r0 + cnt; i++) {
    const hp_ingest_item *it = &l->items[i];
    char *full = NULL;
    HP_CALL(hp_ingest_join(root_dir, it->path, &full));
    const char *why;
    if (!o->follow_symlinks && !hp_ingest_path_inside(root_dir, full, &why)) { /* never read */
      free(full);
      HP_CALL(hp_report_add(rep, it->path, "image file %s", why));
      out->n_bad_local++;
      continue;
    }
    hp_image im;
    int e = hp_image_decode_file(full, &o->limits, &im);
    free(full);
    if (e == HP_ERR_INPUT) {
      HP_CALL(hp_report_add_error(rep, it->path));
      out->n_bad_local++;
      continue;
    }
    HP_CALL(e);
    e = hp_image_resize(&im, o->mode, o->size, out->images + (size_t)out->n * per);
    hp_image_free(&im);
    HP_CALL(e);
    int64_t row = out->n;
    HP_CALL(hp_ingest_strndup(it->source_id, strlen(it->source_id), &out->source_id[row]));
    HP_CALL(hp_ingest_strndup(it->path, strlen(it->path), &out->path[row]));
    out->split[row] = it->split;
    out->n = row + 1; /* owns its strings from here on */
    if (l->n_labels) memcpy(out->labels + (size_t)row * (size_t)l->n_labels, it->labels,
                            (size_t)l->n_labels);
    for (int64_t c = 0; c < it->n_captions; c++) {
      HP_CALL(hp_ingest_strndup(it->captions[c], strlen(it->captions[c]),
                                &out->captions[out->n_captions]));
      out->caption_image[out->n_captions++] = row;
    }
    int64_t done = (i - r0 + 1) * scale;
    hp_progress_update(&prog, done < total ? done : total);
  }
  hp_progress_end(&prog, cnt * scale < total ? cnt * scale : total);
  return 0;
}

int hp_ingest_decode_shard(MPI_Comm comm, const char *root_dir, const hp_ingest_list *l,
                           const hp_ingest_image_opts *o, hp_ingest_shard *out,
                           hp_ingest_report *rep) {
  int rank, size;
  HP_MPI(MPI_Comm_rank(comm, &rank));
  HP_MPI(MPI_Comm_size(comm, &size));
  memset(out, 0, sizeof *out);
  out->size = o->size;
  int64_t r0, cnt;
  hp_shard_range(l->n, size, rank, &r0, &cnt);
  HP_CALL(hp_agree(comm, decode_local(root_dir, l, r0, cnt, o, out, rep)));
  return hp_ingest_number_globally(comm, out);
}

int hp_ingest_number_globally(MPI_Comm comm, hp_ingest_shard *out) {
  int rank;
  HP_MPI(MPI_Comm_rank(comm, &rank));
  /* global numbering of the good images, in record order */
  int64_t mine[2] = {out->n, out->n_captions}, before[2] = {0, 0}, total[2];
  HP_MPI(MPI_Exscan(mine, before, 2, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) before[0] = before[1] = 0; /* MPI_Exscan leaves rank 0's result undefined */
  HP_MPI(MPI_Allreduce(mine, total, 2, MPI_INT64_T, MPI_SUM, comm));
  out->row0 = before[0];
  out->n_total = total[0];
  out->n_captions_total = total[1];
  for (int64_t c = 0; c < out->n_captions; c++) out->caption_image[c] += out->row0;
  return 0;
}
