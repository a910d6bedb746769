/* Error reports from library code. Library functions never print: they
 * return -errno and, when the caller passes an Error, a one-line message that
 * names the object and says what to do. The program prints it once. */
#pragma once

#include <stddef.h>

#include "macro.h"

typedef struct Error {
        int code;       /* negative errno, 0 when nothing went wrong */
        char msg[512];
} Error;

/* Records the message (if err is not NULL) and returns code, which must be a
 * negative errno, so a caller can write `return error_set(err, -EINVAL, ...)`. */
int error_set(Error *err, int code, const char *fmt, ...) _printf_(3, 4);

/* Prepends "context: " to an existing message (e.g. the instance name). */
int error_prefix(Error *err, int code, const char *fmt, ...) _printf_(3, 4);

static inline const char *error_msg(const Error *err) {
        return err && err->msg[0] ? err->msg : "unknown error";
}
