/* tokenizer.c — normalisation, word counts, vocabulary, encode/decode (see tokenizer.h). */
#include "text/tokenizer.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"

/* ---- normalisation -------------------------------------------------------------------------- */

static inline int is_word_byte(unsigned char c) {
  return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int hp_tok_foreach_word(const char *text, hp_tok_word_fn fn, void *arg) {
  if (!text) return 0;
  size_t cap = 64, len = 0;
  char *buf = NULL;
  HP_CALLOC(buf, cap, "tokenizer word buffer");
  int rc = 0;
  for (const unsigned char *p = (const unsigned char *)text;; p++) {
    unsigned char c = *p;
    if (c == '\'') continue; /* deleted inside a word: "don't" -> "dont" */
    if (c && is_word_byte(c)) {
      if (len + 1 >= cap) {
        /* Grow geometrically: a word may be as long as the whole text. */
        if (cap > SIZE_MAX / 2) {
          free(buf);
          HP_ERROR(HP_ERR_MEM, "tokenizer: word too long");
        }
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
          free(buf);
          HP_ERROR(HP_ERR_MEM, "tokenizer: cannot grow word buffer to %zu bytes", cap * 2);
        }
        buf = nb;
        cap *= 2;
      }
      buf[len++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : (char)c;
      continue;
    }
    if (len) {
      buf[len] = 0;
      rc = fn(buf, len, arg);
      len = 0;
      if (rc) break;
    }
    if (!c) break;
  }
  free(buf);
  if (rc) return hp_error_trace(rc, __FILE__, __LINE__, __func__);
  return 0;
}

typedef struct {
  char *s;
  size_t len, cap;
} strbuf;

static int sb_append(strbuf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 64;
    while (nc < b->len + n + 1) {
      if (nc > SIZE_MAX / 2) HP_ERROR(HP_ERR_MEM, "tokenizer: text too long");
      nc *= 2;
    }
    char *p = realloc(b->s, nc);
    if (!p) HP_ERROR(HP_ERR_MEM, "tokenizer: cannot grow text buffer to %zu bytes", nc);
    b->s = p;
    b->cap = nc;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = 0;
  return 0;
}

static int normalize_word(const char *w, size_t len, void *arg) {
  strbuf *b = arg;
  if (b->len) HP_CALL(sb_append(b, " ", 1));
  HP_CALL(sb_append(b, w, len));
  return 0;
}

int hp_tok_normalize(const char *text, char **out) {
  strbuf b = {0};
  *out = NULL;
  HP_CALL(sb_append(&b, "", 0));
  int rc = hp_tok_foreach_word(text, normalize_word, &b);
  if (rc) {
    free(b.s);
    return hp_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  *out = b.s;
  return 0;
}

/* ---- word -> int64 hash map (open addressing, linear probing) ------------------------------- */

typedef struct {
  char *w; /* NULL = empty slot */
  size_t len;
  uint64_t h;
  int64_t val;
} wc_entry;

struct hp_wordcount {
  wc_entry *slots;
  size_t cap, n; /* cap is a power of two, n <= cap / 2 */
};

static uint64_t word_hash(const char *w, size_t len) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)w[i]) * 0x100000001b3ULL;
  return hp_mix64(h ^ len);
}

int hp_wordcount_create(hp_wordcount **out) {
  hp_wordcount *wc = NULL;
  *out = NULL;
  HP_CALLOC(wc, 1, "word count map");
  wc->cap = 64;
  wc->slots = NULL;
  int rc = hp_calloc_((void **)&wc->slots, wc->cap, sizeof *wc->slots, "word count slots", __FILE__,
                      __LINE__, __func__);
  if (rc) {
    free(wc);
    return rc;
  }
  *out = wc;
  return 0;
}

void hp_wordcount_free(hp_wordcount *wc) {
  if (!wc) return;
  for (size_t i = 0; i < wc->cap; i++) free(wc->slots[i].w);
  free(wc->slots);
  free(wc);
}

static wc_entry *wc_find(const hp_wordcount *wc, const char *w, size_t len, uint64_t h) {
  size_t mask = wc->cap - 1;
  for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    wc_entry *e = &wc->slots[i];
    if (!e->w) return e;
    if (e->h == h && e->len == len && memcmp(e->w, w, len) == 0) return e;
  }
}

static int wc_grow(hp_wordcount *wc) {
  if (wc->cap > SIZE_MAX / 2 / sizeof(wc_entry)) HP_ERROR(HP_ERR_MEM, "word count map too large");
  size_t ncap = wc->cap * 2;
  wc_entry *ns = NULL;
  HP_CALLOC(ns, ncap, "word count slots");
  for (size_t i = 0; i < wc->cap; i++) {
    wc_entry *e = &wc->slots[i];
    if (!e->w) continue;
    for (size_t j = (size_t)e->h & (ncap - 1);; j = (j + 1) & (ncap - 1))
      if (!ns[j].w) {
        ns[j] = *e;
        break;
      }
  }
  free(wc->slots);
  wc->slots = ns;
  wc->cap = ncap;
  return 0;
}

/* Insert (or find) a word; *e points at its entry. */
static int wc_upsert(hp_wordcount *wc, const char *w, size_t len, wc_entry **e) {
  uint64_t h = word_hash(w, len);
  wc_entry *s = wc_find(wc, w, len, h);
  if (!s->w) {
    if (wc->n + 1 > wc->cap / 2) {
      HP_CALL(wc_grow(wc));
      s = wc_find(wc, w, len, h);
    }
    char *copy = NULL;
    HP_CALLOC(copy, len + 1, "word");
    memcpy(copy, w, len);
    s->w = copy;
    s->len = len;
    s->h = h;
    s->val = 0;
    wc->n++;
  }
  *e = s;
  return 0;
}

int hp_wordcount_add(hp_wordcount *wc, const char *word, size_t len, int64_t n) {
  if (len == 0) return 0;
  wc_entry *e;
  HP_CALL(wc_upsert(wc, word, len, &e));
  if (n > INT64_MAX - e->val) HP_ERROR(HP_ERR_NUMERIC, "word count overflow");
  e->val += n;
  return 0;
}

static int count_word(const char *w, size_t len, void *arg) {
  HP_CALL(hp_wordcount_add((hp_wordcount *)arg, w, len, 1));
  return 0;
}

int hp_wordcount_add_text(hp_wordcount *wc, const char *text) {
  HP_CALL(hp_tok_foreach_word(text, count_word, wc));
  return 0;
}

int64_t hp_wordcount_distinct(const hp_wordcount *wc) { return (int64_t)wc->n; }

int64_t hp_wordcount_get(const hp_wordcount *wc, const char *word, size_t len) {
  if (len == 0) return 0;
  wc_entry *e = wc_find(wc, word, len, word_hash(word, len));
  return e->w ? e->val : 0;
}

/* ---- ranking -------------------------------------------------------------------------------- */

typedef struct {
  const char *w;
  size_t len;
  int64_t count;
} ranked;

static int word_cmp(const char *a, size_t la, const char *b, size_t lb) {
  int c = memcmp(a, b, la < lb ? la : lb);
  if (c) return c;
  return la < lb ? -1 : la > lb;
}

/* Count descending, then byte order ascending: a total order since words are distinct. */
static int ranked_cmp(const void *pa, const void *pb) {
  const ranked *a = pa, *b = pb;
  if (a->count != b->count) return a->count > b->count ? -1 : 1;
  return word_cmp(a->w, a->len, b->w, b->len);
}

/* The words with a positive count, best first; the array points into wc. */
static int wc_ranked(const hp_wordcount *wc, ranked **out, size_t *n) {
  ranked *r = NULL;
  HP_CALLOC(r, wc->n, "ranked words");
  size_t k = 0;
  for (size_t i = 0; i < wc->cap; i++)
    if (wc->slots[i].w && wc->slots[i].val > 0)
      r[k++] = (ranked){wc->slots[i].w, wc->slots[i].len, wc->slots[i].val};
  qsort(r, k, sizeof *r, ranked_cmp);
  *out = r;
  *n = k;
  return 0;
}

/* ---- vocabulary ----------------------------------------------------------------------------- */

struct hp_vocab {
  int64_t n;
  char **words;
  hp_wordcount *ids; /* word -> id; pad and [UNK] are not in it */
};

void hp_vocab_free(hp_vocab *v) {
  if (!v) return;
  for (int64_t i = 0; i < v->n; i++) free(v->words[i]);
  free(v->words);
  hp_wordcount_free(v->ids);
  free(v);
}

static int vocab_alloc(int64_t n, hp_vocab **out) {
  hp_vocab *v = NULL;
  HP_CALLOC(v, 1, "vocabulary");
  *out = v;
  HP_CALLOC(v->words, n, "vocabulary words");
  HP_CALL(hp_wordcount_create(&v->ids));
  HP_CALLOC(v->words[0], 1, "padding word");
  v->n = 1; /* hp_vocab_free releases what exists so far */
  HP_CALLOC(v->words[1], sizeof HP_TOK_UNK_TEXT, "unknown word");
  memcpy(v->words[1], HP_TOK_UNK_TEXT, sizeof HP_TOK_UNK_TEXT);
  v->n = 2;
  return 0;
}

static int vocab_push(hp_vocab *v, const char *w, size_t len) {
  char *copy = NULL;
  HP_CALLOC(copy, len + 1, "vocabulary word");
  memcpy(copy, w, len);
  int64_t id = v->n++; /* counted at once so hp_vocab_free releases it on any error below */
  v->words[id] = copy;
  wc_entry *e;
  HP_CALL(wc_upsert(v->ids, w, len, &e));
  if (e->val) HP_ERROR(HP_ERR_INPUT, "vocabulary: word '%s' appears twice", copy);
  e->val = id;
  return 0;
}

static int vocab_from_ranked(const ranked *r, size_t nr, int64_t vocab_size, hp_vocab **out) {
  size_t keep = nr < (size_t)(vocab_size - 2) ? nr : (size_t)(vocab_size - 2);
  hp_vocab *v = NULL;
  *out = NULL;
  int rc = vocab_alloc((int64_t)keep + 2, &v);
  for (size_t i = 0; !rc && i < keep; i++) rc = vocab_push(v, r[i].w, r[i].len);
  if (rc) {
    hp_vocab_free(v);
    return hp_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  *out = v;
  return 0;
}

static int check_vocab_size(int64_t vocab_size) {
  if (vocab_size < 2 || vocab_size > INT32_MAX)
    HP_ERROR(HP_ERR_CONFIG,
             "vocabulary size %lld: must be at least 2 (padding and [UNK]) and at most %d",
             (long long)vocab_size, INT32_MAX);
  return 0;
}

int hp_vocab_build(const hp_wordcount *wc, int64_t vocab_size, hp_vocab **out) {
  HP_CALL(check_vocab_size(vocab_size));
  ranked *r = NULL;
  size_t nr = 0;
  HP_CALL(wc_ranked(wc, &r, &nr));
  int rc = vocab_from_ranked(r, nr, vocab_size, out);
  free(r);
  if (rc) return hp_error_trace(rc, __FILE__, __LINE__, __func__);
  return 0;
}

/* Serialised record: int64 count, uint64 length, then the bytes (no alignment; memcpy). */
#define REC_HDR 16

static size_t rec_size(size_t len) { return REC_HDR + len; }

static char *rec_put(char *p, const char *w, size_t len, int64_t count) {
  uint64_t l = len;
  memcpy(p, &count, 8);
  memcpy(p + 8, &l, 8);
  memcpy(p + REC_HDR, w, len);
  return p + REC_HDR + len;
}

/* Parse records of buf[0..n) into map (adding counts). */
static int recs_merge(hp_wordcount *map, const char *buf, size_t n) {
  size_t off = 0;
  while (off < n) {
    int64_t count;
    uint64_t len;
    if (n - off < REC_HDR) HP_ERROR(HP_ERR_INTERNAL, "vocabulary exchange: truncated record");
    memcpy(&count, buf + off, 8);
    memcpy(&len, buf + off + 8, 8);
    if (len > n - off - REC_HDR) HP_ERROR(HP_ERR_INTERNAL, "vocabulary exchange: bad record length");
    HP_CALL(hp_wordcount_add(map, buf + off + REC_HDR, (size_t)len, count));
    off += REC_HDR + (size_t)len;
  }
  return 0;
}

static int to_int_count(size_t n, int *out, const char *what) {
  if (n > INT_MAX)
    HP_ERROR(HP_ERR_MEM, "vocabulary exchange: %s of %zu bytes exceeds one MPI message (2 GiB)", what, n);
  *out = (int)n;
  return 0;
}

/* Words are partitioned over ranks by hash: each owner sums the exact global counts of its
 * words, proposes its own top (vocab_size - 2), and the union of the proposals contains the
 * global top (vocab_size - 2) because the partitions are disjoint. Every rank then ranks the
 * union the same way, so the result is independent of the rank count. */
int hp_vocab_build_mpi(MPI_Comm comm, const hp_wordcount *local, int64_t vocab_size, hp_vocab **out) {
  int size, rank;
  HP_MPI(MPI_Comm_size(comm, &size));
  HP_MPI(MPI_Comm_rank(comm, &rank));
  HP_CALL(check_vocab_size(vocab_size));
  *out = NULL;

  /* 1. Route each local word to its owner. */
  size_t *sbytes = NULL, *soff = NULL;
  int *scount = NULL, *sdispl = NULL, *rcount = NULL, *rdispl = NULL;
  HP_CALLOC(sbytes, size, "vocabulary send sizes");
  HP_CALLOC(soff, size, "vocabulary send offsets");
  HP_CALLOC(scount, size, "vocabulary send counts");
  HP_CALLOC(sdispl, size, "vocabulary send displacements");
  HP_CALLOC(rcount, size, "vocabulary receive counts");
  HP_CALLOC(rdispl, size, "vocabulary receive displacements");
  for (size_t i = 0; i < local->cap; i++) {
    const wc_entry *e = &local->slots[i];
    if (e->w && e->val > 0) sbytes[(e->h >> 17) % (uint64_t)size] += rec_size(e->len);
  }
  size_t stotal = 0;
  for (int r = 0; r < size; r++) {
    HP_CALL(to_int_count(sbytes[r], &scount[r], "words sent to one rank"));
    soff[r] = stotal;
    stotal += sbytes[r];
  }
  int dummy;
  HP_CALL(to_int_count(stotal, &dummy, "words sent"));
  for (int r = 0; r < size; r++) sdispl[r] = (int)soff[r];
  char *sbuf = NULL;
  HP_CALLOC(sbuf, stotal, "vocabulary send buffer");
  for (size_t i = 0; i < local->cap; i++) {
    const wc_entry *e = &local->slots[i];
    if (!e->w || e->val <= 0) continue;
    int r = (int)((e->h >> 17) % (uint64_t)size);
    rec_put(sbuf + soff[r], e->w, e->len, e->val);
    soff[r] += rec_size(e->len);
  }
  HP_MPI(MPI_Alltoall(scount, 1, MPI_INT, rcount, 1, MPI_INT, comm));
  size_t rtotal = 0;
  for (int r = 0; r < size; r++) {
    HP_CALL(to_int_count(rtotal, &rdispl[r], "words received"));
    rtotal += (size_t)rcount[r];
  }
  HP_CALL(to_int_count(rtotal, &dummy, "words received"));
  char *rbuf = NULL;
  HP_CALLOC(rbuf, rtotal, "vocabulary receive buffer");
  HP_MPI(MPI_Alltoallv(sbuf, scount, sdispl, MPI_BYTE, rbuf, rcount, rdispl, MPI_BYTE, comm));
  free(sbuf);

  /* 2. Exact counts of the words this rank owns; its top candidates. */
  hp_wordcount *owned = NULL;
  HP_CALL(hp_wordcount_create(&owned));
  HP_CALL(recs_merge(owned, rbuf, rtotal));
  free(rbuf);
  ranked *r = NULL;
  size_t nr = 0;
  HP_CALL(wc_ranked(owned, &r, &nr));
  size_t keep = nr < (size_t)(vocab_size - 2) ? nr : (size_t)(vocab_size - 2);
  size_t cbytes = 0;
  for (size_t i = 0; i < keep; i++) cbytes += rec_size(r[i].len);
  char *cbuf = NULL;
  HP_CALLOC(cbuf, cbytes, "vocabulary candidates");
  char *p = cbuf;
  for (size_t i = 0; i < keep; i++) p = rec_put(p, r[i].w, r[i].len, r[i].count);
  free(r);
  hp_wordcount_free(owned);

  /* 3. Everybody gets every owner's candidates and ranks them identically. */
  int mine;
  HP_CALL(to_int_count(cbytes, &mine, "vocabulary candidates"));
  HP_MPI(MPI_Allgather(&mine, 1, MPI_INT, rcount, 1, MPI_INT, comm));
  size_t atotal = 0;
  for (int q = 0; q < size; q++) {
    HP_CALL(to_int_count(atotal, &rdispl[q], "all vocabulary candidates"));
    atotal += (size_t)rcount[q];
  }
  HP_CALL(to_int_count(atotal, &dummy, "all vocabulary candidates"));
  char *abuf = NULL;
  HP_CALLOC(abuf, atotal, "all vocabulary candidates");
  HP_MPI(MPI_Allgatherv(cbuf, mine, MPI_BYTE, abuf, rcount, rdispl, MPI_BYTE, comm));
  free(cbuf);
  hp_wordcount *cand = NULL;
  HP_CALL(hp_wordcount_create(&cand));
  HP_CALL(recs_merge(cand, abuf, atotal));
  free(abuf);
  HP_CALL(hp_vocab_build(cand, vocab_size, out));
  hp_wordcount_free(cand);
  free(sbytes);
  free(soff);
  free(scount);
  free(sdispl);
  free(rcount);
  free(rdispl);
  return 0;
}

int hp_vocab_build_texts_mpi(MPI_Comm comm, const char *const *texts, int64_t n, int64_t vocab_size,
                             hp_vocab **out) {
  hp_wordcount *wc = NULL;
  HP_CALL(hp_wordcount_create(&wc));
  for (int64_t i = 0; i < n; i++) HP_CALL(hp_wordcount_add_text(wc, texts[i]));
  HP_CALL(hp_vocab_build_mpi(comm, wc, vocab_size, out));
  hp_wordcount_free(wc);
  return 0;
}

/* A stored word must be exactly one normalised word. */
static int is_normal_word(const char *w) {
  if (!*w) return 0;
  for (const unsigned char *p = (const unsigned char *)w; *p; p++)
    if (!is_word_byte(*p) || (*p >= 'A' && *p <= 'Z')) return 0;
  return 1;
}

int hp_vocab_from_words(const char *const *words, int64_t n, hp_vocab **out) {
  *out = NULL;
  if (n < 2 || n > INT32_MAX) HP_ERROR(HP_ERR_INPUT, "vocabulary of %lld words: need 2 .. %d", (long long)n, INT32_MAX);
  if (strcmp(words[0], "") != 0 || strcmp(words[1], HP_TOK_UNK_TEXT) != 0)
    HP_ERROR(HP_ERR_INPUT, "vocabulary: ids 0 and 1 must be \"\" and \"%s\"", HP_TOK_UNK_TEXT);
  hp_vocab *v = NULL;
  int rc = vocab_alloc(n, &v);
  for (int64_t i = 2; !rc && i < n; i++) {
    if (!is_normal_word(words[i]))
      rc = HP_ERROR_SET(HP_ERR_INPUT,
                        "vocabulary: id %lld '%s' is not a normalised word", (long long)i, words[i]);
    else
      rc = vocab_push(v, words[i], strlen(words[i]));
  }
  if (rc) {
    /* A bad vocabulary in a file is an input error a caller may survive: do not leak. */
    hp_vocab_free(v);
    return hp_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  *out = v;
  return 0;
}

int64_t hp_vocab_size(const hp_vocab *v) { return v->n; }

const char *hp_vocab_word(const hp_vocab *v, int64_t id) {
  return id >= 0 && id < v->n ? v->words[id] : NULL;
}

const char *const *hp_vocab_words(const hp_vocab *v) { return (const char *const *)v->words; }

int32_t hp_vocab_lookup(const hp_vocab *v, const char *word, size_t len) {
  int64_t id = hp_wordcount_get(v->ids, word, len);
  return id >= 2 ? (int32_t)id : HP_TOK_UNK;
}

/* ---- encode / decode ------------------------------------------------------------------------ */

typedef struct {
  const hp_vocab *v;
  int32_t *ids;
  int64_t L, n;
} enc_state;

static int encode_word(const char *w, size_t len, void *arg) {
  enc_state *s = arg;
  if (s->n < s->L) s->ids[s->n] = hp_vocab_lookup(s->v, w, len);
  s->n++;
  return 0;
}

int hp_tok_encode(const hp_vocab *v, const char *text, int64_t L, int32_t *ids, int64_t *n_words) {
  if (L < 0) HP_ERROR(HP_ERR_INTERNAL, "encode: negative length %lld", (long long)L);
  enc_state s = {v, ids, L, 0};
  for (int64_t i = 0; i < L; i++) ids[i] = HP_TOK_PAD;
  HP_CALL(hp_tok_foreach_word(text, encode_word, &s));
  if (n_words) *n_words = s.n;
  return 0;
}

int hp_tok_decode(const hp_vocab *v, const int32_t *ids, int64_t L, char **text) {
  strbuf b = {0};
  *text = NULL;
  int rc = sb_append(&b, "", 0);
  for (int64_t i = 0; !rc && i < L; i++) {
    if (ids[i] == HP_TOK_PAD) continue;
    if (ids[i] < 0 || ids[i] >= v->n) {
      free(b.s);
      HP_ERROR(HP_ERR_INPUT, "decode: token id %d at position %lld outside the vocabulary (size %lld)",
               ids[i], (long long)i, (long long)v->n);
    }
    if (b.len) rc = sb_append(&b, " ", 1);
    if (!rc) rc = sb_append(&b, v->words[ids[i]], strlen(v->words[ids[i]]));
  }
  if (rc) {
    free(b.s);
    return hp_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  *text = b.s;
  return 0;
}
