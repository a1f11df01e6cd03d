/* tmpfile.h — temporary files this rank has created (NAME.tmp before the rename) and must remove
 * if the job fails: the top level (cli/main.c) and the watchdog remove what is still registered.
 * Serial, no allocation: at most 16 files, paths up to 1023 bytes. */
#ifndef HP_BASE_TMPFILE_H
#define HP_BASE_TMPFILE_H

/* Temporary files this rank has created and must remove if the job fails. */
void hp_tmpfile_register(const char *path);
void hp_tmpfile_unregister(const char *path);
void hp_tmpfile_remove_all(void);

#endif
