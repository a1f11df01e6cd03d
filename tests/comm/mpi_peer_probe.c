/* mpi_peer_probe.c — liveness probes outside MPI at 1, 2, 3 ranks: every rank answers while
 * all run; a rank that stops answering (its responder closed, as a frozen or dead process
 * would be) is named with its host by every other rank; one rank has nobody to probe. */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <mpi.h>

#include "comm/peer_probe.h"

static void test_probe(void **s) {
  (void)s;
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char msg[1024];
  assert_int_equal(hp_peer_probe_start(MPI_COMM_WORLD), 0);
  assert_int_equal(hp_peer_probe_start(MPI_COMM_WORLD), 0); /* idempotent */
  if (size == 1) {
    assert_int_equal(hp_peer_probe_report(msg, sizeof msg, 0.5), -1);
    hp_peer_probe_stop();
    return;
  }
  char host[64] = {0};
  gethostname(host, sizeof host - 1);
  assert_string_equal(hp_peer_probe_host(), host);
  /* all alive */
  int silent = hp_peer_probe_report(msg, sizeof msg, 2.0);
  if (silent != 0) fail_msg("rank %d: %d silent: %s", rank, silent, msg);
  char want[128];
  snprintf(want, sizeof want, "all %d other ranks answer", size - 1);
  if (!strstr(msg, want)) fail_msg("rank %d: '%s' lacks '%s'", rank, msg, want);
  MPI_Barrier(MPI_COMM_WORLD);
  /* the last rank stops answering */
  int last = size - 1;
  if (rank == last) hp_peer_probe_stop();
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank != last) {
    silent = hp_peer_probe_report(msg, sizeof msg, 1.0);
    assert_int_equal(silent, 1);
    snprintf(want, sizeof want, ": rank %d on %s", last, host);
    if (!strstr(msg, want)) fail_msg("rank %d: '%s' lacks '%s'", rank, msg, want);
    snprintf(want, sizeof want, "1 of %d other ranks did not answer a probe within 1 s", size - 1);
    if (!strstr(msg, want)) fail_msg("rank %d: '%s' lacks '%s'", rank, msg, want);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank != last) hp_peer_probe_stop();
  /* stopped: no probing */
  assert_int_equal(hp_peer_probe_report(msg, sizeof msg, 0.5), -1);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_probe)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  MPI_Finalize();
  return rc;
}
