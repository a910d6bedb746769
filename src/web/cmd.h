/* The commands of the left4me program (main.c dispatches): serve
 * (cmd-serve.c), admin and db (cmd-admin.c), workshop (cmd-workshop.c).
 * Each has its --help text. */
#pragma once

#include <sqlite3.h>

/* flag > environment > web.env > default. Returns a malloc'ed string. */
char *setting(const char *flag, const char *key, const char *dflt);
/* Opens (creates) the state dir's database and migrates it; prints the
 * one-line error itself. Returns the number of steps applied. */
int open_db(sqlite3 **ret);

int cmd_serve(int argc, char **argv);
int cmd_admin(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_workshop(int argc, char **argv);

extern const char cmd_serve_help[], cmd_admin_help[], cmd_db_help[], cmd_workshop_help[];
