/* Downloads into the Workshop content cache: libcurl's multi interface for
 * items with a file_url (a few at a time, each streamed to a temp file and
 * size-checked before the rename), steamcmd for the rest. */
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "fs.h"
#include "lock.h"
#include "process.h"
#include "random.h"
#include "strutil.h"
#include "workshop-fetch.h"
#include "workshop.h"

extern char **environ;

#define PROGRESS_EVERY_MS 100

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

int workshop_cache_open(const HostConfig *c, Error *err) {
        _cleanup_close_ int state = open(c->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int r = state < 0 ? negative_errno() : mkdir_p_at(state, "workshop-cache/.tmp", 0755);
        if (r < 0)
                return error_set(err, r, "cannot create '%s/workshop-cache': %s", c->state_dir, strerror(-r));
        int fd = path_open_beneath(state, "workshop-cache", O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        if (fd < 0)
                return error_set(err, fd, "cannot open '%s/workshop-cache': %s", c->state_dir, strerror(-fd));
        return fd;
}

typedef struct Fetch {
        const WorkshopSettings *set;
        int cache_fd, tmp_fd;
        fetch_cb cb;
        void *userdata;
        uint64_t finished; /* bytes of items in the cache */
        uint64_t inflight; /* bytes of the attempts running */
        uint64_t last_progress;
} Fetch;

static void progress(Fetch *f, bool force) {
        uint64_t t = now_ms();
        if (!f->cb || (!force && t - f->last_progress < PROGRESS_EVERY_MS))
                return;
        f->last_progress = t;
        f->cb(NULL, FETCH_PROGRESS, f->finished + f->inflight, f->userdata);
}

/* Moves a complete temp file into the cache. Another build may have put the
 * same version there meanwhile: then keep that one (overlays may already
 * link it) and drop ours. */
static int into_cache(Fetch *f, const char *tmp, FetchItem *it) {
        if (renameat2(f->tmp_fd, tmp, f->cache_fd, it->want, RENAME_NOREPLACE) == 0)
                return 0;
        int r = negative_errno();
        struct stat st;
        if (r == -EEXIST && fstatat(f->cache_fd, it->want, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            (uint64_t) st.st_size == it->size) {
                unlinkat(f->tmp_fd, tmp, 0);
                return 0;
        }
        if (r == -EEXIST && renameat(f->tmp_fd, tmp, f->cache_fd, it->want) == 0)
                return 0; /* a damaged copy: replace it */
        unlinkat(f->tmp_fd, tmp, 0);
        return r;
}

static void item_done(Fetch *f, FetchItem *it, int result) {
        it->result = result;
        if (result >= 0) {
                it->message[0] = '\0';
                f->finished += it->size;
        }
        if (f->cb)
                f->cb(it, FETCH_DONE, f->finished + f->inflight, f->userdata);
        progress(f, true);
}

/* ---- libcurl ---- */

typedef struct Transfer {
        CURL *h;
        FetchItem *it;
        Fetch *f;
        int fd;
        char tmp[128];
        bool too_large;
        int write_error;
} Transfer;

static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata) {
        Transfer *t = userdata;
        size_t n = size * nmemb;
        long code = 0;
        curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &code);
        if (code != 200)
                return n; /* an error page (or a redirect's body) is not the file */
        if (t->it->got + n > t->it->size) {
                t->too_large = true;
                return 0; /* stops the transfer */
        }
        for (size_t off = 0; off < n;) {
                ssize_t w = write(t->fd, data + off, n - off);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        t->write_error = errno;
                        return 0;
                }
                off += (size_t) w;
        }
        t->it->got += n;
        t->f->inflight += n;
        progress(t->f, false);
        return n;
}

static int transfer_start(Transfer *t, CURLM *m, FetchItem *it) {
        Fetch *f = t->f;
        char hex[9];
        random_hex(hex, sizeof hex);
        snprintf(t->tmp, sizeof t->tmp, "%s.%s", it->want, hex);
        t->fd = openat(f->tmp_fd, t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (t->fd < 0)
                return negative_errno();
        t->it = it;
        t->too_large = false;
        t->write_error = 0;
        it->got = 0;
        it->attempts++;
        CURL *h = t->h;
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, it->url);
        /* file_url comes from the API's answer: http(s) only, also after
         * redirects (no file://, no other protocol libcurl speaks). */
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, f->set->timeout_s);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, f->set->timeout_s);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "left4me/" LEFT4ME_VERSION);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
        curl_easy_setopt(h, CURLOPT_PRIVATE, t);
        if (curl_multi_add_handle(m, h) != CURLM_OK) {
                close(t->fd);
                unlinkat(f->tmp_fd, t->tmp, 0);
                return -EIO;
        }
        return 0;
}

/* Judges a finished attempt; returns 0 if the file is in the cache. */
static int transfer_finish(Transfer *t, CURLM *m, CURLcode cc) {
        Fetch *f = t->f;
        FetchItem *it = t->it;
        long code = 0;
        curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &code);
        curl_multi_remove_handle(m, t->h);
        /* Start writing it back now: the syncfs before the publish then has
         * little left to wait for. */
        (void) sync_file_range(t->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        close(t->fd);
        t->fd = -1;
        f->inflight -= it->got;
        int r = -EIO;
        if (t->too_large)
                snprintf(it->message, sizeof it->message,
                         "the download is larger than the %llu bytes the Workshop announced",
                         (unsigned long long) it->size);
        else if (t->write_error)
                snprintf(it->message, sizeof it->message, "cannot write to the cache: %s", strerror(t->write_error));
        else if (cc != CURLE_OK)
                snprintf(it->message, sizeof it->message, "the download failed: %s", curl_easy_strerror(cc));
        else if (code != 200)
                snprintf(it->message, sizeof it->message, "the file host answered HTTP %ld", code);
        else if (it->got != it->size)
                snprintf(it->message, sizeof it->message, "the download was truncated: %llu of %llu bytes",
                         (unsigned long long) it->got, (unsigned long long) it->size);
        else if ((r = into_cache(f, t->tmp, it)) < 0)
                snprintf(it->message, sizeof it->message, "cannot move the download into the cache: %s",
                         strerror(-r));
        if (r < 0)
                unlinkat(f->tmp_fd, t->tmp, 0);
        t->it = NULL;
        return r;
}

static int fetch_curl(Fetch *f, FetchItem **todo, size_t n) {
        if (n == 0)
                return 0;
        size_t slots = (size_t) f->set->parallel < n ? (size_t) f->set->parallel : n;
        CURLM *m = curl_multi_init();
        Transfer *t = calloc(slots, sizeof *t);
        uint64_t *not_before = calloc(n, sizeof *not_before);
        /* Items waiting for their next attempt, by index into todo. */
        size_t *waiting = calloc(n, sizeof *waiting), n_waiting = 0, next = 0, active = 0;
        int r = m && t && not_before && waiting ? 0 : -ENOMEM;
        for (size_t i = 0; r >= 0 && i < slots; i++) {
                t[i] = (Transfer) { .f = f, .fd = -1, .h = curl_easy_init() };
                if (!t[i].h)
                        r = -ENOMEM;
        }
        while (r >= 0) {
                uint64_t now = now_ms(), wake = UINT64_MAX;
                /* Fill free slots: due retries first, then new items. */
                for (size_t s = 0; s < slots; s++) {
                        if (t[s].it)
                                continue;
                        FetchItem *it = NULL;
                        size_t idx = 0;
                        for (size_t w = 0; w < n_waiting && !it; w++)
                                if (not_before[waiting[w]] <= now) {
                                        idx = waiting[w];
                                        it = todo[idx];
                                        waiting[w] = waiting[--n_waiting];
                                }
                        if (!it && next < n)
                                it = todo[idx = next++];
                        if (!it)
                                break;
                        int q = transfer_start(&t[s], m, it);
                        if (q < 0) {
                                snprintf(it->message, sizeof it->message, "cannot start the download: %s",
                                         strerror(-q));
                                item_done(f, it, q);
                        } else
                                active++;
                }
                for (size_t w = 0; w < n_waiting; w++)
                        if (not_before[waiting[w]] < wake)
                                wake = not_before[waiting[w]];
                if (active == 0 && next >= n && n_waiting == 0)
                        break;
                int running;
                curl_multi_perform(m, &running);
                CURLMsg *msg;
                int left;
                while ((msg = curl_multi_info_read(m, &left))) {
                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        Transfer *tr = NULL;
                        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &tr);
                        FetchItem *it = tr->it;
                        int q = transfer_finish(tr, m, msg->data.result);
                        active--;
                        if (q >= 0) {
                                item_done(f, it, 0);
                        } else if (it->attempts < (unsigned) f->set->attempts) {
                                size_t idx = 0;
                                while (todo[idx] != it)
                                        idx++;
                                not_before[idx] = now_ms() + ((uint64_t) f->set->retry_ms << (it->attempts - 1));
                                waiting[n_waiting++] = idx;
                                if (f->cb)
                                        f->cb(it, FETCH_RETRY, f->finished + f->inflight, f->userdata);
                        } else
                                item_done(f, it, -EIO);
                }
                if (active == 0 && next >= n && n_waiting == 0)
                        break; /* all done: no need to wait for anything */
                now = now_ms();
                int timeout = 200;
                if (wake != UINT64_MAX)
                        timeout = wake <= now ? 0 : wake - now < 200 ? (int) (wake - now) : 200;
                if (active > 0 || timeout > 0)
                        curl_multi_poll(m, NULL, 0, timeout, NULL);
        }
        for (size_t i = 0; t && i < slots; i++) {
                if (t[i].it) {
                        curl_multi_remove_handle(m, t[i].h);
                        close(t[i].fd);
                        unlinkat(f->tmp_fd, t[i].tmp, 0);
                }
                if (t[i].h)
                        curl_easy_cleanup(t[i].h);
        }
        free(t);
        free(not_before);
        free(waiting);
        if (m)
                curl_multi_cleanup(m);
        return r;
}

/* ---- steamcmd ---- */

typedef struct SteamcmdRun {
        FetchItem **items;
        size_t n;
} SteamcmdRun;

static int on_steamcmd_line(const char *line, void *userdata) {
        SteamcmdRun *run = userdata;
        /* ERROR! Download item 123 failed (Failure). */
        const char *p = strstr(line, "Download item ");
        if (!p || !strstr(line, "failed"))
                return 0;
        p += strlen("Download item ");
        for (size_t i = 0; i < run->n; i++) {
                size_t len = strlen(run->items[i]->id);
                if (strncmp(p, run->items[i]->id, len) == 0 && p[len] == ' ')
                        snprintf(run->items[i]->message, sizeof run->items[i]->message, "steamcmd: %s", line);
        }
        return 0;
}

/* The file steamcmd left in content/550/ID: the only one, or the only .vpk. */
static int pick_file(int dir, char *ret, size_t size) {
        DIR *d = fdopendir(fcntl(dir, F_DUPFD_CLOEXEC, 3));
        if (!d)
                return negative_errno();
        unsigned files = 0, vpks = 0;
        char any[256] = "", vpk[256] = "";
        struct dirent *de;
        while ((de = readdir(d))) {
                struct stat st;
                if (fstatat(dir, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                files++;
                snprintf(any, sizeof any, "%s", de->d_name);
                size_t len = strlen(de->d_name);
                if (len > 4 && streq(de->d_name + len - 4, ".vpk")) {
                        vpks++;
                        snprintf(vpk, sizeof vpk, "%s", de->d_name);
                }
        }
        closedir(d);
        if (files == 1)
                snprintf(ret, size, "%s", any);
        else if (vpks == 1)
                snprintf(ret, size, "%s", vpk);
        else
                return files == 0 ? -ENOENT : -ENOTUNIQ;
        return 0;
}

static int steamcmd_collect(Fetch *f, int inst, FetchItem *it) {
        char rel[96];
        snprintf(rel, sizeof rel, "steamapps/workshop/content/%d/%s", WORKSHOP_APP_ID, it->id);
        _cleanup_close_ int dir = path_open_beneath(inst, rel, O_RDONLY | O_DIRECTORY, 0, PATH_NO_SYMLINKS);
        char file[256];
        int r = dir < 0 ? dir : pick_file(dir, file, sizeof file);
        if (r < 0) {
                if (!it->message[0])
                        snprintf(it->message, sizeof it->message,
                                 r == -ENOTUNIQ ? "steamcmd left several files, none of them the one .vpk"
                                                : "steamcmd did not download it");
                return r;
        }
        struct stat st;
        if (fstatat(dir, file, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        it->got = (uint64_t) st.st_size;
        if (it->got != it->size) {
                snprintf(it->message, sizeof it->message, it->got < it->size
                                 ? "the download was truncated: %llu of %llu bytes"
                                 : "the download is larger than announced: %llu instead of %llu bytes",
                         (unsigned long long) it->got, (unsigned long long) it->size);
                (void) rm_rf_at(inst, rel);
                return -EIO;
        }
        /* Into .tmp under our own name, then the cache's usual rename. */
        char tmp[128], hex[9];
        random_hex(hex, sizeof hex);
        snprintf(tmp, sizeof tmp, "%s.%s", it->want, hex);
        if (renameat(dir, file, f->tmp_fd, tmp) < 0 || (r = into_cache(f, tmp, it)) < 0) {
                r = r < 0 ? r : negative_errno();
                snprintf(it->message, sizeof it->message, "cannot move the download into the cache: %s",
                         strerror(-r));
        }
        (void) rm_rf_at(inst, rel);
        return r;
}

static int steamcmd_run(const HostConfig *c, const char *home, const char *inst_path, SteamcmdRun *run,
                        Error *err) {
        _cleanup_strv_ char **argv = NULL, **envp = NULL;
        size_t na = 0, ne = 0;
        int r = strv_push_dup(&argv, &na, c->steamcmd);
        const char *head[] = { "+force_install_dir", inst_path, "+login", "anonymous" };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(head); i++)
                r = strv_push_dup(&argv, &na, head[i]);
        for (size_t i = 0; r >= 0 && i < run->n; i++) {
                if ((r = strv_push_dup(&argv, &na, "+workshop_download_item")) >= 0 &&
                    (r = strv_push_dup(&argv, &na, "550")) >= 0)
                        r = strv_push_dup(&argv, &na, run->items[i]->id);
        }
        if (r >= 0)
                r = strv_push_dup(&argv, &na, "+quit");
        for (char **e = environ; r >= 0 && *e; e++)
                if (!startswith(*e, "HOME="))
                        r = strv_push_dup(&envp, &ne, *e);
        char *h = NULL;
        if (r < 0 || asprintf(&h, "HOME=%s", home) < 0 || strv_push(&envp, &ne, h) < 0) {
                free(h);
                return -ENOMEM;
        }
        SpawnOptions o = SPAWN_OPTIONS_INIT;
        o.envp = envp;
        o.search_path = true;
        o.cwd = c->state_dir;
        int exit_code;
        r = spawn_lines(argv, &o, on_steamcmd_line, run, &exit_code);
        if (r == -ENOENT)
                return error_set(err, r, "steamcmd '%s' not found (items without a file_url need it)", c->steamcmd);
        if (r < 0)
                return error_set(err, r, "cannot run steamcmd '%s': %s", c->steamcmd, strerror(-r));
        return 0;
}

static void fetch_steamcmd(const HostConfig *c, Fetch *f, FetchItem **todo, size_t n) {
        if (n == 0)
                return;
        Error err = { 0 };
        _cleanup_close_ int lock = -1, inst = -1;
        _cleanup_free_ char *home = config_path(c, "steam-workshop", NULL);
        _cleanup_free_ char *inst_path = config_path(c, "workshop-cache", ".tmp/steamcmd");
        int r = home && inst_path ? 0 : -ENOMEM;
        if (r >= 0)
                r = host_lock(c, ".steamcmd-workshop", LOCK_EX, 60000, "steamcmd (Workshop downloads)", &lock, &err);
        if (r >= 0 && ((r = mkdir_p(home, 0755)) < 0 || (r = mkdir_p(inst_path, 0755)) < 0))
                error_set(&err, r, "cannot create '%s': %s", inst_path, strerror(-r));
        if (r >= 0 && (inst = open(inst_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                r = error_set(&err, negative_errno(), "cannot open '%s': %m", inst_path);
        _cleanup_free_ FetchItem **left = calloc(n, sizeof *left);
        if (!left)
                r = -ENOMEM;
        else
                memcpy(left, todo, n * sizeof *todo);
        size_t n_left = left ? n : 0;
        for (unsigned attempt = 1; r >= 0 && n_left > 0; attempt++) {
                for (size_t i = 0; i < n_left; i++) {
                        left[i]->attempts++;
                        left[i]->message[0] = '\0';
                }
                SteamcmdRun run = { .items = left, .n = n_left };
                if ((r = steamcmd_run(c, home, inst_path, &run, &err)) < 0)
                        break;
                size_t still = 0;
                for (size_t i = 0; i < n_left; i++) {
                        if (steamcmd_collect(f, inst, left[i]) >= 0)
                                item_done(f, left[i], 0);
                        else if (attempt >= (unsigned) f->set->attempts)
                                item_done(f, left[i], -EIO);
                        else {
                                if (f->cb)
                                        f->cb(left[i], FETCH_RETRY, f->finished + f->inflight, f->userdata);
                                left[still++] = left[i];
                        }
                }
                n_left = still;
                if (n_left > 0)
                        usleep((useconds_t) ((uint64_t) f->set->retry_ms << (attempt - 1)) * 1000);
        }
        if (r < 0) {
                FetchItem **v = left ? left : todo;
                size_t nv = left ? n_left : n;
                for (size_t i = 0; i < nv; i++) {
                        snprintf(v[i]->message, sizeof v[i]->message, "%s", error_msg(&err));
                        item_done(f, v[i], r);
                }
        }
}

int workshop_fetch(const HostConfig *c, const WorkshopSettings *set, int cache_fd, FetchItem *items, size_t n,
                   fetch_cb cb, void *userdata, Error *err) {
        _cleanup_close_ int tmp = openat(cache_fd, ".tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (tmp < 0)
                return error_set(err, negative_errno(), "cannot open the cache's .tmp dir: %m");
        Fetch f = { .set = set, .cache_fd = cache_fd, .tmp_fd = tmp, .cb = cb, .userdata = userdata };
        _cleanup_free_ FetchItem **by_curl = calloc(n + 1, sizeof *by_curl);
        _cleanup_free_ FetchItem **by_steamcmd = calloc(n + 1, sizeof *by_steamcmd);
        if (!by_curl || !by_steamcmd)
                return -ENOMEM;
        size_t nc = 0, ns = 0;
        for (size_t i = 0; i < n; i++) {
                items[i].result = -EINPROGRESS; /* until item_done */
                items[i].attempts = 0;
                items[i].message[0] = '\0';
                if (items[i].url)
                        by_curl[nc++] = &items[i];
                else
                        by_steamcmd[ns++] = &items[i];
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return error_set(err, -EIO, "cannot initialise libcurl");
        int r = fetch_curl(&f, by_curl, nc);
        curl_global_cleanup();
        if (r < 0)
                return error_set(err, r, "cannot download: %s", strerror(-r));
        fetch_steamcmd(c, &f, by_steamcmd, ns);
        progress(&f, true);
        return 0;
}
