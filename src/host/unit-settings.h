/* What the systemd backend needs from systemd for one instance: a drop-in of
 * left4me-server@NAME.service with its own dynamic user, bind() on exactly
 * its own ports, its limits and its journal namespace.
 *
 * l4d2ctl runs as the service user and cannot write unit files, and must not
 * be able to: a drop-in it wrote could say User=root. So it writes only
 * instances/NAME/systemd.env (PORT= and PROJECT=, numbers), and
 * left4me-generator, as root, turns that into the drop-in at the next
 * daemon-reload, checking every value. The reload is asked for by starting
 * left4me-units.service (a oneshot running `systemctl daemon-reload`, rate
 * limited), the one extra unit the polkit rule lets the service user start.
 *
 * Under the supervisor backend these do nothing. */
#pragma once

#include "config.h"
#include "error.h"

/* Writes instances/NAME/systemd.env for the game port `port`, makes
 * instances/NAME traversable (0711: the server's dynamic user reads
 * launch.json there, by name only) and, when the settings changed or
 * systemd has not loaded them yet, has systemd reload and checks that the
 * generator accepted them. Call with the instance's lock held. */
int unit_settings_sync(const HostConfig *c, const char *name, long port, Error *err);

/* After a delete: a reload drops the instance's drop-ins (best effort). */
void unit_settings_forget(const HostConfig *c, const char *name);
