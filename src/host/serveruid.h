/* Who a game server runs as under the supervisor backend.
 *
 * With l4d2ctl running as root every instance gets a uid of its own from
 * LEFT4ME_SERVER_UID_RANGE (gid = uid, no supplementary groups), like
 * systemd's DynamicUser but fixed: it is allocated at initialize, under the
 * .ports lock, and stored in instance.json ("uid"), so the owner of the
 * instance's upper layer never changes. A uid that has a passwd entry is
 * never taken. One server therefore cannot read, write or signal another's
 * files and processes even outside its sandbox. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"

typedef struct ServerIdentity {
        bool switch_user; /* run the server (and drop the supervisor) to uid/gid */
        uid_t uid;
        gid_t gid;
        char note[160];   /* one line for the log/status when there is no uid of its own */
} ServerIdentity;

/* The stored uid of an instance: 1 and *ret, 0 if it has none yet. */
int server_uid_stored(const HostConfig *c, const char *name, uid_t *ret);

/* The lowest uid of the range that no other instance has and no passwd
 * entry names. Call with the .ports lock held. */
int server_uid_allocate(const HostConfig *c, const char *self, uid_t *ret, Error *err);

/* Who instance NAME's server runs as. An instance initialized before uids
 * were allocated gets one now (under the .ports lock; instance.json is
 * rewritten atomically). */
int server_identity(const HostConfig *c, const char *name, ServerIdentity *ret, Error *err);

/* Hands the server its files, as root before a start: with the supervisor
 * backend its runtime dir (0700: no other server may even reach its merged
 * tree), upper layer, the folders made for server.cfg and server.cfg itself
 * (it holds the RCON password: 0640) become its uid's; under systemd the
 * upper layer goes to the unit's user. Every fd was opened beneath the
 * state dir without symlinks; nothing below is followed. Does nothing when
 * the server keeps our uid. */
int server_hand_over(const HostConfig *c, const char *name, int rtdir, int upper, int cfg, Error *err);
