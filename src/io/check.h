/* check.h — validation of any hpclip HDF5 file against its schema (`hpclip check FILE`).
 *
 * The file's root attribute `schema` names the schema ("hpclip.dataset", later
 * "hpclip.checkpoint", ...); its description (hdf5-schemas/NAME.schema, embedded at build time)
 * lists every object with dtype and symbolic shape; code adds the cross-object invariants
 * (offsets monotonic, indices in range, label width = number of names, ...). Every failure is
 * HP_ERR_INPUT with "FILE: OBJECT: what is wrong". Never crashes on hostile files: sizes are
 * checked before anything is allocated.
 */
#ifndef HP_IO_CHECK_H
#define HP_IO_CHECK_H

#include <stddef.h>
#include <mpi.h>

/* Collective: rank 0 validates, the verdict (and message) reaches every rank. */
int hp_check_file(MPI_Comm comm, const char *path);

/* Serial validation by the calling process alone. */
int hp_check_file_local(const char *path);
/* Collective: hp_check_file, and the file must be of `schema` ("hpclip.dataset", ...): a valid
 * file of another kind is refused as what it is ("runs/x/dataset.h5 is an hpclip checkpoint
 * (schema hpclip.checkpoint), not a dataset"), not by the first object it lacks. */
int hp_check_file_as(MPI_Comm comm, const char *path, const char *schema);

/* Read a root string attribute (collective: rank 0 reads, broadcast). HP_ERR_INPUT if the file
 * or the attribute is missing. */
int hp_h5_root_attr(MPI_Comm comm, const char *path, const char *name, char *buf, size_t n);
/* The same for a string attribute of object `obj` ("/search"). */
int hp_h5_obj_attr(MPI_Comm comm, const char *path, const char *obj, const char *name, char *buf, size_t n);

#endif
