/* A disk limit for an instance's upper layer: a project quota where the
 * filesystem has project quotas switched on (ext4 with -O project and
 * prjquota, XFS with pquota). The project id is the server's uid; the upper
 * layer gets FS_XFLAG_PROJINHERIT, so everything created below it counts.
 * Where there are none, the supervisor watches the layer's size instead
 * (supervisor.c). */
#pragma once

#include <stdint.h>

/* 1 if the limit is in force, 0 if the filesystem has no project quotas,
 * -errno on error. Root only. */
int disk_quota_apply(int upper_fd, uint32_t project, uint64_t max_bytes);
