/* markdown.h — text that goes into the stages' Markdown tables (STAGE.md, summary.md), and the
 * chance levels printed beside retrieval and classification results.
 *
 * Label names, captions, queries and prompts come from users' data: a '|' would end a table
 * cell and a line break the row, so every such string goes through hp_md_text. */
#ifndef HP_STAGES_MARKDOWN_H
#define HP_STAGES_MARKDOWN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* s as table-safe inline text: '|' -> "\|", '\\' -> "\\\\", line breaks -> ' ', '<' -> "&lt;",
 * cut after max bytes with "…" (max = 0: no limit). */
void hp_md_text(FILE *f, const char *s, size_t max);

/* " ⚠" when value is within 2x of the chance level (value <= 2 * chance, chance > 0), else "". */
const char *hp_md_flag(double value, double chance);

/* Recall@k of a random ranking for one query with `rel` relevant items among n: the chance that
 * at least one relevant item is in the top k, 1 - C(n - rel, k) / C(n, k). */
double hp_chance_hit_at_k(int64_t n, int64_t rel, int64_t k);

#endif
