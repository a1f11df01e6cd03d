/* tool_tokenize.c — the pretrained tokenizers on a JSON list of texts, for the comparison with
 * the Python reference implementations (tests/text/cli_pretrained_tokenizers.sh).
 *
 *   tool_tokenize wordpiece VOCAB.txt LOWERCASE STRIP_ACCENTS L TEXTS.json OUT.json
 *   tool_tokenize bpe MERGES[.gz] L TEXTS.json OUT.json
 *
 * OUT.json: [{"ids": [...all token ids...], "enc": [...the L ids of the fixed-length encoding...]}, ...].
 * A setup error (a bad vocabulary or merges file) prints the message and exits 4. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "text/bpe.h"
#include "text/lines.h"
#include "text/wordpiece.h"

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  if (b) b[n] = 0;
  fclose(f);
  return b;
}

static cJSON *ids_json(const int32_t *ids, int64_t n) {
  cJSON *a = cJSON_CreateArray();
  for (int64_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(ids[i]));
  return a;
}

static int fail(void) {
  fprintf(stderr, "%s\n", hp_error_message());
  return 4;
}

int main(int argc, char **argv) {
  int wp = argc == 8 && strcmp(argv[1], "wordpiece") == 0, bp = argc == 6 && strcmp(argv[1], "bpe") == 0;
  if (!wp && !bp) {
    fprintf(stderr, "usage: %s wordpiece VOCAB LOWER STRIP L IN.json OUT.json | bpe MERGES L IN.json OUT.json\n", argv[0]);
    return 2;
  }
  hp_wordpiece *w = NULL;
  hp_bpe *b = NULL;
  char **lines = NULL;
  int64_t nl = 0, L;
  const char *in, *out;
  if (wp) {
    hp_wordpiece_opts o = {atoi(argv[3]), atoi(argv[4]), 100};
    L = atoll(argv[5]);
    in = argv[6], out = argv[7];
    if (hp_wordpiece_read_vocab(argv[2], &lines, &nl) || hp_wordpiece_create((const char *const *)lines, nl, &o, argv[2], &w))
      return fail();
  } else {
    L = atoll(argv[3]);
    in = argv[4], out = argv[5];
    if (hp_bpe_read_merges(argv[2], &lines, &nl) || hp_bpe_create((const char *const *)lines, nl, argv[2], &b))
      return fail();
  }
  hp_text_free_lines(lines, nl);
  char *text = slurp(in);
  cJSON *texts = text ? cJSON_Parse(text) : NULL;
  free(text);
  if (!cJSON_IsArray(texts)) {
    fprintf(stderr, "%s: not a JSON list\n", in);
    return 2;
  }
  cJSON *res = cJSON_CreateArray();
  int32_t *enc = malloc((size_t)L * sizeof *enc);
  int n = cJSON_GetArraySize(texts);
  for (int i = 0; i < n; i++) {
    const char *t = cJSON_GetStringValue(cJSON_GetArrayItem(texts, i));
    int32_t *ids = NULL;
    int64_t k = 0, kk = 0;
    int e = wp ? hp_wordpiece_tokenize(w, t, &ids, &k) : hp_bpe_tokenize(b, t, &ids, &k);
    if (!e) e = wp ? hp_wordpiece_encode(w, t, L, enc, &kk) : hp_bpe_encode(b, t, L, enc, &kk);
    if (e) return fail();
    if (kk != k) {
      fprintf(stderr, "text %d: %lld tokens, the encoder counted %lld\n", i, (long long)k, (long long)kk);
      return 3;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "ids", ids_json(ids, k));
    cJSON_AddItemToObject(o, "enc", ids_json(enc, L));
    cJSON_AddItemToArray(res, o);
    free(ids);
  }
  char *s = cJSON_PrintUnformatted(res);
  FILE *f = fopen(out, "w");
  if (!f || fputs(s, f) == EOF || fclose(f) != 0) {
    fprintf(stderr, "%s: cannot write\n", out);
    return 2;
  }
  free(s);
  free(enc);
  cJSON_Delete(res);
  cJSON_Delete(texts);
  hp_wordpiece_free(w);
  hp_bpe_free(b);
  return 0;
}
