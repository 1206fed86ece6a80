#define _GNU_SOURCE
#include <fcntl.h>
#include <pty.h>
#include <sys/prctl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "CShims.h"

ssize_t fl_splice(int from, int to, size_t length) { return splice(from, NULL, to, NULL, length, SPLICE_F_MOVE | SPLICE_F_NONBLOCK); }
int fl_pipe(int fds[2]) { return pipe2(fds, O_NONBLOCK | O_CLOEXEC); }
int fl_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }
int fl_pipe_size(int fd) { return fcntl(fd, F_GETPIPE_SZ); }
int fl_readable_bytes(int fd) { int n = 0; return ioctl(fd, FIONREAD, &n) < 0 ? -1 : n; }
int fl_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
int fl_openpty(int *controller, int *terminal, const struct termios *modes, const struct winsize *size) { return openpty(controller, terminal, NULL, modes, size); }
int fl_become_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
