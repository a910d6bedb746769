#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "conns.h"

typedef struct AddrCount {
        uint8_t key[16];
        unsigned n;
        struct AddrCount *next;
} AddrCount;

typedef struct Conn {
        struct Conn *prev, *next;
        int fd;
        AddrCount *addr;       /* NULL: the proxy, not counted */
        _Atomic int64_t deadline_ms; /* 0: none */
        int64_t body_start_ms;
        bool cut;
} Conn;

#define BUCKETS 4096
#define REAP_MS 250

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static AddrCount *buckets[BUCKETS];
static Conn *list;
static atomic_uint n_open;
static bool stopping;
static pthread_t reaper;
static bool reaper_running;

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool conns_peer_is_proxy(const struct sockaddr *sa) {
        if (!config.trust_proxy || !sa)
                return false;
        if (sa->sa_family == AF_INET)
                return ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr) == INADDR_LOOPBACK;
        if (sa->sa_family == AF_INET6)
                return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *) sa)->sin6_addr);
        return false;
}

/* IPv4 as a mapped IPv6 address; IPv6 by its /64, which one client gets
 * as easily as one address. */
static bool key_of(const struct sockaddr *sa, uint8_t key[16]) {
        memset(key, 0, 16);
        if (sa->sa_family == AF_INET) {
                key[10] = key[11] = 0xff;
                memcpy(key + 12, &((const struct sockaddr_in *) sa)->sin_addr, 4);
                return true;
        }
        if (sa->sa_family == AF_INET6) {
                const uint8_t *a = ((const struct sockaddr_in6 *) sa)->sin6_addr.s6_addr;
                if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *) a))
                        memcpy(key, a, 16);
                else
                        memcpy(key, a, 8);
                return true;
        }
        return false;
}

static unsigned bucket_of(const uint8_t key[16]) {
        uint32_t h = 2166136261u;
        for (int i = 0; i < 16; i++)
                h = (h ^ key[i]) * 16777619u;
        return h % BUCKETS;
}

static AddrCount *find(const uint8_t key[16], bool create) {
        unsigned b = bucket_of(key);
        for (AddrCount *a = buckets[b]; a; a = a->next)
                if (memcmp(a->key, key, 16) == 0)
                        return a;
        if (!create)
                return NULL;
        AddrCount *a = calloc(1, sizeof *a);
        if (!a)
                return NULL;
        memcpy(a->key, key, 16);
        a->next = buckets[b];
        buckets[b] = a;
        return a;
}

static void drop(AddrCount *a) {
        if (--a->n > 0)
                return;
        AddrCount **p = &buckets[bucket_of(a->key)];
        while (*p != a)
                p = &(*p)->next;
        *p = a->next;
        free(a);
}

enum MHD_Result conns_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen) {
        uint8_t key[16];
        if (conns_peer_is_proxy(addr) || !key_of(addr, key))
                return MHD_YES;
        pthread_mutex_lock(&lock);
        AddrCount *a = find(key, false);
        bool ok = !a || a->n < config.max_per_address;
        pthread_mutex_unlock(&lock);
        return ok ? MHD_YES : MHD_NO;
}

void conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                  enum MHD_ConnectionNotificationCode toe) {
        if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
                Conn *c = calloc(1, sizeof *c);
                if (!c)
                        return; /* unguarded, but served */
                const union MHD_ConnectionInfo *fi = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                const union MHD_ConnectionInfo *ai = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
                c->fd = fi ? fi->connect_fd : -1;
                atomic_store(&c->deadline_ms, now_ms() + (int64_t) config.header_timeout * 1000);
                uint8_t key[16];
                pthread_mutex_lock(&lock);
                /* The accept policy checked the count, but accepts in
                 * other event loops at the same moment may pass it
                 * together: the count kept here is exact, and one past the
                 * limit is shut down at once (libmicrohttpd then reads the
                 * end and closes it). */
                if (ai && ai->client_addr && !conns_peer_is_proxy(ai->client_addr) && key_of(ai->client_addr, key)) {
                        c->addr = find(key, true);
                        if (c->addr && ++c->addr->n > config.max_per_address && c->fd >= 0) {
                                (void) shutdown(c->fd, SHUT_RDWR);
                                c->cut = true;
                        }
                }
                c->next = list;
                if (list)
                        list->prev = c;
                list = c;
                pthread_mutex_unlock(&lock);
                atomic_fetch_add(&n_open, 1);
                *socket_context = c;
        } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
                Conn *c = *socket_context;
                if (!c)
                        return;
                /* libmicrohttpd closes the socket only after this returns:
                 * the reaper never shuts down a number reused by another. */
                pthread_mutex_lock(&lock);
                if (c->prev)
                        c->prev->next = c->next;
                else
                        list = c->next;
                if (c->next)
                        c->next->prev = c->prev;
                if (c->addr)
                        drop(c->addr);
                pthread_mutex_unlock(&lock);
                atomic_fetch_sub(&n_open, 1);
                free(c);
                *socket_context = NULL;
        }
}

static Conn *conn_of(struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *i = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return i ? i->socket_context : NULL;
}

void conns_head_done(struct MHD_Connection *conn, bool has_body) {
        Conn *c = conn_of(conn);
        if (!c)
                return;
        int64_t now = now_ms();
        c->body_start_ms = now;
        atomic_store(&c->deadline_ms, has_body ? now + (int64_t) config.body_timeout * 1000 : 0);
}

void conns_body_progress(struct MHD_Connection *conn, size_t received) {
        Conn *c = conn_of(conn);
        if (c)
                atomic_store(&c->deadline_ms, c->body_start_ms + (int64_t) config.body_timeout * 1000 +
                                                      (int64_t) (received / BODY_MIN_RATE) * 1000);
}

void conns_body_done(struct MHD_Connection *conn) {
        Conn *c = conn_of(conn);
        if (c)
                atomic_store(&c->deadline_ms, 0);
}

void conns_response_done(struct MHD_Connection *conn) {
        Conn *c = conn_of(conn);
        if (c)
                atomic_store(&c->deadline_ms, now_ms() + (int64_t) config.header_timeout * 1000);
}

unsigned conns_count(void) {
        return atomic_load(&n_open);
}

static void *reap(void *arg) {
        pthread_mutex_lock(&lock);
        while (!stopping) {
                int64_t now = now_ms();
                for (Conn *c = list; c; c = c->next) {
                        int64_t d = atomic_load(&c->deadline_ms);
                        if (d && now >= d && !c->cut && c->fd >= 0) {
                                (void) shutdown(c->fd, SHUT_RDWR);
                                c->cut = true;
                        }
                }
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_nsec += REAP_MS * 1000000L;
                if (until.tv_nsec >= 1000000000L) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&wake, &lock, &until);
        }
        pthread_mutex_unlock(&lock);
        return NULL;
}

int conns_start(void) {
        stopping = false;
        int r = pthread_create(&reaper, NULL, reap, NULL);
        if (r != 0)
                return -r;
        reaper_running = true;
        return 0;
}

void conns_stop(void) {
        if (!reaper_running)
                return;
        pthread_mutex_lock(&lock);
        stopping = true;
        pthread_cond_signal(&wake);
        pthread_mutex_unlock(&lock);
        pthread_join(reaper, NULL);
        reaper_running = false;
}
