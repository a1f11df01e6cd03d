/* config.h — a job's configuration: libconfig files validated against one key table.
 *
 * Every key hpclip understands is one row of the table in config/keys.c: dotted path, type,
 * default, range or choices, one-line doc. Loading validates every key of the file and of the
 * `-s path.to.key=value` overrides (unknown keys with a "did you mean", wrong types, values out
 * of range, missing required keys) and reports `file:line: key: what is wrong` before any work
 * starts. After a successful load every table key has a value (its default where not given),
 * so the getters below cannot fail; asking for a key the table lacks is a programming error
 * (abort with an internal error message).
 */
#ifndef HP_CONFIG_CONFIG_H
#define HP_CONFIG_CONFIG_H

#include <stdint.h>
#include <stdio.h>

typedef enum {
  HP_T_INT,     /* 64-bit integer */
  HP_T_FLOAT,   /* double; integers accepted */
  HP_T_BOOL,    /* true/false */
  HP_T_STRING,  /* any string */
  HP_T_ENUM,    /* string from a fixed list of choices */
  HP_T_STRLIST  /* list/array of strings, e.g. ["synth", "train"]; items may be checked against choices */
} hp_cfg_type;

typedef struct {
  const char *key;      /* dotted path, e.g. "synth.num_images" */
  hp_cfg_type type;
  const char *def;      /* default as text ("64", "0.7", "true", "quickstart", "synth,train");
                           NULL = required */
  double min, max;      /* inclusive range for INT/FLOAT (ignored when min > max) */
  const char *choices;  /* "a|b|c" for ENUM and STRLIST items; NULL = any */
  const char *doc;      /* one line */
} hp_cfg_key;

/* The table (config/keys.c). */
extern const hp_cfg_key hp_cfg_keys[];
extern const int hp_cfg_nkeys;

typedef struct hp_config hp_config;

/* Load and validate `path` (NULL = no file: defaults plus overrides only) with overrides
 * "key=value" applied in order. On failure returns HP_ERR_CONFIG with the message
 * "FILE:LINE: KEY: reason" (or "-s KEY=VALUE: reason" for an override). */
int hp_config_load(const char *path, int noverrides, const char *const *overrides, hp_config **out);
/* The same against another key table (tests, tools). The table must outlive the config; it is
 * checked first (unique paths, valid defaults, ...): a bad table is HP_ERR_INTERNAL. */
int hp_config_load_keys(const hp_cfg_key *keys, int nkeys, const char *path, int noverrides,
                        const char *const *overrides, hp_config **out);
void hp_config_free(hp_config *cfg);

/* Set one key after loading (validated like -s; used for --run-dir). */
int hp_config_set(hp_config *cfg, const char *key, const char *value);

/* Getters: the validated value or the default. */
int64_t hp_cfg_int(const hp_config *cfg, const char *key);
double hp_cfg_float(const hp_config *cfg, const char *key);
int hp_cfg_bool(const hp_config *cfg, const char *key);
const char *hp_cfg_str(const hp_config *cfg, const char *key); /* STRING and ENUM */
int hp_cfg_list_len(const hp_config *cfg, const char *key);
const char *hp_cfg_list_str(const hp_config *cfg, const char *key, int i);
/* 1 if the key was given in the file or by an override (not just its default). */
int hp_cfg_is_set(const hp_config *cfg, const char *key);
const char *hp_config_path(const hp_config *cfg); /* the file it came from, or "(none)" */

/* The effective configuration as libconfig text: every table key with its value, grouped,
 * sorted by key. Stored as an attribute in every output file. Caller frees. */
int hp_config_dump(const hp_config *cfg, char **text);

/* Fingerprint (64-bit FNV-1a over the dumped "key = value" lines) of the keys whose path
 * starts with one of the given prefixes, e.g. {"run.seed", "data.", "synth.", NULL}. */
/* A prefix ending in '.' selects a group ("data."), one ending in '_' every key that starts with
 * it ("caption.train_" is caption.train_lr, caption.train_batch, ...); any other selects that key
 * exactly, or the group of that name ("run.seed" is only run.seed). prefixes == NULL selects
 * every key. */
uint64_t hp_config_fingerprint(const hp_config *cfg, const char *const *prefixes);
int hp_config_prefix_selects(const char *prefix, const char *key);

/* Markdown reference of the whole table (`hpclip config --doc`, docs/config.md). */
void hp_config_print_doc(FILE *f);

/* Plain-text lines "  key (type, default D): doc" of the table keys that `prefixes` select
 * (hp_config_prefix_selects; NULL-terminated), for `hpclip STAGE --help`. */
void hp_config_print_keys(FILE *f, const char *const *prefixes);

/* " (did you mean 'x'?)" for the candidate closest to `word` (case-insensitive edit distance,
 * close relative to the word's length), or "" when none is close. Written into buf. */
const char *hp_config_suggest_word(const char *word, const char *const *cands, int n, char *buf, size_t bn);

#endif
