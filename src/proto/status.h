/* Parser for the output of L4D2's `status` console command:
 *
 *   hostname: My Server
 *   version : 2.2.2.6 8777 secure  (unknown)
 *   udp/ip  : 127.0.0.1:27015 [ public n/a ]
 *   os      : Linux Dedicated
 *   map     : c2m2_fairgrounds at ( 1621, 2786, 66 )
 *   players : 3 humans, 2 bots (8 max) (not hibernating) (unreserved)
 *
 *   # userid name uniqueid connected ping loss state rate adr
 *   #  2 1 "Ellis "the" Mechanic" STEAM_1:0:12345 05:12 45 0 active 30000 127.0.0.1:27005
 *   #677 "Smoker" BOT active
 *   #end
 *
 * A player's name is everything between the first and the last double quote
 * of the row (names may hold quotes and UTF-8; the fields after the name
 * never hold a quote, so the last quote is always the closing one). Lines
 * after `#end` are ignored; header lines the parser does not know are
 * ignored; a player row it cannot read fails the whole parse, because a
 * silently dropped player is worse than a clear error. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define STATUS_TEXT_MAX (1u << 20)  /* longer input: -E2BIG */
#define STATUS_PLAYERS_MAX 256      /* more rows: -E2BIG */

typedef struct StatusPlayer {
        int userid;
        int slot;               /* -1 when the row has none (bots) */
        char *name;             /* UTF-8 as sent, quotes kept */
        bool bot;
        char *uniqueid;         /* "STEAM_1:0:123", "STEAM_ID_PENDING", "BOT" */
        uint64_t steamid64;     /* 0 when uniqueid is not a SteamID */
        unsigned connected;     /* seconds; 0 for bots */
        int ping, loss, rate;   /* -1 for bots */
        char *state;            /* "active", "spawning", ... */
        char *adr;              /* "1.2.3.4:27005", "loopback", or NULL */
} StatusPlayer;

typedef struct Status {
        char *hostname, *version, *udp_ip, *os, *map; /* NULL when absent */
        bool has_position;
        long position[3];       /* from "map : m at ( x, y, z )" */
        int humans, bots, max_players; /* -1 when absent */
        int hibernating;        /* 1, 0, or -1 when not reported */
        char *reserved;         /* "unreserved", "reserved 1860...", or NULL */
        StatusPlayer *players;
        size_t n_players;
} Status;

/* Parses text[0..len). On success fills *ret (free with status_done()).
 * -EBADMSG with a message naming the line for a malformed player row or
 * input that is not `status` output (no "# userid" column header), -E2BIG
 * past the caps above, -ENOMEM. */
int status_parse(const char *text, size_t len, Status *ret, Error *err);

void status_done(Status *s);

/* Parses "MM:SS" or "H:MM:SS" into seconds; -EINVAL otherwise. */
int status_parse_connected(const char *s, size_t len, unsigned *ret);
