/* harness.c — see harness.h. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[256];

static void rm_tree(const char *dir) {
  char cmd[512];
  /* our own mkdtemp directory, a fixed prefix: nothing else can be named */
  if (strncmp(dir, "/tmp/hpclip-fuzz.", 17) != 0) return;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", dir);
}

static void at_exit(void) {
  rm_tree(g_dir);
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin) MPI_Finalize();
}

const char *hp_fuzz_dir(void) {
  if (g_dir[0]) return g_dir;
  int init = 0;
  MPI_Initialized(&init);
  if (!init) {
    int argc = 0;
    char **argv = NULL;
    MPI_Init(&argc, &argv);
  }
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  snprintf(g_dir, sizeof g_dir, "/tmp/hpclip-fuzz.XXXXXX");
  if (!mkdtemp(g_dir)) {
    perror("fuzz: mkdtemp");
    abort();
  }
  atexit(at_exit);
  return g_dir;
}

const char *hp_fuzz_write(const char *rel, const void *data, size_t size) {
  static char path[1024];
  snprintf(path, sizeof path, "%s/%s", hp_fuzz_dir(), rel);
  for (char *p = path + strlen(g_dir) + 1; (p = strchr(p, '/')) != NULL; p++) {
    *p = 0;
    mkdir(path, 0700);
    *p = '/';
  }
  FILE *f = fopen(path, "wb");
  if (!f) return NULL;
  int ok = size == 0 || fwrite(data, 1, size, f) == size;
  if (fclose(f) != 0) ok = 0;
  return ok ? path : NULL;
}

void hp_fuzz_unlink(const char *rel) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", hp_fuzz_dir(), rel);
  unlink(path);
}
