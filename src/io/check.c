/* check.c — validation of hpclip HDF5 files against their embedded schema descriptions.
 *
 * Generic part, driven by hdf5-schemas/NAME.schema: root attributes, object kinds, dtypes,
 * shapes (symbolic dimensions bind once and must agree everywhere), stored sizes, value
 * ranges, and the string-table invariants (offsets, UTF-8). Schema-specific part, in code:
 * cross-object invariants the description language does not express (caption -> image order).
 *
 * Hostile files: every size is checked against the schema's sanity ranges and against what
 * the file really stores before anything is read, and arrays are read in bounded chunks, so
 * memory use is bounded whatever the file declares.
 */
#include "io/check.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "io/h5.h"
#include "io/schema_embed.h"
#include "io/strtab.h"

#define CHUNK_BYTES ((size_t)8 << 20)      /* read buffer per chunk */
#define ATTR_MAX_LEN ((size_t)16 << 20)    /* longest string attribute accepted (config text) */
#define MAX_SYMS 32
#define BAD(...) HP_ERROR(HP_ERR_INPUT, __VA_ARGS__)

typedef struct {
  const char *name;
  int64_t min, max, value;
  int bound;
  char where[160]; /* the object that bound it, for messages */
} sym_t;

typedef struct {
  const char *path; /* file */
  hid_t fid;
  const char *schema; /* "hpclip.dataset" */
  int64_t version;
  sym_t syms[MAX_SYMS];
  int nsyms;
} ctx_t;

/* ---- schema description access (a broken embedded description is our bug) ------------------ */

static int schema_str(const config_setting_t *s, const char *key, const char **out, int required) {
  *out = NULL;
  if (!config_setting_lookup_string(s, key, out) && required)
    HP_ERROR(HP_ERR_INTERNAL, "embedded schema: entry at line %d lacks string '%s'",
             config_setting_source_line(s), key);
  return 0;
}

static int schema_find(const char *want, config_t *cf, const char **known_out) {
  static char known[512];
  known[0] = 0;
  int found = 0;
  for (const hp_embedded_schema *e = hp_embedded_schemas; e->name; e++) {
    config_t c;
    const char *name = NULL;
    config_init(&c);
    if (!config_read_string(&c, e->text)) {
      int line = config_error_line(&c);
      char why[256];
      snprintf(why, sizeof why, "%s", config_error_text(&c));
      config_destroy(&c);
      HP_ERROR(HP_ERR_INTERNAL, "embedded schema %s.schema:%d: %s", e->name, line, why);
    }
    if (!config_lookup_string(&c, "schema", &name)) {
      config_destroy(&c);
      HP_ERROR(HP_ERR_INTERNAL, "embedded schema %s.schema: no 'schema' name", e->name);
    }
    size_t used = strlen(known);
    snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "", name);
    if (!found && strcmp(name, want) == 0) {
      *cf = c; /* config_t owns its tree; handing it over by value is how libconfig is used */
      found = 1;
    } else {
      config_destroy(&c);
    }
  }
  *known_out = known;
  return found ? 0 : HP_ERR_INPUT;
}

/* ---- symbols -------------------------------------------------------------------------------- */

static int load_symbols(ctx_t *c, config_t *cf) {
  config_setting_t *list = config_lookup(cf, "symbols");
  c->nsyms = 0;
  for (int i = 0; list && i < config_setting_length(list); i++) {
    config_setting_t *s = config_setting_get_elem(list, (unsigned)i);
    sym_t *y = &c->syms[c->nsyms];
    long long mn = 0, mx = INT64_MAX;
    if (c->nsyms == MAX_SYMS) HP_ERROR(HP_ERR_INTERNAL, "embedded schema: too many symbols");
    HP_CALL(schema_str(s, "name", &y->name, 1));
    config_setting_lookup_int64(s, "min", &mn);
    config_setting_lookup_int64(s, "max", &mx);
    y->min = mn;
    y->max = mx;
    y->bound = 0;
    c->nsyms++;
  }
  return 0;
}

static sym_t *sym_get(ctx_t *c, const char *name) {
  for (int i = 0; i < c->nsyms; i++)
    if (strcmp(c->syms[i].name, name) == 0) return &c->syms[i];
  return NULL;
}

/* First sight binds (after the sanity range); every later sight must agree. */
static int bind(ctx_t *c, const char *sym, int64_t v, const char *obj, const char *what) {
  sym_t *y = sym_get(c, sym);
  if (!y) HP_ERROR(HP_ERR_INTERNAL, "embedded schema %s: %s uses undeclared symbol %s", c->schema, obj, sym);
  if (y->bound) {
    if (y->value != v)
      BAD("%s: %s: %s is %lld, but %s = %lld (from %s)", c->path, obj, what, (long long)v, sym,
          (long long)y->value, y->where);
    return 0;
  }
  if (v < y->min || v > y->max)
    BAD("%s: %s: %s (%s) is %lld, outside the sane range [%lld, %lld]", c->path, obj, what, sym,
        (long long)v, (long long)y->min, (long long)y->max);
  y->value = v;
  y->bound = 1;
  snprintf(y->where, sizeof y->where, "%s %s", obj, what);
  return 0;
}

/* ---- datasets: type, shape, storage --------------------------------------------------------- */

typedef struct {
  const char *name;
  H5T_class_t cls;
  size_t size;
  H5T_sign_t sign;
} dtype_t;

static const dtype_t g_dtypes[] = {
    {"uint8", H5T_INTEGER, 1, H5T_SGN_NONE},  {"int8", H5T_INTEGER, 1, H5T_SGN_2},
    {"uint16", H5T_INTEGER, 2, H5T_SGN_NONE}, {"int16", H5T_INTEGER, 2, H5T_SGN_2},
    {"uint32", H5T_INTEGER, 4, H5T_SGN_NONE}, {"int32", H5T_INTEGER, 4, H5T_SGN_2},
    {"uint64", H5T_INTEGER, 8, H5T_SGN_NONE}, {"int64", H5T_INTEGER, 8, H5T_SGN_2},
    {"float32", H5T_FLOAT, 4, H5T_SGN_ERROR}, {"float64", H5T_FLOAT, 8, H5T_SGN_ERROR},
};

static void describe_type(hid_t t, char *buf, size_t n) {
  H5T_class_t cls = H5Tget_class(t);
  size_t size = H5Tget_size(t);
  switch (cls) {
    case H5T_INTEGER:
      snprintf(buf, n, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", size * 8);
      break;
    case H5T_FLOAT: snprintf(buf, n, "float%zu", size * 8); break;
    case H5T_STRING: snprintf(buf, n, "string"); break;
    case H5T_COMPOUND: snprintf(buf, n, "compound"); break;
    case H5T_ENUM: snprintf(buf, n, "enum"); break;
    case H5T_ARRAY: snprintf(buf, n, "array"); break;
    case H5T_VLEN: snprintf(buf, n, "variable-length"); break;
    default: snprintf(buf, n, "class %d, %zu bytes", (int)cls, size); break;
  }
}

static int check_dtype(ctx_t *c, const char *obj, hid_t d, const char *want) {
  const dtype_t *w = NULL;
  for (size_t i = 0; i < sizeof g_dtypes / sizeof g_dtypes[0]; i++)
    if (strcmp(g_dtypes[i].name, want) == 0) w = &g_dtypes[i];
  if (!w) HP_ERROR(HP_ERR_INTERNAL, "embedded schema %s: %s: unknown type '%s'", c->schema, obj, want);
  hid_t t;
  HP_H5(HP_ERR_INPUT, t = H5Dget_type(d), c->path, obj, "cannot read the datatype");
  int ok = H5Tget_class(t) == w->cls && H5Tget_size(t) == w->size &&
           (w->cls != H5T_INTEGER || H5Tget_sign(t) == w->sign);
  char have[64];
  describe_type(t, have, sizeof have);
  H5Tclose(t);
  if (!ok) BAD("%s: %s: datatype is %s, expected %s", c->path, obj, have, want);
  return 0;
}

/* Rank and dims; the dims go to `dims` (at most H5S_MAX_RANK). */
static int get_shape(ctx_t *c, const char *obj, hid_t d, int *nd, hsize_t *dims) {
  hid_t s;
  HP_H5(HP_ERR_INPUT, s = H5Dget_space(d), c->path, obj, "cannot read the dataspace");
  H5S_class_t k = H5Sget_simple_extent_type(s);
  *nd = k == H5S_SIMPLE ? H5Sget_simple_extent_ndims(s) : 0;
  if (*nd < 0 || H5Sget_simple_extent_dims(s, dims, NULL) < 0)
    HP_H5_ERROR(HP_ERR_INPUT, c->path, obj, "cannot read the dimensions");
  H5Sclose(s);
  return 0;
}

static void shape_text(const config_setting_t *spec, char *buf, size_t n) {
  size_t used = (size_t)snprintf(buf, n, "[");
  for (int i = 0; i < config_setting_length(spec) && used < n; i++) {
    config_setting_t *e = config_setting_get_elem(spec, (unsigned)i);
    const char *s = config_setting_get_string(e);
    if (s) used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? "," : "", s);
    else used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? "," : "", config_setting_get_int64(e));
  }
  if (used < n) snprintf(buf + used, n - used, "]");
}

static int check_shape(ctx_t *c, const char *obj, int nd, const hsize_t *dims, const config_setting_t *spec) {
  char want[128], what[32];
  shape_text(spec, want, sizeof want);
  if (nd != config_setting_length(spec))
    BAD("%s: %s: has %d dimension%s, expected %d %s", c->path, obj, nd, nd == 1 ? "" : "s",
        config_setting_length(spec), want);
  for (int i = 0; i < nd; i++) {
    config_setting_t *e = config_setting_get_elem(spec, (unsigned)i);
    const char *sym = config_setting_get_string(e);
    if (dims[i] > (hsize_t)INT64_MAX) BAD("%s: %s: dimension %d is absurdly large", c->path, obj, i);
    snprintf(what, sizeof what, "dim %d", i);
    if (sym) {
      HP_CALL(bind(c, sym, (int64_t)dims[i], obj, what));
    } else if ((int64_t)dims[i] != config_setting_get_int64(e)) {
      BAD("%s: %s: dim %d is %llu, expected %lld (shape %s)", c->path, obj, i,
          (unsigned long long)dims[i], config_setting_get_int64(e), want);
    }
  }
  return 0;
}

/* The declared array must really be in the file: external files and virtual datasets are
 * refused (they would make us read other files), and an unfiltered dataset must store every
 * byte it declares (catches unwritten data and absurd declared sizes before any read). */
static int check_storage(ctx_t *c, const char *obj, hid_t d, int nd, const hsize_t *dims) {
  hid_t dcpl, t;
  size_t bytes;
  HP_H5(HP_ERR_INPUT, t = H5Dget_type(d), c->path, obj, "cannot read the datatype");
  bytes = H5Tget_size(t);
  H5Tclose(t);
  for (int i = 0; i < nd; i++)
    if (dims[i] > SIZE_MAX || hp_mul_size(bytes, (size_t)dims[i], &bytes))
      BAD("%s: %s: declared size overflows", c->path, obj);
  HP_H5(HP_ERR_INPUT, dcpl = H5Dget_create_plist(d), c->path, obj, "cannot read the creation properties");
  H5D_layout_t layout = H5Pget_layout(dcpl);
  int next = H5Pget_external_count(dcpl), nfilt = H5Pget_nfilters(dcpl);
  H5Pclose(dcpl);
  if (layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED && layout != H5D_COMPACT)
    BAD("%s: %s: unsupported storage layout (only contiguous, chunked or compact)", c->path, obj);
  if (next != 0) BAD("%s: %s: data in external files is not allowed", c->path, obj);
  if (nfilt < 0) HP_H5_ERROR(HP_ERR_INPUT, c->path, obj, "cannot read the filter pipeline");
  hsize_t stored = H5Dget_storage_size(d);
  if ((nfilt == 0 && stored < bytes) || (nfilt > 0 && bytes > 0 && stored == 0))
    BAD("%s: %s: declares %zu bytes of data but the file stores only %llu (unwritten or cut-off data)",
        c->path, obj, bytes, (unsigned long long)stored);
  return 0;
}

/* ---- bounded chunked reads ------------------------------------------------------------------ */

/* Read rows [r0, r0+nr) of a dataset with `rowelems` elements per row into buf as memtype. */
static int read_rows(ctx_t *c, const char *obj, hid_t d, hid_t memtype, int nd, hsize_t r0, hsize_t nr,
                     const hsize_t *dims, void *buf) {
  hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
  hid_t fs, ms;
  count[0] = nr;
  start[0] = r0;
  hsize_t nel = nr;
  for (int i = 1; i < nd; i++) count[i] = dims[i], nel *= dims[i];
  HP_H5(HP_ERR_INPUT, fs = H5Dget_space(d), c->path, obj, "cannot read the dataspace");
  HP_H5(HP_ERR_INPUT, H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL), c->path, obj,
        "cannot select rows");
  HP_H5(HP_ERR_INPUT, ms = H5Screate_simple(1, &nel, NULL), c->path, obj, "cannot create a memory space");
  HP_H5(HP_ERR_INPUT, H5Dread(d, memtype, ms, fs, H5P_DEFAULT, buf), c->path, obj,
        "cannot read elements [%llu, %llu)", (unsigned long long)r0, (unsigned long long)(r0 + nr));
  H5Sclose(ms);
  H5Sclose(fs);
  return 0;
}

/* Calls fn on consecutive blocks of whole rows, values converted to int64. */
typedef int (*block_fn)(ctx_t *c, const char *obj, hsize_t row0, hsize_t nrows, hsize_t rowelems,
                        const int64_t *v, void *user);

static int scan_int(ctx_t *c, const char *obj, hid_t d, block_fn fn, void *user) {
  int nd;
  hsize_t dims[H5S_MAX_RANK], rowelems = 1;
  HP_CALL(get_shape(c, obj, d, &nd, dims));
  if (nd < 1) return 0;
  for (int i = 1; i < nd; i++) rowelems *= dims[i]; /* bounded: shapes were checked already */
  size_t cap = CHUNK_BYTES / sizeof(int64_t);
  if (rowelems == 0) return 0;
  if (rowelems > cap) BAD("%s: %s: rows of %llu values are too large to check", c->path, obj, (unsigned long long)rowelems);
  hsize_t per = cap / rowelems;
  int64_t *buf = NULL;
  HP_CALLOC(buf, (size_t)(per * rowelems), "check buffer");
  int err = 0;
  for (hsize_t r = 0; r < dims[0] && !err; r += per) {
    hsize_t nr = dims[0] - r < per ? dims[0] - r : per;
    err = read_rows(c, obj, d, H5T_NATIVE_INT64, nd, r, nr, dims, buf);
    if (!err) err = fn(c, obj, r, nr, rowelems, buf, user);
  }
  free(buf);
  if (err) return hp_error_trace(err, __FILE__, __LINE__, __func__);
  return 0;
}

typedef struct {
  long long min, max;
} range_t;

static int range_block(ctx_t *c, const char *obj, hsize_t row0, hsize_t nrows, hsize_t rowelems,
                       const int64_t *v, void *user) {
  const range_t *r = user;
  for (hsize_t i = 0; i < nrows * rowelems; i++)
    if (v[i] < r->min || v[i] > r->max) {
      if (rowelems == 1)
        BAD("%s: %s: value %lld at index %llu is outside [%lld, %lld]", c->path, obj, (long long)v[i],
            (unsigned long long)(row0 + i), r->min, r->max);
      BAD("%s: %s: value %lld at row %llu, column %llu is outside [%lld, %lld]", c->path, obj,
          (long long)v[i], (unsigned long long)(row0 + i / rowelems), (unsigned long long)(i % rowelems),
          r->min, r->max);
    }
  return 0;
}

static int check_dataset(ctx_t *c, const char *obj, hid_t d, const config_setting_t *spec) {
  const char *type;
  int nd;
  hsize_t dims[H5S_MAX_RANK];
  HP_CALL(schema_str(spec, "type", &type, 1));
  config_setting_t *shape = config_setting_get_member(spec, "dims");
  if (!shape) HP_ERROR(HP_ERR_INTERNAL, "embedded schema %s: %s: no dims", c->schema, obj);
  HP_CALL(check_dtype(c, obj, d, type));
  HP_CALL(get_shape(c, obj, d, &nd, dims));
  HP_CALL(check_shape(c, obj, nd, dims, shape));
  HP_CALL(check_storage(c, obj, d, nd, dims));
  range_t r = {INT64_MIN, INT64_MAX};
  int has_min = config_setting_lookup_int64(spec, "min", &r.min);
  int has_max = config_setting_lookup_int64(spec, "max", &r.max);
  if (has_min || has_max) HP_CALL(scan_int(c, obj, d, range_block, &r));
  return 0;
}

/* ---- string tables -------------------------------------------------------------------------- */

static int open_member(ctx_t *c, const char *group, const char *leaf, const char *type, char *obj,
                       size_t n, hid_t *d, hsize_t *len) {
  int exists, nd;
  hsize_t dims[H5S_MAX_RANK];
  snprintf(obj, n, "%s/%s", group, leaf);
  HP_CALL(hp_h5_exists(c->fid, c->path, obj, &exists));
  if (!exists) BAD("%s: %s: missing (a string table needs bytes and offsets)", c->path, obj);
  HP_H5(HP_ERR_INPUT, *d = H5Oopen(c->fid, obj, H5P_DEFAULT), c->path, obj, "cannot open");
  if (H5Iget_type(*d) != H5I_DATASET) BAD("%s: %s: is not a dataset", c->path, obj);
  HP_CALL(check_dtype(c, obj, *d, type));
  HP_CALL(get_shape(c, obj, *d, &nd, dims));
  if (nd != 1) BAD("%s: %s: has %d dimensions, expected 1", c->path, obj, nd);
  *len = dims[0];
  return 0;
}

static int read_1d(ctx_t *c, const char *obj, hid_t d, hid_t memtype, hsize_t start, hsize_t n, void *buf) {
  hsize_t dims[1] = {start + n};
  HP_CALL(read_rows(c, obj, d, memtype, 1, start, n, dims, buf));
  return 0;
}

#define STRTAB_PER (CHUNK_BYTES / sizeof(uint64_t) - 1) /* offsets per chunk, +1 overlap */

/* Offsets in chunks (each overlapping the next by one entry); the strings of a chunk are
 * checked in byte windows of at most CHUNK_BYTES (plus one string, itself bounded).
 * off holds STRTAB_PER+1 entries, bytes CHUNK_BYTES + HP_STRTAB_MAX_LEN. */
static int scan_strtab(ctx_t *c, const char *group, const char *ob, hid_t db, const char *oo, hid_t dof,
                       hsize_t K, hsize_t B, uint64_t *off, char *bytes) {
  const hsize_t per = STRTAB_PER;
  for (hsize_t k = 0; k == 0 || k < K; k += per) {
    hsize_t n = K - k < per ? K - k : per;
    HP_CALL(read_1d(c, oo, dof, H5T_NATIVE_UINT64, k, n + 1, off));
    if (k == 0 && off[0] != 0) BAD("%s: %s: offsets[0] is %llu, must be 0", c->path, oo, (unsigned long long)off[0]);
    for (hsize_t i = 0; i < n; i++) {
      if (off[i + 1] < off[i])
        BAD("%s: %s: offsets[%llu] = %llu is less than offsets[%llu] = %llu (must be non-decreasing)",
            c->path, oo, (unsigned long long)(k + i + 1), (unsigned long long)off[i + 1],
            (unsigned long long)(k + i), (unsigned long long)off[i]);
      if (off[i + 1] > B)
        BAD("%s: %s: offsets[%llu] = %llu is past the end of the %llu bytes", c->path, oo,
            (unsigned long long)(k + i + 1), (unsigned long long)off[i + 1], (unsigned long long)B);
      if (off[i + 1] - off[i] > HP_STRTAB_MAX_LEN)
        BAD("%s: %s: string %llu is %llu bytes long (limit %zu)", c->path, group, (unsigned long long)(k + i),
            (unsigned long long)(off[i + 1] - off[i]), HP_STRTAB_MAX_LEN);
    }
    if (k + n == K && off[n] != B)
      BAD("%s: %s: offsets[%llu] = %llu, must equal the number of bytes %llu", c->path, oo,
          (unsigned long long)K, (unsigned long long)off[n], (unsigned long long)B);
    for (hsize_t a = 0; a < n;) {
      hsize_t b = a + 1;
      while (b < n && off[b + 1] - off[a] <= CHUNK_BYTES) b++;
      size_t len = (size_t)(off[b] - off[a]);
      if (len) HP_CALL(read_1d(c, ob, db, H5T_NATIVE_UINT8, off[a], len, bytes));
      for (hsize_t i = a; i < b; i++) {
        size_t bad, s0 = (size_t)(off[i] - off[a]), sl = (size_t)(off[i + 1] - off[i]);
        if (!hp_utf8_valid(bytes + s0, sl, &bad))
          BAD("%s: %s: string %llu %s at byte %zu", c->path, group, (unsigned long long)(k + i),
              bad < sl && bytes[s0 + bad] == 0 ? "contains a NUL byte" : "is not valid UTF-8", bad);
      }
      a = b;
    }
    if (K == 0) break;
  }
  return 0;
}

static int check_strtab(ctx_t *c, const char *group, const char *count_sym) {
  char ob[512], oo[512];
  hid_t db = H5I_INVALID_HID, dof = H5I_INVALID_HID;
  hsize_t nb = 0, no = 0;
  HP_CALL(open_member(c, group, "bytes", "uint8", ob, sizeof ob, &db, &nb));
  HP_CALL(open_member(c, group, "offsets", "uint64", oo, sizeof oo, &dof, &no));
  if (no < 1) BAD("%s: %s: empty; a table of K strings has K+1 offsets", c->path, oo);
  HP_CALL(bind(c, count_sym, (int64_t)(no - 1), group, "number of strings"));
  /* Sizes after the sanity range, so an absurd count is reported as such. */
  HP_CALL(check_storage(c, ob, db, 1, &nb));
  HP_CALL(check_storage(c, oo, dof, 1, &no));
  uint64_t *off = NULL;
  char *bytes = NULL;
  HP_CALLOC(off, STRTAB_PER + 1, "offsets buffer");
  HP_CALLOC(bytes, CHUNK_BYTES + HP_STRTAB_MAX_LEN, "bytes buffer");
  int e = scan_strtab(c, group, ob, db, oo, dof, no - 1, nb, off, bytes);
  free(off);
  free(bytes);
  H5Oclose(db);
  H5Oclose(dof);
  if (e) return hp_error_trace(e, __FILE__, __LINE__, __func__);
  return 0;
}

/* ---- schema-specific invariants ------------------------------------------------------------- */

typedef struct {
  int64_t n_images, prev;
} capimg_t;

static int caption_block(ctx_t *c, const char *obj, hsize_t row0, hsize_t nrows, hsize_t rowelems,
                         const int64_t *v, void *user) {
  capimg_t *s = user;
  (void)rowelems;
  for (hsize_t i = 0; i < nrows; i++) {
    unsigned long long k = (unsigned long long)(row0 + i);
    if (v[i] < 0 || v[i] >= s->n_images)
      BAD("%s: %s: caption %llu refers to image %lld, outside [0, %lld)", c->path, obj, k, (long long)v[i],
          (long long)s->n_images);
    if (v[i] < s->prev)
      BAD("%s: %s: caption %llu refers to image %lld after image %lld (must be non-decreasing)", c->path,
          obj, k, (long long)v[i], (long long)s->prev);
    s->prev = v[i];
  }
  return 0;
}

/* ---- tensor groups (checkpoints): every member a float32 dataset of rank 1..4 ---------------- */

#define TENSOR_MAX_MEMBERS 100000
#define TENSOR_MAX_NAME 256

typedef struct {
  ctx_t *c;
  const char *group;
  int err;
  int64_t count;
} tgroup_t;

static herr_t tensor_member(hid_t g, const char *name, const H5L_info_t *info, void *user) {
  tgroup_t *t = user;
  ctx_t *c = t->c;
  char obj[HP_H5_PATH_MAX];
  (void)info;
  if (++t->count > TENSOR_MAX_MEMBERS) {
    t->err = HP_ERROR_SET(HP_ERR_INPUT, "%s: %s: more than %d tensors", c->path,
                          t->group, TENSOR_MAX_MEMBERS);
    return -1;
  }
  if (strlen(name) >= TENSOR_MAX_NAME) {
    t->err = HP_ERROR_SET(HP_ERR_INPUT, "%s: %s: tensor name longer than %d bytes",
                          c->path, t->group, TENSOR_MAX_NAME - 1);
    return -1;
  }
  snprintf(obj, sizeof obj, "%s/%s", t->group, name);
  H5O_info_t oi;
  if (H5Oget_info_by_name2(g, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_DATASET) {
    t->err = HP_ERROR_SET(HP_ERR_INPUT, "%s: %s: not a dataset (a tensor group holds only tensors)",
                          c->path, obj);
    return -1;
  }
  hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
  int nd = 0;
  hsize_t dims[H5S_MAX_RANK];
  int e = d < 0 ? HP_ERROR_SET(HP_ERR_INPUT, "%s: %s: cannot open", c->path, obj) : 0;
  if (!e) e = check_dtype(c, obj, d, "float32");
  if (!e) e = get_shape(c, obj, d, &nd, dims);
  if (!e && (nd < 1 || nd > 4))
    e = HP_ERROR_SET(HP_ERR_INPUT, "%s: %s: rank %d, a tensor has 1 to 4 dimensions", c->path,
                     obj, nd);
  for (int k = 0; !e && k < nd; k++)
    if (dims[k] < 1 || dims[k] > (hsize_t)INT32_MAX)
      e = HP_ERROR_SET(HP_ERR_INPUT, "%s: %s: dimension %d is %llu", c->path, obj, k,
                       (unsigned long long)dims[k]);
  if (!e) e = check_storage(c, obj, d, nd, dims);
  if (d >= 0) H5Dclose(d);
  if (e) {
    t->err = e;
    return -1;
  }
  return 0;
}

static int check_tensor_group(ctx_t *c, const char *group, hid_t g) {
  tgroup_t t = {c, group, 0, 0};
  hsize_t idx = 0;
  herr_t r = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, tensor_member, &t);
  if (t.err) return hp_error_trace(t.err, __FILE__, __LINE__, __func__);
  if (r < 0) BAD("%s: %s: cannot list the tensors", c->path, group);
  if (t.count == 0) BAD("%s: %s: no tensors", c->path, group);
  return 0;
}

/* Every tensor of `like` has a twin of the same shape in `group` and vice versa (optimiser
 * moments mirror the parameters). */
typedef struct {
  ctx_t *c;
  const char *group, *other;
  hid_t gother;
  int err;
} mirror_t;

static herr_t mirror_member(hid_t g, const char *name, const H5L_info_t *info, void *user) {
  mirror_t *m = user;
  (void)info;
  hsize_t a[H5S_MAX_RANK], b[H5S_MAX_RANK];
  int na = -1, nb = -2;
  htri_t has = H5Lexists(m->gother, name, H5P_DEFAULT);
  if (has > 0) {
    hid_t da = H5Dopen2(g, name, H5P_DEFAULT), db = H5Dopen2(m->gother, name, H5P_DEFAULT);
    hid_t sa = da >= 0 ? H5Dget_space(da) : -1, sb = db >= 0 ? H5Dget_space(db) : -1;
    na = sa >= 0 ? H5Sget_simple_extent_dims(sa, a, NULL) : -1;
    nb = sb >= 0 ? H5Sget_simple_extent_dims(sb, b, NULL) : -2;
    if (sa >= 0) H5Sclose(sa);
    if (sb >= 0) H5Sclose(sb);
    if (da >= 0) H5Dclose(da);
    if (db >= 0) H5Dclose(db);
  }
  int same = has > 0 && na == nb && na > 0;
  for (int k = 0; same && k < na; k++) same = a[k] == b[k];
  if (!same) {
    m->err = HP_ERROR_SET(HP_ERR_INPUT, "%s: %s/%s: %s in %s", m->c->path, m->group,
                          name, has > 0 ? "shape differs from its twin" : "has no twin", m->other);
    return -1;
  }
  return 0;
}

static int check_mirror(ctx_t *c, const char *a, const char *b) {
  hid_t ga, gb;
  HP_H5(HP_ERR_INPUT, ga = H5Gopen2(c->fid, a, H5P_DEFAULT), c->path, a, "cannot open");
  HP_H5(HP_ERR_INPUT, gb = H5Gopen2(c->fid, b, H5P_DEFAULT), c->path, b, "cannot open");
  mirror_t m1 = {c, a, b, gb, 0}, m2 = {c, b, a, ga, 0};
  hsize_t i1 = 0, i2 = 0;
  H5Literate(ga, H5_INDEX_NAME, H5_ITER_INC, &i1, mirror_member, &m1);
  if (!m1.err) H5Literate(gb, H5_INDEX_NAME, H5_ITER_INC, &i2, mirror_member, &m2);
  H5Gclose(ga);
  H5Gclose(gb);
  if (m1.err) return hp_error_trace(m1.err, __FILE__, __LINE__, __func__);
  if (m2.err) return hp_error_trace(m2.err, __FILE__, __LINE__, __func__);
  return 0;
}

static int dataset_invariants(ctx_t *c) {
  const char *obj = "/captions/image";
  sym_t *n = sym_get(c, "N");
  if (!n || !n->bound) HP_ERROR(HP_ERR_INTERNAL, "%s: N unbound after the schema pass", c->path);
  hid_t d;
  HP_H5(HP_ERR_INPUT, d = H5Dopen2(c->fid, obj, H5P_DEFAULT), c->path, obj, "cannot open");
  capimg_t s = {n->value, -1};
  HP_CALL(scan_int(c, obj, d, caption_block, &s));
  H5Dclose(d);
  return 0;
}

static const struct {
  const char *schema;
  int (*fn)(ctx_t *c);
} g_invariants[] = {{"hpclip.dataset", dataset_invariants},
                     {"hpclip.embeddings", dataset_invariants} /* same caption -> image rules */};

/* ---- the driver ----------------------------------------------------------------------------- */

static int check_attrs(ctx_t *c, config_t *cf) {
  config_setting_t *list = config_lookup(cf, "attributes");
  for (int i = 0; list && i < config_setting_length(list); i++) {
    config_setting_t *a = config_setting_get_elem(list, (unsigned)i);
    const char *name, *type, *prefix;
    HP_CALL(schema_str(a, "name", &name, 1));
    HP_CALL(schema_str(a, "type", &type, 1));
    HP_CALL(schema_str(a, "prefix", &prefix, 0));
    config_setting_t *val = config_setting_get_member(a, "value"), *req = config_setting_get_member(a, "required");
    if (req && !config_setting_get_bool(req)) { /* optional: checked when present */
      htri_t ex = H5Aexists_by_name(c->fid, "/", name, H5P_DEFAULT);
      if (ex < 0) BAD("%s: /: cannot read the attributes", c->path);
      if (ex == 0) continue;
    }
    if (strcmp(type, "int") == 0) {
      int64_t v;
      HP_CALL(hp_h5_attr_read_int(c->fid, c->path, "/", name, &v));
      if (val && v != config_setting_get_int64(val))
        BAD("%s: /: attribute '%s' is %lld, expected %lld (this hpclip reads %s version %lld)", c->path, name,
            (long long)v, config_setting_get_int64(val), c->schema, (long long)c->version);
    } else if (strcmp(type, "string") == 0) {
      char *s;
      size_t bad;
      HP_CALL(hp_h5_attr_read_str(c->fid, c->path, "/", name, ATTR_MAX_LEN, &s));
      const char *want = val ? config_setting_get_string(val) : NULL;
      int ok_utf8 = hp_utf8_valid(s, strlen(s), &bad);
      int ok_val = !want || strcmp(s, want) == 0;
      int ok_pre = !prefix || strncmp(s, prefix, strlen(prefix)) == 0;
      free(s);
      if (!ok_utf8) BAD("%s: /: attribute '%s' is not valid UTF-8 (byte %zu)", c->path, name, bad);
      if (!ok_val) BAD("%s: /: attribute '%s' must be \"%s\"", c->path, name, want);
      if (!ok_pre) BAD("%s: /: attribute '%s' must start with \"%s\"", c->path, name, prefix);
    } else {
      HP_ERROR(HP_ERR_INTERNAL, "embedded schema %s: attribute %s: unknown type '%s'", c->schema, name, type);
    }
  }
  return 0;
}

static int check_objects(ctx_t *c, config_t *cf) {
  config_setting_t *list = config_lookup(cf, "objects");
  if (!list) HP_ERROR(HP_ERR_INTERNAL, "embedded schema %s: no objects", c->schema);
  for (int i = 0; i < config_setting_length(list); i++) {
    config_setting_t *o = config_setting_get_elem(list, (unsigned)i);
    const char *obj, *kind = "dataset", *with, *count;
    int required = 1, exists, with_exists = 0;
    HP_CALL(schema_str(o, "path", &obj, 1));
    config_setting_lookup_string(o, "kind", &kind);
    config_setting_lookup_bool(o, "required", &required);
    HP_CALL(schema_str(o, "with", &with, 0));
    HP_CALL(hp_h5_exists(c->fid, c->path, obj, &exists));
    if (with) HP_CALL(hp_h5_exists(c->fid, c->path, with, &with_exists));
    if (!exists) {
      if (required) BAD("%s: %s: missing (required by schema %s version %lld)", c->path, obj, c->schema, (long long)c->version);
      if (with_exists) BAD("%s: %s: missing (required when %s exists)", c->path, obj, with);
      continue;
    }
    hid_t h;
    HP_H5(HP_ERR_INPUT, h = H5Oopen(c->fid, obj, H5P_DEFAULT), c->path, obj, "cannot open");
    H5I_type_t t = H5Iget_type(h);
    if (strcmp(kind, "strtab") == 0) {
      if (t != H5I_GROUP) BAD("%s: %s: is not a group (expected a string table: bytes + offsets)", c->path, obj);
      HP_CALL(schema_str(o, "count", &count, 1));
      HP_CALL(check_strtab(c, obj, count));
    } else if (strcmp(kind, "dataset") == 0) {
      if (t != H5I_DATASET) BAD("%s: %s: is not a dataset", c->path, obj);
      HP_CALL(check_dataset(c, obj, h, o));
    } else if (strcmp(kind, "tensors") == 0) {
      const char *like;
      if (t != H5I_GROUP) BAD("%s: %s: is not a group (expected a group of tensors)", c->path, obj);
      HP_CALL(check_tensor_group(c, obj, h));
      HP_CALL(schema_str(o, "like", &like, 0));
      if (like) HP_CALL(check_mirror(c, obj, like));
    } else {
      HP_ERROR(HP_ERR_INTERNAL, "embedded schema %s: %s: unknown kind '%s'", c->schema, obj, kind);
    }
    H5Oclose(h);
  }
  return 0;
}

static int check_open_file(const char *path, hid_t fid) {
  ctx_t c = {.path = path, .fid = fid};
  htri_t has = H5Aexists_by_name(fid, "/", "schema", H5P_DEFAULT);
  if (has < 0) HP_H5_ERROR(HP_ERR_INPUT, path, "/", "cannot read the root attributes");
  config_t cf;
  const char *known;
  if (has == 0) {
    int e = schema_find("", &cf, &known);
    if (e != HP_ERR_INPUT) return e ? hp_error_trace(e, __FILE__, __LINE__, __func__) : HP_ERR_INTERNAL;
    BAD("%s: /: no 'schema' attribute: not an hpclip file (known schemas: %s)", path, known);
  }
  char *name;
  HP_CALL(hp_h5_attr_read_str(fid, path, "/", "schema", 256, &name));
  int e = schema_find(name, &cf, &known);
  if (e == HP_ERR_INPUT) {
    char n2[260];
    snprintf(n2, sizeof n2, "%s", name);
    free(name);
    BAD("%s: /: attribute 'schema' is \"%s\", not a known schema (known: %s)", path, n2, known);
  }
  free(name);
  if (e) return hp_error_trace(e, __FILE__, __LINE__, __func__);
  long long version = 0;
  config_lookup_string(&cf, "schema", &c.schema);
  config_lookup_int64(&cf, "version", &version);
  c.version = version;
  e = load_symbols(&c, &cf);
  if (!e) e = check_attrs(&c, &cf);
  if (!e) e = check_objects(&c, &cf);
  for (size_t i = 0; !e && i < sizeof g_invariants / sizeof g_invariants[0]; i++)
    if (strcmp(g_invariants[i].schema, c.schema) == 0) e = g_invariants[i].fn(&c);
  config_destroy(&cf);
  if (e) return hp_error_trace(e, __FILE__, __LINE__, __func__);
  return 0;
}

/* Cheap questions first, so that a directory or random bytes never reach HDF5's open. */
static int precheck(const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0) BAD("%s: cannot open: %s", path, strerror(errno));
  if (S_ISDIR(sb.st_mode)) BAD("%s: is a directory, not an HDF5 file", path);
  if (!S_ISREG(sb.st_mode)) BAD("%s: not a regular file", path);
  if (sb.st_size == 0) BAD("%s: empty file, not HDF5", path);
  int fd = open(path, O_RDONLY);
  if (fd < 0) BAD("%s: cannot read: %s", path, strerror(errno));
  close(fd);
  htri_t is = H5Fis_hdf5(path);
  H5Eclear2(H5E_DEFAULT);
  if (is <= 0) BAD("%s: not an HDF5 file (no HDF5 signature)", path);
  return 0;
}

int hp_check_file_local(const char *path) {
  hid_t fid;
  HP_CALL(precheck(path));
  HP_CALL(hp_h5_open_serial(path, &fid));
  int e = check_open_file(path, fid);
  H5Fclose(fid); /* strong close degree: also closes whatever an error return left open */
  H5Eclear2(H5E_DEFAULT);
  if (e) return hp_error_trace(e, __FILE__, __LINE__, __func__);
  return 0;
}

/* ---- collective entry points ---------------------------------------------------------------- */

/* "hpclip.checkpoint" -> "checkpoint", "hpclip.embeddings" -> "embeddings file" */
static const char *schema_noun(const char *schema) {
  static const char *const map[][2] = {{"hpclip.dataset", "dataset"},       {"hpclip.checkpoint", "checkpoint"},
                                       {"hpclip.embeddings", "embeddings file"}, {"hpclip.results", "results file"},
                                       {"hpclip.neighbours", "neighbours file"}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(map[i][0], schema) == 0) return map[i][1];
  return schema;
}

static int check_as_local(const char *path, const char *schema) {
  HP_CALL(hp_check_file_local(path));
  hid_t fid;
  char *name = NULL;
  HP_CALL(hp_h5_open_serial(path, &fid));
  int e = hp_h5_attr_read_str(fid, path, "/", "schema", 256, &name);
  H5Fclose(fid);
  if (e) return hp_error_trace(e, __FILE__, __LINE__, __func__);
  if (strcmp(name, schema) != 0) {
    char got[260];
    snprintf(got, sizeof got, "%s", name);
    free(name);
    BAD("%s is an hpclip %s (schema %s), not a %s (schema %s)", path, schema_noun(got), got, schema_noun(schema),
        schema);
  }
  free(name);
  return 0;
}

int hp_check_file_as(MPI_Comm comm, const char *path, const char *schema) {
  int rank, err = 0;
  HP_MPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) err = check_as_local(path, schema);
  HP_CALL(hp_agree_root(comm, err));
  return 0;
}

int hp_check_file(MPI_Comm comm, const char *path) {
  int rank, err = 0;
  HP_MPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) err = hp_check_file_local(path);
  HP_CALL(hp_agree_root(comm, err));
  return 0;
}

static int obj_attr_local(const char *path, const char *obj, const char *name, char *buf, size_t n) {
  hid_t fid;
  char *s = NULL;
  HP_CALL(precheck(path));
  HP_CALL(hp_h5_open_serial(path, &fid));
  int e = hp_h5_attr_read_str(fid, path, obj, name, n ? n - 1 : 0, &s);
  H5Fclose(fid);
  H5Eclear2(H5E_DEFAULT);
  if (e) return hp_error_trace(e, __FILE__, __LINE__, __func__);
  snprintf(buf, n, "%s", s);
  free(s);
  return 0;
}

int hp_h5_root_attr(MPI_Comm comm, const char *path, const char *name, char *buf, size_t n) {
  HP_CALL(hp_h5_obj_attr(comm, path, "/", name, buf, n));
  return 0;
}

int hp_h5_obj_attr(MPI_Comm comm, const char *path, const char *obj, const char *name, char *buf, size_t n) {
  int rank, err = 0;
  if (n == 0) HP_ERROR(HP_ERR_INTERNAL, "hp_h5_root_attr: empty buffer");
  HP_MPI(MPI_Comm_rank(comm, &rank));
  buf[0] = 0;
  if (rank == 0) err = obj_attr_local(path, obj, name, buf, n);
  HP_CALL(hp_agree_root(comm, err));
  if (n > (size_t)INT32_MAX) HP_ERROR(HP_ERR_INTERNAL, "hp_h5_root_attr: buffer too large");
  HP_MPI(MPI_Bcast(buf, (int)n, MPI_CHAR, 0, comm));
  return 0;
}
