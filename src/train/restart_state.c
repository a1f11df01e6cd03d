/* restart_state.c — the trainers' restart files (see restart_state.h). */
#include "train/restart_state.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "config/config.h"
#include "io/check.h"

int hp_restart_init(hp_restart *r, const hp_config *cfg) {
  HP_CALL(hp_config_dump(cfg, &r->config_text));
  r->nhist = 0;
  HP_CALLOC(r->hist_train, r->max_epochs + 1, "loss history");
  HP_CALLOC(r->hist_val, r->max_epochs + 1, "loss history");
  HP_CALLOC(r->hist_tm, r->max_epochs + 1, "metric history");
  HP_CALLOC(r->hist_vm, r->max_epochs + 1, "metric history");
  HP_CALLOC(r->hist_lr, r->max_epochs + 1, "learning-rate history");
  return 0;
}

void hp_restart_free(hp_restart *r) {
  free(r->config_text);
  free(r->hist_train);
  free(r->hist_val);
  free(r->hist_tm);
  free(r->hist_vm);
  free(r->hist_lr);
  r->config_text = NULL;
  r->hist_train = r->hist_val = r->hist_tm = r->hist_vm = r->hist_lr = NULL;
}

int hp_restart_find(hp_restart *r, int *found) {
  *found = 0;
  int exists = r->rank == 0 ? access(r->path_state, F_OK) == 0 : 0;
  HP_MPI(MPI_Bcast(&exists, 1, MPI_INT, 0, r->comm));
  if (!exists) return 0;
  char fp[64] = "";
  HP_CALL(hp_h5_root_attr(r->comm, r->path_state, "fingerprint", fp, sizeof fp));
  if (strcmp(fp, r->fingerprint) != 0) {
    hp_log_info("%s: %s is from another configuration or %s (fingerprint %s, this run %s): starting afresh",
                r->stage, r->path_state, r->inputs, fp, r->fingerprint);
    return 0;
  }
  *found = 1;
  return 0;
}

int hp_restart_get(const hp_restart *r, const char *text, const char *key, int is_double, void *out) {
  const char *path = r->path_state;
  char pat[64];
  snprintf(pat, sizeof pat, "%s=", key);
  const char *p = text;
  size_t kl = strlen(pat);
  while ((p = strstr(p, pat)) && p != text && p[-1] != ' ') p += kl;
  if (!p) HP_ERROR(HP_ERR_INPUT, "%s: state attribute has no '%s' (\"%.200s\")", path, key, text);
  char *end;
  errno = 0;
  if (is_double)
    *(double *)out = strtod(p + kl, &end);
  else
    *(int64_t *)out = strtoll(p + kl, &end, 10);
  if (errno || end == p + kl || (*end && *end != ' '))
    HP_ERROR(HP_ERR_INPUT, "%s: state attribute: bad value of '%s'", path, key);
  return 0;
}

int hp_restart_history(hp_restart *r, const hp_ckpt_info *info, int64_t epoch) {
  if (info->n_history != epoch || epoch > r->max_epochs)
    HP_ERROR(HP_ERR_INPUT, "%s: /history holds %" PRId64 " epochs, the state says %" PRId64, r->path_state,
             info->n_history, epoch);
  r->nhist = info->n_history;
  for (int64_t e = 0; e < r->nhist; e++) {
    r->hist_train[e] = info->train_loss[e];
    r->hist_val[e] = info->val_loss[e];
    /* states written before these curves existed: unknown */
    r->hist_tm[e] = info->train_metric ? info->train_metric[e] : NAN;
    r->hist_vm[e] = info->val_metric ? info->val_metric[e] : NAN;
    r->hist_lr[e] = info->lr ? info->lr[e] : NAN;
  }
  return 0;
}

void hp_restart_record(hp_restart *r, int64_t e, double train_loss, double val_loss, double train_metric,
                       double val_metric, double lr) {
  r->hist_train[e] = train_loss;
  r->hist_val[e] = val_loss;
  r->hist_tm[e] = train_metric;
  r->hist_vm[e] = val_metric;
  r->hist_lr[e] = lr;
  r->nhist = e + 1;
}

int hp_restart_read_best(hp_restart *r, hp_params *p, float *best) {
  size_t n = p->total;
  float *cur = NULL;
  HP_CALLOC(cur, n, "parameters (restart)");
  memcpy(cur, p->data, n * sizeof(float));
  hp_ckpt_info info;
  HP_CALL(hp_ckpt_read(r->comm, r->path_best, r->model, p, NULL, NULL, &info));
  hp_ckpt_info_free(&info);
  memcpy(best, p->data, n * sizeof(float));
  memcpy(p->data, cur, n * sizeof(float));
  free(cur);
  return 0;
}

static int any_finite(const double *v, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (isfinite(v[i])) return 1;
  return 0;
}

int hp_restart_write(const hp_restart *r, const char *path, const hp_params *p, int64_t step, int64_t epoch,
                     const char *state, const float *m, const float *v, int with_history) {
  int64_t n_vocab = 0;
  char spec[128];
  hp_tokenizer_spec_format(hp_tokenizer_get_spec(r->tokenizer), spec, sizeof spec);
  hp_ckpt_meta meta = {
      .step = step,
      .epoch = epoch,
      .model = r->model,
      .state = state,
      .config_text = r->config_text,
      .fingerprint = r->fingerprint,
      .optimizer = r->optimizer,
      .m = m,
      .v = v,
      .vocab = hp_tokenizer_entries(r->tokenizer, &n_vocab),
      .tokenizer = spec,
      .n_history = with_history ? r->nhist : 0,
      .train_loss = r->hist_train,
      .val_loss = r->hist_val,
      .train_metric = any_finite(r->hist_tm, r->nhist) ? r->hist_tm : NULL, /* a model without the figure: none */
      .val_metric = any_finite(r->hist_vm, r->nhist) ? r->hist_vm : NULL,
      .lr = any_finite(r->hist_lr, r->nhist) ? r->hist_lr : NULL,
  };
  meta.n_vocab = n_vocab;
  HP_CALL(hp_ckpt_write(r->comm, path, p, &meta));
  return 0;
}

void hp_restart_remove(const hp_restart *r, int state_too) {
  if (r->rank != 0) return;
  if (unlink(r->path_best) != 0 && errno != ENOENT) hp_log_warn("cannot remove %s: %s", r->path_best, strerror(errno));
  if (state_too && unlink(r->path_state) != 0 && errno != ENOENT)
    hp_log_warn("cannot remove %s: %s", r->path_state, strerror(errno));
}
