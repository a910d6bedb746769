#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "keys.h"
#include "svc-accounts.h"
#include "svc-sessions.h"
#include "throttle.h"

/* ---- the hashing threads ---- */

#define HASH_THREADS_MAX 16
#define QUEUE_PER_THREAD 8     /* waiting checks per hashing thread; more: -EBUSY */
#define WAIT_MAX_MS 5000       /* a check waits this long for its turn at most */

typedef struct HashJob {
        const char *password;
        const char *hash;      /* verify against this; NULL: make one into out */
        char *out;
        bool known_device;
        int result;
        bool taken, done;
        struct HashJob *next;
} HashJob;

static struct {
        pthread_mutex_t lock;
        pthread_cond_t work, done;
        HashJob *head[2], *tail[2]; /* [0]: known devices, served first; [1]: the rest */
        unsigned waiting, threads;
        bool stop;
        pthread_t tid[HASH_THREADS_MAX];
} hq = { .lock = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER };

static int hash_now(HashJob *j) {
        if (j->hash)
                return crypto_pwhash_str_verify(j->hash, j->password, strlen(j->password)) == 0 ? 1 : 0;
        if (crypto_pwhash_str(j->out, j->password, strlen(j->password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
                return -ENOMEM;
        return 0;
}

/* The hasher: a child process, forked at start before any other thread,
 * computes every hash. argon2id maps, faults in and unmaps 64 MiB per hash;
 * in the panel's own address space that churn (page faults, munmap's TLB
 * shootdowns, the mmap lock held by a thread running at nice 10 on a busy
 * machine) stalled the event loops: a logged-in user's p99 went from 11 to
 * 221 ms under 64 guessers (bench/panel-load). In a process of its own it
 * touches none of the panel's. One SOCK_SEQPACKET socket per hashing slot:
 * the panel's thread of that slot sends a job and waits for its answer; the
 * hasher's thread of that slot computes it. The hasher dies with the panel
 * (PDEATHSIG) and ends when its sockets close. */
#define MSG_MAX 1024
static int slot_fd[HASH_THREADS_MAX];
static pid_t hasher_pid;

static void hasher_serve(int fd) {
        char in[MSG_MAX], out[MSG_MAX];
        for (;;) {
                ssize_t n = recv(fd, in, sizeof in - 1, 0);
                if (n <= 0)
                        _exit(0);
                in[n] = '\0';
                /* 'v' PASSWORD NUL HASH, or 'm' PASSWORD */
                const char *pw = in + 1;
                size_t pwlen = strnlen(pw, (size_t) n - 1);
                HashJob j = { .password = pw, .hash = in[0] == 'v' && pwlen + 2 < (size_t) n ? pw + pwlen + 1 : NULL,
                              .out = out + sizeof(int32_t) };
                out[sizeof(int32_t)] = '\0';
                int32_t r = (in[0] == 'v' && !j.hash) ? -EINVAL : hash_now(&j);
                memcpy(out, &r, sizeof r);
                size_t len = sizeof r + (in[0] == 'm' && r == 0 ? strlen(out + sizeof r) + 1 : 0);
                sodium_memzero(in, sizeof in);
                (void) !send(fd, out, len, MSG_NOSIGNAL);
                sodium_memzero(out, sizeof out);
        }
}

static void *hasher_thread(void *arg) {
        hasher_serve((int) (intptr_t) arg);
        return NULL;
}

static void close_other_fds(const int keep[], unsigned n) {
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                return;
        int dfd = dirfd(d);
        struct dirent *e;
        while ((e = readdir(d))) {
                int fd = atoi(e->d_name);
                bool kept = fd <= 2 || fd == dfd;
                for (unsigned i = 0; i < n; i++)
                        kept = kept || fd == keep[i];
                if (!kept && e->d_name[0] != '.')
                        close(fd);
        }
        closedir(d);
}

static int hasher_start(unsigned n) {
        int child[HASH_THREADS_MAX];
        for (unsigned i = 0; i < n; i++) {
                int sv[2];
                if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                        return negative_errno();
                slot_fd[i] = sv[0];
                child[i] = sv[1];
        }
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(0);
                /* Nothing of the panel's but these sockets: not the state
                 * dir's lock, not the database. */
                close_other_fds(child, n);
                (void) setpriority(PRIO_PROCESS, 0, 10); /* pages first */
                for (unsigned i = 1; i < n; i++) {
                        pthread_t t;
                        if (pthread_create(&t, NULL, hasher_thread, (void *) (intptr_t) child[i]) != 0)
                                _exit(1);
                }
                hasher_serve(child[0]);
        }
        for (unsigned i = 0; i < n; i++)
                close(child[i]);
        hasher_pid = pid;
        return 0;
}

/* The panel's side of a slot: the job to the hasher, its answer back. */
static int hash_remote(int fd, HashJob *j) {
        char msg[MSG_MAX];
        size_t pl = strlen(j->password), hl = j->hash ? strlen(j->hash) : 0;
        if (pl + hl + 3 > sizeof msg)
                return -E2BIG;
        msg[0] = j->hash ? 'v' : 'm';
        memcpy(msg + 1, j->password, pl + 1);
        if (j->hash)
                memcpy(msg + 2 + pl, j->hash, hl + 1);
        ssize_t k = send(fd, msg, 2 + pl + (j->hash ? hl + 1 : 0), MSG_NOSIGNAL);
        sodium_memzero(msg, sizeof msg);
        if (k < 0)
                return -EIO;
        char ans[MSG_MAX];
        ssize_t n = recv(fd, ans, sizeof ans - 1, 0);
        if (n < (ssize_t) sizeof(int32_t))
                return -EIO; /* the hasher is gone */
        ans[n] = '\0';
        int32_t r;
        memcpy(&r, ans, sizeof r);
        if (!j->hash && r == 0) {
                if ((size_t) n <= sizeof r || strlen(ans + sizeof r) >= 128)
                        return -EIO;
                memcpy(j->out, ans + sizeof r, strlen(ans + sizeof r) + 1);
        }
        return r;
}

static void *hash_thread(void *arg) {
        int fd = slot_fd[(intptr_t) arg];
        pthread_mutex_lock(&hq.lock);
        for (;;) {
                int q = hq.head[0] ? 0 : hq.head[1] ? 1 : -1;
                if (q < 0) {
                        if (hq.stop)
                                break;
                        pthread_cond_wait(&hq.work, &hq.lock);
                        continue;
                }
                HashJob *j = hq.head[q];
                hq.head[q] = j->next;
                if (!hq.head[q])
                        hq.tail[q] = NULL;
                j->taken = true;
                hq.waiting--;
                pthread_mutex_unlock(&hq.lock);
                int r = hash_remote(fd, j);
                pthread_mutex_lock(&hq.lock);
                j->result = r;
                j->done = true;
                pthread_cond_broadcast(&hq.done);
        }
        pthread_mutex_unlock(&hq.lock);
        return NULL;
}

static void dummy_prepare(void);

int pwhash_start(unsigned threads) {
        if (threads == 0 || threads > HASH_THREADS_MAX)
                return -EINVAL;
        int r = hasher_start(threads);
        if (r < 0)
                return r;
        hq.stop = false;
        for (unsigned i = 0; i < threads; i++) {
                r = pthread_create(&hq.tid[i], NULL, hash_thread, (void *) (intptr_t) i);
                if (r != 0) {
                        pwhash_stop();
                        return -r;
                }
                hq.threads = i + 1;
        }
        /* The dummy hash (for unknown names), made by the hasher too. */
        dummy_prepare();
        return 0;
}

void pwhash_stop(void) {
        pthread_mutex_lock(&hq.lock);
        hq.stop = true;
        pthread_cond_broadcast(&hq.work);
        pthread_mutex_unlock(&hq.lock);
        for (unsigned i = 0; i < hq.threads; i++)
                pthread_join(hq.tid[i], NULL);
        for (unsigned i = 0; i < HASH_THREADS_MAX; i++)
                if (slot_fd[i] > 0) {
                        close(slot_fd[i]);
                        slot_fd[i] = 0;
                }
        if (hasher_pid > 0)
                (void) waitpid(hasher_pid, NULL, 0);
        hasher_pid = 0;
        hq.threads = 0;
}

static void unlink_job(HashJob *j, int q) {
        HashJob **p = &hq.head[q], *prev = NULL;
        for (; *p && *p != j; prev = *p, p = &(*p)->next)
                ;
        if (!*p)
                return;
        *p = j->next;
        if (hq.tail[q] == j)
                hq.tail[q] = prev;
        hq.waiting--;
}

static int run(HashJob *j) {
        pthread_mutex_lock(&hq.lock);
        if (hq.threads == 0 || hq.stop) {
                pthread_mutex_unlock(&hq.lock);
                return hq.stop ? -EBUSY : hash_now(j); /* the admin commands: no threads */
        }
        if (hq.waiting >= hq.threads * QUEUE_PER_THREAD) {
                pthread_mutex_unlock(&hq.lock);
                return -EBUSY;
        }
        int q = j->known_device ? 0 : 1;
        if (hq.tail[q])
                hq.tail[q]->next = j;
        else
                hq.head[q] = j;
        hq.tail[q] = j;
        hq.waiting++;
        pthread_cond_signal(&hq.work);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += WAIT_MAX_MS / 1000;
        while (!j->done) {
                int r = j->taken ? pthread_cond_wait(&hq.done, &hq.lock)
                                 : pthread_cond_timedwait(&hq.done, &hq.lock, &until);
                if (r == ETIMEDOUT && !j->taken) {
                        unlink_job(j, q);
                        pthread_mutex_unlock(&hq.lock);
                        return -EBUSY;
                }
        }
        pthread_mutex_unlock(&hq.lock);
        return j->result;
}

int pwhash_make(const char *password, char out[128]) {
        HashJob j = { .password = password, .out = out };
        return run(&j);
}

int pwhash_verify(const char *hash, const char *password, bool known_device) {
        HashJob j = { .password = password, .hash = hash, .known_device = known_device };
        return run(&j);
}

/* ---- device cookies ---- */

#define DEVICE_PURPOSE "l4m_device"
#define DEVICE_NONCE 8
#define DEVICE_MAC 16

/* "ID.NONCE.MAC" (decimal, hex, hex). The MAC covers "ID.NONCE". */
static bool device_parse(const char *v, int64_t *ret_user, char nonce_hex[2 * DEVICE_NONCE + 1]) {
        if (!v)
                return false;
        const char *d1 = strchr(v, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
        if (!d1 || !d2 || d2 - d1 - 1 != 2 * DEVICE_NONCE || strlen(d2 + 1) != 2 * DEVICE_MAC || d1 - v > 19)
                return false;
        char id[20];
        memcpy(id, v, (size_t) (d1 - v));
        id[d1 - v] = '\0';
        long n;
        if (parse_long(id, 1, INT64_MAX, &n) < 0)
                return false;
        uint8_t mac[DEVICE_MAC];
        size_t got = 0;
        if (sodium_hex2bin(mac, sizeof mac, d2 + 1, 2 * DEVICE_MAC, NULL, &got, NULL) != 0 || got != sizeof mac)
                return false;
        if (strspn(d1 + 1, "0123456789abcdef") != 2 * DEVICE_NONCE)
                return false;
        if (!keys_mac_ok(DEVICE_PURPOSE, v, (size_t) (d2 - v), mac, sizeof mac))
                return false;
        *ret_user = n;
        memcpy(nonce_hex, d1 + 1, 2 * DEVICE_NONCE);
        nonce_hex[2 * DEVICE_NONCE] = '\0';
        return true;
}

void device_cookie_set(Req *r, const User *user) {
        uint8_t nonce[DEVICE_NONCE], mac[32];
        char body[64], mac_hex[2 * DEVICE_MAC + 1], nonce_hex[2 * DEVICE_NONCE + 1], value[128];
        /* The same browser logging in again keeps its device: its failures
         * stay its own. */
        int64_t uid;
        if (!device_parse(cookie_get(r, DEVICE_COOKIE), &uid, nonce_hex) || uid != user->id) {
                randombytes_buf(nonce, sizeof nonce);
                sodium_bin2hex(nonce_hex, sizeof nonce_hex, nonce, sizeof nonce);
        }
        snprintf(body, sizeof body, "%lld.%s", (long long) user->id, nonce_hex);
        keys_mac(DEVICE_PURPOSE, body, strlen(body), mac);
        sodium_bin2hex(mac_hex, sizeof mac_hex, mac, DEVICE_MAC);
        snprintf(value, sizeof value, "%s.%s", body, mac_hex);
        req_set_cookie(r, DEVICE_COOKIE, value, DEVICE_MAX_AGE);
}

/* ---- the check ---- */

/* A hash of a random password, verified against for unknown names so a
 * response's timing does not tell which names exist. */
static char dummy_hash[128];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static void dummy_init(void) {
        char pw[33];
        unsigned char raw[16];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(pw, sizeof pw, raw, sizeof raw);
        (void) pwhash_make(pw, dummy_hash);
}

static void dummy_prepare(void) {
        pthread_once(&dummy_once, dummy_init);
}

int auth_check(Req *r, AuthWhat what, const char *username, const char *password, AuthResult *ret) {
        dummy_prepare();
        *ret = (AuthResult) { 0 };
        AccountAuth a;
        int found = what == AUTH_REAUTH ? account_auth_by_id(r->db, r->user.id, &a)
                                        : account_auth_by_name(r->db, username, &a);
        if (found < 0 && found != -ENOENT)
                return -EIO;

        /* Which counters this attempt goes to: a browser this account
         * knows (and that has not used up its own tries) counts on its
         * own; any other on the account's and its address's. */
        char dev_nonce[2 * DEVICE_NONCE + 1];
        int64_t dev_user;
        bool known = found == 0 && device_parse(cookie_get(r, DEVICE_COOKIE), &dev_user, dev_nonce) &&
                     dev_user == a.user.id;
        ThrottleKeys k;
        throttle_keys(&k, found == 0 ? a.user.username : username, r->ip, known ? dev_nonce : NULL);
        long wait = known ? throttle_begin(r->db, &k, true) : 0;
        if (wait > 0) {
                /* This browser used up its own tries: from here on it is
                 * any browser. */
                known = false;
                throttle_keys(&k, found == 0 ? a.user.username : username, r->ip, NULL);
        }
        if (!known)
                wait = throttle_begin(r->db, &k, false);
        if (wait < 0)
                return -EIO;
        if (wait > 0) {
                ret->wait = wait;
                return -EAGAIN;
        }
        ret->known_device = known;

        /* The hash runs without a database connection: a flood of checks
         * waits here, not in the pool the pages need. */
        db_release(r->db);
        r->db = NULL;
        int ok = pwhash_verify(found == 0 ? a.hash : dummy_hash, password, known);
        sodium_memzero(a.hash, sizeof a.hash);
        r->db = db_acquire();
        if (ok == -EBUSY) {
                /* Not an attempt: nothing was checked. */
                throttle_forget(r->db, &k);
                return -EBUSY;
        }
        if (ok < 0)
                return -EIO;
        if (ok == 0 || found != 0 || a.disabled)
                return 0;
        throttle_success(r->db, &k);
        ret->user = a.user;
        return 1;
}
