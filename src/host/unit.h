/* Template units over the system bus: start, stop, restart and the state of
 * `<template>@<instance>.service` (left4me-server@alpha.service,
 * left4me-build@maps.service). One module for every template, so the server
 * backend and the overlay builds drive systemd the same way.
 *
 * As root every call is allowed; as the service user the polkit rule
 * deploy/polkit/50-left4me.rules allows exactly the left4me templates and
 * these verbs. Calls never ask for interactive authorization. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct UnitState {
        char active[32];       /* ActiveState: active, activating, failed, ... */
        char sub[32];          /* SubState: running, auto-restart, dead, ... */
        char result[48];       /* Service Result: success, exit-code, start-limit-hit, ... */
        uint32_t main_pid;     /* 0 when none */
        uint32_t n_restarts;   /* automatic restarts (Restart=) */
        uint64_t started_usec; /* ExecMainStartTimestamp, CLOCK_REALTIME; 0 if never */
} UnitState;

/* "<template>@<instance>.service". template is a fixed name of ours;
 * instance must be a valid instance/overlay name (1-32 of [A-Za-z0-9_-],
 * first a letter or digit). -EINVAL otherwise, -ENOBUFS if it does not fit. */
int unit_name(const char *template_name, const char *instance, char *buf, size_t size);

/* Resets a failed state (an explicit start means "try again"), starts the
 * unit, waits for systemd's job and checks that the unit did not fail. */
int unit_start(const char *template_name, const char *instance, Error *err);

/* Stops the unit and waits for the job; a unit that is not loaded is
 * success. The failed state a stop leaves (a server killed at stop) is
 * reset: the caller asked for it to stop. */
int unit_stop(const char *template_name, const char *instance, Error *err);

/* RestartUnit and wait for the job. */
int unit_restart(const char *template_name, const char *instance, Error *err);

/* The unit's state; a unit that is not loaded reads as inactive/dead. */
int unit_state(const char *template_name, const char *instance, UnitState *ret, Error *err);

/* StartUnit of one fixed, non-template unit of ours (left4me-units.service)
 * and wait for its job: for a oneshot, until it has run. No reset of a
 * failed state first: its start limit must hold. */
int unit_start_named(const char *unit, Error *err);
