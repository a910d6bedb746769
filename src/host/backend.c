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
