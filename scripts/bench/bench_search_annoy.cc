// bench_search_annoy.cc — the Annoy side of scripts/bench/bench_search.sh (compiled by the
// script against annoylib.h from Debian's r-cran-rcppannoy; not part of hpclip).
//   bench_search_annoy BASE QUERIES DIM K GT TREES search_k...
// Angular metric (for unit vectors its order is the inner-product order), one thread for the
// build and for the queries. Prints RESULT lines: build time, then per search_k the median
// q/s of 3 passes over the queries and recall@K against GT (int64 ids, K per query).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "annoylib.h"
#include "kissrandom.h"

static std::vector<float> load(const char *path, long dim, long *rows) {
  FILE *f = std::fopen(path, "rb");
  if (!f) { std::perror(path); std::exit(1); }
  std::fseek(f, 0, SEEK_END);
  long bytes = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  *rows = bytes / (long)(sizeof(float) * dim);
  std::vector<float> v((size_t)(*rows * dim));
  if (std::fread(v.data(), sizeof(float), v.size(), f) != v.size()) { std::perror(path); std::exit(1); }
  std::fclose(f);
  return v;
}

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char **argv) {
  if (argc < 8) { std::fprintf(stderr, "usage: %s BASE QUERIES DIM K GT TREES search_k...\n", argv[0]); return 2; }
  long dim = std::atol(argv[3]), k = std::atol(argv[4]), nb, nq;
  int trees = std::atoi(argv[6]);
  std::vector<float> xb = load(argv[1], dim, &nb), xq = load(argv[2], dim, &nq);
  std::vector<long long> gt((size_t)(nq * k));
  FILE *g = std::fopen(argv[5], "rb");
  if (!g || std::fread(gt.data(), sizeof(long long), gt.size(), g) != gt.size()) { std::perror(argv[5]); return 1; }
  std::fclose(g);
  AnnoyIndex<int, float, Angular, Kiss64Random, AnnoyIndexSingleThreadedBuildPolicy> index((int)dim);
  for (long i = 0; i < nb; i++) index.add_item((int)i, xb.data() + i * dim);
  double t0 = now();
  index.build(trees, 1);
  double tb = now() - t0;
  std::printf("RESULT annoy_build n=%ld trees=%d threads=1 build_s=%.3f\n", nb, trees, tb);
  std::fflush(stdout);
  for (int a = 7; a < argc; a++) {
    int sk = std::atoi(argv[a]);
    std::vector<double> times;
    double recall = 0;
    std::vector<std::vector<int>> res((size_t)nq);
    for (int rep = 0; rep < 3; rep++) {
      double t1 = now();
      for (long q = 0; q < nq; q++) {
        res[(size_t)q].clear();
        index.get_nns_by_vector(xq.data() + q * dim, (size_t)k, sk, &res[(size_t)q], nullptr);
      }
      times.push_back(now() - t1);
    }
    for (long q = 0; q < nq; q++) {
      int hit = 0;
      for (int r : res[(size_t)q])
        for (long j = 0; j < k; j++)
          if (gt[(size_t)(q * k + j)] == r) { hit++; break; }
      recall += (double)hit / (double)k;
    }
    std::sort(times.begin(), times.end());
    std::printf("RESULT annoy trees=%d search_k=%d threads=1 qps=%.1f recall@%ld=%.4f\n", trees, sk,
                (double)nq / times[1], k, recall / (double)nq);
    std::fflush(stdout);
  }
  return 0;
}
