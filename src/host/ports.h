/* Game ports: which pair (game port P, SourceTV port P+1) an instance gets,
 * and whether another program on the host holds one. An instance uses UDP
 * and TCP (RCON) on P and UDP on P+1. Allocation runs under the state dir's
 * `.ports` lock; a program outside left4me can still take a port between an
 * allocation and a start, which start checks again (instance.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "strutil.h"

/* The port pairs of every instance but self (from their instance.json). */
typedef struct PortUse {
        long port;
        char name[NAME_MAX_LEN + 1];
} PortUse;
int ports_of_instances(const HostConfig *c, const char *self, PortUse **ret, size_t *ret_n);
/* The instance whose pair overlaps the pair at port, or NULL. */
const char *ports_owner(const PortUse *v, size_t n, long port);

/* The first port of the pair at port that a program on this host holds
 * (bind() says EADDRINUSE for TCP or UDP on P, or UDP on P+1), with a word
 * for what it is in *ret_what ("port", "SourceTV port"); 0 when the pair is
 * free. */
long ports_held_on_host(long port, const char **ret_what);

/* The first pair of the host's range that no instance (but self's old one,
 * which is not in used) and no program on the host holds; 0 if none. */
long ports_find_free(const HostConfig *c, const PortUse *used, size_t n_used);

/* Who holds a port, as "'nc', pid 1234", found through /proc (only
 * processes this user may look at); "" when that cannot be told. */
void ports_holder(long port, char *buf, size_t size);
