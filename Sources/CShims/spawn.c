// The one C function with logic in CShims, and why: the command under test must die with
// faultline (PR_SET_PDEATHSIG), which posix_spawn cannot ask for, so faultline forks and
// execs itself. Between fork and exec the child of a multithreaded process may only make
// async-signal-safe calls; Swift code there could take a lock another thread held at the
// fork, or allocate, and hang. So the child's few steps are written here, in C, with no
// allocation: the caller resolves the program's path and builds argv and envp beforehand.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "CShims.h"

pid_t fl_spawn_in_group(const char *path, char *const argv[], char *const envp[], int stdout_fd, int stderr_fd,
                        int *error) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) { *error = errno; return -1; }
    // Signals stay blocked across fork until the child reset their handlers: faultline's own
    // handlers (libevent's) must never run in the child.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t parent = getpid();
    pid_t pid = fork();
    int fork_error = errno;
    if (pid != 0) pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        *error = fork_error;
        close(report[0]);
        close(report[1]);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        // faultline may have died between fork and prctl: then nobody would ever kill us.
        if (getppid() != parent) _exit(127);
        const int reset[] = {SIGPIPE, SIGINT, SIGTERM, SIGCHLD};
        for (unsigned i = 0; i < sizeof reset / sizeof reset[0]; i++) signal(reset[i], SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (stdout_fd >= 0) dup2(stdout_fd, 1);
        if (stderr_fd >= 0) dup2(stderr_fd, 2);
        execve(path, argv, envp);
        int failed = errno;
        (void)!write(report[1], &failed, sizeof failed);
        _exit(127);
    }
    // The parent's end of the pipe sees EOF once exec succeeded (close-on-exec) or the errno.
    close(report[1]);
    int failed = 0;
    ssize_t got;
    do { got = read(report[0], &failed, sizeof failed); } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof failed) {
        waitpid(pid, NULL, 0);
        *error = failed;
        return -1;
    }
    return pid;
}
