/* schema_embed.h — the schema descriptions hdf5-schemas/NAME.schema, compiled in.
 * The table is generated at build time by scripts/cmake/embed_schemas.cmake; a named type so
 * that the generated definition and every user agree on it (anonymous structs would not). */
#ifndef HP_IO_SCHEMA_EMBED_H
#define HP_IO_SCHEMA_EMBED_H

typedef struct hp_embedded_schema {
  const char *name; /* file name without extension, e.g. "dataset" */
  const char *text; /* libconfig text of hdf5-schemas/NAME.schema */
} hp_embedded_schema;

/* Terminated by {NULL, NULL}. */
extern const hp_embedded_schema hp_embedded_schemas[];

#endif
