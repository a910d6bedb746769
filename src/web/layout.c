#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "csrf.h"
#include "html.h"
#include "layout.h"

void page_begin(Req *r, const char *title) {
        Buf *b = &r->out;
        html_raw(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<meta name=\"htmx-config\" content='{\"includeIndicatorStyles\":false}'>\n"
                    "<title>");
        html_txt(b, title);
        html_raw(b, " · left4me</title>\n<link rel=\"icon\" href=\"data:,\">\n<link rel=\"stylesheet\" href=\"/static/style.css\">\n"
                    "<script src=\"/static/htmx.min.js\" defer></script>\n"
                    "<script src=\"/static/app.js\" defer></script>\n</head>\n<body");
        if (r->authed) {
                /* htmx sends this header with every request it makes. */
                html_raw(b, " data-hx-headers='{\"X-CSRF-Token\": \"");
                html_attr(b, r->csrf); /* hex only, but escaped like any value */
                html_raw(b, "\"}'");
        }
        html_raw(b, ">\n<header class=\"top\">\n<a class=\"brand\" href=\"/\">left4me</a>\n");
        if (r->authed) {
                html_raw(b, "<nav>\n<a href=\"/servers\">Servers</a>\n<a href=\"/blueprints\">Blueprints</a>\n"
                            "<a href=\"/overlays\">Overlays</a>\n"
                            "<a href=\"/jobs\">Jobs</a>\n");
                if (r->user.is_admin)
                        html_raw(b, "<a href=\"/admin/users\">Users</a>\n<a href=\"/admin/install\">Install</a>\n"
                                    "<a href=\"/admin/builds\">Builds</a>\n");
                html_raw(b, "<a href=\"/profile\">");
                html_txt(b, r->user.username);
                html_raw(b, "</a>\n");
                form_open(r, "/logout", "inline");
                html_raw(b, "<button type=\"submit\" class=\"link\">Log out</button>\n");
                form_close(r);
                html_raw(b, "</nav>\n");
        }
        html_raw(b, "</header>\n<main>\n<h1>");
        html_txt(b, title);
        html_raw(b, "</h1>\n");
        notice_from_query(r);
}

void page_end(Req *r) {
        html_raw(&r->out, "</main>\n</body>\n</html>\n");
}

void render_error(Req *r, unsigned status, const char *message) {
        if (r->json) {
                req_json(r, status, json_pack("{s:s}", "error", message));
                return;
        }
        r->out.len = 0;
        r->out.overflowed = false;
        if (r->out.data)
                r->out.data[0] = '\0';
        r->status = status;
        page_begin(r, status == 404 ? "Not found" : status == 403 ? "Forbidden" : "Error");
        html_raw(&r->out, "<p class=\"error\">");
        html_txt(&r->out, message);
        html_raw(&r->out, "</p>\n<p><a href=\"/\">Back to the start page</a></p>\n");
        page_end(r);
}

void render_not_found(Req *r) {
        render_error(r, 404, "There is nothing here: the address is wrong, or the object was deleted.");
}

void form_open(Req *r, const char *action, const char *extra_class) {
        Buf *b = &r->out;
        html_raw(b, "<form method=\"post\" action=\"");
        html_attr(b, action);
        html_raw(b, "\"");
        if (extra_class) {
                html_raw(b, " class=\"");
                html_attr(b, extra_class);
                html_raw(b, "\"");
        }
        html_raw(b, ">\n<input type=\"hidden\" name=\"" CSRF_FIELD "\" value=\"");
        html_attr(b, csrf_token(r));
        html_raw(b, "\">\n");
}

void form_close(Req *r) {
        html_raw(&r->out, "</form>\n");
}

void button_form_opts(Req *r, const char *action, const char *label, const ButtonOpts *o) {
        Buf *b = &r->out;
        form_open(r, action, "inline");
        html_raw(b, "<button type=\"submit\"");
        if (o->klass) {
                html_raw(b, " class=\"");
                html_attr(b, o->klass);
                html_raw(b, "\"");
        }
        if (o->confirm) {
                html_raw(b, " data-confirm=\"");
                html_attr(b, o->confirm);
                html_raw(b, "\"");
        }
        if (o->disabled) {
                /* The reason as a tooltip and for screen readers; pages say
                 * it in the text as well where it matters (phones have no
                 * tooltips). */
                html_raw(b, " disabled title=\"");
                html_attr(b, o->disabled);
                html_raw(b, "\"");
        }
        html_raw(b, ">");
        html_txt(b, label);
        html_raw(b, "</button>\n");
        form_close(r);
}

void button_form(Req *r, const char *action, const char *label, const char *klass) {
        button_form_opts(r, action, label, &(ButtonOpts) { .klass = klass });
}

static void field_head(Buf *b, const char *label, const char *name, const char *err) {
        html_raw(b, "<div class=\"field");
        if (err)
                html_raw(b, " invalid");
        html_raw(b, "\">\n<label for=\"f-");
        html_attr(b, name);
        html_raw(b, "\">");
        html_txt(b, label);
        html_raw(b, "</label>\n");
}

/* A field's error replaces its hint: the messages say the rule again
 * ("Max players is a number from 1 to 32."), and the two one under the
 * other only repeated it. */
static void field_tail(Buf *b, const char *name, const char *err, const char *hint) {
        if (err) {
                html_raw(b, "<p class=\"field-error\" id=\"e-");
                html_attr(b, name);
                html_raw(b, "\">");
                html_txt(b, err);
                html_raw(b, "</p>\n");
        } else if (hint) {
                html_raw(b, "<p class=\"hint\">");
                html_txt(b, hint);
                html_raw(b, "</p>\n");
        }
        html_raw(b, "</div>\n");
}

static void describedby(Buf *b, const char *name, const char *err) {
        if (!err)
                return;
        html_raw(b, " aria-invalid=\"true\" aria-describedby=\"e-");
        html_attr(b, name);
        html_raw(b, "\"");
}

/* An <input> with what every kind shares; extra is written inside the tag
 * (already escaped attributes). */
static void input(Req *r, const char *label, const char *name, const char *type, const char *value,
                  const FieldErrors *e, unsigned maxlength, const char *hint, const Buf *extra) {
        Buf *b = &r->out;
        const char *err = e ? errors_get(e, name) : NULL;
        field_head(b, label, name, err);
        html_raw(b, "<input id=\"f-");
        html_attr(b, name);
        html_raw(b, "\" name=\"");
        html_attr(b, name);
        html_raw(b, "\" type=\"");
        html_attr(b, type);
        html_raw(b, "\"");
        if (value && !streq(type, "password")) {
                html_raw(b, " value=\"");
                html_attr(b, value);
                html_raw(b, "\"");
        }
        if (maxlength) {
                html_raw(b, " maxlength=\"");
                html_int(b, maxlength);
                html_raw(b, "\"");
        }
        if (extra)
                html_built(b, extra);
        describedby(b, name, err);
        html_raw(b, ">\n");
        field_tail(b, name, err, hint);
}

void field_input(Req *r, const char *label, const char *name, const char *type, const char *value,
                 const FieldErrors *e, unsigned maxlength, const char *hint) {
        input(r, label, name, type, value, e, maxlength, hint, NULL);
}

void field_number(Req *r, const char *label, const char *name, const char *value, const FieldErrors *e, long min,
                  long max, const char *hint) {
        Buf extra = BUF_INIT(128);
        html_raw(&extra, " min=\"");
        html_int(&extra, min);
        html_raw(&extra, "\" max=\"");
        html_int(&extra, max);
        html_raw(&extra, "\"");
        input(r, label, name, "number", value, e, 0, hint, &extra);
        buf_free(&extra);
}

static void input_autocomplete(Req *r, const char *label, const char *name, const char *type, const char *value,
                               const FieldErrors *e, unsigned maxlength, const char *autocomplete, const char *hint) {
        Buf extra = BUF_INIT(128);
        html_raw(&extra, " autocomplete=\"");
        html_attr(&extra, autocomplete);
        html_raw(&extra, "\"");
        input(r, label, name, type, value, e, maxlength, hint, &extra);
        buf_free(&extra);
}

void field_password(Req *r, const char *label, const char *name, const FieldErrors *e, const char *autocomplete,
                    const char *hint) {
        input_autocomplete(r, label, name, "password", NULL, e, PASSWORD_MAX, autocomplete, hint);
}

void field_text(Req *r, const char *label, const char *name, const char *value, const FieldErrors *e,
                unsigned maxlength, const char *autocomplete, const char *hint) {
        input_autocomplete(r, label, name, "text", value, e, maxlength, autocomplete, hint);
}

void field_textarea(Req *r, const char *label, const char *name, const char *value, const FieldErrors *e,
                    unsigned maxlength, const char *hint) {
        Buf *b = &r->out;
        const char *err = e ? errors_get(e, name) : NULL;
        field_head(b, label, name, err);
        html_raw(b, "<textarea id=\"f-");
        html_attr(b, name);
        html_raw(b, "\" name=\"");
        html_attr(b, name);
        html_raw(b, "\" rows=\"5\" maxlength=\"");
        html_int(b, maxlength);
        html_raw(b, "\"");
        describedby(b, name, err);
        /* A newline right after <textarea> is dropped by parsers; write one
         * so a value that starts with a newline survives. */
        html_raw(b, ">\n");
        html_txt(b, value ? value : "");
        html_raw(b, "</textarea>\n");
        field_tail(b, name, err, hint);
}

void notice_from_query(Req *r) {
        static const struct {
                const char *code, *text;
        } notices[] = {
                { "saved", "Saved." },
                { "password", "Password changed. Your other sessions were logged out." },
                { "deleted", "Deleted." },
                { "created", "Created." },
                { "loggedout", "You are logged out." },
                /* The builds page's "Check now": the updater is woken, no
                 * job to follow. */
                { "checking", "Checking Steam for a new game build now: reload this page in a minute to see what "
                              "it found." },
                /* The link the live parts of a page show when its session
                 * ended (app.js): why, as far as the panel can tell. */
                { "ended", "You were logged out: your session ended elsewhere. Your password was changed or reset, "
                           "an administrator disabled your account, or you logged out in another window. Log in "
                           "again to go on." },
        };
        const char *code = query_get(r, "notice");
        if (!code)
                return;
        for (size_t i = 0; i < ELEMENTSOF(notices); i++)
                if (streq(code, notices[i].code)) {
                        html_raw(&r->out, "<p class=\"notice\" role=\"status\">");
                        html_txt(&r->out, notices[i].text);
                        html_raw(&r->out, "</p>\n");
                }
}

const char *path_id(char *buf, size_t size, const char *prefix, int64_t id, const char *suffix) {
        /* No printf: this is on every row of a list. */
        char num[24];
        size_t n = int_text(num, id), a = strlen(prefix), c = suffix ? strlen(suffix) : 0;
        if (a + 1 + n + c + 1 > size) {
                buf[0] = '\0';
                return buf;
        }
        memcpy(buf, prefix, a);
        buf[a] = '/';
        memcpy(buf + a + 1, num, n);
        memcpy(buf + a + 1 + n, suffix ? suffix : "", c);
        buf[a + 1 + n + c] = '\0';
        return buf;
}

void stream_refused(Req *r, int k) {
        if (k == -EUSERS)
                render_error(r, 429, "You have too many live views (logs, jobs) open; close some tabs and reload.");
        else if (k == -EAGAIN)
                render_error(r, 503, "Too many live views are open on the panel; try again in a minute.");
        else if (k < 0 || !r->custom)
                render_error(r, 500, "Could not open the event stream.");
}

typedef enum { UTC_MINUTES, UTC_SECONDS, UTC_ISO } UtcFormat;

static char *two_digits(char *p, int v) {
        p[0] = (char) ('0' + v / 10 % 10);
        p[1] = (char) ('0' + v % 10);
        return p + 2;
}

/* "YYYY-MM-DD HH:MM UTC", "YYYY-MM-DD HH:MM:SS UTC" or
 * "YYYY-MM-DDTHH:MM:SSZ". By hand: strftime's locale machinery was a third
 * of rendering the job list (two times a row), and gmtime_r takes glibc's
 * time zone lock, one for every event loop. The date from the day count is
 * the proleptic Gregorian calendar's (H. Hinnant, "chrono-compatible
 * low-level date algorithms", civil_from_days). */
static void utc_format(char s[32], int64_t t, UtcFormat f) {
        int64_t days = t / 86400, secs = t % 86400;
        if (secs < 0) {
                secs += 86400;
                days--;
        }
        days += 719468; /* from 0000-03-01 */
        int64_t era = (days >= 0 ? days : days - 146096) / 146097;
        int64_t doe = days - era * 146097;                                   /* [0, 146096] */
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
        int64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */
        int day = (int) (doy - (153 * mp + 2) / 5 + 1);
        int month = (int) (mp < 10 ? mp + 3 : mp - 9);
        int64_t year = yoe + era * 400 + (month <= 2);
        if (year < 0 || year > 9999) {
                s[0] = '\0';
                return;
        }
        char *p = s;
        p = two_digits(p, (int) (year / 100));
        p = two_digits(p, (int) (year % 100));
        *p++ = '-';
        p = two_digits(p, month);
        *p++ = '-';
        p = two_digits(p, day);
        *p++ = f == UTC_ISO ? 'T' : ' ';
        p = two_digits(p, (int) (secs / 3600));
        *p++ = ':';
        p = two_digits(p, (int) (secs / 60 % 60));
        if (f != UTC_MINUTES) {
                *p++ = ':';
                p = two_digits(p, (int) (secs % 60));
        }
        strcpy(p, f == UTC_ISO ? "Z" : " UTC");
}

void html_utc(Buf *b, int64_t t, bool seconds) {
        if (t <= 0) {
                html_raw(b, "–");
                return;
        }
        char s[32];
        utc_format(s, t, seconds ? UTC_SECONDS : UTC_MINUTES);
        html_txt(b, s);
}

void html_time(Buf *b, int64_t t) {
        if (t <= 0) {
                html_raw(b, "–");
                return;
        }
        char iso[32];
        utc_format(iso, t, UTC_ISO);
        html_raw(b, "<time datetime=\"");
        html_attr(b, iso);
        html_raw(b, "\">");
        html_utc(b, t, false);
        html_raw(b, "</time>");
}

void html_duration(Buf *b, int64_t seconds) {
        if (seconds < 0)
                seconds = 0;
        char s[48];
        if (seconds < 60)
                snprintf(s, sizeof s, "%lld s", (long long) seconds);
        else if (seconds < 3600)
                snprintf(s, sizeof s, "%lld min %lld s", (long long) seconds / 60, (long long) seconds % 60);
        else
                snprintf(s, sizeof s, "%lld h %lld min", (long long) seconds / 3600, (long long) seconds % 3600 / 60);
        html_txt(b, s);
}
