/* What kind of file a mode says, in words for messages. */
#ifndef RON_FILEKIND_H
#define RON_FILEKIND_H
#include <sys/types.h>

/* "a regular file", "a FIFO", "a directory", ...: the type bits of st_mode. */
const char *filekind_name(mode_t mode);

#endif
