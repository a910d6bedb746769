/* The files view of an overlay's page, and its reads: a folder's listing
 * (JSON, for the tree in static/files.js), a file's bytes, a folder as a
 * zip. Without JavaScript the view is a plain listing of one folder
 * (?dir=) with download links. page-overlay-files.h says what the routes
 * check and what they leave to the host. */
#include <limits.h>
#include <string.h>

#include "download.h"
#include "hostlink.h"
#include "html.h"
#include "layout.h"
#include "page-overlay-files.h"
#include "pages.h"

/* ---- what the routes share ---- */

bool files_overlay(Req *r, bool write, Overlay *ret) {
        /* An overlay of another kind has no files: the same 404 as an
         * unknown id (a JSON route answers it as JSON). */
        Overlay o;
        if (overlay_load(r->db, r->id, &r->user, &o) < 0 || !streq(o.kind, "files")) {
                render_not_found(r);
                return false;
        }
        return overlay_from_request(r, write, ret);
}

/* The query argument key decoded once (by libmicrohttpd), or NULL and why
 * not. */
static const char *query_path(Req *r, const char *key, bool optional, const char **ret_why) {
        const char *v = NULL;
        size_t n = 0;
        if (MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v, &n) != MHD_YES ||
            !v)
                v = "", n = 0;
        /* libmicrohttpd decoded %00 into a NUL byte and kept the length:
         * a C string would end there and name another file. */
        if (memchr(v, '\0', n))
                *ret_why = "The path holds a NUL byte (%00); no file name can.";
        else if (n >= PATH_MAX)
                *ret_why = "The path is longer than 4095 bytes.";
        else if (!optional && n == 0)
                *ret_why = "Which file? The address names no path.";
        else
                return v;
        return NULL;
}

const char *files_path_arg(Req *r, const char *key, bool optional) {
        const char *why = NULL;
        const char *v = query_path(r, key, optional, &why);
        if (!v)
                render_error(r, 400, why);
        return v;
}

const char *files_form_path(Req *r, const char *key) {
        const char *v = form_get(r, key);
        if (!v || !*v) {
                render_error(r, 400, "Which file? The form names no path.");
                return NULL;
        }
        if (strlen(v) >= PATH_MAX) {
                render_error(r, 400, "The path is longer than 4095 bytes.");
                return NULL;
        }
        return v;
}

const char *files_message(const Overlay *o, const char *err) {
        const char *m = overlay_host_message(err);
        char prefix[OVERLAY_HOST_NAME_MAX + 16];
        snprintf(prefix, sizeof prefix, "overlay '%s': ", o->host_name);
        return startswith(m, prefix) ? m + strlen(prefix) : m;
}

void files_refused(Req *r, const Overlay *o, const char *err) {
        /* The message may quote a path that is not UTF-8 (the reason it was
         * refused): then its other bytes are shown as '?', so that it can
         * be JSON, and text. */
        char m[512];
        snprintf(m, sizeof m, "%s", files_message(o, err));
        if (!utf8_is_valid(m))
                for (char *c = m; *c; c++)
                        if ((unsigned char) *c >= 0x80)
                                *c = '?';
        unsigned status = 422;
        if (strstr(m, "larger than the limit") || strstr(m, "does not fit"))
                status = 413;
        else if (strstr(m, "does not exist"))
                status = 404;
        else if (strstr(m, "already exists"))
                status = 409;
        else if (strstr(m, "(being edited)") || strstr(m, "could not run l4d2ctl"))
                status = 503;
        render_error(r, status, *m ? m : "The host refused it.");
}

/* ---- reads ---- */

/* `overlay ls NAME [-- PATH] --json` into *ret; false with the answer made
 * (with probe, a missing path is an answer: {"exists":false}). */
static bool list_probe(Req *r, const Overlay *o, const char *path, bool probe, json_t **ret) {
        const char *args[] = { "overlay", "ls", o->host_name, "--json", *path ? "--" : NULL, path, NULL };
        char err[512];
        if (hostlink_run_json(host(), args, NULL, ret, err, sizeof err) < 0) {
                if (probe && strstr(files_message(o, err), "does not exist"))
                        req_json(r, 200, json_pack("{s:b}", "exists", 0));
                else
                        files_refused(r, o, err);
                return false;
        }
        return true;
}

static bool list(Req *r, const Overlay *o, const char *path, json_t **ret) {
        return list_probe(r, o, path, false, ret);
}

/* ?path=P: the folder's listing (or the file's facts); with &probe=1 a
 * path that does not exist answers {"exists":false} instead of 404 (the
 * editor asks before it makes a new file). */
void page_overlay_files_ls(Req *r) {
        Overlay o;
        const char *path, *probe = query_get(r, "probe");
        json_t *j;
        if (!files_overlay(r, false, &o) || !(path = files_path_arg(r, "path", true)) ||
            !list_probe(r, &o, path, probe && streq(probe, "1"), &j))
                return;
        json_object_set_new(j, "exists", json_true());
        /* The browser knows the overlay by its id and name, not by the host's. */
        json_object_set_new(j, "overlay", json_string(o.name));
        json_t *entries = json_object_get(j, "entries");
        if (json_array_size(entries) > FILES_LS_ENTRIES_MAX) {
                while (json_array_size(entries) > FILES_LS_ENTRIES_MAX)
                        json_array_remove(entries, json_array_size(entries) - 1);
                json_object_set_new(j, "truncated", json_true());
        }
        req_json(r, 200, j);
}

/* The last name of path, or fallback for the top folder. */
static const char *base_name(const char *path, const char *fallback) {
        const char *s = strrchr(path, '/');
        s = s ? s + 1 : path;
        return *s ? s : fallback;
}

/* A download's errors: a page for a person who followed a link, JSON for
 * the editor's fetch (Accept: application/json). */
static void prefer_json(Req *r) {
        const char *accept = header_get(r, "Accept");
        if (accept && strstr(accept, "application/json"))
                r->json = true;
}

static void download(Req *r, const char *const args[], const char *filename) {
        int k = download_response(r->conn, args, filename, &r->custom);
        if (k < 0)
                render_error(r, 503, "The download could not be started on the panel's host; try again.");
}

/* A download's path, once the overlay may be read and `ls` says the path
 * is a want ("file", "folder"): every refusal is answered before a byte is
 * sent (NULL then). optional: no path is the top folder. */
static const char *download_path(Req *r, Overlay *o, bool optional, const char *want, const char *otherwise) {
        const char *path;
        json_t *j;
        prefer_json(r);
        if (!files_overlay(r, false, o) || !(path = files_path_arg(r, "path", optional)) || !list(r, o, path, &j))
                return NULL;
        bool ok = streq(json_string_value(json_object_get(j, "type")), want);
        json_decref(j);
        if (!ok) {
                render_error(r, 422, otherwise);
                return NULL;
        }
        return path;
}

void page_overlay_files_get(Req *r) {
        Overlay o;
        const char *path = download_path(r, &o, false, "file", "That is a folder: download it as a zip.");
        if (!path)
                return;
        const char *args[] = { "overlay", "get", o.host_name, "--", path, NULL };
        download(r, args, base_name(path, "file"));
}

void page_overlay_files_zip(Req *r) {
        Overlay o;
        const char *path = download_path(r, &o, true, "folder", "That is a file: download it as it is.");
        if (!path)
                return;
        const char *args[] = { "overlay", "zip", o.host_name, *path ? "--" : NULL, path, NULL };
        /* l4d2ctl names the top folder's entries after the overlay's host
         * name (u3-cfg/...): the file is named as its one folder is. */
        char name[NAME_MAX + 8];
        snprintf(name, sizeof name, "%s.zip", base_name(path, o.host_name));
        download(r, args, name);
}

/* ---- the view ---- */

static void int_attr(Buf *b, json_int_t v) {
        char num[24];
        num[int_text(num, v)] = '\0';
        html_attr(b, num);
}

/* href of a route with ?path=P. */
static void files_href(Buf *b, const Overlay *o, const char *verb, const char *path) {
        char base[64];
        html_attr(b, path_id(base, sizeof base, "/overlays", o->id, "/files/"));
        html_attr(b, verb);
        if (path && *path) {
                html_raw(b, "?path=");
                html_url_arg(b, path);
        }
}

static void dir_href(Buf *b, const Overlay *o, const char *dir) {
        char base[64];
        html_attr(b, path_id(base, sizeof base, "/overlays", o->id, NULL));
        if (dir && *dir) {
                html_raw(b, "?dir=");
                html_url_arg(b, dir);
        }
        html_raw(b, "#files");
}

/* The folder dir as a table (without JavaScript, and before files.js
 * replaces it with the tree): sub-folders open here, files download. */
static void listing(Req *r, const OverlayPage *p, const char *dir) {
        Buf *b = &r->out;
        const Overlay *o = &p->row;
        const char *args[] = { "overlay", "ls", o->host_name, "--json", *dir ? "--" : NULL, dir, NULL };
        json_t *j = NULL;
        char err[512];
        html_raw(b, "<div id=\"files-plain\">\n<p class=\"breadcrumbs\"><a href=\"");
        dir_href(b, o, "");
        html_raw(b, "\">");
        html_txt(b, o->name);
        html_raw(b, "</a>");
        for (const char *s = dir; *s;) {
                const char *e = strchr(s, '/');
                size_t n = e ? (size_t) (e - dir) : strlen(dir);
                _cleanup_free_ char *upto = strndup(dir, n), *name = strndup(s, (size_t) (dir + n - s));
                if (!upto || !name)
                        break;
                html_raw(b, " / <a href=\"");
                dir_href(b, o, upto);
                html_raw(b, "\">");
                html_txt(b, name);
                html_raw(b, "</a>");
                s = e ? e + 1 : dir + n;
        }
        html_raw(b, "</p>\n");
        if (hostlink_run_json(host(), args, NULL, &j, err, sizeof err) < 0) {
                html_raw(b, "<p class=\"error\" role=\"alert\">");
                html_txt(b, files_message(o, err));
                html_raw(b, "</p>\n</div>\n");
                return;
        }
        html_raw(b, "<table class=\"list\" id=\"files-list\">\n<thead><tr><th>Name</th><th>Size</th><th>Changed</th>"
                    "</tr></thead>\n<tbody>\n");
        size_t i;
        json_t *e;
        int shown = 0;
        json_array_foreach(json_object_get(j, "entries"), i, e) {
                if (shown >= 1000)
                        break;
                const char *name = json_string_value(json_object_get(e, "name"));
                const char *type = json_string_value(json_object_get(e, "type"));
                if (!name || !type)
                        continue;
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s%s%s", dir, *dir ? "/" : "", name) < 0)
                        break;
                shown++;
                html_raw(b, "<tr><td data-label=\"Name\">");
                if (streq(type, "folder")) {
                        html_raw(b, "<a href=\"");
                        dir_href(b, o, path);
                        html_raw(b, "\">");
                        html_txt(b, name);
                        html_raw(b, "/</a>");
                } else if (streq(type, "file")) {
                        html_raw(b, "<a href=\"");
                        files_href(b, o, "get", path);
                        html_raw(b, "\" download>");
                        html_txt(b, name);
                        html_raw(b, "</a>");
                } else {
                        html_txt(b, name);
                        html_raw(b, " <span class=\"badge overlay-failed\">");
                        html_txt(b, type);
                        html_raw(b, ": left out</span>");
                }
                html_raw(b, "</td><td data-label=\"Size\">");
                if (streq(type, "file"))
                        overlay_size_txt(b, json_integer_value(json_object_get(e, "size")));
                html_raw(b, "</td><td data-label=\"Changed\">");
                html_utc(b, json_integer_value(json_object_get(e, "mtime")), false);
                html_raw(b, "</td></tr>\n");
        }
        if (!shown)
                html_raw(b, "<tr><td colspan=\"3\">This folder is empty.</td></tr>\n");
        html_raw(b, "</tbody>\n</table>\n<p><a href=\"");
        files_href(b, o, "zip", dir);
        html_raw(b, "\" download>Download this folder as a zip</a></p>\n</div>\n");
        json_decref(j);
}

static void render(Req *r, const OverlayPage *p, const FieldErrors *e) {
        Buf *b = &r->out;
        const Overlay *o = &p->row;
        json_t *files = json_object_get(p->host, "files");
        bool pending = json_is_true(json_object_get(files, "pending"));
        size_t running = json_array_size(json_object_get(p->host, "running"));
        char base[64];
        (void) e;
        html_raw(b, "<section id=\"files\" class=\"files\" data-files=\"");
        html_attr(b, path_id(base, sizeof base, "/overlays", o->id, "/files"));
        html_raw(b, "\" data-name=\"");
        html_attr(b, o->name);
        html_raw(b, "\" data-writable=\"");
        if (p->writable && !o->deleting)
                html_raw(b, "1");
        else
                html_raw(b, "0");
        html_raw(b, "\" data-max-file=\"");
        int_attr(b, json_integer_value(json_object_get(files, "max_file_size")));
        html_raw(b, "\" data-max-size=\"");
        int_attr(b, json_integer_value(json_object_get(files, "max_size")));
        html_raw(b, "\" data-size=\"");
        int_attr(b, json_integer_value(json_object_get(files, "size")));
        html_raw(b, "\">\n<h2>Files</h2>\n<p class=\"hint\">Every change is saved at once. Servers that use this "
                    "overlay get the changes at their next start or restart, never while they run.</p>\n"
                    "<p class=\"notice\" id=\"files-pending\"");
        if (!pending)
                html_raw(b, " hidden");
        html_raw(b, ">Changed since it was last published: servers that use it get these changes at their next "
                    "start");
        if (running)
                html_raw(b, " (the servers running now: at their next restart)");
        html_raw(b, ".</p>\n<p class=\"hint\" id=\"files-limits\">Up to ");
        json_int_t max_file = json_integer_value(json_object_get(files, "max_file_size"));
        json_int_t max_size = json_integer_value(json_object_get(files, "max_size"));
        if (max_file > 0)
                overlay_size_txt(b, max_file);
        else
                html_raw(b, "any size");
        html_raw(b, " a file, ");
        if (max_size > 0)
                overlay_size_txt(b, max_size);
        else
                html_raw(b, "no limit");
        html_raw(b, " in all; it held <span id=\"files-size\">");
        overlay_size_txt(b, json_integer_value(json_object_get(files, "size")));
        html_raw(b, "</span> when this page was made.</p>\n");
        const char *why = NULL, *dir = query_path(r, "dir", true, &why);
        if (dir)
                listing(r, p, dir);
        else {
                html_raw(b, "<div id=\"files-plain\">\n<p class=\"error\" role=\"alert\">");
                html_txt(b, why);
                html_raw(b, " <a href=\"");
                dir_href(b, o, "");
                html_raw(b, "\">The top folder</a></p>\n</div>\n");
        }
        html_raw(b, "<noscript><p class=\"hint\">Uploading, editing, moving and deleting files needs JavaScript; "
                    "without it you can browse and download. From a shell, <code>l4d2ctl overlay put</code> and "
                    "its sister verbs do the same.</p></noscript>\n"
                    "<script src=\"/static/files.js\" defer></script>\n</section>\n");
}

const OverlayKindView overlay_view_files = { .render = render };
