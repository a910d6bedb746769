/* Shared libraries that only a few commands need, loaded at their first use
 * instead of at every l4d2ctl start.
 *
 * libcurl (the Workshop, update checks) and libarchive (overlay zip) bring
 * about 40 more libraries with them (OpenSSL, GnuTLS, Kerberos, LDAP, ICU):
 * mapping them took 7-9 ms of every l4d2ctl call, most of what a `start`
 * or an `overlay put` costs, although most calls never touch either. So
 * l4d2ctl is not linked with them: curl-lazy.c and archive-lazy.c define the
 * functions the host code calls, each of which loads the library on its
 * first call (dlopen by SONAME) and calls the real function.
 *
 * The Debian package names both libraries in Depends (dpkg-shlibdeps cannot
 * see a dlopen). A library that cannot be loaded ends the process with one
 * line naming it: the host code has no sensible way on without it. */
#pragma once

typedef struct LazyLib {
        const char *soname; /* "libcurl.so.4" */
        const char *package; /* the Debian package that has it, for the error */
        void *handle;
} LazyLib;

/* The address of `name` in the library, loading it if it is not yet.
 * Never returns NULL. Thread-safe. */
void *lazylib_sym(LazyLib *l, const char *name);

/* One function of a lazily loaded library: its definition, which looks the
 * real one up once and calls it. The definition's C name is lazy_<name>,
 * bound to the symbol <name> by an asm label, so that it never conflicts
 * with the library header's own prototype (whose parameters may gain a
 * `const` from one library version to the next: the ABI is the same). */
#define LAZY_FN(lib, ret, name, params, args)                                                    \
        ret lazy_##name params __asm__(#name);                                                   \
        ret lazy_##name params {                                                                 \
                static ret(*fn) params;                                                          \
                ret(*f) params = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);                         \
                if (!f) {                                                                        \
                        f = (ret(*) params) lazylib_sym(&(lib), #name);                          \
                        __atomic_store_n(&fn, f, __ATOMIC_RELEASE);                              \
                }                                                                                \
                return f args;                                                                   \
        }
#define LAZY_VOID_FN(lib, name, params, args)                                                    \
        void lazy_##name params __asm__(#name);                                                  \
        void lazy_##name params {                                                                \
                static void(*fn) params;                                                         \
                void(*f) params = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);                        \
                if (!f) {                                                                        \
                        f = (void(*) params) lazylib_sym(&(lib), #name);                         \
                        __atomic_store_n(&fn, f, __ATOMIC_RELEASE);                              \
                }                                                                                \
                f args;                                                                          \
        }
