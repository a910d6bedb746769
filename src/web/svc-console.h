/* The console_history table: every command typed into a server's RCON
 * console, by whom, when, how it went and what the server answered (cut
 * at CONSOLE_RESPONSE_KEEP bytes). A server keeps its newest
 * CONSOLE_HISTORY_KEEP entries. The owner check is the server's
 * (server_load), done by the page first. */
#pragma once

#include <sqlite3.h>
#include <stdint.h>

#include "db.h"
#include "web.h"

#define CONSOLE_HISTORY_KEEP 200
#define CONSOLE_RESPONSE_KEEP (64 * 1024)

/* Outcomes: ok, refused (by the panel, before anything was sent), timeout,
 * unreachable (nothing answers: not running, connection refused), auth
 * (the server refused the password), error (anything else). */
int console_add(sqlite3 *db, int64_t server_id, const User *u, const char *command, const char *outcome,
                const char *response, size_t response_len, int64_t *ret_id);

typedef struct ConsoleEntry {
        int64_t id, at;
        const char *username, *command, *outcome, *response; /* valid until the next console_next() */
        size_t response_kept, response_len;
} ConsoleEntry;
/* The newest entries of a server, newest first. */
int console_history(DbIter *it, sqlite3 *db, int64_t server_id, int limit);
bool console_next(DbIter *it, ConsoleEntry *ret);
