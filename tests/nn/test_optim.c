/* test_optim.c — AdamW and SGD (+ nesterov) trajectories against torch.optim with param
 * groups, the L2 kernel penalty and global-norm clipping (fixture models/optim.bin from
 * tests/fixtures/make_model_fixtures.py); the RMSprop trajectory against torch.optim.RMSprop
 * (alpha 0.9, eps 1e-7, coupled weight decay on the matrix group; fixture models/rmsprop.bin
 * from tests/fixtures/make_caption_fixtures.py); slice updates equal whole-buffer updates bitwise;
 * learning-rate schedule values. Both fixtures hold the same three tensors. */
#include "../models/models_test.h"
#include "nn/optim.h"

static const char *TN[3] = {"w", "b", "k"};

/* w [4,5] DECAY, b [7] none, k [3,6] DECAY|L2 (alignment gaps between them); L2 matters only
 * where a test calls hp_optim_add_l2 */
static void build(hp_params *p, const mfix *fx) {
  hp_params_init(p);
  assert_int_equal(hp_params_add(p, "w", 2, (int[]){4, 5}, HP_PARAM_DECAY, NULL), 0);
  assert_int_equal(hp_params_add(p, "b", 1, (int[]){7}, 0, NULL), 0);
  assert_int_equal(hp_params_add(p, "k", 2, (int[]){3, 6}, HP_PARAM_DECAY | HP_PARAM_L2, NULL), 0);
  assert_int_equal(hp_params_alloc(p), 0);
  for (int i = 0; i < 3; i++) {
    char nm[32];
    snprintf(nm, sizeof nm, "init.%s", TN[i]);
    memcpy(p->data + p->t[i].offset, mfix_f(fx, nm, p->t[i].numel), p->t[i].numel * sizeof(float));
  }
}

static void load_grad(hp_params *p, const mfix *fx, int t) {
  for (int i = 0; i < 3; i++) {
    char nm[32];
    snprintf(nm, sizeof nm, "g%d.%s", t, TN[i]);
    memcpy(p->grad + p->t[i].offset, mfix_f(fx, nm, p->t[i].numel), p->t[i].numel * sizeof(float));
  }
}

/* the weights after step t against the fixture's TAG.wT.<tensor>; returns the worst error */
static double check_weights(const hp_params *p, const mfix *fx, const char *tag, int t) {
  double worst = 0.0;
  for (int i = 0; i < 3; i++) {
    char nm[64];
    snprintf(nm, sizeof nm, "%s.w%d.%s", tag, t, TN[i]);
    double e = max_rel_err(p->data + p->t[i].offset, mfix_f(fx, nm, p->t[i].numel), p->t[i].numel);
    if (e > worst) worst = e;
    if (!(e <= HP_TOL_REF)) fail_msg("%s: max relative error %.3e", nm, e);
  }
  return worst;
}

static void run_case(const mfix *fx, const char *tag, const hp_optim_config *cfg) {
  int steps = mfix_int(fx, "steps");
  float max_norm = mfix_f(fx, "max_norm", 1)[0];
  const float *lr = mfix_f(fx, "lr", (size_t)steps);
  char nm[64];
  snprintf(nm, sizeof nm, "%s.norm", tag);
  const float *norms = mfix_f(fx, nm, (size_t)steps);
  hp_params p;
  build(&p, fx);
  hp_optim o;
  assert_int_equal(hp_optim_init(&o, cfg, &p, 0, p.total), 0);
  assert_int_equal(o.nr, 3); /* alignment gaps keep the three tensors apart */
  double worst = 0.0, worst_n = 0.0;
  for (int t = 0; t < steps; t++) {
    load_grad(&p, fx, t);
    hp_optim_add_l2(&o, p.data, p.grad);
    double norm = sqrt(hp_optim_sqnorm(&o, p.grad));
    double en = fabs(norm - norms[t]) / norms[t];
    if (en > worst_n) worst_n = en;
    hp_optim_step(&o, p.data, p.grad, lr[t], hp_clip_scale(norm, max_norm));
    worst = fmax(worst, check_weights(&p, fx, tag, t));
  }
  printf("  %-10s %d steps: weights err %.3e, grad norm err %.3e (tol %.0e)\n", tag, steps, worst,
         worst_n, HP_TOL_REF);
  assert_true(worst_n <= HP_TOL_REF);
  hp_optim_free(&o);
  hp_params_free(&p);
}

static void test_optim_torch(void **state) {
  (void)state;
  mfix *fx = mfix_load("optim");
  float lam = mfix_f(fx, "lambda", 1)[0];
  hp_optim_config c;
  hp_optim_config_adamw(&c);
  c.weight_decay = 0.1f;
  c.l2 = lam;
  run_case(fx, "adamw", &c);
  hp_optim_config_sgd(&c);
  c.momentum = 0.9f;
  c.dampening = 0.1f;
  c.weight_decay = 0.05f;
  c.l2 = lam;
  run_case(fx, "sgd", &c);
  c.dampening = 0.0f;
  c.nesterov = 1;
  run_case(fx, "nesterov", &c);
  mfix_free(fx);
}

static void test_rmsprop_torch(void **state) {
  (void)state;
  mfix *fx = mfix_load("rmsprop");
  int steps = mfix_int(fx, "steps");
  const float *lr = mfix_f(fx, "lr", (size_t)steps);
  hp_optim_config c;
  hp_optim_config_rmsprop(&c);
  assert_true(c.alpha == 0.9f && c.eps == 1e-7f && c.weight_decay == 0.0f);
  c.weight_decay = 0.05f;
  hp_params p;
  build(&p, fx);
  hp_optim o;
  assert_int_equal(hp_optim_init(&o, &c, &p, 0, p.total), 0);
  double worst = 0.0;
  for (int t = 0; t < steps; t++) {
    load_grad(&p, fx, t);
    hp_optim_step(&o, p.data, p.grad, lr[t], 1.0f);
    worst = fmax(worst, check_weights(&p, fx, "rmsprop", t));
  }
  printf("  rmsprop %d steps: weights err %.3e (tol %.0e)\n", steps, worst, HP_TOL_REF);
  hp_optim_free(&o);
  hp_params_free(&p);
  mfix_free(fx);
}

/* Two optimisers over [0,cut) and [cut,total) — cut inside a tensor — give exactly the same
 * weights as one over the whole buffer (AdamW, SGD, RMSprop); the slice squared norms add up. */
static void test_optim_slices(void **state) {
  (void)state;
  mfix *fx = mfix_load("optim");
  for (int kind = 0; kind < 3; kind++) {
    hp_optim_config c;
    if (kind == 2) {
      hp_optim_config_rmsprop(&c);
      c.weight_decay = 0.05f; /* as the caption decoder's matrices */
    } else if (kind) {
      hp_optim_config_sgd(&c);
    } else {
      hp_optim_config_adamw(&c);
    }
    hp_params pa, pb;
    build(&pa, fx);
    build(&pb, fx);
    size_t cut = pa.t[2].offset + 7;
    hp_optim whole, s0, s1;
    assert_int_equal(hp_optim_init(&whole, &c, &pa, 0, pa.total), 0);
    assert_int_equal(hp_optim_init(&s0, &c, &pb, 0, cut), 0);
    assert_int_equal(hp_optim_init(&s1, &c, &pb, cut, pb.total), 0);
    for (int t = 0; t < 4; t++) {
      load_grad(&pa, fx, t);
      load_grad(&pb, fx, t);
      hp_optim_add_l2(&whole, pa.data, pa.grad);
      hp_optim_add_l2(&s0, pb.data, pb.grad);
      hp_optim_add_l2(&s1, pb.data + cut, pb.grad + cut);
      double nw = hp_optim_sqnorm(&whole, pa.grad);
      double ns = hp_optim_sqnorm(&s0, pb.grad) + hp_optim_sqnorm(&s1, pb.grad + cut);
      assert_true(fabs(nw - ns) <= 1e-12 * nw);
      float sc = hp_clip_scale(sqrt(nw), 1.5f);
      hp_optim_step(&whole, pa.data, pa.grad, 0.01f, sc);
      hp_optim_step(&s0, pb.data, pb.grad, 0.01f, sc);
      hp_optim_step(&s1, pb.data + cut, pb.grad + cut, 0.01f, sc);
      assert_memory_equal(pa.data, pb.data, pa.total * sizeof(float));
    }
    hp_optim_free(&whole);
    hp_optim_free(&s0);
    hp_optim_free(&s1);
    hp_params_free(&pa);
    hp_params_free(&pb);
  }
  mfix_free(fx);
}

/* L2 penalty: gradient 2*lambda*w on HP_PARAM_L2 only; loss lambda*sum(w^2); BUFFER tensors
 * and alignment gaps are never touched. */
static void test_optim_l2_and_buffers(void **state) {
  (void)state;
  hp_params p;
  hp_params_init(&p);
  size_t ok, ob, ol;
  assert_int_equal(hp_params_add(&p, "k", 1, (int[]){5}, HP_PARAM_L2, &ok), 0);
  assert_int_equal(hp_params_add(&p, "running_mean", 1, (int[]){3}, HP_PARAM_BUFFER, &ob), 0);
  assert_int_equal(hp_params_add(&p, "x", 1, (int[]){4}, HP_PARAM_DECAY, &ol), 0);
  assert_int_equal(hp_params_alloc(&p), 0);
  for (size_t i = 0; i < p.total; i++) {
    p.data[i] = 1.0f + (float)i;
    p.grad[i] = 0.5f;
  }
  hp_optim_config c;
  hp_optim_config_adamw(&c);
  hp_optim o;
  assert_int_equal(hp_optim_init(&o, &c, &p, 0, p.total), 0);
  double l = hp_optim_l2_loss(&o, p.data), ref = 0;
  for (int i = 0; i < 5; i++) ref += (1.0 + i) * (1.0 + i);
  assert_true(fabs(l - 1e-3 * ref) < 1e-6 * l);
  hp_optim_add_l2(&o, p.data, p.grad);
  assert_true(fabsf(p.grad[ok + 2] - (0.5f + 2e-3f * 3.0f)) < 1e-7f);
  assert_true(p.grad[ol] == 0.5f);
  float *before = fcopy(p.data, p.total);
  hp_optim_step(&o, p.data, p.grad, 0.1f, 1.0f);
  for (int i = 0; i < 3; i++) assert_true(p.data[ob + i] == before[ob + i]);
  for (size_t i = ok + 5; i < ob; i++) assert_true(p.data[i] == before[i]); /* gap */
  assert_true(p.data[ol] != before[ol]);
  free(before);
  hp_optim_free(&o);
  hp_params_free(&p);
}

static void test_lr_schedules(void **state) {
  (void)state;
  hp_lr_schedule s = {.kind = HP_LR_CONSTANT, .base = 1e-5f};
  assert_true(hp_lr_at(&s, 0) == 1e-5f && hp_lr_at(&s, 123456) == 1e-5f);
  s = (hp_lr_schedule){.kind = HP_LR_WARMUP_COSINE, .base = 1e-3f, .warmup = 10, .total = 110, .floor = 1e-5f};
  const struct { int64_t step; double lr; } v[] = {
      {0, 1e-4}, {4, 5e-4}, {9, 1e-3}, {10, 1e-3}, {35, 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + cos(3.141592653589793 * 0.25))},
      {60, 1e-5 + (1e-3 - 1e-5) * 0.5}, {110, 1e-5}, {500, 1e-5}};
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    float lr = hp_lr_at(&s, v[i].step);
    if (fabs(lr - v[i].lr) > 1e-6 * v[i].lr) fail_msg("step %ld: lr %.9g, expected %.9g", (long)v[i].step, lr, v[i].lr);
  }
  /* no warm-up: starts at base */
  s.warmup = 0;
  assert_true(fabsf(hp_lr_at(&s, 0) - 1e-3f) < 1e-9f);
  /* clip scale: torch semantics */
  assert_true(hp_clip_scale(1.0, 0.0f) == 1.0f);
  assert_true(hp_clip_scale(0.5, 1.0f) == 1.0f);
  assert_true(fabsf(hp_clip_scale(4.0, 1.0f) - 0.25f) < 1e-6f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_optim_torch),
      cmocka_unit_test(test_rmsprop_torch),
      cmocka_unit_test(test_optim_slices),
      cmocka_unit_test(test_optim_l2_and_buffers),
      cmocka_unit_test(test_lr_schedules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
