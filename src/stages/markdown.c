/* markdown.c — see markdown.h. */
#include "stages/markdown.h"

#include <string.h>

void hp_md_text(FILE *f, const char *s, size_t max) {
  size_t i = 0;
  for (; s[i] && (max == 0 || i < max); i++) {
    if (s[i] == '|') fputs("\\|", f);
    else if (s[i] == '\\') fputs("\\\\", f);
    else if (s[i] == '<') fputs("&lt;", f);
    else if (s[i] == '\n' || s[i] == '\r') fputc(' ', f);
    else fputc(s[i], f);
  }
  if (s[i]) fputs("…", f);
}

const char *hp_md_flag(double value, double chance) { return chance > 0 && value <= 2.0 * chance ? " ⚠" : ""; }

double hp_chance_hit_at_k(int64_t n, int64_t rel, int64_t k) {
  if (n <= 0 || rel <= 0 || k <= 0) return 0.0;
  if (k >= n - rel + 1) return 1.0;
  double miss = 1.0; /* C(n - rel, k) / C(n, k) = prod_{j<rel} (n - k - j) / (n - j) */
  for (int64_t j = 0; j < rel; j++) miss *= (double)(n - k - j) / (double)(n - j);
  return 1.0 - miss;
}
