/* The Overlays pages: a frame with one view per kind of overlay.
 *
 * The frame (page-overlays.c) is everything every kind shares: the list of
 * a user's own and the global overlays, creating one (on the host with
 * `l4d2ctl overlay create`, owned here by a row of svc-overlays), the
 * overlay's page with its facts (kind, state, size, last build, who uses it),
 * its build (a job-overlay-build job: progress bar, live log) and deleting.
 * A kind's view (page-overlays-<kind>.c) adds its own section to the
 * overlay's page and its own routes.
 *
 * Plugging in a view for a kind (files and script have none yet):
 *   1. page-overlays-<kind>.c defines `const OverlayKindView
 *      overlay_view_<kind>` (declared below) with its render function;
 *   2. its row in page-overlays.c's overlay_kinds[] names it (.view);
 *   3. its routes in routes.c, /overlays/#/<kind>/..., each of whose
 *      handlers starts with overlay_from_request() (the owner check: 404
 *      for unknown and other users' ids alike, 403 for a change to a global
 *      overlay by a non-admin), changes the overlay through the host link,
 *      and then overlay_request_build() if the change needs a build, or
 *      overlay_show_errors() to show the page again with a field's error.
 * The view never runs SQL and never names an overlay by anything but the
 * row's host_name. */
#pragma once

#include <jansson.h>

#include "svc-overlays.h"
#include "web.h"

/* An overlay as its page shows it. */
typedef struct OverlayPage {
        Overlay row;          /* the panel's: owner, the name typed, the host name */
        json_t *host;         /* `l4d2ctl overlay show NAME --json`; NULL when the host did not answer */
        char host_error[256]; /* then why */
        bool writable;        /* the viewer may change it (overlay_writable) */
} OverlayPage;

typedef struct OverlayKindView {
        /* The section of /overlays/N below the frame's; e names the fields
         * of a form that was refused (NULL: none). */
        void (*render)(Req *r, const OverlayPage *o, const FieldErrors *e);
} OverlayKindView;

extern const OverlayKindView overlay_view_workshop;
extern const OverlayKindView overlay_view_files;  /* page-overlay-files.c */
extern const OverlayKindView overlay_view_script; /* page-overlay-script.c */

/* The kinds of overlay (page-overlays.c): what `l4d2ctl overlay create
 * --kind` takes, how the pages name and explain it, and its view. */
typedef struct OverlayKind {
        const char *kind;   /* l4d2ctl's name */
        const char *label;  /* "Steam Workshop" */
        const char *about;  /* a sentence for the create form */
        const OverlayKindView *view; /* NULL: none yet (the frame only) */
} OverlayKind;
extern const OverlayKind overlay_kinds[];
extern const size_t n_overlay_kinds;
/* The kind of that name, or NULL. */
const OverlayKind *overlay_kind(const char *kind);

/* For a kind's handlers: the overlay of r->id for r's user. False when it
 * answered already: 404 for an unknown id or another user's (the same page),
 * 403 when write is asked of a global overlay by a non-admin, 409 while it
 * is being deleted. */
bool overlay_from_request(Req *r, bool write, Overlay *ret);
/* Queues the overlay's build job for r's user, or finds the one of the
 * overlay still waiting (adding three items in a row builds once). */
int overlay_request_build(Req *r, const Overlay *o, int64_t *ret_job);
/* After a change: the build queued and the overlay's page again (303), or
 * an error page when it could not be queued. */
void overlay_build_and_show(Req *r, const Overlay *o);
/* The overlay's page again with field errors and the status (422). */
void overlay_show_errors(Req *r, const Overlay *o, const FieldErrors *e, unsigned status);

/* The overlays field of the blueprint form (page-overlays-picker.c). */
/* Every `overlays` field of the form, in order, joined by '\n' (malloc). */
char *overlay_picker_join(const Req *r);
/* When one of the picker's buttons was pressed (a form posted without
 * JavaScript): changes *lines by it and returns true; the form is then
 * shown again, not saved. */
bool overlay_picker_apply(const Req *r, char **lines);
/* The picker: the list (lines) and what owner_id may add to it. */
void overlay_picker(Req *r, int64_t owner_id, const char *lines, const FieldErrors *e);

/* On a server's page: the section that says when a restart would pick up
 * newer overlay content (page-overlays-server.c; it loads itself). */
struct Server;
void server_overlay_news(Req *r, const struct Server *v);

/* Small parts the views share. */
void overlay_state_badge(Buf *b, json_t *host);   /* new, ready, failed, building */
void overlay_size_txt(Buf *b, json_int_t bytes);  /* "12.3 MiB", "–" when negative */
/* l4d2ctl's error line without its "error: ". */
const char *overlay_host_message(const char *line);
