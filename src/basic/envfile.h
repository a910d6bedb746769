/* Reading KEY=VALUE environment files (/etc/left4me/host.env): '#' comments,
 * blank lines, optional single or double quotes around the value. The same
 * format systemd's EnvironmentFile= reads. */
#pragma once

/* Looks key up in the file at path. Returns 1 and a malloc'ed value, 0 if the
 * file or the key is missing, or -errno on a read error. */
int envfile_get(const char *path, const char *key, char **ret);
