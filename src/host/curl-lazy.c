/* libcurl, loaded at its first use (lazylib.h): the functions the host code
 * calls. A function used anew must be added here, or l4d2ctl does not link. */
#include <curl/curl.h>
#include <stdarg.h>

#include "lazylib.h"

static LazyLib curl = { .soname = "libcurl.so.4", .package = "libcurl4" };

LAZY_FN(curl, CURLcode, curl_global_init, (long flags), (flags))
LAZY_VOID_FN(curl, curl_global_cleanup, (void), ())
LAZY_VOID_FN(curl, curl_free, (void *p), (p))
LAZY_FN(curl, const char *, curl_easy_strerror, (CURLcode c), (c))
LAZY_FN(curl, CURL *, curl_easy_init, (void), ())
LAZY_VOID_FN(curl, curl_easy_cleanup, (CURL *h), (h))
LAZY_VOID_FN(curl, curl_easy_reset, (CURL *h), (h))
LAZY_FN(curl, CURLcode, curl_easy_perform, (CURL *h), (h))
LAZY_FN(curl, CURLU *, curl_url, (void), ())
LAZY_VOID_FN(curl, curl_url_cleanup, (CURLU *u), (u))
LAZY_FN(curl, CURLUcode, curl_url_set, (CURLU *u, CURLUPart what, const char *part, unsigned int flags),
        (u, what, part, flags))
LAZY_FN(curl, CURLUcode, curl_url_get, (CURLU *u, CURLUPart what, char **part, unsigned int flags),
        (u, what, part, flags))
LAZY_FN(curl, CURLM *, curl_multi_init, (void), ())
LAZY_FN(curl, CURLMcode, curl_multi_cleanup, (CURLM *m), (m))
LAZY_FN(curl, CURLMcode, curl_multi_add_handle, (CURLM *m, CURL *h), (m, h))
LAZY_FN(curl, CURLMcode, curl_multi_remove_handle, (CURLM *m, CURL *h), (m, h))
LAZY_FN(curl, CURLMcode, curl_multi_perform, (CURLM *m, int *running), (m, running))
LAZY_FN(curl, CURLMsg *, curl_multi_info_read, (CURLM *m, int *left), (m, left))
LAZY_FN(curl, CURLMcode, curl_multi_poll,
        (CURLM *m, struct curl_waitfd extra_fds[], unsigned int extra_nfds, int timeout_ms, int *ret),
        (m, extra_fds, extra_nfds, timeout_ms, ret))

/* The two variadic ones take exactly one more argument, whose type the
 * option's number says (curl.h: CURLOPTTYPE_*, CURLINFO_* are pointers). */
CURLcode lazy_curl_easy_setopt(CURL *h, CURLoption option, ...) __asm__("curl_easy_setopt");
CURLcode lazy_curl_easy_setopt(CURL *h, CURLoption option, ...) {
        static CURLcode (*fn)(CURL *, CURLoption, ...);
        CURLcode (*f)(CURL *, CURLoption, ...) = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);
        if (!f) {
                f = (CURLcode (*)(CURL *, CURLoption, ...)) lazylib_sym(&curl, "curl_easy_setopt");
                __atomic_store_n(&fn, f, __ATOMIC_RELEASE);
        }
        va_list ap;
        va_start(ap, option);
        CURLcode r;
        if (option < CURLOPTTYPE_OBJECTPOINT)
                r = f(h, option, va_arg(ap, long));
        else if (option < CURLOPTTYPE_OFF_T)
                r = f(h, option, va_arg(ap, void *)); /* object and function pointers alike */
        else if (option < CURLOPTTYPE_BLOB)
                r = f(h, option, va_arg(ap, curl_off_t));
        else
                r = f(h, option, va_arg(ap, void *));
        va_end(ap);
        return r;
}

CURLcode lazy_curl_easy_getinfo(CURL *h, CURLINFO info, ...) __asm__("curl_easy_getinfo");
CURLcode lazy_curl_easy_getinfo(CURL *h, CURLINFO info, ...) {
        static CURLcode (*fn)(CURL *, CURLINFO, ...);
        CURLcode (*f)(CURL *, CURLINFO, ...) = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);
        if (!f) {
                f = (CURLcode (*)(CURL *, CURLINFO, ...)) lazylib_sym(&curl, "curl_easy_getinfo");
                __atomic_store_n(&fn, f, __ATOMIC_RELEASE);
        }
        va_list ap;
        va_start(ap, info);
        CURLcode r = f(h, info, va_arg(ap, void *));
        va_end(ap);
        return r;
}
