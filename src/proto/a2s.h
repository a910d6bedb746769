/* A2S server queries (UDP): A2S_INFO, A2S_PLAYER, A2S_RULES.
 *
 * Replies are either one datagram (header FF FF FF FF) or split (header
 * FE FF FF FF, then int32 id, byte total, byte number, int16 max size, then
 * a slice of the whole reply). A2sAssembler puts split replies together by
 * id, whatever order the fragments come in, ignoring duplicates; a reply
 * with a fragment missing ends in a timeout that says so. Compressed split
 * replies (id with the high bit set; only old engines send them) are
 * refused with -EOPNOTSUPP.
 *
 * Challenges: A2S_PLAYER and A2S_RULES always start with the challenge
 * -1 and repeat the request with the challenge the server sends back
 * (S2C_CHALLENGE, 'A'). A2S_INFO is sent without one, and repeated with it
 * when the server asks (servers updated since 2020 do). A client keeps the
 * last challenge and sends it with its next query, saving a round trip. At
 * most A2S_CHALLENGE_ROUNDS challenges are followed per query. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define A2S_DATAGRAM_MAX 4096       /* larger datagrams are refused */
#define A2S_FRAGMENTS_MAX 64        /* a split reply with more: -EBADMSG */
#define A2S_PENDING_MAX 4           /* split replies assembled at once */
#define A2S_TIMEOUT_MS_DEFAULT 3000
#define A2S_CHALLENGE_ROUNDS 3
#define A2S_PLAYERS_MAX 255
#define A2S_RULES_MAX 4096

typedef struct A2sInfo {
        uint8_t protocol;
        char *name, *map, *folder, *game;
        uint16_t appid;
        uint8_t players, max_players, bots;
        char server_type;       /* 'd' dedicated, 'l' listen, 'p' SourceTV */
        char environment;       /* 'l' Linux, 'w' Windows, 'm'/'o' macOS */
        uint8_t visibility;     /* 1: password protected */
        uint8_t vac;
        char *version;
        uint8_t edf;            /* which optional fields below were present */
        uint16_t port;          /* EDF 0x80 */
        uint64_t steamid;       /* EDF 0x10 */
        uint16_t tv_port;       /* EDF 0x40 */
        char *tv_name;          /* EDF 0x40 */
        char *keywords;         /* EDF 0x20 */
        uint64_t gameid;        /* EDF 0x01 */
} A2sInfo;

typedef struct A2sPlayer {
        uint8_t index;
        char *name;
        int32_t score;
        float duration;         /* seconds connected */
} A2sPlayer;

typedef struct A2sPlayers {
        A2sPlayer *v;
        size_t n;
} A2sPlayers;

typedef struct A2sRule {
        char *name, *value;
} A2sRule;

typedef struct A2sRules {
        A2sRule *v;
        size_t n;
} A2sRules;

void a2s_info_done(A2sInfo *i);
void a2s_players_done(A2sPlayers *p);
void a2s_rules_done(A2sRules *r);

/* ---- Parsers (pure; what the fuzzer drives). Input is a whole reply
 * starting with FF FF FF FF. -EBADMSG for anything truncated or of the
 * wrong kind, -ENOMEM. Strings must be NUL-terminated inside the reply. */
int a2s_parse_info(const uint8_t *p, size_t n, A2sInfo *ret);
int a2s_parse_players(const uint8_t *p, size_t n, A2sPlayers *ret);
int a2s_parse_rules(const uint8_t *p, size_t n, A2sRules *ret);
/* S2C_CHALLENGE ('A' + int32): 0 and the challenge, -ENOMSG if the reply is
 * another kind, -EBADMSG if truncated. */
int a2s_parse_challenge(const uint8_t *p, size_t n, int32_t *ret);

/* Writes the A2S_INFO request into buf (A2S_INFO_REQUEST_MAX bytes), with
 * the challenge when have_challenge; returns its length. */
#define A2S_INFO_REQUEST_MAX 29
size_t a2s_info_request(uint8_t *buf, bool have_challenge, int32_t challenge);

/* ---- Split-reply assembly ---- */

typedef struct A2sPending {
        bool used;
        int32_t id;
        uint8_t total, have;
        uint64_t seen;          /* bit i: fragment i arrived */
        uint8_t *frag[A2S_FRAGMENTS_MAX];
        uint16_t frag_len[A2S_FRAGMENTS_MAX];
        unsigned age;
} A2sPending;

typedef struct A2sAssembler {
        A2sPending pending[A2S_PENDING_MAX];
        unsigned clock;
} A2sAssembler;

/* Feeds one datagram. Returns 1 and a whole reply in *ret (caller frees) when
 * the datagram completes one, 0 when more fragments are needed (duplicates
 * included), -EBADMSG for a malformed datagram (too short, unknown header,
 * fragment number >= total, total 0 or > A2S_FRAGMENTS_MAX, a total that
 * differs from earlier fragments of the same id), -EMSGSIZE for one larger
 * than A2S_DATAGRAM_MAX, -EOPNOTSUPP for a compressed reply, -ENOMEM. When
 * more than A2S_PENDING_MAX ids are in progress the oldest is dropped. */
int a2s_assembler_feed(A2sAssembler *a, const uint8_t *d, size_t n, uint8_t **ret, size_t *ret_len);

/* How many fragments the most complete pending reply has, and of how many
 * (0/0 when nothing is pending); for error messages. */
void a2s_assembler_progress(const A2sAssembler *a, unsigned *ret_have, unsigned *ret_total);

void a2s_assembler_done(A2sAssembler *a);

/* ---- Client ---- */

typedef struct A2sClient A2sClient;

int a2s_open(const char *host, uint16_t port, A2sClient **ret, Error *err);
/* Wraps a connected datagram socket (tests use a socketpair); takes fd. */
int a2s_client_from_fd(int fd, A2sClient **ret);
A2sClient *a2s_free(A2sClient *c);
static inline void a2s_freep(A2sClient **c) {
        a2s_free(*c);
}
#define _cleanup_a2s_ _cleanup_(a2s_freep)

/* Timeout per query, challenge rounds included (<= 0: the default). */
void a2s_set_timeout(A2sClient *c, int timeout_ms);

/* -ETIMEDOUT (message says how many fragments arrived), -EBADMSG,
 * -EOPNOTSUPP, -EPROTO (the server kept sending challenges), -ECONNREFUSED
 * (nothing listens on the port), -ENOMEM. */
int a2s_info(A2sClient *c, A2sInfo *ret, Error *err);
int a2s_players(A2sClient *c, A2sPlayers *ret, Error *err);
int a2s_rules(A2sClient *c, A2sRules *ret, Error *err);
