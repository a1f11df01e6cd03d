/* keys.c — THE table of every configuration key hpclip understands.
 *
 * One row per key: dotted path, type, default as text (NULL = required), inclusive range
 * (INT/FLOAT; NO_RANGE = none), choices "a|b|c" (ENUM, STRLIST items; NULL = any), one-line doc.
 * Adding a key is adding a row: loading, validation, overrides, getters, dump, fingerprint and
 * the Markdown reference (docs/config.md, `hpclip config --doc`) all follow from the table.
 * The table itself is checked on every load (unique paths, defaults valid, ...), so a bad row is
 * an internal error at the first run, not a silent surprise.
 * Keep rows grouped by top-level group, in the order a user reads them: the reference follows
 * this order (the dump and the fingerprint sort by path instead).
 */
#include "config/config.h"

/* min > max: the range is not checked. */
#define NO_RANGE 1, 0

#define STAGE_NAMES "synth|ingest|train|embed|search|zeroshot|cluster|caption|report"

const hp_cfg_key hp_cfg_keys[] = {
    /* ---- run: the job as a whole ---------------------------------------------------------- */
    {"run.name", HP_T_STRING, "hpclip", NO_RANGE, NULL,
     "name of the job, shown in the log and in summary.md"},
    {"run.dir", HP_T_STRING, NULL, NO_RANGE, NULL,
     "run directory that holds every output file (required; --run-dir overrides)"},
    {"run.stages", HP_T_STRLIST, "synth", NO_RANGE, STAGE_NAMES,
     "stages `hpclip run` executes, in this order (--stages overrides)"},
    {"run.seed", HP_T_INT, "1234", 0, 4611686018427387904.0 /* 2^62 */, NULL,
     "seed of every random stream (synthesis, initialisation, shuffling); same seed, same results"},
    {"run.log_level", HP_T_ENUM, "info", NO_RANGE, "quiet|info|debug",
     "how much rank 0 logs to stdout"},
    {"run.blas_threads", HP_T_INT, "0", 0, 256, NULL,
     "OpenBLAS threads per rank; 0 = leave OPENBLAS_NUM_THREADS as set in the environment"},

    /* ---- data: the dataset every stage shares -------------------------------------------- */
    {"data.image_size", HP_T_INT, "128", 16, 1024, NULL,
     "side of the square images in pixels (stored H = W = image_size)"},
    {"data.caption_len", HP_T_INT, "20", 4, 512, NULL,
     "token ids per caption (captions are padded or truncated to this length)"},
    {"data.vocab_size", HP_T_INT, "15000", 16, 1000000, NULL,
     "size of the token vocabulary, including the padding and out-of-vocabulary ids"},
    {"data.train_frac", HP_T_FLOAT, "0.70", 0, 1, NULL,
     "fraction of the images in the training split (the three fractions must sum to 1)"},
    {"data.val_frac", HP_T_FLOAT, "0.15", 0, 1, NULL,
     "fraction of the images in the validation split"},
    {"data.test_frac", HP_T_FLOAT, "0.15", 0, 1, NULL,
     "fraction of the images in the test split"},

    /* ---- synth: the synthetic shapes dataset ------------------------------------------------ */
    {"synth.num_images", HP_T_INT, "2000", 1, 100000000, NULL,
     "number of synthetic images to generate"},
    {"synth.captions_per_image", HP_T_INT, "5", 1, 20, NULL,
     "captions generated for each synthetic image"},
    {"synth.max_shapes", HP_T_INT, "3", 1, 3, NULL,
     "largest number of shapes drawn in one image (each image has 1 to max_shapes)"},
    {"synth.noise", HP_T_FLOAT, "0.05", 0, 1, NULL,
     "amplitude of the background noise added to every pixel (0 = clean images)"},

    /* ---- ingest: an original distribution (COCO, ROCO, Fashion Product) -> dataset.h5 -------- */
    {"ingest.format", HP_T_ENUM, "coco", NO_RANGE, "coco|roco|fashion",
     "layout of ingest.root: MS COCO, ROCO (radiology), or Fashion Product Images (Kaggle styles.csv)"},
    {"ingest.root", HP_T_STRING, "", NO_RANGE, NULL,
     "folder holding the dataset in its original layout (required by the ingest stage)"},
    {"ingest.split", HP_T_STRING, "", NO_RANGE, NULL,
     "part to convert: COCO train2014, val2014, train2017, val2017; ROCO train/radiology, "
     "validation/radiology, test/radiology; Fashion has none (leave empty)"},
    {"ingest.aspect", HP_T_ENUM, "stretch", NO_RANGE, "stretch|center_crop",
     "non-square images: stretch to data.image_size squares (the study) or cut the centred square"},
    {"ingest.on_bad_record", HP_T_ENUM, "skip", NO_RANGE, "skip|reject",
     "bad images, captions or rows: skip and count them, or reject the run (both list them in "
     "ingest_report.tsv in the run directory)"},
    {"ingest.roco_terms", HP_T_STRLIST, "tumor,thrombosis,aorta,lung,brain,fracture,chest,mandibular",
     NO_RANGE, NULL,
     "ROCO labels, one per term: set when a caption word is the term or its plural (+s, +es), "
     "ignoring ASCII case"},
    {"ingest.max_image_pixels", HP_T_INT, "50000000", 1, 1e12, NULL,
     "largest width x height decoded; larger images are bad records (decompression-bomb guard)"},
};

const int hp_cfg_nkeys = (int)(sizeof hp_cfg_keys / sizeof hp_cfg_keys[0]);
