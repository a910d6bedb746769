#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

int error_set(Error *err, int code, const char *fmt, ...) {
        if (err) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err->msg, sizeof err->msg, fmt, ap);
                va_end(ap);
                err->code = code;
        }
        return code;
}

int error_prefix(Error *err, int code, const char *fmt, ...) {
        if (err) {
                char prefix[256], old[sizeof err->msg];
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(prefix, sizeof prefix, fmt, ap);
                va_end(ap);
                memcpy(old, err->msg, sizeof old);
                if (old[0])
                        snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
                else
                        snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, strerror(-code));
                err->code = code;
        }
        return code;
}
