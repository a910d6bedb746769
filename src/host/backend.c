#include <string.h>
#include <unistd.h>

#include "backend.h"

const char *instance_state_to_string(InstanceState s) {
        switch (s) {
        case STATE_STARTING:
                return "starting";
        case STATE_RUNNING:
                return "running";
        case STATE_CRASHED:
                return "crashed";
        case STATE_UNRESPONSIVE:
                return "unresponsive";
        case STATE_STOPPED:
        default:
                return "stopped";
        }
}

const Backend *backend_get(const HostConfig *c) {
        return c->backend == BACKEND_SYSTEMD ? &backend_systemd : &backend_supervisor;
}

#ifndef HAVE_BACKEND_SYSTEMD
/* Built without backend-systemd.c: every call says so. */
static int nosd(const HostConfig *c, const char *instance, Error *err) {
        return error_set(err, -EOPNOTSUPP, "this l4d2ctl was built without the systemd backend; set LEFT4ME_BACKEND=supervisor");
}
static int nosd_status(const HostConfig *c, const char *instance, BackendStatus *ret, Error *err) {
        return nosd(c, instance, err);
}
static int nosd_logs(const HostConfig *c, const char *instance, unsigned lines, bool follow, int out_fd, Error *err) {
        return nosd(c, instance, err);
}
const Backend backend_systemd = { .name = "systemd", .start = nosd, .stop = nosd, .status = nosd_status, .logs = nosd_logs };

bool backend_systemd_available(void) {
        return access("/run/systemd/system", F_OK) == 0;
}
#endif
