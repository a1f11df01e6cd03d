/* replay_main.c — main() for a fuzz harness built without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on every file named on the command line (a directory: on every
 * regular file in it, sorted). A crash, sanitizer report or hang fails the ctest that runs it;
 * a clean return prints "replayed N inputs". */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (n < 0) {
    fclose(f);
    return 1;
  }
  uint8_t *buf = malloc((size_t)n + 1);
  if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
    fprintf(stderr, "%s: read failed\n", path);
    fclose(f);
    free(buf);
    return 1;
  }
  fclose(f);
  fprintf(stderr, "replay %s (%ld bytes)\n", path, n);
  LLVMFuzzerTestOneInput(buf, (size_t)n);
  free(buf);
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  int count = 0, bad = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) continue; /* an absent regression folder is fine */
    if (!S_ISDIR(st.st_mode)) {
      bad |= run_file(argv[i]);
      count++;
      continue;
    }
    DIR *d = opendir(argv[i]);
    if (!d) continue;
    char **names = NULL;
    int nn = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
      if (e->d_name[0] == '.') continue;
      names = realloc(names, sizeof *names * (size_t)(nn + 1));
      names[nn] = malloc(strlen(argv[i]) + strlen(e->d_name) + 2);
      sprintf(names[nn], "%s/%s", argv[i], e->d_name);
      nn++;
    }
    closedir(d);
    if (nn) qsort(names, (size_t)nn, sizeof *names, cmp_str);
    for (int k = 0; k < nn; k++) {
      struct stat s2;
      if (stat(names[k], &s2) == 0 && S_ISREG(s2.st_mode)) {
        bad |= run_file(names[k]);
        count++;
      }
      free(names[k]);
    }
    free(names);
  }
  printf("replayed %d inputs\n", count);
  return bad;
}
