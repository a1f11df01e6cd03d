/* karpathy.h — the Karpathy split of COCO (dataset_coco.json, Karpathy & Fei-Fei 2015), the
 * split most published COCO retrieval numbers use: 113,287 train (+ "restval"), 5,000 val and
 * 5,000 test images of train2014 + val2014.
 *
 * The file lists {"images": [{"filepath": "val2014", "filename": ..., "cocoid": 391895,
 * "split": "train" | "restval" | "val" | "test", "sentences": [...]}, ...]}. hpclip takes from it
 * only the split of each image and the COCO folders it names (filepath); images, captions and
 * labels come from those folders' own annotation files, as for ingest.format = "coco". */
#ifndef HP_INGEST_KARPATHY_H
#define HP_INGEST_KARPATHY_H

#include <stdint.h>

#include "ingest/records.h"
#include "ingest/report.h"

typedef struct {
  int64_t n;
  int64_t *cocoid;   /* [n] sorted */
  uint8_t *split;    /* [n] HP_SPLIT_* (restval -> train) */
  int nfolders;
  char *folder[8];   /* the distinct filepath values, in order of first appearance */
} hp_karpathy;

/* Read the split file. HP_ERR_INPUT naming the file and the entry for anything malformed: no
 * "images" array, an entry without an integer cocoid or a known split, a filepath that is not a
 * COCO split folder, more than 8 folders, a cocoid listed twice. */
int hp_karpathy_read(const char *path, size_t max_bytes, hp_karpathy *k);
void hp_karpathy_free(hp_karpathy *k);

/* The split of a COCO image id, or -1 when the file does not list it. */
int hp_karpathy_split(const hp_karpathy *k, int64_t cocoid);

/* Give every record of l (from hp_coco_parse of k's folders; source ids "coco:FOLDER:ID") its
 * Karpathy split; records the file does not list are removed and reported as bad records. */
int hp_karpathy_apply(const hp_karpathy *k, const char *path, hp_ingest_list *l, hp_ingest_report *rep);

#endif
