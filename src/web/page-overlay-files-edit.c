/* The writes of the files view: a file put (an upload, a save from the
 * editor), a folder made, a file or folder moved or renamed, removed. Each
 * is one l4d2ctl verb through the host link, which takes the overlay's edit
 * lock, resolves every path with the one resolver and writes nothing half
 * (page-overlay-files.h). Answers are JSON, for static/files.js.
 *
 * An upload is the request's body as it is (not multipart): the spine
 * streams it to an unnamed temp file as it arrives (the route's cap), and
 * that file is `overlay put`'s stdin; l4d2ctl streams it on into the
 * overlay. Neither holds the file in memory. */
#include <limits.h>
#include <strings.h>

#include "hostlink.h"
#include "layout.h"
#include "page-overlay-files.h"
#include "pages.h"

/* Runs a files verb with stdin from in_fd (-1: none); true when it
 * succeeded, else the answer is made. */
static bool run(Req *r, const Overlay *o, const char *const args[], int in_fd) {
        char err[512] = "";
        int exit_code = -1;
        int k = hostlink_pipe(host(), args, in_fd, -1, err, sizeof err, &exit_code);
        if (k < 0) {
                render_error(r, 503, "The panel could not run l4d2ctl; try again.");
                return false;
        }
        if (exit_code != 0) {
                files_refused(r, o, err[0] ? err : "l4d2ctl failed without saying why");
                return false;
        }
        return true;
}

static void done(Req *r, const char *key, const char *path) {
        req_json(r, 200, json_pack("{s:b, s:s}", "ok", 1, key, path));
}

void page_overlay_files_put(Req *r) {
        Overlay o;
        const char *path;
        if (!files_overlay(r, true, &o) || !(path = files_path_arg(r, "path", false)))
                return;
        const char *ct = header_get(r, "Content-Type");
        if (ct && strncasecmp(ct, "multipart/", 10) == 0) {
                render_error(r, 415, "Send the file's bytes as the body, not as multipart/form-data; the path "
                                     "goes in ?path=.");
                return;
        }
        /* The size the browser read (?size=): a body that arrived shorter
         * or longer (the file changed while it was read) is refused, and
         * the host refuses a stdin shorter than --size on its own. */
        const char *declared = query_get(r, "size");
        long n = (long) r->body_len;
        if (declared && (parse_long(declared, 0, LONG_MAX, &n) < 0 || (size_t) n != r->body_len)) {
                char msg[160];
                snprintf(msg, sizeof msg, "The upload was cut short: %zu of %s bytes arrived; nothing was written.",
                         r->body_len, declared);
                render_error(r, 400, msg);
                return;
        }
        char size[24];
        snprintf(size, sizeof size, "%zu", r->body_len);
        const char *args[] = { "overlay", "put", o.host_name, "--size", size, "--", path, NULL };
        if (!run(r, &o, args, r->body_fd))
                return;
        req_json(r, 200, json_pack("{s:b, s:s, s:I}", "ok", 1, "path", path, "size", (json_int_t) r->body_len));
}

void page_overlay_files_mkdir(Req *r) {
        Overlay o;
        const char *path;
        if (!files_overlay(r, true, &o) || !(path = files_form_path(r, "path")))
                return;
        const char *args[] = { "overlay", "mkdir", o.host_name, "--", path, NULL };
        if (run(r, &o, args, -1))
                done(r, "path", path);
}

void page_overlay_files_mv(Req *r) {
        Overlay o;
        const char *from, *to;
        if (!files_overlay(r, true, &o) || !(from = files_form_path(r, "from")) || !(to = files_form_path(r, "to")))
                return;
        const char *args[] = { "overlay", "mv", o.host_name, "--", from, to, NULL };
        if (run(r, &o, args, -1))
                done(r, "path", to);
}

void page_overlay_files_rm(Req *r) {
        Overlay o;
        const char *path;
        if (!files_overlay(r, true, &o) || !(path = files_form_path(r, "path")))
                return;
        const char *recursive = form_get(r, "recursive");
        bool rec = recursive && streq(recursive, "1");
        const char *args[] = { "overlay", "rm", o.host_name, rec ? "--recursive" : "--", rec ? "--" : path,
                               rec ? path : NULL, NULL };
        if (run(r, &o, args, -1))
                done(r, "path", path);
}
