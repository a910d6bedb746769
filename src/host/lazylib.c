/* See lazylib.h. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "lazylib.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

_Noreturn static void fail(const LazyLib *l, const char *what) {
        /* Infrastructure, not library logic: without the library the call
         * that needs it cannot go on, and has no error path for this. */
        fprintf(stderr, "l4d2ctl: cannot load %s (%s; is the package %s installed?)\n", l->soname, what,
                l->package);
        fflush(stderr);
        _exit(1);
}

void *lazylib_sym(LazyLib *l, const char *name) {
        pthread_mutex_lock(&lock);
        if (!l->handle)
                l->handle = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
        void *h = l->handle;
        pthread_mutex_unlock(&lock);
        if (!h)
                fail(l, dlerror());
        void *p = dlsym(h, name);
        if (!p)
                fail(l, name);
        return p;
}
