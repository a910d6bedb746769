/* Between the canary runner (canary.c) and one stack's process
 * (canary-stack.c). Internal to src/host. */
#pragma once

#include <jansson.h>

#include "canary.h"

/* A distinct overlay stack of the instances that follow builds. */
typedef struct CanaryStack {
        char hash[STACK_HASH_LEN + 1];
        char rep[NAME_MAX_LEN + 1];   /* the instance whose spec the clones copy */
        json_t *instances;            /* names */
        json_t *overlays;
} CanaryStack;

/* The forked process of one stack: runs its canary (a clone on build and,
 * when there is one, a clone on baseline), saves the report, writes its
 * events as JSON lines to fd and exits (1 when it could not run). SIGTERM
 * ends it early, its clones removed. */
_noreturn_ void canary_stack_process(const HostConfig *c, const UpdateSettings *set, const CanaryRun *run,
                                     const CanaryStack *st, const BuildInfo *build, const char *baseline, int fd);
