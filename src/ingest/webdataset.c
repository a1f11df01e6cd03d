/* webdataset.c — tar shards through libarchive (see webdataset.h). */
#define _DEFAULT_SOURCE
#include "ingest/webdataset.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/error.h"
#include "comm/shard.h"
#include "ingest/util.h"

enum { MAX_SHARDS = 1000000 };
#define MAX_IMAGE_MEMBER ((int64_t)256 << 20) /* a larger "image" is a bad sample, not an allocation */

/* ---- shard names ------------------------------------------------------------------------- */

typedef struct {
  char **v;
  int64_t n, cap;
} names_t;

static int push_name(names_t *l, const char *s, size_t n) {
  if (l->n >= MAX_SHARDS) HP_ERROR(HP_ERR_INPUT, "ingest.root: more than %d shards", MAX_SHARDS);
  HP_CALL(hp_ingest_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v, "shard names"));
  HP_CALL(hp_ingest_strndup(s, n, &l->v[l->n]));
  l->n++;
  return 0;
}

static int all_digits(const char *s, size_t n) {
  if (n == 0 || n > 18) return 0;
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i])) return 0;
  return 1;
}

/* Expands the first brace group of pat (recursively the rest) into l. */
static int expand_braces(const char *pat, names_t *l, int depth) {
  const char *a = strchr(pat, '{');
  if (!a) return push_name(l, pat, strlen(pat));
  const char *b = strchr(a, '}');
  if (!b) HP_ERROR(HP_ERR_INPUT, "ingest.root: \"%s\": '{' without '}'", pat);
  if (depth > 8) HP_ERROR(HP_ERR_INPUT, "ingest.root: \"%s\": more than 8 brace groups", pat);
  size_t pre = (size_t)(a - pat), in = (size_t)(b - a - 1);
  const char *body = a + 1, *dots = NULL;
  for (size_t i = 0; i + 1 < in; i++)
    if (body[i] == '.' && body[i + 1] == '.') {
      dots = body + i;
      break;
    }
  char *buf = NULL;
  size_t cap = strlen(pat) + 64;
  HP_CALLOC(buf, cap, "shard pattern");
  int e = 0;
  if (dots) { /* {A..B}: decimal range, zero padding of A kept */
    size_t na = (size_t)(dots - body), nb = in - na - 2;
    if (!all_digits(body, na) || !all_digits(dots + 2, nb)) {
      free(buf);
      HP_ERROR(HP_ERR_INPUT, "ingest.root: \"%s\": a brace range is {FIRST..LAST} with decimal numbers", pat);
    }
    long long lo = strtoll(body, NULL, 10), hi = strtoll(dots + 2, NULL, 10);
    int width = body[0] == '0' && na > 1 ? (int)na : 0;
    if (hi < lo || hi - lo >= MAX_SHARDS) {
      free(buf);
      HP_ERROR(HP_ERR_INPUT, "ingest.root: \"%s\": range {%lld..%lld} is empty or above %d shards", pat, lo, hi,
               MAX_SHARDS);
    }
    for (long long k = lo; k <= hi && !e; k++) {
      snprintf(buf, cap, "%.*s%0*lld%s", (int)pre, pat, width, k, b + 1);
      e = expand_braces(buf, l, depth + 1);
    }
  } else { /* {x,y,z} */
    const char *p = body;
    while (!e) {
      const char *c = memchr(p, ',', (size_t)(b - p));
      const char *end = c ? c : b;
      snprintf(buf, cap, "%.*s%.*s%s", (int)pre, pat, (int)(end - p), p, b + 1);
      e = expand_braces(buf, l, depth + 1);
      if (!c) break;
      p = c + 1;
    }
  }
  free(buf);
  return e;
}

void hp_wds_free_names(char **names, int64_t n) {
  for (int64_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

int hp_wds_expand(const char *patterns, char ***names, int64_t *n) {
  names_t braced = {0}, out = {0};
  *names = NULL;
  *n = 0;
  int e = 0;
  const char *p = patterns;
  while (*p && !e) { /* white-space separated patterns */
    while (*p && isspace((unsigned char)*p)) p++;
    const char *q = p;
    while (*q && !isspace((unsigned char)*q)) q++;
    if (q > p) {
      char *one = NULL;
      if (!(e = hp_ingest_strndup(p, (size_t)(q - p), &one))) e = expand_braces(one, &braced, 0);
      free(one);
    }
    p = q;
  }
  for (int64_t i = 0; i < braced.n && !e; i++) {
    const char *s = braced.v[i];
    if (strpbrk(s, "*?[")) {
      glob_t g;
      int r = glob(s, 0, NULL, &g);
      if (r == GLOB_NOMATCH) e = HP_ERROR_SET(HP_ERR_INPUT, "ingest.root: \"%s\" matches no file", s);
      else if (r != 0) e = HP_ERROR_SET(HP_ERR_IO, "ingest.root: \"%s\": cannot list the matching files", s);
      for (size_t k = 0; !e && k < g.gl_pathc; k++) e = push_name(&out, g.gl_pathv[k], strlen(g.gl_pathv[k]));
      if (r == 0) globfree(&g);
    } else {
      struct stat st;
      if (stat(s, &st) != 0 || !S_ISREG(st.st_mode))
        e = HP_ERROR_SET(HP_ERR_INPUT, "%s: no such shard (a file named by ingest.root)", s);
      else e = push_name(&out, s, strlen(s));
    }
  }
  if (!e && out.n == 0) e = HP_ERROR_SET(HP_ERR_INPUT, "ingest.root: \"%s\" names no shard", patterns);
  hp_wds_free_names(braced.v, braced.n);
  if (e) {
    hp_wds_free_names(out.v, out.n);
    return e;
  }
  *names = out.v;
  *n = out.n;
  return 0;
}

/* ---- one shard ----------------------------------------------------------------------------- */

typedef struct {
  char *key;          /* NULL: no sample open */
  uint8_t *img;       /* the image member */
  size_t img_n;
  char *text;         /* the caption member */
  size_t text_n;
  int text_too_long;
} sample_t;

static void sample_clear(sample_t *s) {
  free(s->key);
  free(s->img);
  free(s->text);
  memset(s, 0, sizeof *s);
}

/* element arrays of out grow at 0, 16, 32, 64, ... elements */
static int grow_at(void **p, int64_t n, size_t el, const char *what) {
  if (n != 0 && (n < 16 || (n & (n - 1)) != 0)) return 0;
  size_t cap = n == 0 ? 16 : (size_t)n * 2, bytes;
  if (hp_mul_size(cap, el, &bytes)) HP_ERROR(HP_ERR_MEM, "%s: size overflow", what);
  void *q = realloc(*p, bytes);
  if (!q) HP_ERROR(HP_ERR_MEM, "cannot allocate %.1f MiB for %s", (double)bytes / 1048576.0, what);
  *p = q;
  return 0;
}

static int flush_sample(sample_t *s, const char *label, uint8_t split, const hp_ingest_image_opts *o,
                        hp_ingest_shard *out, hp_ingest_report *rep) {
  if (!s->key) return 0;
  char *where = NULL;
  size_t wn = strlen(label) + strlen(s->key) + 2;
  HP_CALLOC(where, wn, "report location");
  snprintf(where, wn, "%s:%s", label, s->key);
  int e = 0;
  size_t cn = s->text_n;
  const char *cap = s->text ? hp_ingest_trim(s->text, &cn) : NULL;
  if (!s->img) e = hp_report_add(rep, where, "no image member (.jpg, .jpeg or .png)");
  else if (!s->text) e = hp_report_add(rep, where, "no caption member (.txt)");
  else if (s->text_too_long) e = hp_report_add(rep, where, "caption longer than 64 KiB");
  else if (cn == 0) e = hp_report_add(rep, where, "empty caption");
  else if (!hp_utf8_valid(cap, cn, NULL)) e = hp_report_add(rep, where, "caption is not valid UTF-8");
  else {
    const size_t per = (size_t)o->size * (size_t)o->size * 3;
    hp_image im;
    int d = hp_image_decode_mem(s->img, s->img_n, where, &o->limits, &im);
    if (d == HP_ERR_INPUT) {
      e = hp_report_add_error(rep, where);
      out->n_bad_local++;
      free(where);
      sample_clear(s);
      return e;
    }
    if (!(e = d) && !(e = grow_at((void **)&out->images, out->n, per, "decoded images")) &&
        !(e = grow_at((void **)&out->source_id, out->n, sizeof(char *), "source ids")) &&
        !(e = grow_at((void **)&out->path, out->n, sizeof(char *), "image names")) &&
        !(e = grow_at((void **)&out->split, out->n, 1, "image splits")) &&
        !(e = grow_at((void **)&out->captions, out->n_captions, sizeof(char *), "captions")) &&
        !(e = grow_at((void **)&out->caption_image, out->n_captions, sizeof(int64_t), "caption index")))
      e = hp_image_resize(&im, o->mode, o->size, out->images + (size_t)out->n * per);
    if (!d) hp_image_free(&im);
    if (!e) {
      int64_t row = out->n;
      size_t sn = strlen(where) + 5;
      out->source_id[row] = malloc(sn);
      out->path[row] = NULL;
      out->captions[out->n_captions] = NULL;
      if (!out->source_id[row]) e = HP_ERROR_SET(HP_ERR_MEM, "source id");
      else snprintf(out->source_id[row], sn, "wds:%s", where);
      if (!e) e = hp_ingest_strndup(where, strlen(where), &out->path[row]);
      if (!e) e = hp_ingest_strndup(cap, cn, &out->captions[out->n_captions]);
      if (!e) {
        out->caption_image[out->n_captions++] = row;
        out->split[row] = split;
        out->n = row + 1;
      } else {
        free(out->source_id[row]);
        free(out->path[row]);
        free(out->captions[out->n_captions]);
      }
    }
    free(where);
    sample_clear(s);
    return e;
  }
  if (!e) out->n_bad_local++;
  free(where);
  sample_clear(s);
  return e;
}

/* Reads the current member's data into *buf (up to limit bytes; *too_long when it has more).
 * Returns 0, HP_ERR_MEM, or -1 with the archive's error for a damaged archive. */
static int read_member(struct archive *a, int64_t limit, uint8_t **buf, size_t *n, int *too_long) {
  size_t cap = 65536, used = 0;
  uint8_t *b = malloc(cap + 1);
  if (!b) HP_ERROR(HP_ERR_MEM, "tar member buffer");
  *too_long = 0;
  for (;;) {
    if (used == cap) {
      if ((int64_t)cap >= limit) { /* enough: the rest is skipped by the next header read */
        *too_long = 1;
        break;
      }
      cap *= 2;
      uint8_t *q = realloc(b, cap + 1);
      if (!q) {
        free(b);
        HP_ERROR(HP_ERR_MEM, "tar member buffer (%zu bytes)", cap);
      }
      b = q;
    }
    la_ssize_t r = archive_read_data(a, b + used, cap - used);
    if (r < 0) {
      free(b);
      return -1;
    }
    if (r == 0) break;
    used += (size_t)r;
  }
  b[used] = 0;
  *buf = b;
  *n = used;
  return 0;
}

static int is_image_ext(const char *ext) {
  return !strcasecmp(ext, "jpg") || !strcasecmp(ext, "jpeg") || !strcasecmp(ext, "png");
}

int hp_wds_read_shard(const char *path, const char *label, uint8_t split, const hp_ingest_image_opts *o,
                      hp_ingest_shard *out, hp_ingest_report *rep) {
  struct archive *a = archive_read_new();
  if (!a) HP_ERROR(HP_ERR_MEM, "%s: cannot create an archive reader", path);
  archive_read_support_format_tar(a);
  archive_read_support_filter_all(a); /* .tar.gz and friends */
  if (archive_read_open_filename(a, path, (size_t)1 << 16) != ARCHIVE_OK) {
    int e = hp_report_add(rep, label, "cannot open as a tar archive: %s", archive_error_string(a));
    archive_read_free(a);
    return e;
  }
  sample_t s = {0};
  int64_t good0 = out->n;
  int e = 0, r;
  struct archive_entry *ent;
  while (!e && ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN)) {
    if (archive_entry_filetype(ent) != AE_IFREG) continue;
    const char *name = archive_entry_pathname(ent);
    if (!name) continue;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strchr(base, '.');
    if (!dot || dot == base) continue; /* no key or no extension: not part of a sample */
    size_t kn = (size_t)(dot - name);
    if (!s.key || strlen(s.key) != kn || memcmp(s.key, name, kn) != 0) {
      if ((e = flush_sample(&s, label, split, o, out, rep))) break;
      if ((e = hp_ingest_strndup(name, kn, &s.key))) break;
    }
    const char *ext = dot + 1;
    uint8_t *buf = NULL;
    size_t n = 0;
    int too_long = 0, rm;
    if (is_image_ext(ext) && !s.img) {
      if ((rm = read_member(a, MAX_IMAGE_MEMBER, &buf, &n, &too_long)) > 0) e = rm;
      else if (rm < 0) break;
      else if (too_long) free(buf); /* reported as "no image": larger than any image we decode */
      else {
        s.img = buf;
        s.img_n = n;
      }
    } else if (!strcasecmp(ext, "txt") && !s.text) {
      if ((rm = read_member(a, (int64_t)HP_INGEST_MAX_CAPTION_BYTES + 1, &buf, &n, &too_long)) > 0) e = rm;
      else if (rm < 0) break;
      else {
        s.text = (char *)buf;
        s.text_n = n;
        s.text_too_long = too_long || n > HP_INGEST_MAX_CAPTION_BYTES;
      }
    }
  }
  if (!e) {
    if (r == ARCHIVE_EOF) e = flush_sample(&s, label, split, o, out, rep);
    else /* the sample being read may be incomplete: dropped with the rest of the shard */
      e = hp_report_add(rep, label, "damaged archive: %s (the %lld good samples before the damage are kept)",
                        archive_error_string(a) ? archive_error_string(a) : "read error", (long long)(out->n - good0));
  }
  sample_clear(&s);
  archive_read_free(a);
  return e;
}

/* ---- every rank ---------------------------------------------------------------------------- */

static int bcast_names(MPI_Comm comm, int rank, char ***names, uint8_t **tags, int64_t *n) {
  /* rank 0's names as one buffer of NUL-terminated strings */
  int64_t len = 0;
  char *buf = NULL;
  if (rank == 0) {
    for (int64_t i = 0; i < *n; i++) len += (int64_t)strlen((*names)[i]) + 1;
    HP_CALLOC(buf, (size_t)(len > 0 ? len : 1), "shard list");
    int64_t u = 0;
    for (int64_t i = 0; i < *n; i++) {
      size_t k = strlen((*names)[i]) + 1;
      memcpy(buf + u, (*names)[i], k);
      u += (int64_t)k;
    }
  }
  int64_t hdr[2] = {*n, len};
  HP_MPI(MPI_Bcast(hdr, 2, MPI_INT64_T, 0, comm));
  if (rank != 0) {
    HP_CALLOC(buf, (size_t)(hdr[1] > 0 ? hdr[1] : 1), "shard list");
    HP_CALLOC(*tags, (size_t)(hdr[0] > 0 ? hdr[0] : 1), "shard splits");
  }
  for (int64_t off = 0; off < hdr[1];) { /* in pieces below 2^31 bytes */
    int piece = hdr[1] - off > (1 << 30) ? 1 << 30 : (int)(hdr[1] - off);
    HP_MPI(MPI_Bcast(buf + off, piece, MPI_CHAR, 0, comm));
    off += piece;
  }
  HP_MPI(MPI_Bcast(*tags, (int)hdr[0], MPI_UINT8_T, 0, comm)); /* at most 10^6 shards */
  if (rank != 0) {
    *n = hdr[0];
    HP_CALLOC(*names, (size_t)(*n > 0 ? *n : 1), "shard names");
    int64_t u = 0;
    for (int64_t i = 0; i < *n; i++) {
      size_t k = strlen(buf + u);
      HP_CALL(hp_ingest_strndup(buf + u, k, &(*names)[i]));
      u += (int64_t)k + 1;
    }
  }
  free(buf);
  return 0;
}

/* Rank 0: every set's shards, concatenated, with their sets' tags. */
static int expand_sets(int n_sets, const char *const *patterns, const uint8_t *tags, char ***names, uint8_t **tag_of,
                       int64_t *n) {
  names_t all = {0};
  uint8_t *t = NULL;
  int e = 0;
  for (int k = 0; k < n_sets && !e; k++) {
    char **one = NULL;
    int64_t m = 0;
    if ((e = hp_wds_expand(patterns[k], &one, &m))) break;
    uint8_t *q = realloc(t, (size_t)(all.n + m > 0 ? all.n + m : 1));
    if (!q) e = HP_ERROR_SET(HP_ERR_MEM, "shard splits");
    else t = q;
    for (int64_t i = 0; i < m && !e; i++) {
      t[all.n] = tags[k];
      e = push_name(&all, one[i], strlen(one[i]));
    }
    hp_wds_free_names(one, m);
  }
  if (e) {
    hp_wds_free_names(all.v, all.n);
    free(t);
    return e;
  }
  *names = all.v;
  *tag_of = t;
  *n = all.n;
  return 0;
}

static int read_block(char **names, const uint8_t *tags, int64_t a, int64_t cnt, const hp_ingest_image_opts *o,
                      hp_ingest_shard *out, hp_ingest_report *rep) {
  for (int64_t i = a; i < a + cnt; i++) {
    const char *label = strrchr(names[i], '/') ? strrchr(names[i], '/') + 1 : names[i];
    HP_CALL(hp_wds_read_shard(names[i], label, tags[i], o, out, rep));
  }
  return 0;
}

int hp_wds_decode(MPI_Comm comm, int n_sets, const char *const *patterns, const uint8_t *tags,
                  const hp_ingest_image_opts *o, hp_ingest_shard *out, hp_ingest_report *rep, int64_t *n_shards) {
  int rank, size;
  HP_MPI(MPI_Comm_rank(comm, &rank));
  HP_MPI(MPI_Comm_size(comm, &size));
  memset(out, 0, sizeof *out);
  out->size = o->size;
  char **names = NULL;
  uint8_t *tag_of = NULL;
  int64_t n = 0;
  HP_CALL(hp_agree(comm, rank == 0 ? expand_sets(n_sets, patterns, tags, &names, &tag_of, &n) : 0));
  int e = bcast_names(comm, rank, &names, &tag_of, &n);
  if (!e) {
    int64_t a, cnt;
    hp_shard_range(n, size, rank, &a, &cnt);
    e = read_block(names, tag_of, a, cnt, o, out, rep);
  }
  hp_wds_free_names(names, n);
  free(tag_of);
  HP_CALL(hp_agree(comm, e));
  if (n_shards) *n_shards = n;
  return hp_ingest_number_globally(comm, out);
}
