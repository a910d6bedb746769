/* The frame every page shares (head, navigation, footer) and the form parts
 * that show a field's error next to it and keep what the user typed. */
#pragma once

#include "web.h"

void page_begin(Req *r, const char *title);
void page_end(Req *r);

/* A page with just a message, for 4xx/5xx answers. */
void render_error(Req *r, unsigned status, const char *message);
/* Unknown ids and ids of other users' objects answer exactly this. */
void render_not_found(Req *r);
/* The answer when an event stream was not opened (k from streams.h: -EUSERS,
 * -EAGAIN, other errors); nothing if k is 0 and the stream exists. */
void stream_refused(Req *r, int k);

/* <form method="post" action="..."> plus the hidden CSRF field. */
void form_open(Req *r, const char *action, const char *extra_class);
void form_close(Req *r);
/* A one-button form for an action such as start or delete. */
void button_form(Req *r, const char *action, const char *label, const char *klass);
typedef struct ButtonOpts {
        const char *klass;    /* "danger": red */
        const char *confirm;  /* asked before it submits (app.js); NULL: a danger button asks a generic question */
        const char *disabled; /* not NULL: greyed out, with this reason */
} ButtonOpts;
void button_form_opts(Req *r, const char *action, const char *label, const ButtonOpts *o);

void field_input(Req *r, const char *label, const char *name, const char *type, const char *value,
                 const FieldErrors *e, unsigned maxlength, const char *hint);
void field_textarea(Req *r, const char *label, const char *name, const char *value, const FieldErrors *e,
                    unsigned maxlength, const char *hint);
/* A number field with its range (the browser checks it before sending). */
void field_number(Req *r, const char *label, const char *name, const char *value, const FieldErrors *e, long min,
                  long max, const char *hint);
/* A password field; autocomplete is "current-password" or "new-password",
 * so that password managers fill the one and offer to make the other. */
void field_password(Req *r, const char *label, const char *name, const FieldErrors *e, const char *autocomplete,
                    const char *hint);
/* A text field with an autocomplete token ("username", "off"). */
void field_text(Req *r, const char *label, const char *name, const char *value, const FieldErrors *e,
                unsigned maxlength, const char *autocomplete, const char *hint);

/* A time as <time datetime="…Z">YYYY-MM-DD HH:MM UTC</time> (app.js shows
 * it in the browser's time zone); "–" for 0. A duration as "1 min 5 s". */
void html_time(Buf *b, int64_t t);
/* A time as plain text, "YYYY-MM-DD HH:MM UTC" (with ":SS" if seconds);
 * "–" for 0. The one formatter of times on the pages. */
void html_utc(Buf *b, int64_t t, bool seconds);
void html_duration(Buf *b, int64_t seconds);

/* A notice at the top of a page, chosen by a fixed code in the query string
 * (?notice=saved): never echoes the query itself. */
void notice_from_query(Req *r);

/* Formats "/prefix/<id>/suffix" into buf (ids only: nothing to escape, but
 * the result still goes through html_attr). */
const char *path_id(char *buf, size_t size, const char *prefix, int64_t id, const char *suffix);
