// C functions for what Swift cannot import (macros, GNU-only calls). One line each, no logic,
// except fl_spawn_in_group (spawn.c says why it must be C).
#ifndef FAULTLINE_CSHIMS_H
#define FAULTLINE_CSHIMS_H
#include <features.h>
#include <sys/types.h>
#include <sys/ioctl.h>
#include <termios.h>
#include "crypto_shims.h"
#include "tls_shims.h"
#include "http_shims.h"

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
/// openpty(3): a pseudo-terminal pair with `modes` and `size`; 0 or -1 with errno.
int fl_openpty(int *controller, int *terminal, const struct termios *modes, const struct winsize *size);
/// prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants become this process's children.
int fl_become_subreaper(void);
/// fork + exec of `path` (already resolved) in a new process group, SIGKILLed when the calling
/// thread ends (PR_SET_PDEATHSIG), with SIGPIPE/SIGINT/SIGTERM/SIGCHLD at their defaults and no
/// signal blocked; `stdout_fd`/`stderr_fd` replace its stdout/stderr unless -1. Returns the pid,
/// or -1 with `*error` set to the errno of fork or exec. See spawn.c for why this is C.
pid_t fl_spawn_in_group(const char *path, char *const argv[], char *const envp[], int stdout_fd, int stderr_fd,
                        int *error);

#endif
