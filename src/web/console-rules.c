#include <stddef.h>
#include <string.h>

#include "console-rules.h"
#include "web.h"

/* The console matches command names ignoring ASCII case (and only ASCII),
 * and a quote never joins two words of a name; so a mention is the
 * letters r-c-o-n-_-p-a-s-s-w-o-r-d in a row, in any case. Quotes are also
 * taken out before looking, so that no tokenizer quirk that glued quoted
 * pieces together could hide one. */
static bool mentions(const char *s, const char *word) {
        char buf[CONSOLE_COMMAND_MAX + 1];
        size_t n = 0;
        for (const char *p = s; *p && n < sizeof buf - 1; p++)
                if (*p != '"')
                        buf[n++] = *p >= 'A' && *p <= 'Z' ? (char) (*p - 'A' + 'a') : *p;
        buf[n] = '\0';
        return strstr(buf, word) != NULL;
}

const char *console_command_problem(const char *cmd) {
        if (!cmd)
                return "Type a command.";
        size_t n = strlen(cmd);
        bool blank = true;
        for (size_t i = 0; i < n && blank; i++)
                blank = cmd[i] == ' ' || cmd[i] == '\t';
        if (blank)
                return "Type a command.";
        if (n > CONSOLE_COMMAND_MAX)
                return "The command is longer than 511 bytes; the server would skip it.";
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) cmd[i] < 0x20 || cmd[i] == 0x7f)
                        return "One line, without control characters: chain commands with ; instead.";
        if (!utf8_is_valid(cmd))
                return "The command is not valid UTF-8.";
        if (mentions(cmd, "rcon_password"))
                return "Refused: this command would set or reveal rcon_password. The panel's console and its "
                       "player list reach the server with the password l4d2ctl keeps for it; another one set here "
                       "would lock them out until the server restarts.";
        return NULL;
}
