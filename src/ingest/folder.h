/* folder.h — ingest.format = "folder": a directory tree of images, each with an optional sidecar
 * caption file of the same name with the extension .txt.
 *
 *   photos/
 *     cats/0001.jpg   cats/0001.txt   ("a cat on a sofa\na grey cat sleeping": two captions)
 *     cats/0002.png                   (no sidecar: an image without a caption)
 *     dogs/0003.JPEG  dogs/0003.txt
 *
 * The tree is walked in byte order of the names (strcmp, not the locale), so the records are the
 * same on every machine. An image is a regular file whose extension is .jpg, .jpeg or .png (any
 * case); every non-empty line of its sidecar (trimmed) is one caption. Hidden entries (a name
 * starting with '.') are skipped. With labels (hp_folder_opts.labels) an image's label is the
 * first folder of its path below the walked directory ("cats"), ImageFolder's convention; images
 * directly in it have none.
 *
 * Bad records, reported as "PATH" + reason: a sidecar that cannot be read, is longer than 64 KiB
 * a caption or is not UTF-8 (the image is kept, without captions); a sidecar with no image; a
 * directory that cannot be listed; a symbolic link to a directory when links are not followed;
 * a directory link that loops back to one of its parents; a tree deeper than 64 folders. */
#ifndef HP_INGEST_FOLDER_H
#define HP_INGEST_FOLDER_H

#include "ingest/records.h"
#include "ingest/report.h"

typedef struct {
  int labels; /* 1: the first folder below the walked directory is the image's label */
} hp_folder_opts;

/* Walk the sub-folders sub[0..n_sub) of root in turn (n_sub = 0: root itself) into `out`, which
 * must be empty; the records of sub[k] get the split sub_split[k] (NULL or n_sub = 0:
 * HP_INGEST_SPLIT_NONE). Paths are relative to root ("train/cats/1.jpg"). Whole-walk problems
 * (a folder missing or not a folder, an unsafe sub-folder name) fail naming it. With labels,
 * the label set is the sorted union of the first-level folder names (below each walked folder)
 * that hold an image, so train/cats and test/cats are one class. */
int hp_folder_parse(const char *root, int n_sub, const char *const *sub, const uint8_t *sub_split,
                    const hp_folder_opts *f, const hp_ingest_opts *opts, hp_ingest_list *out,
                    hp_ingest_report *rep);

/* 1 if the name has an image extension this format reads (.jpg, .jpeg, .png, any case). */
int hp_folder_is_image_name(const char *name);

#endif
