/* roco.h — ROCO (Radiology Objects in COntext) captions to ingest records.
 *
 * Layout: ROOT/data/SPLIT/captions.txt and ROOT/data/SPLIT/images/<ROCO id>.jpg, SPLIT one of
 * train/radiology, validation/radiology, test/radiology. captions.txt has one line per image:
 * "ROCO_<digits><TAB><caption>" (the caption usually starts with a space; CRLF is accepted).
 * Records: one per good line, in file order; path "data/SPLIT/images/<id>.jpg", source id
 * "roco:<id>", one caption (trimmed).
 * Bad lines (reported as "data/SPLIT/captions.txt:LINE", skipped): no TAB, an id that is not
 * ROCO_<digits>, an empty caption, a NUL byte or invalid UTF-8, a duplicate id (later lines),
 * a missing image file (opts->check_files). Blank lines are skipped silently.
 *
 * Labels are derived from the caption for a list of terms (default: the study's eight — tumor,
 * thrombosis, aorta, lung, brain, fracture, chest, mandibular). Matching rule:
 *   - the caption is split into words = maximal runs of ASCII letters/digits and bytes >= 0x80
 *     (everything else separates words: "lung-tumor" is two words);
 *   - comparison is ASCII case-insensitive;
 *   - a word matches term T if it equals T, T+"s" or T+"es" (simple plural: "lungs",
 *     "fractures", "aortas"); nothing else ("tumoral", "lungworm", "thromboses" do not match).
 * Terms must be non-empty and consist of ASCII letters and digits only (HP_ERR_CONFIG).
 */
#ifndef HP_INGEST_ROCO_H
#define HP_INGEST_ROCO_H

#include <stddef.h>

#include "ingest/records.h"
#include "ingest/report.h"

extern const char *const hp_roco_default_terms[8];
#define HP_ROCO_N_DEFAULT_TERMS 8

int hp_roco_split_ok(const char *split);

/* 1 if text[0..n) contains a word matching term (rule above). */
int hp_roco_term_match(const char *text, size_t n, const char *term);

/* Check a term list (HP_ERR_CONFIG naming the bad term). */
int hp_roco_check_terms(int nterms, const char *const *terms);

/* Parse; terms NULL = the default eight. out must be initialised and empty. opts NULL =
 * check_files on, default size limit. */
int hp_roco_parse(const char *root, const char *split, int nterms, const char *const *terms,
                  const hp_ingest_opts *opts, hp_ingest_list *out, hp_ingest_report *rep);

#endif
