// C functions for what Swift cannot import (macros, GNU-only calls). One line each, no logic.
#ifndef FAULTLINE_CSHIMS_H
#define FAULTLINE_CSHIMS_H
#include <features.h>
#include <sys/types.h>

/// splice(2) between two descriptors, never blocking, moving pages where the kernel can.
ssize_t fl_splice(int from, int to, size_t length);
/// A non-blocking, close-on-exec pipe.
int fl_pipe(int fds[2]);
/// fcntl(F_SETPIPE_SZ): returns the new capacity or -1.
int fl_set_pipe_size(int fd, int size);
/// fcntl(F_GETPIPE_SZ).
int fl_pipe_size(int fd);
/// A non-blocking, close-on-exec eventfd starting at 0.
int fl_eventfd(void);
/// Bytes waiting in a pipe or socket's receive queue (FIONREAD).
int fl_readable_bytes(int fd);

#endif
