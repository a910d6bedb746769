/* libarchive, loaded at its first use (lazylib.h): the functions the host
 * code calls (overlay zip). A function used anew must be added here, or
 * l4d2ctl does not link. */
#include <archive.h>
#include <archive_entry.h>

#include "lazylib.h"

static LazyLib la = { .soname = "libarchive.so.13", .package = "libarchive13" };

LAZY_FN(la, struct archive *, archive_write_new, (void), ())
LAZY_FN(la, int, archive_write_free, (struct archive *a), (a))
LAZY_FN(la, int, archive_write_close, (struct archive *a), (a))
LAZY_FN(la, const char *, archive_error_string, (struct archive *a), (a))
LAZY_FN(la, int, archive_write_set_format_zip, (struct archive *a), (a))
LAZY_FN(la, int, archive_write_set_format_option, (struct archive *a, const char *m, const char *o, const char *v),
        (a, m, o, v))
LAZY_FN(la, int, archive_write_zip_set_compression_deflate, (struct archive *a), (a))
LAZY_FN(la, int, archive_write_zip_set_compression_store, (struct archive *a), (a))
LAZY_FN(la, int, archive_write_set_bytes_in_last_block, (struct archive *a, int n), (a, n))
LAZY_FN(la, int, archive_write_open_fd, (struct archive *a, int fd), (a, fd))
LAZY_FN(la, int, archive_write_header, (struct archive *a, struct archive_entry *e), (a, e))
LAZY_FN(la, la_ssize_t, archive_write_data, (struct archive *a, const void *p, size_t n), (a, p, n))
LAZY_FN(la, struct archive_entry *, archive_entry_new, (void), ())
LAZY_VOID_FN(la, archive_entry_free, (struct archive_entry *e), (e))
LAZY_FN(la, const char *, archive_entry_pathname, (struct archive_entry *e), (e))
LAZY_VOID_FN(la, archive_entry_set_pathname, (struct archive_entry *e, const char *p), (e, p))
LAZY_VOID_FN(la, archive_entry_set_pathname_utf8, (struct archive_entry *e, const char *p), (e, p))
LAZY_VOID_FN(la, archive_entry_set_size, (struct archive_entry *e, la_int64_t n), (e, n))
LAZY_VOID_FN(la, archive_entry_set_perm, (struct archive_entry *e, __LA_MODE_T m), (e, m))
LAZY_VOID_FN(la, archive_entry_set_filetype, (struct archive_entry *e, unsigned int t), (e, t))
LAZY_VOID_FN(la, archive_entry_set_mtime, (struct archive_entry *e, time_t t, long ns), (e, t, ns))
