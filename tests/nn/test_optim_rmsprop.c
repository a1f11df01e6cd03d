/* test_optim_rmsprop.c — RMSprop trajectory against torch.optim.RMSprop (alpha 0.9, eps 1e-7,
 * coupled weight decay on the matrix group; fixture models/rmsprop.bin from
 * scripts/make_caption_fixtures.py); slice updates equal whole-buffer updates bitwise. */
#include "../models/models_test.h"
#include "nn/optim.h"

static const char *TN[3] = {"w", "b", "k"};

static void build(hp_params *p, const mfix *fx) {
  hp_params_init(p);
  assert_int_equal(hp_params_add(p, "w", 2, (int[]){4, 5}, HP_PARAM_DECAY, NULL), 0);
  assert_int_equal(hp_params_add(p, "b", 1, (int[]){7}, 0, NULL), 0);
  assert_int_equal(hp_params_add(p, "k", 2, (int[]){3, 6}, HP_PARAM_DECAY, NULL), 0);
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
  char nm[64];
  for (int t = 0; t < steps; t++) {
    load_grad(&p, fx, t);
    hp_optim_step(&o, p.data, p.grad, lr[t], 1.0f);
    for (int i = 0; i < 3; i++) {
      snprintf(nm, sizeof nm, "rmsprop.w%d.%s", t, TN[i]);
      double e = max_rel_err(p.data + p.t[i].offset, mfix_f(fx, nm, p.t[i].numel), p.t[i].numel);
      if (e > worst) worst = e;
      if (!(e <= HP_TOL_REF)) fail_msg("%s: max relative error %.3e", nm, e);
    }
  }
  printf("  rmsprop %d steps: weights err %.3e (tol %.0e)\n", steps, worst, HP_TOL_REF);
  hp_optim_free(&o);
  hp_params_free(&p);
  /* two slices, the cut inside a tensor, give the same bits as the whole buffer */
  hp_params pa, pb;
  build(&pa, fx);
  build(&pb, fx);
  size_t cut = pa.t[0].offset + 7;
  hp_optim whole, s0, s1;
  assert_int_equal(hp_optim_init(&whole, &c, &pa, 0, pa.total), 0);
  assert_int_equal(hp_optim_init(&s0, &c, &pb, 0, cut), 0);
  assert_int_equal(hp_optim_init(&s1, &c, &pb, cut, pb.total), 0);
  for (int t = 0; t < steps; t++) {
    load_grad(&pa, fx, t);
    load_grad(&pb, fx, t);
    hp_optim_step(&whole, pa.data, pa.grad, 0.01f, 0.5f);
    hp_optim_step(&s0, pb.data, pb.grad, 0.01f, 0.5f);
    hp_optim_step(&s1, pb.data + cut, pb.grad + cut, 0.01f, 0.5f);
  }
  assert_memory_equal(pa.data, pb.data, pa.total * sizeof(float));
  hp_optim_free(&whole);
  hp_optim_free(&s0);
  hp_optim_free(&s1);
  hp_params_free(&pa);
  hp_params_free(&pb);
  mfix_free(fx);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_rmsprop_torch)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
