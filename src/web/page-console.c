/* The RCON console of a server page (its owner and admins: the page's owner
 * check): a line to type a command into and a transcript that grows below
 * it, replayed from the history when the page loads. Every command goes
 * through `l4d2ctl rcon --json` on the host, which reads the server's port
 * and password from the instance's state at that moment: nothing about the
 * endpoint is kept here, so a restart between two commands changes nothing
 * for the second. A timeout, a refused connection or a wrong password is an
 * entry of the transcript like any answer.
 *
 * With htmx the form appends the answer's entry to the transcript; without
 * JavaScript it posts and the page comes back with the entry in its
 * history. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "console-rules.h"
#include "csrf.h"
#include "hostlink.h"
#include "html.h"
#include "layout.h"
#include "page-players.h"
#include "pages.h"
#include "players-config.h"
#include "svc-console.h"
#include "svc-servers.h"

#define REPLAY_ENTRIES 50              /* entries the page replays */
#define REPLAY_BYTES (512 * 1024)      /* answers the page replays, in all */
#define LIVE_SHOWN_MAX (512 * 1024)    /* of one answer, as it comes (escaped, it may grow 6 times) */
#define CTL_OUTPUT_MAX (48u << 20)     /* what l4d2ctl may print: 16 MiB of answer, escaped in JSON */

/* The first n bytes of s as text. */
static void text_n(Buf *b, const char *s, size_t n) {
        _cleanup_free_ char *copy = strndup(s, n);
        html_txt(b, copy ? copy : "");
}

static const char *outcome_label(const char *outcome) {
        if (streq(outcome, "ok"))
                return "answered";
        if (streq(outcome, "refused"))
                return "not sent";
        if (streq(outcome, "timeout"))
                return "timed out";
        if (streq(outcome, "unreachable"))
                return "not reachable";
        if (streq(outcome, "auth"))
                return "password refused";
        return "failed";
}

static void size_txt(Buf *b, size_t n) {
        char s[32];
        if (n >= 1024 * 1024)
                snprintf(s, sizeof s, "%.1f MiB", (double) n / (1024.0 * 1024.0));
        else if (n >= 1024)
                snprintf(s, sizeof s, "%zu KiB", n / 1024);
        else
                snprintf(s, sizeof s, "%zu bytes", n);
        html_txt(b, s);
}

/* One entry of the transcript. shown: how many bytes of the answer to put
 * in the page (the rest is said, not shown). */
static void entry(Buf *b, const ConsoleEntry *e, size_t shown) {
        html_raw(b, "<div class=\"rcon-entry rcon-");
        html_attr(b, e->outcome);
        html_raw(b, "\" data-command=\"");
        html_attr(b, e->command);
        html_raw(b, "\">\n<p class=\"rcon-head\"><span class=\"rcon-prompt\" aria-hidden=\"true\">&gt;</span> "
                    "<kbd class=\"rcon-cmd\">");
        html_txt(b, e->command);
        html_raw(b, "</kbd> <span class=\"rcon-meta\">");
        html_txt(b, e->username);
        html_raw(b, " · ");
        html_utc(b, e->at, true);
        html_raw(b, " · ");
        html_txt(b, outcome_label(e->outcome));
        html_raw(b, "</span></p>\n");
        if (!streq(e->outcome, "ok")) {
                html_raw(b, "<p class=\"rcon-error\">");
                text_n(b, e->response, e->response_kept);
                html_raw(b, "</p>\n</div>\n");
                return;
        }
        size_t n = e->response_kept < shown ? e->response_kept : shown;
        if (e->response_len == 0) {
                html_raw(b, "<p class=\"rcon-none\">(no output)</p>\n</div>\n");
                return;
        }
        html_raw(b, "<pre class=\"rcon-out\">");
        text_n(b, e->response, n);
        html_raw(b, "</pre>\n");
        if (n < e->response_len) {
                html_raw(b, "<p class=\"rcon-cut\">");
                if (n == 0)
                        html_raw(b, "Answer not replayed here (");
                else
                        html_raw(b, "Showing the first ");
                if (n > 0) {
                        size_txt(b, n);
                        html_raw(b, " of ");
                }
                size_txt(b, e->response_len);
                if (n == 0)
                        html_raw(b, "): older answers share a budget of 512 KiB on the page.");
                else if (e->response_kept < e->response_len)
                        html_raw(b, "; the history keeps 64 KiB of each answer.");
                else
                        html_raw(b, "; the page shows 512 KiB of an answer.");
                html_raw(b, "</p>\n");
        }
        html_raw(b, "</div>\n");
}

void console_section(Req *r, const Server *v) {
        Buf *b = &r->out;
        char action[64];
        path_id(action, sizeof action, "/servers", v->id, "/console");
        html_raw(b, "<section id=\"rcon\" class=\"card rcon\" aria-labelledby=\"rcon-title\">\n"
                    "<h2 id=\"rcon-title\">RCON console</h2>\n"
                    "<div id=\"rcon-transcript\" class=\"rcon-transcript\" role=\"log\" aria-live=\"polite\" "
                    "aria-label=\"Commands and answers\" tabindex=\"0\">\n");
        /* The newest REPLAY_ENTRIES, shown oldest first; answers from the
         * newest back share REPLAY_BYTES. */
        _cleanup_iter_ DbIter it = DB_ITER_INIT;
        ConsoleEntry e[REPLAY_ENTRIES];
        char *copies[REPLAY_ENTRIES][4];
        size_t n = 0;
        if (console_history(&it, r->db, v->id, REPLAY_ENTRIES) == 0)
                while (n < REPLAY_ENTRIES && console_next(&it, &e[n])) {
                        /* The row's strings live until the next step. */
                        copies[n][0] = strdup(e[n].username);
                        copies[n][1] = strdup(e[n].command);
                        copies[n][2] = strdup(e[n].outcome);
                        copies[n][3] = strndup(e[n].response, e[n].response_kept);
                        e[n].username = copies[n][0] ? copies[n][0] : "";
                        e[n].command = copies[n][1] ? copies[n][1] : "";
                        e[n].outcome = copies[n][2] ? copies[n][2] : "";
                        e[n].response = copies[n][3] ? copies[n][3] : "";
                        if (!copies[n][3])
                                e[n].response_kept = 0;
                        n++;
                }
        size_t budget = REPLAY_BYTES, shown[REPLAY_ENTRIES];
        for (size_t i = 0; i < n; i++) {
                shown[i] = e[i].response_kept < budget ? e[i].response_kept : budget;
                budget -= shown[i];
        }
        if (n == 0)
                html_raw(b, "<p class=\"rcon-empty\">No commands yet. Try <kbd>status</kbd>.</p>\n");
        for (size_t i = n; i-- > 0;) {
                entry(b, &e[i], shown[i]);
                for (size_t k = 0; k < 4; k++)
                        free(copies[i][k]);
        }
        html_raw(b, "</div>\n<form method=\"post\" action=\"");
        html_attr(b, action);
        html_raw(b, "\" class=\"rcon-form\" data-hx-post=\"");
        html_attr(b, action);
        html_raw(b, "\" data-hx-target=\"#rcon-transcript\" data-hx-swap=\"beforeend\">\n"
                    "<input type=\"hidden\" name=\"" CSRF_FIELD "\" value=\"");
        html_attr(b, csrf_token(r));
        html_raw(b, "\">\n<label for=\"rcon-command\">Command</label>\n"
                    "<input id=\"rcon-command\" name=\"command\" type=\"text\" maxlength=\"511\" autocomplete=\"off\" "
                    "spellcheck=\"false\" required placeholder=\"status\">\n"
                    "<button type=\"submit\">Send</button>\n</form>\n"
                    "<p class=\"hint\">Up and down recall earlier commands. The history keeps the newest 200 "
                    "commands of this server with who sent them, and the first 64 KiB of each answer. Commands "
                    "that would change <code>rcon_password</code> are refused.</p>\n</section>\n");
}

/* Reads l4d2ctl's stdout (a memfd) whole, up to CTL_OUTPUT_MAX. */
static int read_output(int fd, char **ret, size_t *ret_len) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if ((uint64_t) st.st_size > CTL_OUTPUT_MAX)
                return -E2BIG;
        size_t n = (size_t) st.st_size;
        char *d = malloc(n + 1);
        if (!d)
                return -ENOMEM;
        size_t off = 0;
        while (off < n) {
                ssize_t k = pread(fd, d + off, n - off, (off_t) off);
                if (k <= 0) {
                        free(d);
                        return k < 0 ? negative_errno() : -EIO;
                }
                off += (size_t) k;
        }
        d[n] = '\0';
        *ret = d;
        *ret_len = n;
        return 0;
}

typedef struct Answer {
        const char *outcome;
        char *text;            /* the output, or what went wrong (malloc'ed) */
        size_t len;
} Answer;

/* What l4d2ctl's failure means, in the console's words. */
static void failure(Answer *a, const char *reason, const char *line) {
        char msg[1024];
        unsigned t = players_config.rcon_timeout_s;
        if (streq(reason, "timeout")) {
                a->outcome = "timeout";
                snprintf(msg, sizeof msg, "No answer within %u s: the server may be busy, hung or still loading. (%s)",
                         t, line);
        } else if (streq(reason, "refused") || streq(reason, "no-instance")) {
                a->outcome = "unreachable";
                snprintf(msg, sizeof msg, "Nothing answers RCON on the server's port: is it running? (%s)", line);
        } else if (streq(reason, "auth")) {
                a->outcome = "auth";
                snprintf(msg, sizeof msg, "The server refused the RCON password l4d2ctl keeps for it (was it changed "
                                          "by a cfg or a plugin?). Restart the server: it reads the kept one from "
                                          "server.cfg. (%s)", line);
        } else {
                a->outcome = "error";
                snprintf(msg, sizeof msg, "The command could not be run: %s", line);
        }
        a->text = strdup(msg);
        a->len = a->text ? strlen(a->text) : 0;
}

static void run_command(const Server *v, const char *command, Answer *a) {
        char timeout[16];
        snprintf(timeout, sizeof timeout, "%u", players_config.rcon_timeout_s);
        const char *args[] = { "rcon", "--json", "--timeout", timeout, v->instance, "--", command, NULL };
        _cleanup_close_ int out = memfd_create("l4d2ctl-rcon", MFD_CLOEXEC);
        char err[512] = "";
        int exit_code = -1;
        int k = out < 0 ? negative_errno() : hostlink_pipe(host(), args, -1, out, err, sizeof err, &exit_code);
        if (k < 0) {
                snprintf(err, sizeof err, "could not run l4d2ctl on %s: %s", hostlink_name(host()), strerror(-k));
                failure(a, "error", err);
                return;
        }
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        k = read_output(out, &text, &len);
        json_t *j = k == 0 ? json_loadb(text, len, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
        json_t *output = json_object_get(j, "output");
        if (exit_code == 0 && json_is_string(output)) {
                a->outcome = "ok";
                a->len = json_string_length(output);
                a->text = malloc(a->len + 1);
                if (a->text) {
                        memcpy(a->text, json_string_value(output), a->len + 1);
                        /* A NUL in the answer would end the text early. */
                        for (size_t i = 0; i < a->len; i++)
                                if (!a->text[i])
                                        a->text[i] = ' ';
                } else
                        a->len = 0;
        } else {
                const char *reason = json_string_value(json_object_get(j, "reason"));
                if (k == -E2BIG)
                        snprintf(err, sizeof err, "the answer is larger than the panel takes (%u MiB)",
                                 CTL_OUTPUT_MAX >> 20);
                else if (!err[0])
                        snprintf(err, sizeof err, "l4d2ctl rcon exited with status %d", exit_code);
                failure(a, reason ? reason : "error", err);
        }
        json_decref(j);
}

void page_server_console(Req *r) {
        Server v;
        if (server_load(r->db, r->id, &r->user, &v) < 0) {
                render_not_found(r);
                return;
        }
        const char *command = form_get(r, "command");
        const char *problem = console_command_problem(command);
        Answer a = { 0 };
        bool store = true;
        if (problem) {
                a.outcome = "refused";
                a.text = strdup(problem);
                /* Nothing typed is nothing to remember. */
                store = !streq(problem, "Type a command.");
        } else if (v.deleting) {
                a.outcome = "refused";
                a.text = strdup("The server is being deleted.");
        } else if (streq(v.state, "new")) {
                a.outcome = "unreachable";
                a.text = strdup("The server has not been started yet: there is nothing to send commands to.");
        } else {
                /* The answer may take the whole timeout: the database
                 * connection goes back to the pool meanwhile. */
                db_release(r->db);
                r->db = NULL;
                run_command(&v, command, &a);
                r->db = db_acquire();
        }
        if (!a.text) {
                a.outcome = "error";
                a.text = strdup("Out of memory.");
        }
        a.len = a.text ? (a.len ? a.len : strlen(a.text)) : 0;
        ConsoleEntry e = {
                .at = now_sec(),
                .username = r->user.username,
                .command = command && utf8_is_valid(command) ? command : "",
                .outcome = a.outcome,
                .response = a.text ? a.text : "",
                .response_kept = a.len,
                .response_len = a.len,
        };
        /* Refused for being too long or not text: keep a sane line. */
        char shortened[CONSOLE_COMMAND_MAX + 1];
        if (strlen(e.command) > CONSOLE_COMMAND_MAX || has_control_chars(e.command)) {
                size_t n = 0;
                for (const char *p = e.command; *p && n < CONSOLE_COMMAND_MAX - 3; p++)
                        shortened[n++] = (unsigned char) *p < 0x20 || *p == 0x7f ? ' ' : *p;
                /* Cut before a character, not inside one: back up while the
                 * first byte left out continues a UTF-8 sequence. */
                while (n > 0 && ((unsigned char) e.command[n] & 0xc0) == 0x80)
                        n--;
                memcpy(shortened + n, "...", 4);
                e.command = shortened;
        }
        if (store && console_add(r->db, v.id, &r->user, e.command, e.outcome, e.response, e.response_len, &e.id) < 0)
                fprintf(stderr, "left4me: console: could not store a command of server %lld\n", (long long) v.id);
        if (!header_get(r, "HX-Request")) {
                free(a.text);
                char href[64];
                req_redirect(r, path_id(href, sizeof href, "/servers", v.id, "#rcon"));
                return;
        }
        entry(&r->out, &e, LIVE_SHOWN_MAX);
        free(a.text);
}
