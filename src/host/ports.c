#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "instance.h"
#include "ports.h"
#include "strutil.h"

int ports_of_instances(const HostConfig *c, const char *self, PortUse **ret, size_t *ret_n) {
        _cleanup_strv_ char **names = NULL;
        int r = instance_list(c, &names, NULL);
        if (r < 0)
                return r;
        size_t n = 0, cap = 0;
        for (char **p = names; *p; p++)
                cap++;
        _cleanup_free_ PortUse *v = calloc(cap + 1, sizeof(PortUse));
        if (!v)
                return -ENOMEM;
        for (char **p = names; *p; p++) {
                if (streq(*p, self))
                        continue;
                Spec s;
                if (instance_load(c, *p, &s, NULL) < 0)
                        continue;
                if (s.port) {
                        v[n].port = s.port;
                        snprintf(v[n].name, sizeof v[n].name, "%s", *p);
                        n++;
                }
                spec_free(&s);
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

const char *ports_owner(const PortUse *v, size_t n, long port) {
        for (size_t i = 0; i < n; i++)
                if (labs(v[i].port - port) <= 1)
                        return v[i].name;
        return NULL;
}

/* A port is held if bind() says so. For TCP as the server will bind it,
 * with SO_REUSEADDR, so that connections in TIME_WAIT (an RCON client that
 * just disconnected) do not count; for UDP without, which would share the
 * port with a program that set it too. Only "in use" means in use: a
 * sandbox that forbids the bind (SocketBindDeny=, EPERM) just cannot tell
 * us. */
static bool held(int type, long port) {
        _cleanup_close_ int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        int one = 1;
        if (type == SOCK_STREAM)
                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                 .sin_addr.s_addr = htonl(INADDR_ANY) };
        return bind(fd, (struct sockaddr *) &a, sizeof a) < 0 && errno == EADDRINUSE;
}

long ports_held_on_host(long port, const char **ret_what) {
        if (held(SOCK_DGRAM, port) || held(SOCK_STREAM, port)) {
                *ret_what = "port";
                return port;
        }
        if (held(SOCK_DGRAM, port + 1)) {
                *ret_what = "SourceTV port";
                return port + 1;
        }
        return 0;
}

long ports_find_free(const HostConfig *c, const PortUse *used, size_t n_used) {
        const char *what;
        for (long p = c->port_min; p + 1 <= c->port_max; p++)
                if (!ports_owner(used, n_used, p) && !ports_held_on_host(p, &what))
                        return p;
        return 0;
}

/* The socket inodes bound to port, from one /proc/net table. */
static size_t inodes_of(const char *table, long port, unsigned long *inodes, size_t n, size_t max) {
        _cleanup_fclose_ FILE *f = fopen(table, "re");
        if (!f)
                return n;
        char line[512];
        if (!fgets(line, sizeof line, f)) /* the header */
                return n;
        while (n < max && fgets(line, sizeof line, f)) {
                /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
                char local[64], st[8];
                unsigned long inode;
                if (sscanf(line, " %*s %63s %*s %7s %*s %*s %*s %*s %*s %lu", local, st, &inode) != 3)
                        continue;
                const char *colon = strrchr(local, ':');
                /* TIME_WAIT (06) holds no port against SO_REUSEADDR, and has no inode. */
                if (!colon || strtol(colon + 1, NULL, 16) != port || streq(st, "06") || inode == 0)
                        continue;
                inodes[n++] = inode;
        }
        return n;
}

void ports_holder(long port, char *buf, size_t size) {
        buf[0] = '\0';
        unsigned long inodes[16];
        size_t n = 0;
        static const char *const tables[] = { "/proc/net/udp", "/proc/net/udp6", "/proc/net/tcp", "/proc/net/tcp6" };
        for (size_t i = 0; i < ELEMENTSOF(tables); i++)
                n = inodes_of(tables[i], port, inodes, n, ELEMENTSOF(inodes));
        if (n == 0)
                return;
        DIR *proc = opendir("/proc");
        if (!proc)
                return;
        struct dirent *de;
        while (!buf[0] && (de = readdir(proc))) {
                if (!isdigit((unsigned char) de->d_name[0]))
                        continue;
                char path[64];
                snprintf(path, sizeof path, "/proc/%s/fd", de->d_name);
                DIR *fds = opendir(path); /* only our own processes unless root */
                if (!fds)
                        continue;
                struct dirent *fe;
                while (!buf[0] && (fe = readdir(fds))) {
                        char link[64], target[64];
                        snprintf(link, sizeof link, "%s/%s", path, fe->d_name);
                        ssize_t k = readlink(link, target, sizeof target - 1);
                        unsigned long inode;
                        if (k <= 0)
                                continue;
                        target[k] = '\0';
                        if (sscanf(target, "socket:[%lu]", &inode) != 1)
                                continue;
                        for (size_t i = 0; i < n; i++) {
                                if (inodes[i] != inode)
                                        continue;
                                char comm[64] = "", cpath[64];
                                snprintf(cpath, sizeof cpath, "/proc/%s/comm", de->d_name);
                                _cleanup_fclose_ FILE *f = fopen(cpath, "re");
                                if (f && fgets(comm, sizeof comm, f))
                                        comm[strcspn(comm, "\n")] = '\0';
                                /* comm is the program's to choose: keep it one plain line. */
                                for (char *q = comm; *q; q++)
                                        if ((unsigned char) *q < 0x20 || *q == 0x7f || *q == '\'')
                                                *q = '?';
                                snprintf(buf, size, "'%s', pid %s", comm, de->d_name);
                                break;
                        }
                }
                closedir(fds);
        }
        closedir(proc);
}
