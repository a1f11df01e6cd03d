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

#define STAGE_NAMES "synth|ingest|train|embed|search|zeroshot|cluster|caption-train|caption|report"

const hp_cfg_key hp_cfg_keys[] = {
    /* ---- run: the job as a whole ---------------------------------------------------------- */
    {"run.name", HP_T_STRING, "hpclip", NO_RANGE, NULL,
     "name of the job, shown in the log and in summary.md"},
    {"run.dir", HP_T_STRING, NULL, NO_RANGE, NULL,
     "run directory that holds every output file (required; --run-dir overrides)"},
    {"run.dataset", HP_T_STRING, "", NO_RANGE, NULL,
     "dataset.h5 of another run for this run's stages to read (embed, search, ...), instead of "
     "RUN_DIR/dataset.h5: embeddings of another model beside the first without copying the data; "
     "synth and ingest refuse it"},
    {"run.checkpoint", HP_T_STRING, "", NO_RANGE, NULL,
     "ckpt.h5 to read instead of RUN_DIR/ckpt.h5 (another run's model, a converted one); train "
     "refuses it (its output is RUN_DIR/ckpt.h5)"},
    {"run.stages", HP_T_STRLIST, "synth", NO_RANGE, STAGE_NAMES,
     "stages `hpclip run` executes, in this order (--stages overrides)"},
    {"run.seed", HP_T_INT, "1234", 0, 4611686018427387904.0 /* 2^62 */, NULL,
     "seed of every random stream (synthesis, initialisation, shuffling); same seed, same results"},
    {"run.log_level", HP_T_ENUM, "info", NO_RANGE, "quiet|info|debug",
     "how much rank 0 logs to stdout: quiet = warnings, errors and the one-line results only; info = stage lines, progress and a one-line summary per result (the tables are in the stages' .md files); debug = also every table (search, zeroshot, cluster, caption) as Markdown"},
    {"run.log_every", HP_T_FLOAT, "10", 0, 1e6, NULL,
     "seconds between progress lines of a long loop (training steps, validation, embedding, "
     "decoding, ingest); the first and last lines are always printed; 0 = a line for every step "
     "or batch"},
    {"run.watchdog", HP_T_FLOAT, "1800", 0, 1e9, NULL,
     "seconds a rank may go without progress (a training step, a progress line, a finished collective "
     "wait) before the watchdog ends the whole job naming the rank, stage and what it waited for "
     "(exit code 13); 0 = off"},
    {"run.memory_limit", HP_T_FLOAT, "0", 0, 1e12, NULL,
     "MiB per rank a stage may use; each stage estimates its peak from the config and input sizes "
     "before allocating and refuses with a clear error above this, above `ulimit -v`, or above the "
     "node's available memory shared by its ranks (exit code 6); 0 = only the latter two"},
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
    {"data.split_rule", HP_T_ENUM, "exact", NO_RANGE, "exact|per_image",
     "how data.*_frac draw the splits when the input gives none: exact = the proportions exactly "
     "(images ranked by a seeded hash, the first train_frac of them train, ...); per_image = each "
     "image on its own by a seeded hash of its row (the proportions in expectation), so an image's "
     "split never depends on how many came with it: appending (ingest.append) then gives the "
     "same splits as ingesting everything at once. Appended images are always drawn per image"},

    /* ---- synth: the synthetic shapes dataset ------------------------------------------------ */
    {"synth.num_images", HP_T_INT, "2000", 1, 100000000, NULL,
     "number of synthetic images to generate"},
    {"synth.captions_per_image", HP_T_INT, "5", 1, 20, NULL,
     "captions generated for each synthetic image"},
    {"synth.max_shapes", HP_T_INT, "3", 1, 3, NULL,
     "largest number of shapes drawn in one image (each image has 1 to max_shapes)"},
    {"synth.noise", HP_T_FLOAT, "0.05", 0, 1, NULL,
     "amplitude of the background noise added to every pixel (0 = clean images)"},
    {"synth.coco_root", HP_T_STRING, "", NO_RANGE, NULL,
     "`hpclip synth-coco`: the folder it writes in MS COCO 2017's layout (train2017/, val2017/, "
     "annotations/; ingest.format = \"coco\" reads it); \"\" = RUN_DIR/coco"},
    {"synth.coco_train_images", HP_T_INT, "118287", 1, 100000000, NULL,
     "`hpclip synth-coco`: images in train2017/ (COCO 2017: 118,287)"},
    {"synth.coco_val_images", HP_T_INT, "5000", 0, 100000000, NULL,
     "`hpclip synth-coco`: images in val2017/ (COCO 2017: 5,000)"},
    {"synth.coco_long_side", HP_T_INT, "640", 64, 4096, NULL,
     "`hpclip synth-coco`: longer side of the images in pixels; COCO's 640x480, 640x427, 480x640, "
     "427x640, 640x640, 640x360, 500x375 mix, scaled to it"},
    {"synth.coco_jpeg_quality", HP_T_INT, "90", 1, 100, NULL,
     "`hpclip synth-coco`: libjpeg quality of the JPEG files"},

    /* ---- ingest: an original distribution (COCO, ROCO, Fashion Product) -> dataset.h5 -------- */
    {"ingest.format", HP_T_ENUM, "coco", NO_RANGE, "coco|roco|fashion|csv|webdataset|folder",
     "layout of ingest.root: MS COCO, ROCO (radiology), Fashion Product Images (Kaggle styles.csv), a "
     "CSV/TSV table of image paths and captions (OpenCLIP's --csv-img-key/--csv-caption-key layout), "
     "webdataset tar shards as img2dataset writes them (KEY.jpg or KEY.png + KEY.txt per sample), or a "
     "folder tree of .jpg/.png images with optional NAME.txt captions beside them (one per line)"},
    {"ingest.root", HP_T_STRING, "", NO_RANGE, NULL,
     "folder holding the dataset in its original layout (required by the ingest stage; for format folder "
     "the tree of images); for format csv "
     "the table file itself, its image paths relative to the table's folder; for webdataset the shards: "
     "file patterns separated by spaces, with brace ranges and globs (\"data/{00000..00099}.tar\", "
     "\"data/*.tar\"), split across the ranks"},
    {"ingest.csv_image_key", HP_T_STRING, "filepath", NO_RANGE, NULL,
     "format csv: header name of the image path column (OpenCLIP's default)"},
    {"ingest.csv_caption_key", HP_T_STRING, "title", NO_RANGE, NULL,
     "format csv: header name of the caption column; rows of the same image give it several captions"},
    {"ingest.csv_label_key", HP_T_STRING, "", NO_RANGE, NULL,
     "format csv: header name of an optional label column (one label name per row, an image gets the "
     "union of its rows'); empty = no labels"},
    {"ingest.csv_separator", HP_T_ENUM, "auto", NO_RANGE, "auto|comma|tab|semicolon",
     "format csv: field separator; auto = tab for .tsv/.tab files, comma otherwise"},
    {"ingest.split", HP_T_STRING, "", NO_RANGE, NULL,
     "part to convert: COCO train2014, val2014, train2017, val2017; ROCO train/radiology, "
     "validation/radiology, test/radiology; format folder: a sub-folder of ingest.root (empty = all of "
     "it); Fashion has none (leave empty)"},
    {"ingest.splits.train", HP_T_STRLIST, "", NO_RANGE, NULL,
     "the dataset's own splits instead of a random one: sources of the training split (COCO split folders "
     "such as \"train2017\", ROCO splits such as \"train/radiology\", sub-folders of a folder tree, "
     "webdataset shard patterns); with "
     "ingest.splits set, ingest.split stays empty"},
    {"ingest.splits.val", HP_T_STRLIST, "", NO_RANGE, NULL,
     "sources of the validation split; empty = each training image becomes validation with probability "
     "data.val_frac / (train_frac + val_frac)"},
    {"ingest.splits.test", HP_T_STRLIST, "", NO_RANGE, NULL,
     "sources of the test split (e.g. [\"val2017\"] to compare with published COCO numbers)"},
    {"ingest.karpathy", HP_T_STRING, "", NO_RANGE, NULL,
     "COCO: the Karpathy split file (dataset_coco.json); its split of every image (train and restval -> "
     "train, val, test) replaces the random one, and the COCO folders it names (train2014, val2014) are "
     "ingested with their own captions and labels; ingest.split and ingest.splits stay empty"},
    {"ingest.csv_split_key", HP_T_STRING, "", NO_RANGE, NULL,
     "format csv: header name of a split column (train, val or validation, test); empty = a random split"},
    {"ingest.aspect", HP_T_ENUM, "stretch", NO_RANGE, "stretch|center_crop",
     "non-square images: stretch to data.image_size squares (the study) or cut the centred square"},
    {"ingest.on_bad_record", HP_T_ENUM, "skip", NO_RANGE, "skip|reject",
     "bad images, captions or rows: skip and count them, or reject the run (both list them in "
     "ingest_report.tsv in the run directory)"},
    {"ingest.roco_terms", HP_T_STRLIST, "tumor,thrombosis,aorta,lung,brain,fracture,chest,mandibular",
     NO_RANGE, NULL,
     "ROCO labels, one per term: set when a caption word is the term or its plural (+s, +es), "
     "ignoring ASCII case"},
    {"ingest.append", HP_T_BOOL, "false", NO_RANGE, NULL,
     "add the images of this ingest to the run directory's dataset.h5 under new ids (rows N, N+1, "
     "...) instead of replacing it: the old rows, their splits and the vocabulary stay as they "
     "are, new label names get new columns, and the file is rewritten atomically (an interrupted "
     "append leaves the old one). embed then embeds only the new rows (docs/query.md, "
     "\"Adding data\")"},
    {"ingest.follow_symlinks", HP_T_BOOL, "true", NO_RANGE, NULL,
     "read image files that are symbolic links to anywhere (datasets symlinked from project or "
     "scratch space); false = refuse every image whose real path lies outside ingest.root. A "
     "\"..\" or absolute file name in the annotations is refused either way"},
    {"ingest.folder_labels", HP_T_BOOL, "false", NO_RANGE, NULL,
     "format folder: label every image with its first folder below ingest.root (or below its "
     "ingest.splits sub-folder): cats/1.jpg is a \"cats\" (torchvision ImageFolder's convention); "
     "images directly in the folder have no label"},
    {"ingest.max_image_pixels", HP_T_INT, "50000000", 1, 1e12, NULL,
     "largest width x height decoded; larger images are bad records (decompression-bomb guard)"},

    /* ---- model: the CLIP two-tower model the train stage builds ------------------------------ */
    {"model.text", HP_T_ENUM, "bert", NO_RANGE, "bert|clip",
     "text tower over the caption's data.caption_len token ids: a BERT encoder (Hugging Face "
     "BertModel structure, no pooler), or OpenAI CLIP's causal text transformer pooled at the "
     "end-of-text token (model.tokenizer = bpe; model.text_pooling does not apply)"},
    {"model.from_checkpoint", HP_T_BOOL, "false", NO_RANGE, NULL,
     "take the model (towers, sizes, context, pixel normalisation) from the checkpoint's description "
     "instead of the model.* keys: embed, search and zeroshot from ckpt.h5, train from "
     "train.init_checkpoint; for converted pretrained models (docs/models.md)"},
    {"model.tokenizer", HP_T_ENUM, "word", NO_RANGE, "word|wordpiece|bpe",
     "how captions become token ids: the dataset's word vocabulary (the study's), BERT's WordPiece over "
     "model.tokenizer_file (a vocab.txt), or CLIP's byte-level BPE over its merges file (with "
     "model.text = clip). Stored in ckpt.h5 with its vocabulary (docs/models.md)"},
    {"model.tokenizer_file", HP_T_STRING, "", NO_RANGE, NULL,
     "model.tokenizer = wordpiece: BERT's vocab.txt; bpe: CLIP's merges file (bpe_simple_vocab_16e6.txt.gz)"},
    {"model.tokenizer_lowercase", HP_T_BOOL, "true", NO_RANGE, NULL,
     "wordpiece: lowercase the text first (an uncased BERT; false for a cased one)"},
    {"model.tokenizer_strip_accents", HP_T_BOOL, "true", NO_RANGE, NULL,
     "wordpiece: strip accents (NFD, combining marks removed), as an uncased BERT does"},
    {"model.text_positions", HP_T_INT, "0", 0, 65536, NULL,
     "rows of the text tower's position table: 0 = data.caption_len; a pretrained BERT's 512 "
     "(texts use the first data.caption_len)"},
    {"model.text_layers", HP_T_INT, "12", 1, 48, NULL,
     "BERT encoder layers (the study: 4, 8 or 12)"},
    {"model.text_heads", HP_T_INT, "12", 1, 64, NULL,
     "BERT attention heads (the study: 4, 8 or 12); model.text_width must be a multiple"},
    {"model.text_width", HP_T_INT, "768", 8, 4096, NULL,
     "BERT hidden width (the study: 256, 512 or 768)"},
    {"model.text_ffn", HP_T_INT, "0", 0, 16384, NULL,
     "BERT intermediate (feed-forward) width; 0 = 4 x model.text_width"},
    {"model.text_pooling", HP_T_ENUM, "mean", NO_RANGE, "mean|cls",
     "how the text tower pools its token states: mean over real tokens, or the first token (the "
     "tokenizer emits no [CLS], so cls = the first word)"},
    {"model.text_dropout", HP_T_FLOAT, "0.1", 0, 0.9, NULL,
     "BERT hidden dropout in training (Hugging Face default 0.1); masks keyed by (seed, step, "
     "sample), so the same for any rank count"},
    {"model.image", HP_T_ENUM, "vit", NO_RANGE, "vit|resnet50",
     "image tower: a Vision Transformer (timm structure, class-token pooling) or a ResNet "
     "(torchvision bottleneck ResNet50 structure, global average pooling)"},
    {"model.image_style", HP_T_ENUM, "timm", NO_RANGE, "timm|openai",
     "ViT convention: timm's VisionTransformer (LN eps 1e-6, patch bias) or OpenAI CLIP's (ln_pre "
     "before the blocks, no patch bias, LN eps 1e-5, OpenAI tensor names); docs/models.md"},
    {"model.quick_gelu", HP_T_BOOL, "false", NO_RANGE, NULL,
     "MLP activation of both towers: QuickGELU x*sigmoid(1.702x), OpenAI CLIP's (OpenCLIP's "
     "quick_gelu), instead of GELU (erf). Default: true with model.text = clip, else false"},
    {"model.proj_bias", HP_T_BOOL, "true", NO_RANGE, NULL,
     "projection heads with a bias; OpenAI CLIP's have none (false)"},
    {"model.image_patch", HP_T_INT, "16", 1, 1024, NULL,
     "ViT patch side in pixels (the study: 16 or 32); must divide data.image_size"},
    {"model.image_layers", HP_T_INT, "12", 1, 48, NULL, "ViT encoder layers"},
    {"model.image_heads", HP_T_INT, "12", 1, 64, NULL,
     "ViT attention heads; model.image_width must be a multiple"},
    {"model.image_width", HP_T_INT, "768", 8, 4096, NULL, "ViT hidden width"},
    {"model.image_mlp", HP_T_INT, "0", 0, 16384, NULL, "ViT MLP width; 0 = 4 x model.image_width"},
    {"model.image_mean", HP_T_STRING, "", NO_RANGE, NULL,
     "pixel normalisation of the image tower, x/255 - mean per channel, \"r,g,b\"; empty = the "
     "tower's default (ViT 0.5,0.5,0.5; ResNet ImageNet's 0.485,0.456,0.406); OpenAI CLIP uses "
     "0.48145466,0.4578275,0.40821073. Stored in the checkpoint's model description"},
    {"model.image_std", HP_T_STRING, "", NO_RANGE, NULL,
     "pixel normalisation, the divisor after the mean, \"r,g,b\"; empty = the tower's default (ViT "
     "0.5,0.5,0.5; ResNet 0.229,0.224,0.225); OpenAI CLIP uses 0.26862954,0.26130258,0.27577711"},
    {"model.image_dropout", HP_T_FLOAT, "0", 0, 0.9, NULL,
     "ViT dropout after the embeddings and in every block (timm drop_rate, default 0)"},
    {"model.resnet_blocks", HP_T_STRING, "3,4,6,3", NO_RANGE, NULL,
     "ResNet bottleneck blocks of the four stages, comma separated: 3,4,6,3 = ResNet50"},
    {"model.resnet_width", HP_T_INT, "64", 4, 512, NULL,
     "ResNet stem channels (64 = ResNet50; features = 32 x width); smaller for tests"},
    {"model.batch_norm", HP_T_ENUM, "sync", NO_RANGE, "sync|local",
     "ResNet batch norm in training on more than one rank: sync = synchronised (PyTorch "
     "SyncBatchNorm maths: per-channel sums allreduced in double, one allreduce per BN layer in "
     "forward and one in backward, so every rank normalises with the global batch statistics and "
     "results match any other rank count within float rounding); local = each rank's own batch "
     "(plain BatchNorm2d under DDP: results depend on the rank count, rank 0's running statistics "
     "are broadcast). Ignored for the ViT tower, at 1 rank and in evaluation (running statistics)"},
    {"model.embed_dim", HP_T_INT, "768", 1, 8192, NULL,
     "joint embedding width: both towers end in Dense(embed_dim) + L2 normalisation (the study: 768)"},

    /* ---- train: data-parallel contrastive training (ckpt.h5) -------------------------------- */
    {"train.batch", HP_T_INT, "32", 2, 1048576, NULL,
     "global batch (image, caption) pairs per step, spread evenly over the ranks (must be "
     "divisible by the rank count); negatives are global (the study: 32)"},
    {"train.lr", HP_T_FLOAT, "1e-5", 0, 1e30, NULL, "peak learning rate (the study: 1e-5)"},
    {"train.epochs", HP_T_INT, "20", 1, 100000, NULL,
     "most epochs (passes over the training split; the last partial batch is dropped)"},
    {"train.patience", HP_T_INT, "2", 0, 100000, NULL,
     "early stopping: stop after this many epochs without a lower validation loss (0 = never stop "
     "early); the best epoch's parameters are kept"},
    {"train.optimizer", HP_T_ENUM, "adamw", NO_RANGE, "adamw|sgd",
     "optimiser: AdamW (betas 0.9/0.999, eps 1e-8) or SGD with momentum (torch semantics)"},
    {"train.weight_decay", HP_T_FLOAT, "0", 0, 10, NULL,
     "decoupled (AdamW) / coupled (SGD) weight decay on weight matrices; 0 = none (the study used "
     "plain Adam)"},
    {"train.momentum", HP_T_FLOAT, "0.9", 0, 1, NULL, "SGD momentum"},
    {"train.l2_penalty", HP_T_FLOAT, "1e-3", 0, 10, NULL,
     "L2 penalty lambda * sum(w^2) on the two projection kernels (Keras kernel_regularizer, the "
     "study: 1e-3); not part of the logged contrastive loss"},
    {"train.temperature", HP_T_FLOAT, "0.07", 1e-4, 100, NULL,
     "temperature of the contrastive loss (logits = cosine / temperature; CLIP: 0.07)"},
    {"train.learn_temperature", HP_T_BOOL, "false", NO_RANGE, NULL,
     "learn the temperature (as log(1/T), clamped to T >= 0.01) starting from train.temperature"},
    {"train.schedule", HP_T_ENUM, "constant", NO_RANGE, "constant|cosine",
     "learning-rate schedule: constant, or linear warm-up then cosine decay to train.min_lr"},
    {"train.warmup_steps", HP_T_INT, "0", 0, 1e12, NULL, "linear warm-up steps of the cosine schedule"},
    {"train.min_lr", HP_T_FLOAT, "0", 0, 1e30, NULL, "learning rate at the end of the cosine schedule"},
    {"train.grad_clip", HP_T_FLOAT, "0", 0, 1e30, NULL,
     "clip the global gradient norm to this value (torch clip_grad_norm_); 0 = no clipping"},
    {"train.bucket_mb", HP_T_FLOAT, "25", 0.001, 4096, NULL,
     "gradient allreduce bucket size in MiB (PyTorch DDP: 25); buckets start as soon as backward "
     "has finished them"},
    {"train.allreduce_dtype", HP_T_ENUM, "float32", NO_RANGE, "float32|bfloat16",
     "what the gradient allreduce sends: float32, or bfloat16 (half the bytes; every addition in "
     "float32, each hop's partial sum rounded to bfloat16; not with train.zero1); 1 rank is unaffected"},
    {"train.zero1", HP_T_BOOL, "false", NO_RANGE, NULL,
     "shard the optimiser state (ZeRO stage 1): gradients reduce-scattered, each rank updates its "
     "slice of the moments and parameters, parameters all-gathered"},
    {"train.checkpoint_every", HP_T_INT, "0", 0, 1e12, NULL,
     "also write the restart state (train-state.h5) every this many steps; 0 = at epoch ends only"},
    {"train.max_steps", HP_T_INT, "0", 0, 1e12, NULL,
     "stop after this many optimiser steps in total (0 = no cap); the partial epoch is validated"},
    {"train.eval_batch", HP_T_INT, "0", 0, 1048576, NULL,
     "global batch of the validation loss (its negatives) and of test-split embedding; 0 = train.batch"},
    {"train.soft_targets", HP_T_BOOL, "false", NO_RANGE, NULL,
     "MedCLIP-style label-aware targets: an image's target in the contrastive loss is spread evenly "
     "over every caption of the global batch whose image has the same label set (same for "
     "caption -> image), so pairs that share labels are not negatives; images without labels keep "
     "the one-hot CLIP target (docs/metrics.md)"},
    {"train.freeze", HP_T_ENUM, "none", NO_RANGE, "none|image|text",
     "lock one tower (with its projection) at its initial values, as OpenCLIP's --lock-image / "
     "--lock-text: \"image\" is locked-image tuning (LiT), the image tower from train.init_checkpoint"},
    {"train.init_checkpoint", HP_T_STRING, "", NO_RANGE, NULL,
     "start from the parameters of this ckpt.h5 (same model description) instead of a seeded "
     "initialisation; empty = none"},

    /* ---- embed: every image and caption through the trained encoders (embeddings.h5) ------- */
    {"embed.batch", HP_T_INT, "32", 1, 65536, NULL,
     "rows per encoder call, and the unit of work: global batch b (rows [b*batch, (b+1)*batch)) "
     "is run whole by one rank, so every embedding is bitwise the same for any rank count"},

    /* ---- search: label-query retrieval and the CLIP retrieval protocol (results.h5 /search) -- */
    {"search.split", HP_T_ENUM, "test", NO_RANGE, "train|val|test|all",
     "images (and their captions) ranked: one split of dataset.h5, or all images"},
    {"search.prompt", HP_T_STRING, "{}", NO_RANGE, NULL,
     "query text of a label: every {} is replaced by the label name (\"{}\" = the bare name, the "
     "study; e.g. \"a picture of a {}\")"},
    {"search.convention", HP_T_ENUM, "relevant", NO_RANGE, "relevant|retrieved",
     "denominators of R@k, NDCG@k and AP@k in the printed tables: relevant items in the split "
     "(textbook) or relevant items retrieved (the study's Table 1); results.h5 holds both "
     "(docs/metrics.md)"},
    {"search.index", HP_T_ENUM, "exact", NO_RANGE, "exact|forest",
     "nearest-neighbour index of the searches (src/index): exact (blocked sgemm, the reference) or "
     "forest (Annoy-style random-projection trees per shard); with forest every query set is also "
     "searched exactly and the forest's recall@10 against exact is reported"},
    {"search.trees", HP_T_INT, "10", 1, 100000, NULL, "forest: trees per shard"},
    {"search.leaf_size", HP_T_INT, "64", 2, 1e6, NULL, "forest: most items in a leaf"},
    {"search.search_k", HP_T_INT, "0", 0, 1e12, NULL,
     "forest: search effort, distinct candidates re-ranked exactly per shard and query; 0 = "
     "search.trees * search.leaf_size"},
    {"search.seed", HP_T_INT, "1", 0, 1e15, NULL, "forest: seed of the trees' random splits"},
    {"search.shards", HP_T_INT, "12", 1, 1e6, NULL,
     "index shards: shard j holds the rows hp_shard_range(N, shards, j) of the images (and, for "
     "image->caption, of the captions) in the split; rank r holds whole shards "
     "hp_shard_range(shards, ranks, r), so a forest is the same for any rank count (use a "
     "multiple of the rank count for balance; ranks beyond it hold none)"},
    {"search.shard_rows", HP_T_INT, "0", 0, 1e9, NULL,
     "> 0: shards of this many rows instead of search.shards of them (shard j holds rows "
     "[j*shard_rows, (j+1)*shard_rows) of the images, or captions, in the split): a dataset "
     "grown by ingest.append keeps the shards of its old rows, and with search.save_index a "
     "forest takes their trees from the previous index.h5 and builds only the new shards; 0 = "
     "search.shards"},
    {"search.save_index", HP_T_BOOL, "false", NO_RANGE, NULL,
     "also save the image index (with its trees) to index.h5 in the run directory "
     "(hpclip-index schema, loadable at any rank count)"},
    {"search.export_knn", HP_T_INT, "0", 0, 1000, NULL,
     "K > 0: write neighbours.h5, every indexed image's K nearest other images (ids, scores; "
     "hdf5-schemas/neighbours.md); 0 = no export"},
    {"search.dedup_threshold", HP_T_FLOAT, "0", 0, 1, NULL,
     "t > 0 (with search.export_knn): the near-duplicate pairs, neighbours at cosine >= t, in "
     "neighbours.h5 /dedup and search.md; 0 = no report"},
    {"search.queries", HP_T_STRLIST, "", NO_RANGE, NULL,
     "free-text queries of the study's Table 3 (e.g. \"red scarf\"), text-encoded as given (no "
     "search.prompt); empty = no query table"},
    {"search.query_labels", HP_T_STRLIST, "", NO_RANGE, NULL,
     "relevance of each search.queries entry, one item per query: label names of dataset.h5 joined "
     "by \"&\" (all required), a term may list alternatives joined by a vertical bar (any one), e.g. "
     "\"articleType:Scarves & baseColour:Red\" (docs/metrics.md)"},

    /* ---- zeroshot: zero-shot classification with label prompts (results.h5 /zeroshot) ------ */
    {"zeroshot.split", HP_T_ENUM, "test", NO_RANGE, "train|val|test|all",
     "images classified: one split of dataset.h5, or all images"},
    {"zeroshot.prompt", HP_T_STRING, "{}", NO_RANGE, NULL,
     "text of a label's class embedding: every {} is replaced by the label name (\"{}\" = the bare "
     "name)"},
    {"zeroshot.templates", HP_T_STRLIST, "", NO_RANGE, NULL,
     "prompt ensembling, as CLIP's zero-shot evaluation: a class embedding is the normalised mean of "
     "the normalised embeddings of every template with {} replaced by the label name (e.g. [\"a photo "
     "of a {}.\", \"a blurry photo of a {}.\"]); empty = the single zeroshot.prompt"},

    /* ---- cluster: k-means, elbow, cluster quality (results.h5 /cluster) -------------------- */
    {"cluster.source", HP_T_ENUM, "image", NO_RANGE, "image|caption",
     "embeddings clustered: images, or captions (a caption belongs to its image's split)"},
    {"cluster.split", HP_T_ENUM, "all", NO_RANGE, "train|val|test|all",
     "rows clustered: the images (or their captions) of one split, or all"},
    {"cluster.k", HP_T_INT, "0", 0, 1000000, NULL,
     "number of clusters; 0 = choose it by the elbow method over cluster.k_min..k_max (the study: 110)"},
    {"cluster.k_min", HP_T_INT, "2", 0, 1000000, NULL,
     "smallest K of the elbow curve (at least 2)"},
    {"cluster.k_max", HP_T_INT, "20", 0, 1000000, NULL,
     "largest K of the elbow curve (at most the number of rows)"},
    {"cluster.k_step", HP_T_INT, "2", 1, 1000000, NULL,
     "step between the K values of the elbow curve (k_max is always included)"},
    {"cluster.max_iter", HP_T_INT, "300", 1, 1000000, NULL,
     "cap on Lloyd iterations per k-means run"},
    {"cluster.tol", HP_T_FLOAT, "1e-4", 0, 1, NULL,
     "convergence: stop when the summed squared centre shift is at most tol x the mean per-feature "
     "variance (scikit-learn's rule), or when no label changes"},
    {"cluster.analysis", HP_T_BOOL, "true", NO_RANGE, NULL,
     "also run the ScaLAPACK analytics: PCA of the clustered rows (explained variance, 3-D "
     "projection), the image-caption modality gap, and the linear probe (needs labels)"},
    {"cluster.probe_ridge", HP_T_FLOAT, "1.0", 0, 1e12, NULL,
     "ridge added to the diagonal of X^T X in the linear probe (train split -> test split)"},
    {"cluster.solver_ranks", HP_T_INT, "1", 0, 1000000, NULL,
     "ranks in the ScaLAPACK grid that solves the dense dim x dim PCA eigenproblem (pdsyevd) and the probe's "
     "normal equations (pdposv); the matrices are summed exactly over all ranks first. 1 (default) gives the "
     "same bits for any rank count; 0 = every rank (faster for large dim, equal only to rounding across rank "
     "counts)"},
    {"cluster.silhouette_sample", HP_T_INT, "0", 0, 1000000000, NULL,
     "silhouette over a sample (seeded by run.seed, as the k-means++ initialisation) of this many rows (distances within the sample); 0 = exact "
     "over all rows (every rank then holds all rows: N x dim x 4 bytes)"},

    /* ---- caption: the text decoder on frozen CLIP embeddings (caption-train, caption) ------- */
    {"caption.width", HP_T_INT, "768", 8, 16384, NULL,
     "decoder width D (the study: 768); the CLIP embedding enters as a prefix token through a "
     "linear projection to D"},
    {"caption.ffn", HP_T_INT, "2048", 8, 65536, NULL, "decoder feed-forward width (the study: 2048)"},
    {"caption.heads", HP_T_INT, "8", 1, 256, NULL, "decoder attention heads (the study: 8; divides caption.width)"},
    {"caption.layers", HP_T_INT, "1", 1, 64, NULL, "transformer decoder blocks (the study: 1)"},
    {"caption.dropout", HP_T_FLOAT, "0.5", 0, 0.99, NULL,
     "dropout before the vocabulary projection (the study: 0.5)"},
    {"caption.block_dropout", HP_T_FLOAT, "0", 0, 0.99, NULL,
     "dropout inside the decoder blocks (attention and MLP outputs); the study: none"},
    {"caption.train_optimizer", HP_T_ENUM, "rmsprop", NO_RANGE, "rmsprop|adamw",
     "caption-train optimiser: RMSprop (the study; alpha 0.9, eps 1e-7) or AdamW (betas 0.9/0.999)"},
    {"caption.train_lr", HP_T_FLOAT, "1e-3", 0, 1e30, NULL, "caption-train learning rate (the study: 1e-3)"},
    {"caption.train_weight_decay", HP_T_FLOAT, "0", 0, 10, NULL,
     "caption-train weight decay on the matrices (RMSprop: coupled, AdamW: decoupled)"},
    {"caption.train_batch", HP_T_INT, "64", 1, 1048576, NULL,
     "caption-train global batch of captions per step, spread over the ranks (the study: 64)"},
    {"caption.train_epochs", HP_T_INT, "20", 1, 100000, NULL, "caption-train epochs at most (the study: 20)"},
    {"caption.train_patience", HP_T_INT, "2", 0, 100000, NULL,
     "early stopping: stop after this many epochs without a better validation token accuracy "
     "(0 = never); the best epoch's decoder is kept"},
    {"caption.train_max_steps", HP_T_INT, "0", 0, 1e12, NULL,
     "stop caption-train after this many optimiser steps (0 = no limit; for tests and benchmarks)"},
    {"caption.beam", HP_T_INT, "1", 1, 64, NULL, "decoding beam width: 1 = greedy, more = beam search"},
    {"caption.length_penalty", HP_T_FLOAT, "0", 0, 10, NULL,
     "beam search: a hypothesis is scored by log-probability / length^length_penalty (0 = raw log-probability)"},
    {"caption.renorm", HP_T_BOOL, "true", NO_RANGE, NULL,
     "mode (b): L2-normalise the support-memory projection before decoding (the caption embeddings "
     "the decoder was trained on are unit vectors)"},
    {"caption.split", HP_T_ENUM, "test", NO_RANGE, "train|val|test",
     "images captioned and scored (against all their reference captions)"},
    {"caption.decode_batch", HP_T_INT, "64", 1, 65536, NULL, "images decoded together per rank"},
    {"caption.examples", HP_T_INT, "5", 0, 1000, NULL,
     "example captions per mode in results.h5 and caption.md (the first images of the split)"},
};

const int hp_cfg_nkeys = (int)(sizeof hp_cfg_keys / sizeof hp_cfg_keys[0]);
