/* fashion.h — Fashion Product Images (Myntra, Kaggle) styles.csv to ingest records.
 *
 * Layout: ROOT/styles.csv (RFC 4180, read by csv.h) and ROOT/images/<id>.jpg; no splits.
 * The header must contain the columns id, gender, articleType, baseColour, season and
 * productDisplayName (found by name, any order; other columns such as masterCategory,
 * subCategory, year, usage are ignored). A malformed or incomplete header is an error.
 *
 * Caption recipe (the study: "concatenating the product description, brand name, gender, base
 * color, and suitable season"):
 *     caption = productDisplayName ", " gender ", " baseColour ", " season
 * each field trimmed, empty fields (and their ", ") left out. styles.csv has no brand column:
 * in this dataset the brand is the first word(s) of productDisplayName ("Nike Sahara Team India
 * Fanwear Round Neck Jersey", "Puma Deck Navy Blue Backpack"), so the brand is already the
 * start of the caption and is not added again. Example:
 *     "Puma Deck Navy Blue Backpack, Unisex, Navy Blue, Fall"
 * Labels (multi-hot, exactly one articleType, at most one baseColour and at most one gender set
 * per record): "articleType:<value>" for every distinct articleType of the good rows, then
 * "baseColour:<value>" for every distinct non-empty baseColour, then "gender:<value>" for every
 * distinct non-empty gender (so that a query such as the study's "t-shirt woman" has a
 * relevance set), each group sorted by byte order. Records: one per good row in file order; path "images/<id>.jpg", source id
 * "fashion:<id>".
 * Bad rows (reported as "styles.csv:LINE", skipped): CSV syntax errors (see csv.h), invalid
 * UTF-8, a field count different from the header's (e.g. an unquoted comma in the product
 * name), an id that is not 1-18 decimal digits, a duplicate id (later rows), an empty
 * productDisplayName or articleType, a missing image file (opts->check_files).
 */
#ifndef HP_INGEST_FASHION_H
#define HP_INGEST_FASHION_H

#include "ingest/records.h"
#include "ingest/report.h"

/* Parse; out must be initialised and empty. opts NULL = check_files on, default size limit. */
int hp_fashion_parse(const char *root, const hp_ingest_opts *opts, hp_ingest_list *out,
                     hp_ingest_report *rep);

#endif
