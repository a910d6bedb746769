/* hostlink.c: the argv for this host and for an SSH host, and the four ways
 * of running l4d2ctl, against small stand-in scripts. There is no second
 * host here: a stand-in for ssh does what sshd does with the command (hands
 * it to a shell as one line), so the quoting is tested for real. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>

#include "hostlink.h"
#include "strutil.h"

static char dir[64];

static void script(const char *name, const char *text, char *path, size_t size) {
        snprintf(path, size, "%s/%s", dir, name);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        assert_int_equal(chmod(path, 0755), 0);
}

static void assert_argv(char **v, const char *const want[]) {
        size_t i = 0;
        for (; want[i]; i++) {
                if (!v[i] || !streq(v[i], want[i]))
                        fail_msg("argv[%zu] is '%s', want '%s'", i, v[i] ? v[i] : "(end)", want[i]);
        }
        if (v[i])
                fail_msg("argv[%zu] is '%s', want the end", i, v[i]);
}

static void test_local_argv(void **state) {
        HostLink *h;
        assert_int_equal(hostlink_new(&(HostLinkConfig) { .l4d2ctl = "/usr/bin/l4d2ctl",
                                                          .state_dir = "/var/lib/left4me" }, &h), 0);
        char **v;
        assert_int_equal(hostlink_argv(h, (const char *[]) { "status", "it's", "--json", NULL }, &v), 0);
        assert_argv(v, (const char *[]) { "/usr/bin/l4d2ctl", "--state-dir", "/var/lib/left4me", "status", "it's",
                                          "--json", NULL });
        assert_string_equal(hostlink_name(h), "local");
        strv_free(v);
        hostlink_free(h);
}

static void test_ssh_argv(void **state) {
        HostLink *h;
        assert_int_equal(hostlink_new(&(HostLinkConfig) { .l4d2ctl = "l4d2ctl", .ssh = "left4me@game1" }, &h), 0);
        char **v;
        assert_int_equal(hostlink_argv(h, (const char *[]) { "logs", "it's", "--follow", NULL }, &v), 0);
        assert_argv(v, (const char *[]) { "ssh", "-T", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=15", "--",
                                          "left4me@game1", "'l4d2ctl'", "'logs'", "'it'\\''s'", "'--follow'",
                                          NULL });
        assert_string_equal(hostlink_name(h), "left4me@game1");
        strv_free(v);
        hostlink_free(h);

        assert_int_equal(hostlink_new(&(HostLinkConfig) { .l4d2ctl = "/opt/l4d2ctl", .state_dir = "/srv/l 4",
                                                          .ssh = "game2" }, &h), 0);
        assert_int_equal(hostlink_argv(h, (const char *[]) { "list", NULL }, &v), 0);
        assert_argv(v, (const char *[]) { "ssh", "-T", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=15", "--",
                                          "game2", "'/opt/l4d2ctl'", "'--state-dir'", "'/srv/l 4'", "'list'", NULL });
        strv_free(v);
        hostlink_free(h);
}

static void test_bad_destinations(void **state) {
        const char *bad[] = { "", "-oProxyCommand=touch /tmp/x", "a b", "a\nb", "host\t" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                HostLink *h = NULL;
                if (hostlink_new(&(HostLinkConfig) { .l4d2ctl = "l4d2ctl", .ssh = bad[i] }, &h) != -EINVAL)
                        fail_msg("destination '%s' was taken", bad[i]);
        }
}

typedef struct Lines {
        char text[4096];
} Lines;

static int collect(const char *line, void *userdata) {
        Lines *l = userdata;
        strncat(l->text, line, sizeof l->text - strlen(l->text) - 2);
        strcat(l->text, "\n");
        return 0;
}

/* Arguments no shell may see as anything but words, through a real shell
 * on the "remote" side. */
static void test_ssh_round_trip(void **state) {
        char ssh[128], ctl[128], pwned[128];
        script("ssh",
               "#!/bin/sh\n"
               "# A stand-in for ssh: skip the options up to \"--\" and the destination,\n"
               "# then give the rest to a shell as one line, as sshd does.\n"
               "while [ \"$1\" != \"--\" ]; do shift; done\n"
               "shift 2\n"
               "exec /bin/sh -c \"$*\"\n",
               ssh, sizeof ssh);
        script("ctl", "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n", ctl, sizeof ctl);
        snprintf(pwned, sizeof pwned, "%s/pwned", dir);
        char subst[160];
        snprintf(subst, sizeof subst, "$(touch %s)", pwned);
        HostLink *h;
        assert_int_equal(hostlink_new(&(HostLinkConfig) { .l4d2ctl = ctl, .state_dir = "/srv/state dir",
                                                          .ssh = "user@host", .ssh_program = ssh }, &h), 0);
        Lines out = { "" };
        int exit_code = -1;
        const char *args[] = { subst, "a  b", "it's", "*", ";", "\"q\"", "`id`", "\\", "", NULL };
        assert_int_equal(hostlink_run(h, args, NULL, collect, &out, &exit_code), 0);
        assert_int_equal(exit_code, 0);
        char want[1024];
        snprintf(want, sizeof want, "[--state-dir]\n[/srv/state dir]\n[%s]\n[a  b]\n[it's]\n[*]\n[;]\n[\"q\"]\n[`id`]\n[\\]\n[]\n",
                 subst);
        assert_string_equal(out.text, want);
        assert_int_equal(access(pwned, F_OK), -1);
        hostlink_free(h);
}

static void test_run_json(void **state) {
        char ctl[128];
        script("json", "#!/bin/sh\necho noise\necho '{\"a\":'\necho ' 1}'\n", ctl, sizeof ctl);
        HostLink *h;
        assert_int_equal(hostlink_new(&(HostLinkConfig) { .l4d2ctl = ctl }, &h), 0);
        json_t *j = NULL;
        char err[256];
        assert_int_equal(hostlink_run_json(h, (const char *[]) { "status", "x", "--json", NULL }, NULL, &j, err,
                                           sizeof err), 0);
        assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
        json_decref(j);
        hostlink_free(h);

        script("fail", "#!/bin/sh\necho 'error: instance '\"'x'\"': nope' >&2\nexit 1\n", ctl, sizeof ctl);
        assert_int_equal(hostlink_new(&(HostLinkConfig) { .l4d2ctl = ctl }, &h), 0);
        assert_int_equal(hostlink_run_json(h, (const char *[]) { "status", "x", NULL }, NULL, &j, err, sizeof err),
                         -EIO);
        assert_string_equal(err, "error: instance 'x': nope");
        hostlink_free(h);

        script("nojson", "#!/bin/sh\necho hello\n", ctl, sizeof ctl);
        assert_int_equal(hostlink_new(&(HostLinkConfig) { .l4d2ctl = ctl }, &h), 0);
        assert_int_equal(hostlink_run_json(h, (const char *[]) { "list", NULL }, NULL, &j, err, sizeof err),
                         -EBADMSG);
        hostlink_free(h);
}

static void test_stream(void **state) {
        char ctl[128];
        script("stream", "#!/bin/sh\necho started\nsleep 60 &\nwait\n", ctl, sizeof ctl);
        HostLink *h;
        assert_int_equal(hostlink_new(&(HostLinkConfig) { .l4d2ctl = ctl }, &h), 0);
        HostStream s;
        assert_int_equal(hostlink_spawn(h, (const char *[]) { "logs", "x", "--follow", NULL }, &s), 0);
        char buf[64] = "";
        assert_true(read(s.fd, buf, sizeof buf - 1) > 0);
        assert_string_equal(buf, "started\n");
        time_t t0 = time(NULL);
        int exit_code = 0;
        hostlink_stream_close(&s, &exit_code);
        /* The whole group ended (the sleep too, or the close would wait). */
        assert_true(time(NULL) - t0 < 10);
        assert_int_equal(exit_code, 128 + 15);
        assert_int_equal(s.fd, -1);
        hostlink_stream_close(&s, NULL);
        hostlink_free(h);
}

static void test_pipe(void **state) {
        char ctl[128];
        script("cat", "#!/bin/sh\necho \"put $2\" >&2\nexec cat\n", ctl, sizeof ctl);
        HostLink *h;
        assert_int_equal(hostlink_new(&(HostLinkConfig) { .l4d2ctl = ctl }, &h), 0);
        static const char body[] = "binary\0body\r\nwith no newline at the end";
        int in = memfd_create("in", MFD_CLOEXEC), out = memfd_create("out", MFD_CLOEXEC);
        assert_int_equal(write(in, body, sizeof body), (ssize_t) sizeof body);
        lseek(in, 0, SEEK_SET);
        char err[128];
        int exit_code = -1;
        assert_int_equal(hostlink_pipe(h, (const char *[]) { "overlay", "put", "a/b.cfg", NULL }, in, out, err,
                                       sizeof err, &exit_code), 0);
        assert_int_equal(exit_code, 0);
        assert_string_equal(err, "put put");
        char back[sizeof body + 8];
        lseek(out, 0, SEEK_SET);
        assert_int_equal(read(out, back, sizeof back), (ssize_t) sizeof body);
        assert_memory_equal(back, body, sizeof body);
        close(in);
        close(out);
        hostlink_free(h);
}

static void test_spawn_out(void **state) {
        char ctl[128];
        /* A download: bytes (a NUL among them) on stdout, a note on stderr,
         * apart; the exit code once both ended. */
        script("zip", "#!/bin/sh\nprintf 'PK\\003\\004\\000zip'\necho \"note: $2\" >&2\nexit 3\n", ctl,
               sizeof ctl);
        HostLink *h;
        assert_int_equal(hostlink_new(&(HostLinkConfig) { .l4d2ctl = ctl }, &h), 0);
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        HostStream s;
        assert_int_equal(hostlink_spawn_out(h, (const char *[]) { "overlay", "zip", "cfg", NULL }, p[1], &s), 0);
        close(p[1]);
        char out[32], err[64] = "";
        ssize_t n = 0, k;
        while ((k = read(p[0], out + n, sizeof out - (size_t) n)) > 0)
                n += k;
        assert_int_equal(n, 8);
        assert_memory_equal(out, "PK\003\004\000zip", 8);
        assert_true(read(s.fd, err, sizeof err - 1) > 0);
        assert_string_equal(err, "note: zip\n");
        int exit_code = -1;
        assert_int_equal(spawn_wait(s.pid, &exit_code), 0);
        assert_int_equal(exit_code, 3);
        s.pid = 0;
        hostlink_stream_close(&s, NULL);
        close(p[0]);
        hostlink_free(h);
}

int main(void) {
        snprintf(dir, sizeof dir, "/tmp/test-hostlink-XXXXXX");
        if (!mkdtemp(dir))
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_local_argv),
                cmocka_unit_test(test_ssh_argv),
                cmocka_unit_test(test_bad_destinations),
                cmocka_unit_test(test_ssh_round_trip),
                cmocka_unit_test(test_run_json),
                cmocka_unit_test(test_stream),
                cmocka_unit_test(test_pipe),
                cmocka_unit_test(test_spawn_out),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        pid_t pid;
        int rm_exit = 1;
        SpawnOptions o = SPAWN_OPTIONS_INIT;
        o.search_path = true;
        if (spawn((char *[]) { "rm", "-rf", dir, NULL }, &o, &pid) == 0)
                (void) spawn_wait(pid, &rm_exit);
        return r ? r : rm_exit;
}
