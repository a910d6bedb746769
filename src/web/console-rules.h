/* What the RCON console sends, decided before anything reaches a server.
 * Pure (no I/O), so the unit test can try every form of a command. */
#pragma once

#include <stdbool.h>

#define CONSOLE_COMMAND_MAX 511 /* srcds skips longer console lines */

/* NULL when the command may be sent; else a sentence saying why not.
 * Refused: empty, longer than CONSOLE_COMMAND_MAX bytes, control characters
 * or bytes that are not UTF-8, and any command that mentions rcon_password
 * in any case, quoted or not, alone, behind an alias or chained after `;`:
 * changing the password on the server would lock out the panel's console
 * and its player list, which use the one l4d2ctl keeps. */
const char *console_command_problem(const char *cmd);
