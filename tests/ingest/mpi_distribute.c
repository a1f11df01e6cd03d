/* mpi_distribute.c — parse on rank 0, broadcast, sharded decode + resize, report gathering:
 * the result must not depend on the number of ranks (run at 1, 2 and 3 ranks). Each rank
 * compares its slice with a serial reference it computes itself. */
#include "ingest_test.h"

#include <mpi.h>

#include "base/log.h"
#include "ingest/coco.h"
#include "ingest/distribute.h"
#include "ingest/fashion.h"
#include "ingest/util.h"

static int g_rank, g_size;

typedef int (*parse_fn)(const char *root, const hp_ingest_opts *o, hp_ingest_list *l,
                        hp_ingest_report *r);

static int parse_coco(const char *root, const hp_ingest_opts *o, hp_ingest_list *l,
                      hp_ingest_report *r) {
  return hp_coco_parse(root, "val2017", o, l, r);
}

/* Serial reference: decode every record in order, keep the good ones. */
typedef struct {
  int64_t n;
  int64_t *rec;     /* record index of good image k */
  uint8_t *images;  /* [n][S][S][3] */
} reference;

static void make_reference(const char *root, const hp_ingest_list *l,
                           const hp_ingest_image_opts *o, reference *ref) {
  size_t per = (size_t)(o->size * o->size * 3);
  ref->n = 0;
  ref->rec = calloc((size_t)l->n + 1, sizeof *ref->rec);
  ref->images = calloc((size_t)l->n * per + 1, 1);
  for (int64_t i = 0; i < l->n; i++) {
    char *p = NULL;
    assert_int_equal(hp_ingest_join(root, l->items[i].path, &p), 0);
    hp_image im;
    int e = hp_image_decode_file(p, &o->limits, &im);
    free(p);
    if (e) {
      assert_int_equal(e, HP_ERR_INPUT);
      hp_error_clear();
      continue;
    }
    assert_int_equal(hp_image_resize(&im, o->mode, o->size, ref->images + (size_t)ref->n * per), 0);
    hp_image_free(&im);
    ref->rec[ref->n++] = i;
  }
}

static void run_case(const char *fixture_dir, parse_fn parse, int64_t want_good,
                     const char *bad_path) {
  char root[8400];
  snprintf(root, sizeof root, "%s", fixture(fixture_dir));
  hp_ingest_opts po = {0, (size_t)1 << 20, 0}; /* no file check: missing images reach decoding */
  hp_ingest_list l;
  hp_ingest_report rep;
  hp_ingest_list_init(&l);
  hp_report_init(&rep);
  if (g_rank == 0) {
    if (parse(root, &po, &l, &rep)) fail_msg("%s", hp_error_message());
  }
  if (hp_ingest_list_bcast(MPI_COMM_WORLD, 0, &l)) fail_msg("%s", hp_error_message());
  /* every rank has the same list as a local parse */
  hp_ingest_list mine;
  hp_ingest_report r2;
  hp_ingest_list_init(&mine);
  hp_report_init(&r2);
  assert_int_equal(parse(root, &po, &mine, &r2), 0);
  assert_int_equal(l.n, mine.n);
  assert_int_equal(l.n_labels, mine.n_labels);
  assert_int_equal(l.n_captions, mine.n_captions);
  for (int64_t k = 0; k < l.n_labels; k++)
    assert_string_equal(l.label_names[k], mine.label_names[k]);
  for (int64_t i = 0; i < l.n; i++) {
    assert_string_equal(l.items[i].path, mine.items[i].path);
    assert_string_equal(l.items[i].source_id, mine.items[i].source_id);
    assert_int_equal(l.items[i].n_captions, mine.items[i].n_captions);
    for (int64_t c = 0; c < l.items[i].n_captions; c++)
      assert_string_equal(l.items[i].captions[c], mine.items[i].captions[c]);
    if (l.n_labels) assert_memory_equal(l.items[i].labels, mine.items[i].labels, l.n_labels);
  }

  hp_ingest_image_opts io = {.size = 16, .mode = HP_RESIZE_CENTER_CROP};
  hp_decode_limits_default(&io.limits);
  hp_ingest_shard sh;
  hp_ingest_report local;
  hp_report_init(&local);
  if (hp_ingest_decode_shard(MPI_COMM_WORLD, root, &l, &io, &sh, &local))
    fail_msg("%s", hp_error_message());
  assert_int_equal(sh.n_total, want_good);

  reference ref;
  make_reference(root, &l, &io, &ref);
  assert_int_equal(ref.n, want_good);
  size_t per = 16 * 16 * 3;
  int64_t ncap_before = 0;
  for (int64_t k = 0; k < sh.row0; k++) ncap_before += l.items[ref.rec[k]].n_captions;
  int64_t c = 0;
  for (int64_t k = 0; k < sh.n; k++) {
    const hp_ingest_item *it = &l.items[ref.rec[sh.row0 + k]];
    assert_string_equal(sh.source_id[k], it->source_id);
    assert_string_equal(sh.path[k], it->path);
    assert_memory_equal(sh.images + k * per, ref.images + (sh.row0 + k) * per, per);
    if (l.n_labels)
      assert_memory_equal(sh.labels + k * l.n_labels, it->labels, l.n_labels);
    for (int64_t j = 0; j < it->n_captions; j++, c++) {
      assert_string_equal(sh.captions[c], it->captions[j]);
      assert_int_equal(sh.caption_image[c], sh.row0 + k);
    }
  }
  assert_int_equal(c, sh.n_captions);
  int64_t tot_caps = 0;
  for (int64_t k = 0; k < ref.n; k++) tot_caps += l.items[ref.rec[k]].n_captions;
  assert_int_equal(sh.n_captions_total, tot_caps);
  (void)ncap_before;

  /* contiguous slices in rank order */
  int64_t mine2[2] = {sh.row0, sh.n}, *all = calloc((size_t)g_size * 2, sizeof *all);
  MPI_Allgather(mine2, 2, MPI_INT64_T, all, 2, MPI_INT64_T, MPI_COMM_WORLD);
  int64_t expect = 0;
  for (int q = 0; q < g_size; q++) {
    assert_int_equal(all[2 * q], expect);
    expect += all[2 * q + 1];
  }
  assert_int_equal(expect, want_good);
  free(all);

  /* gathered report on rank 0: exactly the one missing image */
  assert_int_equal(hp_report_gather(MPI_COMM_WORLD, 0, &local), 0);
  if (g_rank == 0) {
    assert_int_equal(local.n, 1);
    assert_string_equal(local.items[0].where, bad_path);
    assert_non_null(strstr(local.items[0].why, "cannot open"));
  }
  free(ref.rec);
  free(ref.images);
  hp_ingest_shard_free(&sh);
  hp_report_free(&local);
  hp_report_free(&rep);
  hp_report_free(&r2);
  hp_ingest_list_free(&l);
  hp_ingest_list_free(&mine);
}

static void test_coco(void **st) {
  (void)st;
  run_case("coco", parse_coco, 4, "val2017/000000900003.jpg");
}

static void test_fashion(void **st) {
  (void)st;
  run_case("fashion", hp_fashion_parse, 4, "images/999999.jpg");
}

static void test_pack_roundtrip(void **st) {
  (void)st;
  char root[8400];
  snprintf(root, sizeof root, "%s", fixture("coco"));
  hp_ingest_list l, u;
  hp_ingest_report r;
  hp_ingest_list_init(&l);
  hp_ingest_list_init(&u);
  hp_report_init(&r);
  assert_int_equal(hp_coco_parse(root, "val2017", NULL, &l, &r), 0);
  char *buf;
  size_t len;
  assert_int_equal(hp_ingest_list_pack(&l, &buf, &len), 0);
  assert_int_equal(hp_ingest_list_unpack(buf, len, &u), 0);
  assert_int_equal(u.n, l.n);
  assert_int_equal(u.n_captions, l.n_captions);
  assert_string_equal(u.items[3].captions[4], l.items[3].captions[4]);
  hp_ingest_list bad;
  hp_ingest_list_init(&bad);
  assert_int_equal(hp_ingest_list_unpack(buf, len - 1, &bad), HP_ERR_INTERNAL);
  hp_ingest_list_free(&bad);
  free(buf);
  hp_ingest_list_free(&l);
  hp_ingest_list_free(&u);
  hp_report_free(&r);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  hp_log_init(MPI_COMM_WORLD);
  hp_log_set_level(HP_LOG_QUIET);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pack_roundtrip),
      cmocka_unit_test(test_coco),
      cmocka_unit_test(test_fashion),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any ? 1 : 0;
}
