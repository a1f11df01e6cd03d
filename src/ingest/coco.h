/* coco.h — MS COCO captions (+ optional instances) to ingest records.
 *
 * Layout: ROOT/SPLIT/<file_name> images; ROOT/annotations/captions_SPLIT.json (required) and
 * ROOT/annotations/instances_SPLIT.json (optional), SPLIT one of train2014, val2014, train2017,
 * val2017.
 * Records: one per entry of the captions file's "images" array, in that order; path
 * "SPLIT/<file_name>", source id "coco:SPLIT:<id>"; captions = the "annotations" entries with
 * that image_id, in file order, trimmed of surrounding white space.
 * Labels (only when instances_SPLIT.json exists): one per entry of its "categories" array
 * (ordered by category id; 80 for COCO), named by "name"; an image's label is 1 when at least
 * one instance annotation of that category refers to it.
 * Whole-file problems (missing captions file, malformed JSON with its line and column, a top
 * level that is not an object, no "images" / "annotations" / "categories" arrays, duplicate or
 * malformed categories) are errors (HP_ERR_INPUT): nothing sensible can be ingested. Record
 * problems are reported and the record skipped:
 *   images[k]: not an object, id not a non-negative integer, file_name missing / not a string /
 *   escaping the root ('..', absolute), duplicate id (later entries), no (good) caption,
 *   image file missing (opts->check_files);
 *   annotations[k]: not an object, image_id unknown or not an integer, caption missing / empty /
 *   not UTF-8;
 *   instances annotations[k]: image_id or category_id unknown or malformed.
 */
#ifndef HP_INGEST_COCO_H
#define HP_INGEST_COCO_H

#include "ingest/records.h"
#include "ingest/report.h"

/* 1 if split is a COCO split name this reader knows. */
int hp_coco_split_ok(const char *split);

/* Parse; out must be initialised and empty, rep initialised (reports are appended). opts NULL =
 * check_files on, default size limit. */
int hp_coco_parse(const char *root, const char *split, const hp_ingest_opts *opts,
                  hp_ingest_list *out, hp_ingest_report *rep);

/* Helper shared with the tests: parse a JSON buffer, HP_ERR_INPUT "NAME: malformed JSON at line
 * L, column C" on failure. *out is a cJSON tree the caller frees with cJSON_Delete. */
struct cJSON;
int hp_json_parse(const char *buf, size_t len, const char *name, struct cJSON **out);

#endif
