/* TEMPORARY stub so the skeleton links; replaced by src/config/config.c + keys.c. */
#include "config/config.h"
#include "base/error.h"
#include <stdlib.h>
struct hp_config { int x; };
const hp_cfg_key hp_cfg_keys[] = {{"run.dir", HP_T_STRING, NULL, 0, -1, NULL, "run directory"}};
const int hp_cfg_nkeys = 1;
int hp_config_load(const char *path, int n, const char *const *o, hp_config **out) { (void)path;(void)n;(void)o; *out = calloc(1, sizeof **out); return 0; }
void hp_config_free(hp_config *cfg) { free(cfg); }
int hp_config_set(hp_config *cfg, const char *key, const char *value) { (void)cfg;(void)key;(void)value; return 0; }
int64_t hp_cfg_int(const hp_config *c, const char *k) { (void)c;(void)k; return 0; }
double hp_cfg_float(const hp_config *c, const char *k) { (void)c;(void)k; return 0; }
int hp_cfg_bool(const hp_config *c, const char *k) { (void)c;(void)k; return 0; }
const char *hp_cfg_str(const hp_config *c, const char *k) { (void)c;(void)k; return "runs/x"; }
int hp_cfg_list_len(const hp_config *c, const char *k) { (void)c;(void)k; return 0; }
const char *hp_cfg_list_str(const hp_config *c, const char *k, int i) { (void)c;(void)k;(void)i; return ""; }
int hp_cfg_is_set(const hp_config *c, const char *k) { (void)c;(void)k; return 0; }
const char *hp_config_path(const hp_config *c) { (void)c; return "(none)"; }
int hp_config_dump(const hp_config *c, char **t) { (void)c; *t = calloc(1,1); return 0; }
uint64_t hp_config_fingerprint(const hp_config *c, const char *const *p) { (void)c;(void)p; return 0; }
void hp_config_print_doc(FILE *f) { (void)f; }
