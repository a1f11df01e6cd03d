/* config.c — load, validate, override, query, dump and document a job configuration.
 *
 * The key table (keys.c) is the only description of the configuration. A loaded config holds
 * one slot per table row (typed value, "is set", where it came from), so a getter is a binary
 * search over the sorted paths plus an array access. Loading is:
 *   1. check the table itself (a bad row is a bug: HP_ERR_INTERNAL),
 *   2. every slot gets its default,
 *   3. walk the libconfig tree of the job file: every setting must be a table key or group,
 *      of the right type, in range (first error wins, reported as FILE:LINE: KEY: reason),
 *   4. apply the -s overrides in order, validated the same way,
 *   5. required keys and cross-key rules.
 */
#define _POSIX_C_SOURCE 200809L /* strdup, stat */

#include "config/config.h"

#include <errno.h>
#include <inttypes.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"

#define WHY_MAX 1024  /* one reason */
#define PATH_MAX_ 512 /* one dotted key path */

typedef struct {
  int64_t i;     /* INT */
  double f;      /* FLOAT */
  int b;         /* BOOL */
  char *s;       /* STRING, ENUM */
  char **items;  /* STRLIST */
  int nitems;
} cfg_value;

typedef struct {
  cfg_value v;
  int is_set;   /* given by the file or an override (else: the default) */
  long seq;     /* order of assignment: cross-key errors name the latest one */
  char *where;  /* "FILE:LINE: KEY" or "-s KEY=VALUE"; NULL for a default */
} cfg_slot;

struct hp_config {
  const hp_cfg_key *keys;
  int nkeys;
  int *order;     /* row indices sorted by path: lookups and the dump */
  cfg_slot *slot; /* parallel to keys */
  char *path;     /* job file, NULL = none */
  long seq;
};

/* ============================================================================================
 * small helpers
 * ========================================================================================== */

static void value_free(cfg_value *v) {
  free(v->s);
  for (int i = 0; i < v->nitems; i++) free(v->items[i]);
  free(v->items);
  memset(v, 0, sizeof *v);
}

static const char *type_name(hp_cfg_type t) {
  switch (t) {
    case HP_T_INT: return "int";
    case HP_T_FLOAT: return "float";
    case HP_T_BOOL: return "bool";
    case HP_T_STRING: return "string";
    case HP_T_ENUM: return "enum";
    case HP_T_STRLIST: return "string list";
  }
  return "?";
}

/* What a value of this type looks like, for "expected ..., got ..." messages. */
static const char *type_expect(hp_cfg_type t) {
  switch (t) {
    case HP_T_INT: return "an integer";
    case HP_T_FLOAT: return "a number";
    case HP_T_BOOL: return "a boolean (true or false)";
    case HP_T_STRING: return "a string";
    case HP_T_ENUM: return "a string";
    case HP_T_STRLIST: return "a list of strings, e.g. [\"a\", \"b\"]";
  }
  return "?";
}

static int ascii_lower(int c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

static int strieq(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b)) return 0;
  return *a == *b;
}

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Copy s[0..n) without surrounding white space into a new string. */
static char *dup_trim(const char *s, size_t n) {
  while (n && is_space((unsigned char)*s)) s++, n--;
  while (n && is_space((unsigned char)s[n - 1])) n--;
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = 0;
  }
  return d;
}

/* 1 if s is one of the '|'-separated choices. */
static int in_choices(const char *choices, const char *s) {
  size_t n = strlen(s);
  for (const char *c = choices; *c;) {
    const char *e = strchr(c, '|');
    size_t len = e ? (size_t)(e - c) : strlen(c);
    if (len == n && strncmp(c, s, n) == 0) return 1;
    if (!e) break;
    c = e + 1;
  }
  return 0;
}

/* "a|b|c" -> "a, b, c" (for messages). */
static void choices_text(const char *choices, char *buf, size_t n) {
  size_t o = 0;
  for (const char *c = choices; *c && o + 3 < n; c++) {
    if (*c == '|') {
      buf[o++] = ',';
      buf[o++] = ' ';
    } else {
      buf[o++] = *c;
    }
  }
  buf[o] = 0;
}

/* Integer bounds of a row's range, exact for the whole int64 span (a double compare is not:
 * 2^62 + 1 would pass a max of 2^62). */
static void int_bounds(const hp_cfg_key *k, int64_t *lo, int64_t *hi) {
  *lo = INT64_MIN;
  *hi = INT64_MAX;
  if (k->min > k->max) return;
  if (k->min > -9.2e18) *lo = (int64_t)ceil(k->min);
  if (k->max < 9.2e18) *hi = (int64_t)floor(k->max);
}

/* ============================================================================================
 * key lookup and suggestions
 * ========================================================================================== */

static int find_key(const hp_config *c, const char *key) {
  int lo = 0, hi = c->nkeys - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    int r = strcmp(key, c->keys[c->order[mid]].key);
    if (r == 0) return c->order[mid];
    if (r < 0) hi = mid - 1;
    else lo = mid + 1;
  }
  return -1;
}

/* Index of the first key inside group `path` ("data" -> a "data.*" row), or -1. */
static int group_member(const hp_config *c, const char *path) {
  size_t n = strlen(path);
  for (int j = 0; j < c->nkeys; j++) {
    const char *k = c->keys[c->order[j]].key;
    if (strncmp(k, path, n) == 0 && k[n] == '.') return c->order[j];
  }
  return -1;
}

/* Case-insensitive edit distance (insert, delete, substitute). */
static int levenshtein(const char *a, const char *b) {
  enum { L = 128 };
  size_t na = strlen(a), nb = strlen(b);
  if (na >= L || nb >= L) return 1000;
  int prev[L], cur[L];
  for (size_t j = 0; j <= nb; j++) prev[j] = (int)j;
  for (size_t i = 1; i <= na; i++) {
    cur[0] = (int)i;
    for (size_t j = 1; j <= nb; j++) {
      int sub = prev[j - 1] + (ascii_lower((unsigned char)a[i - 1]) != ascii_lower((unsigned char)b[j - 1]));
      int del = prev[j] + 1, ins = cur[j - 1] + 1;
      cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
    memcpy(prev, cur, (nb + 1) * sizeof prev[0]);
  }
  return prev[nb];
}

/* A suggestion must be close relative to what the user typed, or it only confuses. */
static int close_enough(int d, size_t len) {
  int t = len <= 4 ? 1 : len <= 10 ? 2 : 3;
  return d <= t;
}

static const char *leaf(const char *path) {
  const char *d = strrchr(path, '.');
  return d ? d + 1 : path;
}

/* " (did you mean 'x.y'?)" for the closest table key (want_group = 0) or group path
 * (want_group = 1) to `path`, or "" when nothing is close. A key whose last component matches
 * is also close: "synth.image_size" -> "data.image_size". */
static const char *suggest(const hp_config *c, const char *path, int want_group, char *buf, size_t n) {
  int best = 1000;
  char cand[PATH_MAX_];
  buf[0] = 0;
  for (int j = 0; j < c->nkeys; j++) {
    const char *k = c->keys[c->order[j]].key;
    if (want_group) {
      /* every proper prefix of k ending before a '.' is a group */
      for (const char *d = strchr(k, '.'); d; d = strchr(d + 1, '.')) {
        size_t len = (size_t)(d - k);
        if (len >= sizeof cand) break;
        memcpy(cand, k, len);
        cand[len] = 0;
        int s = levenshtein(path, cand);
        if (close_enough(s, strlen(path)) && s < best) {
          best = s;
          snprintf(buf, n, " (did you mean '%s'?)", cand);
        }
      }
    } else {
      int s = levenshtein(path, k);
      if (!close_enough(s, strlen(path))) s = 1000;
      int sl = levenshtein(leaf(path), leaf(k));
      if (close_enough(sl, strlen(leaf(path))) && sl + 1 < s) s = sl + 1; /* +1: other group */
      if (s < best) {
        best = s;
        snprintf(buf, n, " (did you mean '%s'?)", k);
      }
    }
  }
  return buf;
}

/* ============================================================================================
 * parsing values: from text (defaults, -s overrides) and from libconfig settings
 * ========================================================================================== */

/* Parse a double-quoted string starting at *p (which points at '"'); on success *p points past
 * the closing quote and *out is the unescaped text. */
static int parse_quoted(const char **p, char **out, char *why, size_t n) {
  const char *s = *p + 1;
  size_t len = strlen(s);
  char *d = malloc(len + 1), *o = d;
  if (!d) return snprintf(why, n, "out of memory"), -1;
  for (; *s && *s != '"'; s++) {
    if (*s != '\\') {
      *o++ = *s;
      continue;
    }
    s++;
    switch (*s) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case 'n': *o++ = '\n'; break;
      case 't': *o++ = '\t'; break;
      case 'r': *o++ = '\r'; break;
      case 'f': *o++ = '\f'; break;
      default:
        free(d);
        if (!*s) return snprintf(why, n, "unterminated quoted string"), -1;
        return snprintf(why, n, "unknown escape '\\%c' in quoted string (use \\\\ \\\" \\n \\t)", *s), -1;
    }
  }
  if (*s != '"') {
    free(d);
    return snprintf(why, n, "unterminated quoted string (missing closing \")"), -1;
  }
  *o = 0;
  *out = d;
  *p = s + 1;
  return 0;
}

static int list_push(cfg_value *v, char *item, char *why, size_t n) {
  char **grown = realloc(v->items, (size_t)(v->nitems + 1) * sizeof *grown);
  if (!grown) {
    free(item);
    return snprintf(why, n, "out of memory"), -1;
  }
  v->items = grown;
  v->items[v->nitems++] = item;
  return 0;
}

/* STRLIST from text: "a,b", "[a, b]" or ["a", "b"]; "" and "[]" are the empty list. */
static int parse_list_text(const char *text, cfg_value *v, char *why, size_t n) {
  char *t = dup_trim(text, strlen(text));
  if (!t) return snprintf(why, n, "out of memory"), -1;
  char *body = t;
  size_t len = strlen(t);
  if (len && t[0] == '[') {
    if (t[len - 1] != ']') {
      free(t);
      return snprintf(why, n, "list starts with '[' but does not end with ']'"), -1;
    }
    t[len - 1] = 0;
    body = t + 1;
  }
  const char *p = body;
  while (is_space((unsigned char)*p)) p++;
  if (!*p) { /* empty list */
    free(t);
    return 0;
  }
  for (int item = 1;; item++) {
    while (is_space((unsigned char)*p)) p++;
    char *s = NULL;
    if (*p == '"') {
      if (parse_quoted(&p, &s, why, n)) return free(t), -1;
      while (is_space((unsigned char)*p)) p++;
      if (*p && *p != ',') {
        free(s);
        free(t);
        return snprintf(why, n, "item %d: unexpected text after the closing quote", item), -1;
      }
    } else {
      const char *e = strchr(p, ',');
      size_t m = e ? (size_t)(e - p) : strlen(p);
      s = dup_trim(p, m);
      if (!s) return free(t), snprintf(why, n, "out of memory"), -1;
      if (!*s) {
        free(s);
        free(t);
        return snprintf(why, n, "item %d is empty", item), -1;
      }
      p += m;
    }
    if (list_push(v, s, why, n)) return free(t), -1;
    if (!*p) break;
    p++; /* the ',' */
  }
  free(t);
  return 0;
}

/* Value of row k from text. STRING/ENUM take the text as is, or a double-quoted string. */
static int parse_text(const hp_cfg_key *k, const char *text, cfg_value *v, char *why, size_t n) {
  memset(v, 0, sizeof *v);
  switch (k->type) {
    case HP_T_INT: {
      char *end;
      errno = 0;
      long long x = strtoll(text, &end, 10);
      while (is_space((unsigned char)*end)) end++;
      if (end == text || *end || !*text)
        return snprintf(why, n, "expected an integer, got '%.200s'", text), -1;
      if (errno == ERANGE) return snprintf(why, n, "integer '%.200s' does not fit in 64 bits", text), -1;
      v->i = x;
      return 0;
    }
    case HP_T_FLOAT: {
      char *end;
      errno = 0;
      double x = strtod(text, &end);
      while (is_space((unsigned char)*end)) end++;
      if (end == text || *end || !*text)
        return snprintf(why, n, "expected a number, got '%.200s'", text), -1;
      if (!isfinite(x)) return snprintf(why, n, "'%.200s' is not a finite number", text), -1;
      v->f = x;
      return 0;
    }
    case HP_T_BOOL: {
      char *t = dup_trim(text, strlen(text));
      if (!t) return snprintf(why, n, "out of memory"), -1;
      int ok = 1;
      if (strieq(t, "true") || strieq(t, "yes") || strcmp(t, "1") == 0) v->b = 1;
      else if (strieq(t, "false") || strieq(t, "no") || strcmp(t, "0") == 0) v->b = 0;
      else ok = 0;
      free(t);
      if (!ok) return snprintf(why, n, "expected true/false/yes/no/1/0, got '%.200s'", text), -1;
      return 0;
    }
    case HP_T_STRING:
    case HP_T_ENUM:
      if (text[0] == '"') {
        const char *p = text;
        if (parse_quoted(&p, &v->s, why, n)) return -1;
        if (*p) {
          value_free(v);
          return snprintf(why, n, "unexpected text after the closing quote"), -1;
        }
        return 0;
      }
      v->s = strdup(text);
      if (!v->s) return snprintf(why, n, "out of memory"), -1;
      return 0;
    case HP_T_STRLIST:
      if (parse_list_text(text, v, why, n)) return value_free(v), -1;
      return 0;
  }
  return snprintf(why, n, "bad type"), -1;
}

/* "an integer (5)", "a string ("abc")", ... — what the file gave. */
static void describe_setting(const config_setting_t *s, char *buf, size_t n) {
  switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: snprintf(buf, n, "an integer (%lld)", config_setting_get_int64(s)); break;
    case CONFIG_TYPE_FLOAT: snprintf(buf, n, "a float (%g)", config_setting_get_float(s)); break;
    case CONFIG_TYPE_STRING: snprintf(buf, n, "a string (\"%.100s\")", config_setting_get_string(s)); break;
    case CONFIG_TYPE_BOOL: snprintf(buf, n, "a boolean (%s)", config_setting_get_bool(s) ? "true" : "false"); break;
    case CONFIG_TYPE_ARRAY: snprintf(buf, n, "an array [...]"); break;
    case CONFIG_TYPE_LIST: snprintf(buf, n, "a list (...)"); break;
    case CONFIG_TYPE_GROUP: snprintf(buf, n, "a group { ... }"); break;
    default: snprintf(buf, n, "an unknown kind of setting"); break;
  }
}

/* Value of row k from a (non-group) libconfig setting. */
static int parse_setting(const hp_cfg_key *k, const config_setting_t *s, cfg_value *v, char *why, size_t n) {
  char got[160];
  int t = config_setting_type(s);
  memset(v, 0, sizeof *v);
  describe_setting(s, got, sizeof got);
  switch (k->type) {
    case HP_T_INT:
      if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) break;
      v->i = config_setting_get_int64(s);
      return 0;
    case HP_T_FLOAT:
      if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) v->f = (double)config_setting_get_int64(s);
      else if (t == CONFIG_TYPE_FLOAT) v->f = config_setting_get_float(s);
      else break;
      return 0;
    case HP_T_BOOL:
      if (t != CONFIG_TYPE_BOOL) break;
      v->b = config_setting_get_bool(s) != 0;
      return 0;
    case HP_T_STRING:
    case HP_T_ENUM:
      if (t != CONFIG_TYPE_STRING) break;
      v->s = strdup(config_setting_get_string(s));
      if (!v->s) return snprintf(why, n, "out of memory"), -1;
      return 0;
    case HP_T_STRLIST:
      if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) break;
      for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
          describe_setting(e, got, sizeof got);
          value_free(v);
          return snprintf(why, n, "item %d: expected a string, got %s", i + 1, got), -1;
        }
        char *item = strdup(config_setting_get_string(e));
        if (!item) return value_free(v), snprintf(why, n, "out of memory"), -1;
        if (list_push(v, item, why, n)) return value_free(v), -1;
      }
      return 0;
  }
  if (k->type == HP_T_ENUM && k->choices) {
    char ch[WHY_MAX / 2];
    choices_text(k->choices, ch, sizeof ch);
    return snprintf(why, n, "expected a string (one of: %s), got %s", ch, got), -1;
  }
  return snprintf(why, n, "expected %s, got %s", type_expect(k->type), got), -1;
}

/* Hints for required keys that also have a command-line option. */
static const char *cli_hint(const char *key) {
  if (strcmp(key, "run.dir") == 0) return " (or give --run-dir)";
  return "";
}

/* Range, choices, required-not-empty: the same for file, override and default values. */
static int check_value(const hp_cfg_key *k, const cfg_value *v, char *why, size_t n) {
  char ch[WHY_MAX / 2] = "";
  if (k->choices) choices_text(k->choices, ch, sizeof ch);
  switch (k->type) {
    case HP_T_INT: {
      int64_t lo, hi;
      int_bounds(k, &lo, &hi);
      if (v->i < lo || v->i > hi)
        return snprintf(why, n, "%" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]", v->i, lo, hi), -1;
      return 0;
    }
    case HP_T_FLOAT:
      if (!isfinite(v->f)) return snprintf(why, n, "%g is not a finite number", v->f), -1;
      if (k->min <= k->max && (v->f < k->min || v->f > k->max))
        return snprintf(why, n, "%g is out of range [%g, %g]", v->f, k->min, k->max), -1;
      return 0;
    case HP_T_BOOL: return 0;
    case HP_T_STRING:
      if (!k->def && !v->s[0])
        return snprintf(why, n, "empty string, but %s is required%s", k->key, cli_hint(k->key)), -1;
      return 0;
    case HP_T_ENUM:
      if (k->choices && !in_choices(k->choices, v->s))
        return snprintf(why, n, "'%.200s' is not one of: %s", v->s, ch), -1;
      return 0;
    case HP_T_STRLIST:
      for (int i = 0; i < v->nitems; i++) {
        if (!v->items[i][0]) return snprintf(why, n, "item %d is an empty string", i + 1), -1;
        if (k->choices && !in_choices(k->choices, v->items[i]))
          return snprintf(why, n, "item %d '%.200s' is not one of: %s", i + 1, v->items[i], ch), -1;
      }
      return 0;
  }
  return 0;
}

/* Store v (moved) as the value of row idx, given at `where` (copied). */
static int assign(hp_config *c, int idx, cfg_value *v, const char *where) {
  cfg_slot *sl = &c->slot[idx];
  char *w = strdup(where);
  if (!w) HP_ERROR(HP_ERR_MEM, "config: out of memory");
  value_free(&sl->v);
  free(sl->where);
  sl->v = *v;
  memset(v, 0, sizeof *v);
  sl->where = w;
  sl->is_set = 1;
  sl->seq = ++c->seq;
  return 0;
}

/* ============================================================================================
 * the table itself
 * ========================================================================================== */

static int key_syntax_ok(const char *k) {
  int dots = 0;
  const char *comp = k;
  for (const char *p = k;; p++) {
    if (*p == '.' || !*p) {
      if (p == comp || !(*comp >= 'a' && *comp <= 'z')) return 0; /* empty or not a letter */
      if (!*p) break;
      dots++;
      comp = p + 1;
    } else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
      return 0;
    }
  }
  return dots >= 1 && strlen(k) < PATH_MAX_;
}

static int check_table(const hp_cfg_key *keys, int nkeys) {
  char why[WHY_MAX];
  if (!keys || nkeys <= 0) HP_ERROR(HP_ERR_INTERNAL, "config key table is empty");
  for (int i = 0; i < nkeys; i++) {
    const hp_cfg_key *k = &keys[i];
    if (!k->key || !key_syntax_ok(k->key))
      HP_ERROR(HP_ERR_INTERNAL, "config key table: row %d: bad path '%s' (want group.name, lowercase [a-z0-9_])",
               i, k->key ? k->key : "(null)");
    if (!k->doc || !k->doc[0]) HP_ERROR(HP_ERR_INTERNAL, "config key table: %s: no doc line", k->key);
    if ((int)k->type < (int)HP_T_INT || (int)k->type > (int)HP_T_STRLIST)
      HP_ERROR(HP_ERR_INTERNAL, "config key table: %s: bad type %d", k->key, (int)k->type);
    if (k->type == HP_T_ENUM && (!k->choices || !k->choices[0]))
      HP_ERROR(HP_ERR_INTERNAL, "config key table: %s: ENUM without choices", k->key);
    if (k->choices && (!k->choices[0] || strstr(k->choices, "||") || k->choices[0] == '|' ||
                       k->choices[strlen(k->choices) - 1] == '|'))
      HP_ERROR(HP_ERR_INTERNAL, "config key table: %s: bad choices '%s'", k->key, k->choices);
    for (int j = 0; j < i; j++) {
      const char *a = keys[j].key, *b = k->key;
      size_t la = strlen(a), lb = strlen(b);
      if (strcmp(a, b) == 0) HP_ERROR(HP_ERR_INTERNAL, "config key table: %s appears twice", b);
      /* a key cannot also be a group: "a.b" and "a.b.c" */
      if ((la < lb && strncmp(a, b, la) == 0 && b[la] == '.') || (lb < la && strncmp(a, b, lb) == 0 && a[lb] == '.'))
        HP_ERROR(HP_ERR_INTERNAL, "config key table: %s and %s: a key cannot also be a group", a, b);
    }
    if (k->def) {
      cfg_value v;
      if (parse_text(k, k->def, &v, why, sizeof why))
        HP_ERROR(HP_ERR_INTERNAL, "config key table: %s: default '%s': %s", k->key, k->def, why);
      int bad = check_value(k, &v, why, sizeof why);
      value_free(&v);
      if (bad) HP_ERROR(HP_ERR_INTERNAL, "config key table: %s: default '%s': %s", k->key, k->def, why);
    }
  }
  return 0;
}

/* ============================================================================================
 * loading
 * ========================================================================================== */

/* libconfig 1.5 reads an integer literal beyond 32 bits without the L suffix as a truncated
 * int (4611686018427387904 -> 0) and says nothing. To not run with a silently wrong seed we
 * re-read the setting's source line and compare the literal with what libconfig stored.
 * Returns 1 if the literal on that line does not match (best effort: 0 if not found). */
static int int_truncated(const config_setting_t *s, const char *fallback_file) {
  if (config_setting_type(s) != CONFIG_TYPE_INT) return 0;
  const char *file = config_setting_source_file(s) ? config_setting_source_file(s) : fallback_file;
  const char *name = config_setting_name(s);
  unsigned line = config_setting_source_line(s);
  if (!file || !name || line == 0) return 0;
  FILE *f = fopen(file, "r");
  if (!f) return 0;
  char buf[4096];
  unsigned at = 0;
  int found = 0, matched = 0;
  while (fgets(buf, sizeof buf, f))
    if (++at == line) break;
  fclose(f);
  if (at != line) return 0;
  long long stored = config_setting_get_int64(s);
  size_t nl = strlen(name);
  for (const char *p = strstr(buf, name); p; p = strstr(p + 1, name)) {
    if (p > buf && (p[-1] == '_' || p[-1] == '-' || (p[-1] >= 'a' && p[-1] <= 'z') ||
                    (p[-1] >= 'A' && p[-1] <= 'Z') || (p[-1] >= '0' && p[-1] <= '9')))
      continue;
    const char *q = p + nl;
    while (*q == ' ' || *q == '\t') q++;
    if (*q != '=' && *q != ':') continue;
    q++;
    char *end;
    errno = 0;
    long long lit = strtoll(q, &end, 0);
    if (end == q) continue;
    found = 1;
    if (errno != ERANGE && lit == stored) matched = 1;
  }
  return found && !matched;
}

/* Walk one group of the job file; prefix = its dotted path ("" at the root). */
static int walk(hp_config *c, const config_setting_t *g, const char *prefix) {
  char path[PATH_MAX_], where[PATH_MAX_ + 1100], why[WHY_MAX], sug[PATH_MAX_ + 32], got[160];
  for (int i = 0; i < config_setting_length(g); i++) {
    const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
    const char *name = config_setting_name(s);
    const char *file = config_setting_source_file(s) ? config_setting_source_file(s) : c->path;
    unsigned line = config_setting_source_line(s);
    if (snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name ? name : "?") >= (int)sizeof path)
      HP_ERROR(HP_ERR_CONFIG, "%s:%u: %s...: key path too long", file, line, prefix);
    snprintf(where, sizeof where, "%s:%u: %s", file, line, path);
    int idx = find_key(c, path);
    if (config_setting_is_group(s)) {
      if (idx >= 0) {
        const hp_cfg_key *k = &c->keys[idx];
        HP_ERROR(HP_ERR_CONFIG, "%s: expected %s, got a group { ... }", where, type_expect(k->type));
      }
      if (group_member(c, path) < 0)
        HP_ERROR(HP_ERR_CONFIG, "%s: unknown group%s", where, suggest(c, path, 1, sug, sizeof sug));
      HP_CALL(walk(c, s, path));
      continue;
    }
    if (idx < 0) {
      int m = group_member(c, path);
      describe_setting(s, got, sizeof got);
      if (m >= 0)
        HP_ERROR(HP_ERR_CONFIG, "%s: is a group of keys, expected %s = { ... } (e.g. %s), got %s", where, name,
                 c->keys[m].key, got);
      HP_ERROR(HP_ERR_CONFIG, "%s: unknown key%s", where, suggest(c, path, 0, sug, sizeof sug));
    }
    const hp_cfg_key *k = &c->keys[idx];
    if ((k->type == HP_T_INT || k->type == HP_T_FLOAT) && int_truncated(s, c->path))
      HP_ERROR(HP_ERR_CONFIG, "%s: integer does not fit in 32 bits; write it with an L suffix (e.g. 4611686018427387904L)",
               where);
    cfg_value v;
    if (parse_setting(k, s, &v, why, sizeof why)) HP_ERROR(HP_ERR_CONFIG, "%s: %s", where, why);
    if (check_value(k, &v, why, sizeof why)) {
      value_free(&v);
      HP_ERROR(HP_ERR_CONFIG, "%s: %s", where, why);
    }
    int err = assign(c, idx, &v, where);
    value_free(&v);
    HP_CALL(err);
  }
  return 0;
}

/* 1 if the file's text contains "@include" (to qualify libconfig's error location). */
static int mentions_include(const char *path) {
  char buf[4096];
  int found = 0;
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  while (!found && fgets(buf, sizeof buf, f)) found = strstr(buf, "@include") != NULL;
  fclose(f);
  return found;
}

static int read_file(hp_config *c, const char *path) {
  struct stat sb;
  FILE *f = fopen(path, "r");
  if (!f) HP_ERROR(HP_ERR_CONFIG, "cannot read %s: %s", path, strerror(errno));
  int isdir = fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode);
  fclose(f);
  if (isdir) HP_ERROR(HP_ERR_CONFIG, "cannot read %s: %s", path, strerror(EISDIR));

  /* @include "x.cfg" is relative to the job file's directory, not to the cwd. (libconfig 1.5
   * prefixes this directory to absolute include paths too: use relative includes.) */
  char *dir = strdup(path);
  if (!dir) HP_ERROR(HP_ERR_MEM, "config: out of memory");
  char *slash = strrchr(dir, '/');
  if (!slash) strcpy(dir, ".");
  else if (slash == dir) dir[1] = 0;
  else *slash = 0;

  config_t lc;
  config_init(&lc);
  config_set_include_dir(&lc, dir);
  int err = 0;
  if (!config_read_file(&lc, path)) {
    const char *ef = config_error_file(&lc) ? config_error_file(&lc) : path;
    if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
      err = HP_ERROR_SET(HP_ERR_CONFIG, "cannot read %s: %s", ef,
                         config_error_text(&lc));
    else
      err = HP_ERROR_SET(HP_ERR_CONFIG,
                         "%s:%d: %s (libconfig syntax: name = value; groups: name = { ... };)%s", ef,
                         config_error_line(&lc), config_error_text(&lc),
                         /* libconfig 1.5 names the top file for errors inside an included one */
                         mentions_include(path) ? " (the error may be in a file it @includes)" : "");
  } else {
    err = walk(c, config_root_setting(&lc), "");
  }
  config_destroy(&lc);
  free(dir);
  HP_CALL(err);
  return 0;
}

/* Set row idx from text; `where` names the source ("-s KEY=VALUE"). */
static int set_text(hp_config *c, int idx, const char *text, const char *where) {
  char why[WHY_MAX];
  cfg_value v;
  const hp_cfg_key *k = &c->keys[idx];
  if (parse_text(k, text, &v, why, sizeof why)) HP_ERROR(HP_ERR_CONFIG, "%s: %s", where, why);
  if (check_value(k, &v, why, sizeof why)) {
    value_free(&v);
    HP_ERROR(HP_ERR_CONFIG, "%s: %s", where, why);
  }
  int err = assign(c, idx, &v, where);
  value_free(&v);
  HP_CALL(err);
  return 0;
}

/* Find the row of an override's key, or say why there is none. */
static int override_key(const hp_config *c, const char *ov, const char *key, int *idx) {
  char sug[PATH_MAX_ + 32];
  if (!key[0]) HP_ERROR(HP_ERR_CONFIG, "-s %s: expected KEY=VALUE, the key is empty", ov);
  *idx = find_key(c, key);
  if (*idx >= 0) return 0;
  int m = group_member(c, key);
  if (m >= 0) HP_ERROR(HP_ERR_CONFIG, "-s %s: '%s' is a group; give one of its keys, e.g. %s", ov, key, c->keys[m].key);
  HP_ERROR(HP_ERR_CONFIG, "-s %s: unknown key '%s'%s", ov, key, suggest(c, key, 0, sug, sizeof sug));
}

static int apply_override(hp_config *c, const char *ov) {
  char key[PATH_MAX_], where[PATH_MAX_ + 4200];
  const char *eq = ov ? strchr(ov, '=') : NULL;
  if (!eq) HP_ERROR(HP_ERR_CONFIG, "-s %s: expected KEY=VALUE", ov ? ov : "(null)");
  char *k = dup_trim(ov, (size_t)(eq - ov));
  if (!k) HP_ERROR(HP_ERR_MEM, "config: out of memory");
  int too_long = snprintf(key, sizeof key, "%s", k) >= (int)sizeof key;
  free(k);
  if (too_long) HP_ERROR(HP_ERR_CONFIG, "-s %.100s...: key too long", ov);
  int idx = -1;
  HP_CALL(override_key(c, ov, key, &idx));
  snprintf(where, sizeof where, "-s %s", ov);
  HP_CALL(set_text(c, idx, eq + 1, where));
  return 0;
}

/* Where an unset or default value is reported: the job file (or none). */
static const char *origin(const hp_config *c) { return c->path ? c->path : "(no job file)"; }

/* Rules between keys. Rows absent from the table (tests use their own) skip their rule. */
static int check_cross(const hp_config *c) {
  const char *fr[3] = {"data.train_frac", "data.val_frac", "data.test_frac"};
  int idx[3], latest = -1;
  for (int i = 0; i < 3; i++) {
    idx[i] = find_key(c, fr[i]);
    if (idx[i] < 0) return 0;
    if (c->slot[idx[i]].is_set && (latest < 0 || c->slot[idx[i]].seq > c->slot[latest].seq)) latest = idx[i];
  }
  double a = c->slot[idx[0]].v.f, b = c->slot[idx[1]].v.f, t = c->slot[idx[2]].v.f;
  double sum = a + b + t;
  if (fabs(sum - 1.0) > 1e-6) {
    char where[PATH_MAX_ + 1100];
    if (latest >= 0) snprintf(where, sizeof where, "%s", c->slot[latest].where);
    else snprintf(where, sizeof where, "%s: data", origin(c));
    HP_ERROR(HP_ERR_CONFIG, "%s: data.train_frac + data.val_frac + data.test_frac = %g + %g + %g = %.9g, must be 1",
             where, a, b, t, sum);
  }
  return 0;
}

static int check_required(const hp_config *c) {
  for (int j = 0; j < c->nkeys; j++) {
    int i = c->order[j];
    const hp_cfg_key *k = &c->keys[i];
    if (!k->def && !c->slot[i].is_set)
      HP_ERROR(HP_ERR_CONFIG, "%s: missing required key %s%s%s%s", origin(c), k->key, cli_hint(k->key),
               cli_hint(k->key)[0] ? "" : ": ", cli_hint(k->key)[0] ? "" : k->doc);
  }
  return 0;
}

static int load(const hp_cfg_key *keys, int nkeys, const char *path, int nov, const char *const *ov,
                hp_config *c) {
  char why[WHY_MAX];
  HP_CALL(check_table(keys, nkeys));
  c->keys = keys;
  c->nkeys = nkeys;
  HP_CALLOC(c->order, nkeys, "config key index");
  HP_CALLOC(c->slot, nkeys, "config values");
  /* insertion sort: the table is small and this needs no global comparator state */
  for (int i = 0; i < nkeys; i++) {
    int j = i;
    while (j > 0 && strcmp(keys[c->order[j - 1]].key, keys[i].key) > 0) {
      c->order[j] = c->order[j - 1];
      j--;
    }
    c->order[j] = i;
  }
  for (int i = 0; i < nkeys; i++)
    if (keys[i].def && parse_text(&keys[i], keys[i].def, &c->slot[i].v, why, sizeof why))
      HP_ERROR(HP_ERR_INTERNAL, "config key table: %s: %s", keys[i].key, why); /* checked above */
  if (path) {
    c->path = strdup(path);
    if (!c->path) HP_ERROR(HP_ERR_MEM, "config: out of memory");
    HP_CALL(read_file(c, path));
  }
  if (nov > 0 && !ov) HP_ERROR(HP_ERR_INTERNAL, "config: %d overrides but no array", nov);
  for (int i = 0; i < nov; i++) HP_CALL(apply_override(c, ov[i]));
  HP_CALL(check_required(c));
  HP_CALL(check_cross(c));
  return 0;
}

int hp_config_load_keys(const hp_cfg_key *keys, int nkeys, const char *path, int noverrides,
                        const char *const *overrides, hp_config **out) {
  hp_config *c = NULL;
  *out = NULL;
  HP_CALLOC(c, 1, "config");
  int err = load(keys, nkeys, path, noverrides, overrides, c);
  if (err) {
    hp_config_free(c); /* a failed load leaves nothing behind (tests load thousands) */
    return hp_error_trace(err, __FILE__, __LINE__, __func__);
  }
  *out = c;
  return 0;
}

int hp_config_load(const char *path, int noverrides, const char *const *overrides, hp_config **out) {
  HP_CALL(hp_config_load_keys(hp_cfg_keys, hp_cfg_nkeys, path, noverrides, overrides, out));
  return 0;
}

void hp_config_free(hp_config *c) {
  if (!c) return;
  if (c->slot)
    for (int i = 0; i < c->nkeys; i++) {
      value_free(&c->slot[i].v);
      free(c->slot[i].where);
    }
  free(c->slot);
  free(c->order);
  free(c->path);
  free(c);
}

int hp_config_set(hp_config *c, const char *key, const char *value) {
  char where[PATH_MAX_ + 4200];
  int idx = -1;
  if (!c || !key || !value) HP_ERROR(HP_ERR_INTERNAL, "hp_config_set: NULL argument");
  snprintf(where, sizeof where, "-s %s=%s", key, value);
  HP_CALL(override_key(c, where + 3, key, &idx));
  /* keep the old value: a cross-key rule may reject the new one, and then nothing changes */
  cfg_slot old = c->slot[idx];
  memset(&c->slot[idx], 0, sizeof c->slot[idx]);
  int err = set_text(c, idx, value, where);
  if (!err) err = check_cross(c);
  if (err) {
    value_free(&c->slot[idx].v);
    free(c->slot[idx].where);
    c->slot[idx] = old;
    return hp_error_trace(err, __FILE__, __LINE__, __func__);
  }
  value_free(&old.v);
  free(old.where);
  return 0;
}

/* ============================================================================================
 * getters: a missing key or a wrong type is a bug in the caller, not a user error
 * ========================================================================================== */

static _Noreturn void die(const char *key, const char *what) {
  fprintf(stderr, "hpclip: internal error: config key '%s' %s\n", key ? key : "(null)", what);
  fflush(stderr);
  abort();
}

static const cfg_slot *get(const hp_config *c, const char *key, hp_cfg_type t1, hp_cfg_type t2, const char *getter) {
  char what[256];
  if (!c || !key) die(key, "read from a NULL config or with a NULL key");
  int idx = find_key(c, key);
  if (idx < 0) {
    snprintf(what, sizeof what, "is not in the key table (read by %s; add a row to src/config/keys.c)", getter);
    die(key, what);
  }
  hp_cfg_type t = c->keys[idx].type;
  if (t != t1 && t != t2) {
    snprintf(what, sizeof what, "is of type %s, but was read with %s", type_name(t), getter);
    die(key, what);
  }
  if (!c->keys[idx].def && !c->slot[idx].is_set) die(key, "is required but has no value (config not loaded?)");
  return &c->slot[idx];
}

int64_t hp_cfg_int(const hp_config *c, const char *key) { return get(c, key, HP_T_INT, HP_T_INT, __func__)->v.i; }

double hp_cfg_float(const hp_config *c, const char *key) {
  return get(c, key, HP_T_FLOAT, HP_T_FLOAT, __func__)->v.f;
}

int hp_cfg_bool(const hp_config *c, const char *key) { return get(c, key, HP_T_BOOL, HP_T_BOOL, __func__)->v.b; }

const char *hp_cfg_str(const hp_config *c, const char *key) {
  return get(c, key, HP_T_STRING, HP_T_ENUM, __func__)->v.s;
}

int hp_cfg_list_len(const hp_config *c, const char *key) {
  return get(c, key, HP_T_STRLIST, HP_T_STRLIST, __func__)->v.nitems;
}

const char *hp_cfg_list_str(const hp_config *c, const char *key, int i) {
  const cfg_slot *s = get(c, key, HP_T_STRLIST, HP_T_STRLIST, __func__);
  if (i < 0 || i >= s->v.nitems) {
    char what[128];
    snprintf(what, sizeof what, "has %d items, item %d was read", s->v.nitems, i);
    die(key, what);
  }
  return s->v.items[i];
}

int hp_cfg_is_set(const hp_config *c, const char *key) {
  if (!c || !key) die(key, "read from a NULL config or with a NULL key");
  int idx = find_key(c, key);
  if (idx < 0) die(key, "is not in the key table (read by hp_cfg_is_set; add a row to src/config/keys.c)");
  return c->slot[idx].is_set;
}

const char *hp_config_path(const hp_config *c) { return c && c->path ? c->path : "(none)"; }

/* ============================================================================================
 * dump, fingerprint, doc: one formatter writing to a growable string or into a hash
 * ========================================================================================== */

typedef struct {
  char *p;
  size_t len, cap;
  int oom;
  int hash_only; /* 1: bytes go into h, nothing is stored */
  uint64_t h;
} sink;

static void put(sink *o, const char *s, size_t n) {
  if (o->hash_only) {
    for (size_t i = 0; i < n; i++) o->h = (o->h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
    return;
  }
  if (o->oom) return;
  if (o->len + n + 1 > o->cap) {
    size_t cap = o->cap ? o->cap : 1024;
    while (cap < o->len + n + 1) cap *= 2;
    char *p = realloc(o->p, cap);
    if (!p) {
      o->oom = 1;
      return;
    }
    o->p = p;
    o->cap = cap;
  }
  memcpy(o->p + o->len, s, n);
  o->len += n;
  o->p[o->len] = 0;
}

static void puts_(sink *o, const char *s) { put(o, s, strlen(s)); }

static void putf(sink *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(sink *o, const char *fmt, ...) {
  char buf[256]; /* numbers and short fixed text only; strings go through put_string */
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) put(o, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* A libconfig string literal: "..." with \" \\ \n \t \r \f and \xNN for other control bytes. */
static void put_string(sink *o, const char *s) {
  put(o, "\"", 1);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    switch (ch) {
      case '"': puts_(o, "\\\""); break;
      case '\\': puts_(o, "\\\\"); break;
      case '\n': puts_(o, "\\n"); break;
      case '\t': puts_(o, "\\t"); break;
      case '\r': puts_(o, "\\r"); break;
      case '\f': puts_(o, "\\f"); break;
      default:
        if (ch < 0x20 || ch == 0x7f) putf(o, "\\x%02x", ch);
        else put(o, (const char *)&ch, 1);
    }
  }
  put(o, "\"", 1);
}

/* Shortest text that reads back as the same double, always recognisable as a float. */
static void put_double(sink *o, double x) {
  char buf[64];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (strtod(buf, NULL) == x) break;
  }
  puts_(o, buf);
  if (!strpbrk(buf, ".eEn")) puts_(o, ".0");
}

static void put_value(sink *o, const hp_cfg_key *k, const cfg_value *v) {
  switch (k->type) {
    case HP_T_INT:
      /* libconfig 1.5 truncates integers beyond 32 bits that lack the L suffix */
      putf(o, "%" PRId64 "%s", v->i, (v->i < INT32_MIN || v->i > INT32_MAX) ? "L" : "");
      break;
    case HP_T_FLOAT: put_double(o, v->f); break;
    case HP_T_BOOL: puts_(o, v->b ? "true" : "false"); break;
    case HP_T_STRING:
    case HP_T_ENUM: put_string(o, v->s ? v->s : ""); break;
    case HP_T_STRLIST:
      puts_(o, "[");
      for (int i = 0; i < v->nitems; i++) {
        if (i) puts_(o, ", ");
        put_string(o, v->items[i]);
      }
      puts_(o, "]");
      break;
  }
}

/* Length of the group part shared by two dotted paths, in whole components ("a.b.c", "a.b.d"
 * -> 2 components = "a.b"). Returns the number of shared group components. */
static int shared_groups(const char *a, const char *b) {
  int n = 0;
  for (size_t i = 0;; i++) {
    if (a[i] != b[i]) return n;
    if (!a[i]) return n; /* identical paths: not possible in a checked table */
    if (a[i] == '.') n++;
  }
}

static int ngroups(const char *k) {
  int n = 0;
  for (; *k; k++) n += *k == '.';
  return n;
}

static void indent(sink *o, int depth) {
  for (int i = 0; i < depth; i++) puts_(o, "  ");
}

int hp_config_dump(const hp_config *c, char **text) {
  sink o = {0};
  *text = NULL;
  if (!c) HP_ERROR(HP_ERR_INTERNAL, "hp_config_dump: NULL config");
  const char *prev = NULL;
  int open = 0; /* groups currently open */
  for (int j = 0; j < c->nkeys; j++) {
    int i = c->order[j];
    const char *k = c->keys[i].key;
    int keep = prev ? shared_groups(prev, k) : 0;
    for (; open > keep; open--) {
      indent(&o, open - 1);
      puts_(&o, "};\n");
    }
    /* open the groups of k beyond the shared ones; sorted paths keep each group contiguous */
    const char *comp = k;
    for (int g = 0; g < ngroups(k); g++) {
      const char *d = strchr(comp, '.');
      if (g >= open) {
        indent(&o, g);
        put(&o, comp, (size_t)(d - comp));
        puts_(&o, " = {\n");
      }
      comp = d + 1;
    }
    open = ngroups(k);
    indent(&o, open);
    puts_(&o, comp);
    puts_(&o, " = ");
    put_value(&o, &c->keys[i], &c->slot[i].v);
    puts_(&o, ";\n");
    prev = k;
  }
  for (; open > 0; open--) {
    indent(&o, open - 1);
    puts_(&o, "};\n");
  }
  if (o.oom || !o.p) {
    free(o.p);
    HP_ERROR(HP_ERR_MEM, "config dump: out of memory");
  }
  *text = o.p;
  return 0;
}

int hp_config_prefix_selects(const char *prefix, const char *key) {
  size_t n = strlen(prefix);
  if (n == 0) return 0;
  if (prefix[n - 1] == '.' || prefix[n - 1] == '_') return strncmp(key, prefix, n) == 0;
  return strncmp(key, prefix, n) == 0 && (key[n] == 0 || key[n] == '.');
}

uint64_t hp_config_fingerprint(const hp_config *c, const char *const *prefixes) {
  sink o = {.hash_only = 1, .h = 0xcbf29ce484222325ULL};
  if (!c) die(NULL, "fingerprint of a NULL config");
  for (int j = 0; j < c->nkeys; j++) {
    int i = c->order[j];
    const char *k = c->keys[i].key;
    int sel = !prefixes;
    for (int p = 0; prefixes && prefixes[p] && !sel; p++) sel = hp_config_prefix_selects(prefixes[p], k);
    if (!sel) continue;
    puts_(&o, k);
    puts_(&o, " = ");
    put_value(&o, &c->keys[i], &c->slot[i].v);
    puts_(&o, ";\n");
  }
  return o.h;
}

/* Markdown table cell text: '|' would end the cell. */
static void put_cell(sink *o, const char *s) {
  for (; *s; s++) {
    if (*s == '|') puts_(o, "\\|");
    else put(o, s, 1);
  }
}

static void put_choices_md(sink *o, const char *choices) {
  for (const char *c = choices; *c;) {
    const char *e = strchr(c, '|');
    size_t len = e ? (size_t)(e - c) : strlen(c);
    puts_(o, "`");
    put(o, c, len);
    puts_(o, "`");
    if (!e) break;
    puts_(o, ", ");
    c = e + 1;
  }
}

static void put_doc(sink *o) {
  const hp_cfg_key *keys = hp_cfg_keys;
  int n = hp_cfg_nkeys;
  puts_(o,
        "# hpclip configuration reference\n"
        "\n"
        "Generated by `hpclip config --doc` from the key table in `src/config/keys.c`; "
        "edit the table, not this file.\n"
        "\n"
        "A job file uses [libconfig](https://hyperrealm.github.io/libconfig/) syntax: "
        "`name = value;`, groups as `name = { ... };`, strings in double quotes, lists as "
        "`[\"a\", \"b\"]`, comments with `#` or `//`; `@include \"other.cfg\"` is relative to "
        "the job file. Every key below may be overridden on the command line with "
        "`-s group.key=value` (applied in order, validated like the file). Keys not given take "
        "their default; unknown keys, wrong types and out-of-range values are errors reported "
        "as `FILE:LINE: KEY: reason` before any work starts. Integers beyond 32 bits need an "
        "`L` suffix in the file (`4611686018427387904L`). `hpclip config --check JOB.cfg` "
        "validates a job file without running anything.\n");
  for (int i = 0; i < n; i++) {
    const char *dot = strchr(keys[i].key, '.');
    size_t gl = (size_t)(dot - keys[i].key);
    int seen = 0; /* groups print in order of their first row */
    for (int j = 0; j < i && !seen; j++) seen = strncmp(keys[j].key, keys[i].key, gl + 1) == 0;
    if (seen) continue;
    puts_(o, "\n## ");
    put(o, keys[i].key, gl);
    puts_(o, "\n\n| key | type | default | allowed | description |\n|---|---|---|---|---|\n");
    for (int j = i; j < n; j++) {
      const hp_cfg_key *k = &keys[j];
      if (strncmp(k->key, keys[i].key, gl + 1) != 0) continue;
      puts_(o, "| `");
      puts_(o, k->key);
      puts_(o, "` | ");
      puts_(o, type_name(k->type));
      puts_(o, " | ");
      if (!k->def) {
        puts_(o, "*required*");
      } else {
        cfg_value v;
        char why[WHY_MAX];
        sink tmp = {0};
        if (parse_text(k, k->def, &v, why, sizeof why) == 0) {
          put_value(&tmp, k, &v); /* shown exactly as a job file would write it */
          value_free(&v);
        }
        puts_(o, "`");
        put_cell(o, tmp.p ? tmp.p : k->def);
        puts_(o, "`");
        free(tmp.p);
      }
      puts_(o, " | ");
      if ((k->type == HP_T_INT || k->type == HP_T_FLOAT) && k->min <= k->max) {
        if (k->type == HP_T_INT) {
          int64_t lo, hi;
          int_bounds(k, &lo, &hi);
          putf(o, "%" PRId64 " to %" PRId64, lo, hi);
        } else {
          putf(o, "%g to %g", k->min, k->max);
        }
      } else if (k->type == HP_T_BOOL) {
        puts_(o, "`true`, `false`");
      } else if (k->choices) {
        if (k->type == HP_T_STRLIST) puts_(o, "items from ");
        put_choices_md(o, k->choices);
      } else if (k->type == HP_T_STRING && !k->def) {
        puts_(o, "non-empty");
      } else {
        puts_(o, "any");
      }
      puts_(o, " | ");
      put_cell(o, k->doc);
      puts_(o, " |\n");
    }
  }
}

void hp_config_print_doc(FILE *f) {
  sink o = {0};
  put_doc(&o);
  if (o.p) fputs(o.p, f);
  free(o.p);
}

const char *hp_config_suggest_word(const char *word, const char *const *cands, int n, char *buf, size_t bn) {
  int best = 1000;
  buf[0] = 0;
  for (int i = 0; i < n; i++) {
    int d = levenshtein(word, cands[i]);
    if (close_enough(d, strlen(word)) && d < best) {
      best = d;
      snprintf(buf, bn, " (did you mean '%s'?)", cands[i]);
    }
  }
  return buf;
}

void hp_config_print_keys(FILE *f, const char *const *prefixes) {
  for (int i = 0; i < hp_cfg_nkeys; i++) {
    const hp_cfg_key *k = &hp_cfg_keys[i];
    int sel = 0;
    for (int j = 0; prefixes && prefixes[j] && !sel; j++) sel = hp_config_prefix_selects(prefixes[j], k->key);
    if (!sel) continue;
    fprintf(f, "  %s (%s, default %s): %s\n", k->key, type_name(k->type),
            k->def ? (k->def[0] ? k->def : "empty") : "required", k->doc);
  }
}
