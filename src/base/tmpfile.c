/* tmpfile.c — the registry of temporary files to remove when the job fails (see tmpfile.h). */
#include "base/tmpfile.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HP_TMP_MAX 16

static char g_tmp[HP_TMP_MAX][1024];

void hp_tmpfile_register(const char *path) {
  for (int i = 0; i < HP_TMP_MAX; i++)
    if (!g_tmp[i][0]) {
      snprintf(g_tmp[i], sizeof g_tmp[i], "%s", path);
      return;
    }
}

void hp_tmpfile_unregister(const char *path) {
  for (int i = 0; i < HP_TMP_MAX; i++)
    if (g_tmp[i][0] && strcmp(g_tmp[i], path) == 0) g_tmp[i][0] = 0;
}

void hp_tmpfile_remove_all(void) {
  for (int i = 0; i < HP_TMP_MAX; i++)
    if (g_tmp[i][0]) {
      unlink(g_tmp[i]);
      g_tmp[i][0] = 0;
    }
}
