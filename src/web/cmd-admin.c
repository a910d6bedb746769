/* left4me admin ... and left4me db migrate: accounts and the schema, from
 * the command line (the panel may be running: SQLite serializes the writes,
 * and the panel's render cache sees them through its write counters). */
#include <sodium.h>
#include <string.h>

#include "cmd.h"
#include "db.h"
#include "random.h"
#include "svc-accounts.h"

const char cmd_admin_help[] =
        "Usage: left4me [--state-dir DIR] admin create USER [--admin] [--password-stdin]\n"
        "       left4me [--state-dir DIR] admin passwd USER [--password-stdin]\n"
        "       left4me [--state-dir DIR] admin list\n"
        "       left4me [--state-dir DIR] admin disable|enable USER\n"
        "\n"
        "Manages the panel's accounts in the state dir's database.\n"
        "\n"
        "  create   a new account (--admin: an administrator); prints a generated\n"
        "           password, or reads one line from stdin (--password-stdin)\n"
        "  passwd   a new password; every session of the account ends\n"
        "  list     every account: name, role, state\n"
        "  disable  the account cannot log in; its sessions end at once\n"
        "  enable   it can again\n"
        "\n"
        "Usernames are 1-32 of A-Z a-z 0-9 _ . -; passwords 10-256 characters.\n"
        "Exit status: 0 done, 1 failed (one line 'error: ...'), 2 usage.\n";

const char cmd_db_help[] =
        "Usage: left4me [--state-dir DIR] db migrate\n"
        "\n"
        "Brings the state dir's database (left4me.db) to the newest schema, one\n"
        "transaction per step; 'left4me serve' does the same at its start.\n";

/* Reads one line from stdin as the password. */
static int read_password(char *buf, size_t size) {
        if (!fgets(buf, (int) size, stdin))
                return -EINVAL;
        buf[strcspn(buf, "\r\n")] = '\0';
        return 0;
}

int cmd_admin(int argc, char **argv) {
        if (argc < 1) {
                fputs(cmd_admin_help, stderr);
                return 2;
        }
        const char *sub = argv[0], *user = argc > 1 ? argv[1] : NULL;
        bool admin = false, from_stdin = false;
        for (int i = 2; i < argc; i++) {
                if (streq(argv[i], "--admin"))
                        admin = true;
                else if (streq(argv[i], "--password-stdin"))
                        from_stdin = true;
                else {
                        fprintf(stderr, "error: unknown option '%s'\n", argv[i]);
                        return 2;
                }
        }
        if (!streq(sub, "list") && !user) {
                fprintf(stderr, "error: 'admin %s' needs a username\n", sub);
                return 2;
        }
        sqlite3 *db;
        if (open_db(&db) < 0)
                return 1;
        int ret = 0;
        char pw[PASSWORD_MAX + 2] = "";
        int64_t id = 0;
        if (streq(sub, "list")) {
                _cleanup_iter_ DbIter it = DB_ITER_INIT;
                AccountRow u;
                if (accounts_list(&it, db) < 0)
                        ret = 1;
                while (account_next(&it, &u))
                        printf("%-32s %-5s %s\n", u.username, u.is_admin ? "admin" : "user",
                               u.disabled ? "disabled" : "active");
        } else if (streq(sub, "create") || streq(sub, "passwd")) {
                const char *m = streq(sub, "create") ? username_problem(user) : NULL;
                if (m) {
                        fprintf(stderr, "error: user '%s': %s\n", user, m);
                        ret = 1;
                        goto out;
                }
                if (from_stdin) {
                        if (read_password(pw, sizeof pw) < 0 || (m = password_problem(pw))) {
                                fprintf(stderr, "error: %s\n", m ? m : "no password on stdin");
                                ret = 1;
                                goto out;
                        }
                } else
                        random_alnum(pw, 21);
                int r;
                if (streq(sub, "create")) {
                        r = account_create(db, user, pw, admin, NULL);
                        if (r == -EEXIST) {
                                fprintf(stderr, "error: user '%s' exists already; use 'admin passwd' to reset it\n", user);
                                ret = 1;
                                goto out;
                        }
                } else {
                        r = account_find(db, user, &id);
                        if (r == 0) {
                                fprintf(stderr, "error: user '%s' does not exist; see 'left4me admin list'\n", user);
                                ret = 1;
                                goto out;
                        }
                        r = r < 0 ? r : account_set_password(db, id, pw, 0);
                }
                if (r < 0) {
                        fprintf(stderr, "error: user '%s': %s\n", user, strerror(-r));
                        ret = 1;
                } else if (!from_stdin)
                        printf("password for '%s': %s\n", user, pw);
        } else if (streq(sub, "disable") || streq(sub, "enable")) {
                if (account_find(db, user, &id) <= 0) {
                        fprintf(stderr, "error: user '%s' does not exist; see 'left4me admin list'\n", user);
                        ret = 1;
                } else if (account_set_disabled(db, id, streq(sub, "disable")) < 0) {
                        fprintf(stderr, "error: user '%s': could not change the account\n", user);
                        ret = 1;
                }
        } else {
                fprintf(stderr, "error: unknown admin command '%s'; see left4me --help\n", sub);
                ret = 2;
        }
out:
        sodium_memzero(pw, sizeof pw);
        sqlite3_close(db);
        return ret;
}

int cmd_db(int argc, char **argv) {
        if (argc != 1 || !streq(argv[0], "migrate")) {
                fputs(cmd_db_help, stderr);
                return 2;
        }
        sqlite3 *db;
        int applied = open_db(&db);
        if (applied < 0)
                return 1;
        printf("database schema at version %zu (%d step%s applied)\n", n_migrations, applied, applied == 1 ? "" : "s");
        sqlite3_close(db);
        return 0;
}

