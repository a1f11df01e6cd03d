/* caption.c — the `caption` stage: captions for the images of caption.split from their CLIP
 * image embeddings through the decoder of caption_ckpt.h5 -> results.h5 /caption, caption.md.
 *
 * Two conditionings, side by side (the study, sections 3.4 and 4.4):
 *   (a) "direct": the image embedding itself replaces the caption embedding the decoder was
 *       trained on — the study's "simple switch", which failed;
 *   (b) "projected": the DeCap projection v_proj = sum_i w_i m_i, w_i = ReLU(m_i.v) / sum_k
 *       ReLU(m_k.v), over the support memory m = the caption embeddings of EVERY training-split
 *       caption (models/support_memory.h; memory rows sharded across the ranks, one allreduce
 *       per block of queries), L2-normalised when caption.renorm.
 * Decoding: greedy (caption.beam = 1) or beam search (models/decode.h); the prefix position
 * stands for the begin token, the padding id 0 is the end token, the unknown-word id is never
 * emitted. Scores: corpus BLEU-1..4 and CIDEr-D (metrics/caption_metrics.h) of each mode
 * against every reference caption of each image (full captions, not truncated to
 * data.caption_len; reference words outside the vocabulary get fresh ids, so they count as
 * words the decoder could not produce).
 *
 * Rank-count independence: the images are cut into global batches of caption.decode_batch;
 * each rank decodes a contiguous range of whole batches, so every batch meets the decoder
 * with the same composition whatever the rank count; the projection is bitwise identical for
 * any sharding of the memory (support_memory.h). Rank 0 gathers the captions and scores them:
 * results.h5 /caption and caption.md are identical at 1, 2, 3, ... ranks (the captions/s
 * figure sits in caption.md's timing block, which comparisons and `report` leave out).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/watchdog.h"
#include "comm/shard.h"
#include "io/check.h"
#include "io/checkpoint.h"
#include "io/dataset.h"
#include "metrics/caption_metrics.h"
#include "models/decode.h"
#include "models/support_memory.h"
#include "stages/markdown.h"
#include "stages/caption_common.h"
#include "stages/eval_common.h"
#include "text/tokenizer.h"

enum { MODE_DIRECT = 0, MODE_PROJECTED = 1, NMODES = 2 };
static const char *MODE_NAME[NMODES] = {"direct", "projected"};
static const char *MODE_DOC[NMODES] = {"(a) image embedding directly", "(b) support-memory projection"};

/* ---- the decoder as a decode.h callback -------------------------------------------------------- */
typedef struct {
  hp_capdec *m;
  const hp_params *p;
  const float *cond; /* [nb,E] this batch's conditioning vectors */
  float *rows;       /* [cap,E] per sequence */
  int E, V;
  int64_t cap;
} dec_ctx;

static int next_logits(void *arg, const int32_t *prefix, int max_len, int t, const int64_t *cond_index, int64_t nseq,
                       float *logits) {
  dec_ctx *c = arg;
  if (nseq > c->cap) HP_ERROR(HP_ERR_INTERNAL, "caption: %" PRId64 " sequences, capacity %" PRId64, nseq, c->cap);
  for (int64_t s = 0; s < nseq; s++)
    memcpy(c->rows + s * c->E, c->cond + cond_index[s] * c->E, (size_t)c->E * sizeof(float));
  const float *lg;
  /* position 0 is the prefix (the bos slot), positions 1..t-1 the tokens after bos */
  HP_CALL(hp_capdec_forward(c->m, c->p, c->rows, prefix + 1, max_len, (int)nseq, t, 1, NULL, &lg));
  memcpy(logits, lg, (size_t)nseq * (size_t)c->V * sizeof(float));
  return 0;
}

/* ---- output ------------------------------------------------------------------------------------ */
typedef struct {
  const char *split, *model, *decoder;
  int beam, renorm;
  double length_penalty, val_accuracy, seconds, rate;
  int64_t n, n_mem, n_refs, fallback, nex;
  double scores[NMODES][5];          /* BLEU-1..4, CIDEr-D */
  double *cider[NMODES];             /* [n] */
  int64_t *images;                   /* [n] */
  char **text[NMODES];               /* [n] generated captions */
  char **refs;                       /* [nex] references joined by " | " */
  int ranks;
} cap_out;

static int write_group(hp_results_w *w, void *arg) {
  cap_out *o = arg;
  HP_CALL(hp_results_attr_str(w, "split", o->split));
  HP_CALL(hp_results_attr_str(w, "decoder", o->decoder));
  HP_CALL(hp_results_attr_i64(w, "beam", o->beam));
  HP_CALL(hp_results_attr_f64(w, "length_penalty", o->length_penalty));
  HP_CALL(hp_results_attr_i64(w, "renorm", o->renorm));
  HP_CALL(hp_results_attr_i64(w, "n_images", o->n));
  HP_CALL(hp_results_attr_i64(w, "n_references", o->n_refs));
  HP_CALL(hp_results_attr_i64(w, "memory_size", o->n_mem));
  HP_CALL(hp_results_attr_i64(w, "projection_fallbacks", o->fallback));
  HP_CALL(hp_results_attr_f64(w, "decoder_val_token_accuracy", o->val_accuracy));
  HP_CALL(hp_results_attr_str(w, "scores_rows", "direct,projected"));
  HP_CALL(hp_results_attr_str(w, "scores_columns", "BLEU-1,BLEU-2,BLEU-3,BLEU-4,CIDEr-D"));
  int64_t d2[2] = {NMODES, 5};
  HP_CALL(hp_results_f64(w, "scores", 2, d2, &o->scores[0][0]));
  HP_CALL(hp_results_i64(w, "images", 1, &o->n, o->images));
  for (int k = 0; k < NMODES; k++) {
    char nm[64];
    snprintf(nm, sizeof nm, "cider_per_image/%s", MODE_NAME[k]);
    HP_CALL(hp_results_f64(w, nm, 1, &o->n, o->cider[k]));
    snprintf(nm, sizeof nm, "captions/%s", MODE_NAME[k]);
    HP_CALL(hp_results_strings(w, nm, o->n, (const char *const *)o->text[k]));
  }
  if (o->nex > 0) HP_CALL(hp_results_strings(w, "example_references", o->nex, (const char *const *)o->refs));
  return 0;
}

static void markdown(FILE *f, void *arg) {
  cap_out *o = arg;
  fprintf(f, "## Captioning (`caption`)\n\nDecoder `%s` (caption_ckpt.h5, validation token accuracy %.3f) on the "
          "embeddings of model `%s`; split `%s`: %" PRId64 " images scored against their %" PRId64
          " reference captions; %s decoding%s; support memory of the %" PRId64 " training-split caption embeddings%s"
          " (%" PRId64 " images without a positive similarity fell back to their own embedding).\n\n",
          o->decoder, o->val_accuracy, o->model, o->split, o->n, o->n_refs, o->beam > 1 ? "beam-search" : "greedy",
          o->beam > 1 ? "" : "", o->n_mem, o->renorm ? ", projection L2-normalised" : "", o->fallback);
  if (o->beam > 1) fprintf(f, "Beam width %d, length penalty %g.\n\n", o->beam, o->length_penalty);
  fprintf(f, "| conditioning | BLEU-1 | BLEU-2 | BLEU-3 | BLEU-4 | CIDEr-D |\n|---|---:|---:|---:|---:|---:|\n");
  for (int k = 0; k < NMODES; k++)
    fprintf(f, "| %s | %.4f | %.4f | %.4f | %.4f | %.4f |\n", MODE_DOC[k], o->scores[k][0], o->scores[k][1],
            o->scores[k][2], o->scores[k][3], o->scores[k][4]);
  fprintf(f, "\n");
  if (o->nex > 0) {
    fprintf(f, "Examples (the first %" PRId64 " images of the split):\n\n| image | (a) direct | (b) projected | "
            "references |\n|---:|---|---|---|\n", o->nex);
    for (int64_t i = 0; i < o->nex; i++) {
      fprintf(f, "| %" PRId64 " | ", o->images[i]);
      hp_md_text(f, o->text[0][i], 0);
      fprintf(f, " | ");
      hp_md_text(f, o->text[1][i], 0);
      fprintf(f, " | ");
      hp_md_text(f, o->refs[i], 0);
      fprintf(f, " |\n");
    }
    fprintf(f, "\n");
  }
  fprintf(f, "<!-- timing -->\nProjection and decoding of both modes: %.2f s on %d rank%s, %.1f captions/s.\n"
          "<!-- /timing -->\n\n", o->seconds, o->ranks, o->ranks > 1 ? "s" : "", o->rate);
}

/* ---- text ---------------------------------------------------------------------------------------- */
/* words of ids [0,len) joined by spaces (unknown ids as "[UNK]") */
static char *ids_text(const hp_vocab *v, const int32_t *ids, int len) {
  size_t n = 1;
  for (int i = 0; i < len; i++) {
    const char *w = hp_vocab_word(v, ids[i]);
    n += strlen(w ? w : HP_TOK_UNK_TEXT) + 1;
  }
  char *s = malloc(n);
  if (!s) return NULL;
  s[0] = 0;
  size_t k = 0;
  for (int i = 0; i < len; i++) {
    const char *w = hp_vocab_word(v, ids[i]);
    k += (size_t)sprintf(s + k, "%s%s", i ? " " : "", w ? w : HP_TOK_UNK_TEXT);
  }
  return s;
}

typedef struct {
  const hp_vocab *v;
  hp_wordcount *oov; /* OOV word -> fresh id + 1 (as its "count") */
  int64_t next;
  int32_t *buf;
  int64_t n, cap;
} ref_tok;

static int ref_word(const char *word, size_t len, void *arg) {
  ref_tok *r = arg;
  int32_t id = hp_vocab_lookup(r->v, word, len);
  if (id == HP_TOK_UNK) {
    int64_t have = hp_wordcount_get(r->oov, word, len);
    if (have == 0) {
      HP_CALL(hp_wordcount_add(r->oov, word, len, r->next + 1));
      have = r->next + 1;
      r->next++;
    }
    if (have - 1 > INT32_MAX) HP_ERROR(HP_ERR_MEM, "caption: too many distinct reference words");
    id = (int32_t)(have - 1);
  }
  if (r->n == r->cap) {
    int64_t nc = r->cap ? 2 * r->cap : 4096;
    int32_t *nb = realloc(r->buf, (size_t)nc * sizeof *nb);
    if (!nb) HP_ERROR(HP_ERR_MEM, "caption: reference tokens");
    r->buf = nb;
    r->cap = nc;
  }
  r->buf[r->n++] = id;
  return 0;
}

/* Rank 0: score both modes, fill o (texts, examples). toks [NMODES][n*T], lens [NMODES][n]. */
static int score(cap_out *o, const hp_vocab *v, char **texts, const int64_t *cap_first, const int64_t *cap_count,
                 int32_t *const *toks, int *const *lens, int T) {
  int64_t n = o->n;
  ref_tok r = {.v = v, .next = hp_vocab_size(v)};
  HP_CALL(hp_wordcount_create(&r.oov));
  int64_t *img_ref_off = NULL, *ref_off = NULL, *hyp_off = NULL;
  int32_t *hyp = NULL;
  int64_t nref = 0;
  for (int64_t i = 0; i < n; i++) nref += cap_count[o->images[i]];
  o->n_refs = nref;
  HP_CALLOC(img_ref_off, n + 1, "reference offsets");
  HP_CALLOC(ref_off, nref + 1, "reference offsets");
  HP_CALLOC(hyp_off, n + 1, "hypothesis offsets");
  HP_CALLOC(hyp, (size_t)n * T + 1, "hypotheses");
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t img = o->images[i];
    for (int64_t c = 0; c < cap_count[img]; c++) {
      HP_CALL(hp_tok_foreach_word(texts[cap_first[img] + c], ref_word, &r));
      ref_off[++k] = r.n;
    }
    img_ref_off[i + 1] = k;
  }
  for (int m = 0; m < NMODES; m++) {
    HP_CALLOC(o->cider[m], n > 0 ? n : 1, "per-image CIDEr-D");
    HP_CALLOC(o->text[m], n > 0 ? n : 1, "captions");
    int64_t h = 0;
    for (int64_t i = 0; i < n; i++) {
      const int32_t *t = toks[m] + i * T;
      for (int j = 0; j < lens[m][i]; j++) hyp[h++] = t[j] == HP_TOK_UNK ? -1 : t[j];
      hyp_off[i + 1] = h;
      o->text[m][i] = ids_text(v, t, lens[m][i]);
      if (!o->text[m][i]) HP_ERROR(HP_ERR_MEM, "caption text");
    }
    hp_caption_corpus c = {.n = n, .hyp = hyp, .hyp_off = hyp_off, .ref = r.buf ? r.buf : hyp, .ref_off = ref_off,
                           .img_ref_off = img_ref_off};
    double bleu[4], cider;
    HP_CALL(hp_bleu_corpus(&c, bleu));
    HP_CALL(hp_cider_d(&c, &cider, o->cider[m]));
    for (int q = 0; q < 4; q++) o->scores[m][q] = bleu[q];
    o->scores[m][4] = cider;
  }
  /* example references */
  if (o->nex > 0) HP_CALLOC(o->refs, o->nex, "example references");
  for (int64_t i = 0; i < o->nex; i++) {
    int64_t img = o->images[i];
    size_t len = 1;
    for (int64_t c = 0; c < cap_count[img]; c++) len += strlen(texts[cap_first[img] + c]) + 3;
    HP_CALLOC(o->refs[i], len, "example references");
    for (int64_t c = 0; c < cap_count[img]; c++) {
      char *norm = NULL;
      HP_CALL(hp_tok_normalize(texts[cap_first[img] + c], &norm));
      strcat(strcat(o->refs[i], c ? " | " : ""), norm);
      free(norm);
    }
  }
  hp_wordcount_free(r.oov);
  free(r.buf);
  free(img_ref_off);
  free(ref_off);
  free(hyp_off);
  free(hyp);
  return 0;
}

/* ---- the stage ----------------------------------------------------------------------------------- */
static int read_vocab(hp_dataset *ds, int64_t V, const char *dpath, hp_vocab **out) {
  char **words = NULL;
  HP_CALL(hp_dataset_read_strings(ds, "vocab", 0, V, &words));
  int e = hp_vocab_from_words((const char *const *)words, V, out);
  hp_strings_free(words, V);
  if (e) HP_ERROR(e, "%s: /vocab: %s", dpath, hp_error_message());
  return 0;
}

/* The decoder of cpath (shape from the config, V words, E-dimensional conditioning, T tokens)
 * -> *m, *p; desc[ndesc] its description. Its training state must name the embeddings of em
 * (fingerprint) and the vocabulary of the dataset; -> *val_accuracy (NAN when not recorded). */
static int load_decoder(hp_stage_ctx *ctx, const hp_embeddings *em, const hp_vocab *vocab, int64_t V, int64_t E, int T,
                        const char *epath, const char *dpath, const char *cpath, hp_capdec *m, hp_params *p,
                        char *desc, size_t ndesc, double *val_accuracy) {
  hp_capdec_config dc;
  hp_caption_decoder_config(ctx->cfg, (int)V, (int)E, T, &dc);
  hp_params_init(p);
  HP_CALL(hp_capdec_build(m, &dc, p));
  HP_CALL(hp_params_alloc_data(p)); /* decoding only: no gradient buffer */
  hp_capdec_describe(&dc, desc, ndesc);
  hp_ckpt_info info;
  HP_CALL(hp_ckpt_read(ctx->comm, cpath, desc, p, NULL, NULL, &info));
  char efp[64] = "";
  const char *s = strstr(info.state, "embeddings_fingerprint=");
  if (s) sscanf(s + strlen("embeddings_fingerprint="), "%63[0-9a-f]", efp);
  if (strcmp(efp, em->fingerprint) != 0)
    HP_ERROR(HP_ERR_INPUT, "%s: decoder trained on embeddings %s, but %s is %s (fingerprint mismatch): rerun "
             "caption-train", cpath, efp[0] ? efp : "(none)", epath, em->fingerprint);
  int same = info.n_vocab == V;
  for (int64_t i = 0; same && i < V; i++) same = strcmp(info.vocab[i], hp_vocab_word(vocab, i)) == 0;
  if (!same)
    HP_ERROR(HP_ERR_INPUT, "%s: /vocab (%" PRId64 " words) is not the vocabulary of %s (%" PRId64
             " words): the decoder predicts another vocabulary; rerun caption-train", cpath, info.n_vocab, dpath, V);
  s = strstr(info.state, "val_accuracy=");
  *val_accuracy = s ? strtod(s + strlen("val_accuracy="), NULL) : NAN;
  hp_ckpt_info_free(&info);
  return 0;
}

/* which images are evaluated and which captions form the support memory (every rank) */
typedef struct {
  uint8_t *sp;                               /* [N] image split */
  int64_t *cap_image, *cap_first, *cap_count; /* [M] caption -> image; [N] its first caption, count */
  int64_t *memcaps;                          /* [n_mem] the training-split captions */
} cap_links;

static void links_free(cap_links *l) {
  free(l->memcaps);
  free(l->sp);
  free(l->cap_image);
  free(l->cap_first);
  free(l->cap_count);
}

/* The splits and caption links of em (N images, M captions) -> l; o->n, o->images: the images
 * of split `split`; o->n_mem: the training-split captions (l->memcaps); o->nex: the examples. */
static int read_links(hp_embeddings *em, int64_t N, int64_t M, int split, int64_t nex_want, const char *epath,
                      cap_out *o, cap_links *l) {
  uint8_t *sp = NULL;
  int64_t *cap_image = NULL, *cap_first = NULL, *cap_count = NULL;
  HP_CALLOC(sp, N, "image split");
  HP_CALLOC(cap_image, M, "caption image");
  HP_CALLOC(cap_first, N, "first caption");
  HP_CALLOC(cap_count, N, "caption count");
  *l = (cap_links){.sp = sp, .cap_image = cap_image, .cap_first = cap_first, .cap_count = cap_count};
  HP_CALL(hp_embeddings_read_split(em, 0, N, sp));
  HP_CALL(hp_embeddings_read_caption_image(em, cap_image));
  for (int64_t c = M - 1; c >= 0; c--) {
    cap_first[cap_image[c]] = c;
    cap_count[cap_image[c]]++;
  }
  /* scored = the split's images with reference captions; those without (format folder) have
   * nothing to be scored against */
  int64_t n = 0, n_mem = 0, bare = 0;
  for (int64_t i = 0; i < N; i++) n += sp[i] == split && cap_count[i] > 0, bare += sp[i] == split && !cap_count[i];
  for (int64_t c = 0; c < M; c++) n_mem += sp[cap_image[c]] == 0;
  if (n == 0 && bare > 0)
    HP_ERROR(HP_ERR_INPUT, "%s: none of the %lld images in the '%s' split (caption.split) has a caption: captioning "
             "is scored against an image's own captions (set caption.split to a split with captions, e.g. val)", epath,
             (long long)bare, o->split);
  if (n == 0) HP_ERROR(HP_ERR_INPUT, "%s: no images in the '%s' split (caption.split)", epath, o->split);
  if (bare > 0)
    hp_log_info("caption: %lld images of the '%s' split have no caption to score against and are left out", (long long)bare,
                o->split);
  if (n_mem == 0)
    HP_ERROR(HP_ERR_INPUT, "%s: no training-split captions: the support memory (mode b) would be empty", epath);
  o->n = n;
  o->n_mem = n_mem;
  o->nex = nex_want < n ? nex_want : n;
  HP_CALLOC(o->images, n, "evaluated images");
  int64_t *memcaps = NULL;
  HP_CALLOC(memcaps, n_mem, "support memory captions");
  l->memcaps = memcaps;
  for (int64_t i = 0, k = 0; i < N; i++)
    if (sp[i] == split && cap_count[i] > 0) o->images[k++] = i;
  for (int64_t c = 0, k = 0; c < M; c++)
    if (sp[cap_image[c]] == 0) memcaps[k++] = c;
  return 0;
}

/* The conditioning vectors of both modes, on every rank: q[MODE_DIRECT] = the evaluated images'
 * embeddings, q[MODE_PROJECTED] = their projection through the support memory (this rank's
 * block of memcaps read from em); *tproj_out = the projection's time (max over the ranks). */
static int condition_vectors(hp_stage_ctx *ctx, hp_embeddings *em, cap_out *o, const int64_t *memcaps, int64_t N,
                             int64_t E, float **q, double *tproj_out) {
  const int64_t n = o->n, n_mem = o->n_mem;
  /* queries: every evaluated image's embedding, on every rank */
  float *all = NULL;
  HP_CALLOC(all, (size_t)N * E, "image embeddings");
  HP_CALL(hp_embeddings_read_images(em, 0, N, all));
  for (int k = 0; k < NMODES; k++) HP_CALLOC(q[k], (size_t)n * E, "conditioning vectors");
  for (int64_t i = 0; i < n; i++) memcpy(q[0] + i * E, all + o->images[i] * E, (size_t)E * sizeof(float));
  free(all);
  /* this rank's block of the support memory: the covering caption range, then compacted */
  int64_t a, cnt;
  hp_shard_range(n_mem, ctx->size, ctx->rank, &a, &cnt);
  int64_t c0 = cnt > 0 ? memcaps[a] : 0, cn = cnt > 0 ? memcaps[a + cnt - 1] - c0 + 1 : 0;
  float *mem = NULL;
  HP_CALLOC(mem, (size_t)(cn > 0 ? cn : 1) * E, "support memory");
  HP_CALL(hp_embeddings_read_captions(em, c0, cn, mem));
  for (int64_t j = 0; j < cnt; j++)
    if (memcaps[a + j] - c0 != j) memmove(mem + j * E, mem + (memcaps[a + j] - c0) * E, (size_t)E * sizeof(float));
  HP_MPI(MPI_Barrier(ctx->comm));
  double t0 = hp_now();
  HP_CALL(hp_support_project(ctx->comm, mem, cnt, (int)E, q[0], n, o->renorm, q[1], &o->fallback));
  double tproj = hp_now() - t0;
  HP_MPI(MPI_Allreduce(MPI_IN_PLACE, &tproj, 1, MPI_DOUBLE, MPI_MAX, ctx->comm));
  free(mem);
  hp_log_info("caption: %" PRId64 " '%s' images projected through a support memory of %" PRId64
              " training captions in %.2f s (%" PRId64 " without a positive similarity)", n, o->split, n_mem,
              tproj, o->fallback);
  *tproj_out = tproj;
  return 0;
}

/* This rank's images [*i0, *i0 + *nl): its whole batches of db of the n images. */
static void decode_range(const hp_stage_ctx *ctx, int64_t n, int64_t db, int64_t *i0_out, int64_t *i1_out,
                         int64_t *nl_out) {
  hp_shard_batches(n, db, ctx->size, ctx->rank, i0_out, nl_out, NULL);
  *i1_out = *i0_out + *nl_out;
}

/* Both modes: this rank's batches of q[k] through the decoder m, p (V words, T tokens, E wide)
 * -> toks[k] [n,T], lens[k] [n] (allocated for all n; this rank's rows filled); timings -> the
 * log and o->seconds, o->rate (tproj: the projection's time, counted in mode (b)). */
static int decode_modes(hp_stage_ctx *ctx, cap_out *o, hp_capdec *m, const hp_params *p, float *const *q, int64_t db,
                        int T, int64_t V, int64_t E, double tproj, int32_t **toks, int **lens) {
  const int64_t n = o->n;
  int64_t i0, i1, nl;
  decode_range(ctx, n, db, &i0, &i1, &nl);
  (void)nl;
  for (int k = 0; k < NMODES; k++) {
    HP_CALLOC(toks[k], (size_t)n * T, "captions");
    HP_CALLOC(lens[k], n, "caption lengths");
  }
  int64_t cap = db * o->beam;
  HP_CALL(hp_capdec_alloc_decode(m, (int)cap, NULL));
  dec_ctx dx = {.m = m, .p = p, .E = (int)E, .V = (int)V, .cap = cap};
  HP_CALLOC(dx.rows, (size_t)cap * E, "decoder conditioning rows");
  hp_decode_opts opts = {.beam = o->beam, .max_len = T, .bos = HP_TOK_PAD, .eos = HP_TOK_PAD,
                         .forbid = {HP_TOK_UNK}, .nforbid = 1, .length_penalty = (float)o->length_penalty};
  double tmode[NMODES];
  for (int k = 0; k < NMODES; k++) {
    HP_MPI(MPI_Barrier(ctx->comm));
    double t0 = hp_now();
    int err = 0;
    for (int64_t i = i0; i < i1 && !err; i += db) {
      int64_t nb = i1 - i < db ? i1 - i : db;
      dx.cond = q[k] + i * E;
      hp_watch_doing("decoding a batch of captions");
      err = hp_decode(next_logits, &dx, nb, (int)V, &opts, toks[k] + i * T, lens[k] + i, NULL);
    }
    HP_CALL(hp_agree(ctx->comm, err));
    double dt = hp_now() - t0;
    HP_MPI(MPI_Allreduce(&dt, &tmode[k], 1, MPI_DOUBLE, MPI_MAX, ctx->comm));
    /* mode (b) includes its share of the projection (done once for all images above) */
    double tk = tmode[k] + (k == MODE_PROJECTED ? tproj : 0.0);
    hp_log_info("caption: mode %s: %" PRId64 " captions (%s) in %.2f s%s: %.1f captions/s on %d rank%s", MODE_DOC[k],
                n, o->beam > 1 ? "beam search" : "greedy", tk, k == MODE_PROJECTED ? " including the projection" : "",
                tk > 0 ? (double)n / tk : 0.0, ctx->size, ctx->size > 1 ? "s" : "");
  }
  o->seconds = tmode[0] + tmode[1] + tproj;
  hp_stage_rate(ctx, "captions decoded (both modes)", (double)(NMODES * n), o->seconds);
  o->rate = o->seconds > 0 ? (double)(NMODES * n) / o->seconds : 0.0;
  free(dx.rows);
  return 0;
}

/* Collective: every rank's decoded rows of toks[k], lens[k] (whole batches of db) to rank 0. */
static int gather_captions(hp_stage_ctx *ctx, int64_t n, int64_t db, int T, int32_t **toks, int **lens) {
  int64_t i0, i1, nl;
  decode_range(ctx, n, db, &i0, &i1, &nl);
  int *rc = NULL, *rd = NULL, *tc = NULL, *td = NULL;
  HP_CALLOC(rc, ctx->size, "gather counts");
  HP_CALLOC(rd, ctx->size, "gather counts");
  HP_CALLOC(tc, ctx->size, "gather counts");
  HP_CALLOC(td, ctx->size, "gather counts");
  for (int r = 0; r < ctx->size; r++) {
    int64_t a0, an;
    hp_shard_batches(n, db, ctx->size, r, &a0, &an, NULL);
    int64_t a1 = a0 + an;
    if ((a1 - a0) * T > INT32_MAX || n * T > INT32_MAX) HP_ERROR(HP_ERR_MEM, "caption: gather above 2^31 tokens");
    rc[r] = (int)(a1 - a0);
    rd[r] = (int)a0;
    tc[r] = (int)((a1 - a0) * T);
    td[r] = (int)(a0 * T);
  }
  for (int k = 0; k < NMODES; k++) {
    if (ctx->rank == 0) {
      HP_MPI(MPI_Gatherv(MPI_IN_PLACE, 0, MPI_INT32_T, toks[k], tc, td, MPI_INT32_T, 0, ctx->comm));
      HP_MPI(MPI_Gatherv(MPI_IN_PLACE, 0, MPI_INT, lens[k], rc, rd, MPI_INT, 0, ctx->comm));
    } else {
      HP_MPI(MPI_Gatherv(toks[k] + i0 * T, (int)(nl * T), MPI_INT32_T, NULL, NULL, NULL, MPI_INT32_T, 0, ctx->comm));
      HP_MPI(MPI_Gatherv(lens[k] + i0, (int)nl, MPI_INT, NULL, NULL, NULL, MPI_INT, 0, ctx->comm));
    }
  }
  free(rc);
  free(rd);
  free(tc);
  free(td);
  return 0;
}

/* what score() filled in o (rank 0) */
static void cap_out_free(cap_out *o) {
  for (int k = 0; k < NMODES; k++) {
    free(o->cider[k]);
    if (o->text[k])
      for (int64_t i = 0; i < o->n; i++) free(o->text[k][i]);
    free(o->text[k]);
  }
  if (o->refs)
    for (int64_t i = 0; i < o->nex; i++) free(o->refs[i]);
  free(o->refs);
  free(o->images);
}

/* Collective. On rank 0, texts [M] holds the texts of the captions of the scored images
 * (o->images) and NULL elsewhere: the table is read in blocks, so rank 0 never holds every
 * caption's text (at COCO size the scored test split has 15 % of them). */
static int read_references(hp_stage_ctx *ctx, hp_dataset *ds, int64_t M, const cap_out *o, const cap_links *l,
                           char ***out) {
  enum { BLOCK = 65536 };
  const int root = ctx->rank == 0;
  char **texts = NULL;
  uint8_t *want = NULL;
  if (root) {
    HP_CALLOC(texts, M > 0 ? M : 1, "reference caption texts");
    HP_CALLOC(want, M > 0 ? M : 1, "scored captions");
    for (int64_t i = 0; i < o->n; i++)
      for (int64_t c = 0; c < l->cap_count[o->images[i]]; c++) want[l->cap_first[o->images[i]] + c] = 1;
  }
  *out = texts;
  for (int64_t k0 = 0; k0 < M; k0 += BLOCK) {
    int64_t n = M - k0 < BLOCK ? M - k0 : BLOCK;
    char **blk = NULL;
    int e = hp_dataset_read_strings(ds, "captions/text", root ? k0 : 0, root ? n : 0, &blk);
    for (int64_t j = 0; root && !e && j < n; j++)
      if (want[k0 + j]) {
        texts[k0 + j] = blk[j];
        blk[j] = NULL;
      }
    hp_strings_free(blk, root && !e ? n : 0);
    if (e) free(want);
    HP_CALL(e);
  }
  free(want);
  return 0;
}

int hp_stage_caption(hp_stage_ctx *ctx) {
  hp_config *cfg = ctx->cfg;
  char epath[4096], dpath[4096], cpath[4096];
  HP_CALL(hp_run_path(ctx, HP_FILE_EMBEDDINGS, epath, sizeof epath));
  HP_CALL(hp_run_path(ctx, HP_FILE_DATASET, dpath, sizeof dpath));
  HP_CALL(hp_run_path(ctx, HP_FILE_CAPTION_CKPT, cpath, sizeof cpath));
  cap_out o;
  memset(&o, 0, sizeof o);
  o.split = hp_cfg_str(cfg, "caption.split");
  o.beam = (int)hp_cfg_int(cfg, "caption.beam");
  o.length_penalty = hp_cfg_float(cfg, "caption.length_penalty");
  o.renorm = hp_cfg_bool(cfg, "caption.renorm");
  o.ranks = ctx->size;
  int64_t db = hp_cfg_int(cfg, "caption.decode_batch"), nex_want = hp_cfg_int(cfg, "caption.examples");
  const int T = (int)hp_cfg_int(cfg, "data.caption_len");
  int split = hp_eval_split_code(o.split);

  hp_embeddings em;
  HP_CALL(hp_embeddings_open(ctx->comm, epath, &em));
  o.model = em.model;
  hp_dataset *ds = NULL;
  HP_CALL(hp_dataset_open(ctx->comm, dpath, &ds));
  hp_dataset_dims dims = hp_dataset_get_dims(ds);
  HP_CALL(hp_caption_check_inputs(ctx, &em, epath, dims.n_captions));
  if (dims.n_vocab < 2)
    HP_ERROR(HP_ERR_INPUT, "%s: /vocab: missing; captioning needs the dataset's vocabulary", dpath);
  hp_vocab *vocab = NULL;
  HP_CALL(read_vocab(ds, dims.n_vocab, dpath, &vocab));
  const int64_t N = em.n_images, M = em.n_captions, E = em.embed_dim, V = dims.n_vocab;

  /* the decoder */
  hp_params p;
  hp_capdec m;
  char desc[256];
  HP_CALL(load_decoder(ctx, &em, vocab, V, E, T, epath, dpath, cpath, &m, &p, desc, sizeof desc, &o.val_accuracy));
  o.decoder = desc;

  /* splits and caption links (every rank) */
  cap_links l = {0};
  HP_CALL(read_links(&em, N, M, split, nex_want, epath, &o, &l));
  /* conditioning vectors: (a) the image embeddings, (b) their support-memory projection */
  float *q[NMODES] = {NULL, NULL};
  double tproj = 0;
  HP_CALL(condition_vectors(ctx, &em, &o, l.memcaps, N, E, q, &tproj));
  /* decode this rank's whole batches, then gather to rank 0 */
  int32_t *toks[NMODES] = {NULL, NULL};
  int *lens[NMODES] = {NULL, NULL};
  HP_CALL(decode_modes(ctx, &o, &m, &p, q, db, T, V, E, tproj, toks, lens));
  HP_CALL(gather_captions(ctx, o.n, db, T, toks, lens));
  /* references: the texts of the scored images' captions (rank 0), then scoring on rank 0 */
  char **texts = NULL;
  HP_CALL(read_references(ctx, ds, M, &o, &l, &texts));
  int err = ctx->rank == 0 ? score(&o, vocab, texts, l.cap_first, l.cap_count, toks, lens, T) : 0;
  HP_CALL(hp_agree_root(ctx->comm, err));
  if (ctx->rank == 0)
    for (int k = 0; k < NMODES; k++)
      hp_log_info("caption: %s: BLEU-1 %.4f BLEU-2 %.4f BLEU-3 %.4f BLEU-4 %.4f CIDEr-D %.4f", MODE_DOC[k],
                  o.scores[k][0], o.scores[k][1], o.scores[k][2], o.scores[k][3], o.scores[k][4]);
  HP_CALL(hp_eval_write_results(ctx, "caption", &em, write_group, &o));
  HP_CALL(hp_eval_write_markdown(ctx, HP_FILE_STAGE_MD("caption"), markdown, &o));

  hp_strings_free(texts, ctx->rank == 0 ? M : 0);
  for (int k = 0; k < NMODES; k++) {
    free(toks[k]);
    free(lens[k]);
    free(q[k]);
  }
  cap_out_free(&o);
  links_free(&l);
  hp_capdec_free(&m);
  hp_params_free(&p);
  hp_vocab_free(vocab);
  hp_dataset_close(ds);
  hp_embeddings_close(&em);
  return 0;
}
