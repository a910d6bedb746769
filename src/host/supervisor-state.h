/* What the supervisor backend's two halves share: the instance's runtime
 * dir, the supervisor's liveness lock and state.json. backend-supervisor.c
 * (start/stop/status/logs, run by l4d2ctl) reads them; supervisor.c (the
 * supervisor process) writes them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "backend.h"
#include "config.h"

uint64_t now_usec(clockid_t clk);

/* <state>/runtime/NAME as an O_DIRECTORY fd, never through a symlink. */
int runtime_open(const HostConfig *c, const char *name);

/* The start time of a process in clock ticks since boot (field 22 of
 * /proc/PID/stat), 0 if there is no such process. With the pid it names one
 * process for good: a recycled pid has another start time. */
uint64_t proc_starttime(pid_t pid);

/* The supervisor's liveness: a classic POSIX lock (F_SETLK) on
 * <runtime>/supervisor.lock, held for its whole life. 1 if held, with the
 * holder's pid as the kernel reports it (F_GETLK): stop signals that pid,
 * never one read from a file the server's uid could write. 0 if not held,
 * -errno on error. */
int lock_holder(int rtfd, pid_t *ret_pid);
int lock_held(int rtfd);

int state_write(int rtfd, InstanceState s, pid_t pid, uint64_t started, unsigned restarts, const char *detail,
                const char *containment);
/* 1 if state.json was read into *st, 0 if there is none (or it is damaged). */
int state_read(int rtfd, BackendStatus *st, uint64_t *ret_starttime);

int write_all(int fd, const void *p, size_t n);
