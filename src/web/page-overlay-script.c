/* The script view of an overlay's page: the overlay's bash build script in
 * an editor (a plain monospace textarea: a build script is short, and a
 * code editor would be the panel's largest dependency), saved into the
 * panel's database (svc-overlay-scripts) and handed to the host at once
 * (job-overlay-script.h); "Save and build" also queues the overlay's build
 * job, whose output (the script's lines, as `output` events) streams into
 * the frame's build section. The frame shows the last build's outcome and
 * duration.
 *
 * The script may be up to 1 MiB (l4d2ctl's limit), more than a form body
 * (64 KiB) may be, so the save is a streamed body (routes.c), form-encoded,
 * sent by app.js with the CSRF token in its header. */
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include "fs.h"
#include "hostlink.h"
#include "html.h"
#include "layout.h"
#include "page-overlays.h"
#include "pages.h"
#include "job-overlay-script.h"
#include "svc-overlay-scripts.h"

static const char template_script[] =
        "#!/bin/bash\n"
        "# The build script of this overlay. It runs in a sandbox: its working\n"
        "# directory is /overlay (empty at the start), the only place it can write\n"
        "# besides its own /tmp; it may use the network; it sees nothing of the\n"
        "# panel or of other overlays. What it leaves in /overlay is what servers\n"
        "# get, below the game's root (so SourceMod goes to left4dead2/addons/).\n"
        "# A build that fails (exits non-zero) keeps the overlay as it was.\n"
        "set -euo pipefail\n"
        "\n"
        "mkdir -p left4dead2/cfg\n"
        "echo 'echo \"built by left4me\"' > left4dead2/cfg/built.cfg\n";

/* The host's copy, when the panel has none (a script set by hand with
 * l4d2ctl): shown so that saving keeps it. NULL when there is none, or it
 * is not text. */
static char *host_script(const Overlay *o) {
        _cleanup_close_ int fd = memfd_create("script", MFD_CLOEXEC);
        if (fd < 0)
                return NULL;
        const char *args[] = { "overlay", "script", o->host_name, "show", NULL };
        char err[256];
        int exit_code = -1;
        if (hostlink_pipe(host(), args, -1, fd, err, sizeof err, &exit_code) < 0 || exit_code != 0 ||
            lseek(fd, 0, SEEK_SET) < 0)
                return NULL;
        char *text = NULL;
        size_t len = 0;
        if (read_fd(fd, OVERLAY_SCRIPT_MAX, &text, &len) < 0 || strlen(text) != len || !utf8_is_valid(text)) {
                free(text);
                return NULL;
        }
        return text;
}

static void state_line(Req *r, const OverlayPage *p, const OverlayScript *s, bool from_host) {
        Buf *b = &r->out;
        json_t *hs = json_object_get(p->host, "script");
        html_raw(b, "<p id=\"script-state\" class=\"hint\">");
        if (s) {
                html_raw(b, "Saved ");
                html_utc(b, s->updated_at, false);
                if (s->updated_by[0]) {
                        html_raw(b, " by ");
                        html_txt(b, s->updated_by);
                }
                html_raw(b, " (version ");
                html_int(b, s->version);
                html_raw(b, ", ");
                overlay_size_txt(b, (json_int_t) s->len);
                html_raw(b, "). ");
                if (s->host_version == s->version)
                        html_raw(b, "The host has this version.");
                else
                        html_raw(b, "<span class=\"badge overlay-pending\">not on the host yet</span> It is handed "
                                    "over at the next build.");
        } else if (from_host)
                html_raw(b, "<span class=\"badge overlay-pending\">not saved in the panel</span> This is the script "
                            "the host has (set with l4d2ctl); save it to keep it here.");
        else
                html_raw(b, "No script yet: this is an example to start from.");
        if (json_is_true(json_object_get(hs, "needs_build")))
                html_raw(b, " <span class=\"badge overlay-pending\">changed since the last good build</span>");
        const char *sandbox = json_string_value(json_object_get(hs, "sandbox"));
        if (sandbox) {
                html_raw(b, " Builds run in the ");
                html_txt(b, streq(sandbox, "unit") ? "left4me-build@ unit (systemd)" : "bubblewrap sandbox");
                html_raw(b, ".");
        }
        html_raw(b, "</p>\n");
}

static void render(Req *r, const OverlayPage *p, const FieldErrors *e) {
        Buf *b = &r->out;
        const Overlay *o = &p->row;
        (void) e;
        OverlayScript s = { 0 };
        bool saved = overlay_script_get(r->db, o->id, &s) == 0;
        _cleanup_free_ char *from_host = saved ? NULL : host_script(o);
        const char *text = saved ? s.text : from_host ? from_host : template_script;
        bool writable = p->writable && !o->deleting;
        char action[64];

        html_raw(b, "<section id=\"script\" class=\"script\">\n<h2>Build script</h2>\n<p class=\"hint\">A bash "
                    "script that makes the overlay's content: it runs in a sandbox with <code>/overlay</code> as its "
                    "working directory, the only place it can write (besides its own <code>/tmp</code>); it may "
                    "download, and sees nothing of the panel, the servers or other overlays. Its output is "
                    "published only when it exits 0 within its limits; a failed build keeps the last good content. "
                    "Servers get new content at their next start.</p>\n");
        state_line(r, p, saved ? &s : NULL, from_host != NULL);
        html_raw(b, "<form method=\"post\" id=\"script-form\" class=\"card\" action=\"");
        html_attr(b, path_id(action, sizeof action, "/overlays", o->id, "/script"));
        html_raw(b, "\">\n<div class=\"field\"><label for=\"f-script\">script.sh</label>\n"
                    "<textarea id=\"f-script\" name=\"script\" class=\"code\" rows=\"24\" spellcheck=\"false\" "
                    "autocomplete=\"off\" autocapitalize=\"off\" wrap=\"off\" aria-describedby=\"e-script\"");
        if (!writable)
                html_raw(b, " readonly");
        html_raw(b, ">\n");
        html_txt(b, text);
        html_raw(b, "</textarea>\n<p class=\"field-error\" id=\"e-script\" role=\"alert\" hidden></p></div>\n");
        if (writable)
                html_raw(b, "<div class=\"actions\"><button type=\"submit\" name=\"build\" value=\"0\">Save</button>\n"
                            "<button type=\"submit\" name=\"build\" value=\"1\">Save and build</button>\n"
                            "<span id=\"script-said\" role=\"status\"></span></div>\n"
                            "<noscript><p class=\"hint\">Saving the script needs JavaScript (it may be longer "
                            "than a form can carry).</p></noscript>\n");
        else
                html_raw(b, "<p class=\"hint\">Only administrators change a global overlay's script.</p>\n");
        html_raw(b, "</form>\n</section>\n");
        overlay_script_free(&s);
}

const OverlayKindView overlay_view_script = { .render = render };

/* A bash script never wants a CR: a textarea posted by a form has CRLF
 * line ends, which bash would read as part of each command. */
static void crlf_to_lf(char *s) {
        char *o = s;
        for (const char *p = s; *p; p++)
                if (!(p[0] == '\r' && p[1] == '\n'))
                        *o++ = *p;
        *o = '\0';
}

static void field_error(Req *r, unsigned status, const char *msg) {
        req_json(r, status, json_pack("{s:s, s:s}", "error", msg, "field", "script"));
}

void page_overlay_script_save(Req *r) {
        Overlay o;
        if (overlay_load(r->db, r->id, &r->user, &o) < 0 || !streq(o.kind, "script")) {
                render_not_found(r);
                return;
        }
        if (!overlay_from_request(r, true, &o))
                return;
        const char *ct = header_get(r, "Content-Type");
        if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
                render_error(r, 415, "Send the script as a form (application/x-www-form-urlencoded).");
                return;
        }
        _cleanup_free_ char *body = NULL;
        size_t len = 0;
        if (read_fd(r->body_fd, r->body_max, &body, &len) < 0 || form_parse(body, len, &r->form) < 0) {
                field_error(r, 400, "The script could not be read: it must be text (UTF-8) without NUL bytes.");
                return;
        }
        char *script = (char *) form_get(r, "script");
        const char *build = form_get(r, "build");
        if (!script || !*script) {
                field_error(r, 422, "Write a script first.");
                return;
        }
        crlf_to_lf(script);
        if (strlen(script) > OVERLAY_SCRIPT_MAX) {
                field_error(r, 413, "The script is longer than 1 MiB, the most a build script may be.");
                return;
        }
        int64_t version = 0;
        if (overlay_script_put(r->db, o.id, r->user.id, script, &version) < 0) {
                render_error(r, 500, "The script could not be saved; try again.");
                return;
        }
        char err[256] = "";
        bool handed = overlay_script_hand_over(r->db, &o, NULL, err, sizeof err) == 0;
        json_t *j = json_pack("{s:b, s:I, s:b}", "ok", 1, "version", (json_int_t) version, "handed_over", handed);
        if (!handed)
                json_object_set_new(j, "host_error", json_string(overlay_host_message(err)));
        if (build && streq(build, "1")) {
                int64_t job = 0;
                int k = overlay_request_build(r, &o, &job);
                char href[64];
                if (k == 0) {
                        json_object_set_new(j, "job", json_integer(job));
                        json_object_set_new(
                                j, "location",
                                json_string(path_id(href, sizeof href, "/overlays", o.id, "?notice=queued#overlay-build")));
                } else
                        json_object_set_new(j, "build_error",
                                            json_string(k == -EAGAIN ? "Saved, but you have 20 jobs waiting already: "
                                                                       "build once they have finished."
                                                                     : "Saved, but the build could not be queued."));
        }
        req_json(r, 200, j);
}
