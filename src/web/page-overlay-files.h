/* The files view of an overlay's page (page-overlays.h says how views plug
 * in) and its routes, /overlays/<id>/files/<verb>: a file manager in the
 * browser (static/files.js) over the host's `l4d2ctl overlay` files verbs.
 *
 *   page-overlay-files.c       the view; ls, get and zip (reads)
 *   page-overlay-files-edit.c  put, mkdir, mv, rm (writes)
 *
 * Paths are the user's bytes and go to l4d2ctl as one argv word each, after
 * "--": the host's one resolver (path_resolve_user) decides what they may
 * be. The panel refuses only what no argv can carry (a NUL byte) and what
 * is too long to be a path, where it decodes the request. Reads are for
 * anyone who may see the overlay (global ones: every user), writes for its
 * owner (global ones: admins); another user's overlay, an unknown id and an
 * overlay of another kind all answer the same 404. */
#pragma once

#include "page-overlays.h"

/* Entries of one folder the browser gets at most (the host lists 100,000). */
#define FILES_LS_ENTRIES_MAX 10000

/* The files overlay of r->id for r's user (write: to change it). False when
 * the answer is made already. */
bool files_overlay(Req *r, bool write, Overlay *ret);
/* The query argument key as a path, decoded once (by libmicrohttpd): NULL
 * with the answer made when it holds a NUL byte or is longer than a path
 * can be, or is missing and not optional (then ""). */
const char *files_path_arg(Req *r, const char *key, bool optional);
/* A form field as a path: NULL with the answer made when missing or empty
 * (form_parse refused NUL bytes and bad escapes already: 400). */
const char *files_form_path(Req *r, const char *key);
/* l4d2ctl refused (err: its error line): the answer, with the status its
 * message calls for (413 at a size limit, 404 for a missing path, 409 for
 * one that exists, 503 while the overlay is busy, else 422). */
void files_refused(Req *r, const Overlay *o, const char *err);
/* err without "error: " and "overlay 'HOST': ": what the user reads. */
const char *files_message(const Overlay *o, const char *err);
