/* Idmapped layers for left4me-overlay: every game server runs as a uid of
 * its own (systemd's DynamicUser=), yet everything on disk keeps belonging to
 * the service user, who must stage server.cfg into the upper layer, read it
 * and delete it, and who never runs a server itself.
 *
 * The overlay is built from idmapped clones of its layers (mount_setattr(2)
 * with MOUNT_ATTR_IDMAP, Linux >= 5.19 for overlayfs layers): the service
 * user's files appear as the server's own, what the server writes lands on
 * disk as the service user's, and root stays root (overlayfs makes its work
 * files as the mounter). Nothing on disk ever belongs to the server's uid,
 * so a recycled dynamic uid inherits nothing and a server that escapes its
 * sandbox owns no file of anyone. */
#pragma once

#include <sys/types.h>

/* systemd's range for DynamicUser= uids (and their gids). */
#define DYNAMIC_UID_MIN 61184
#define DYNAMIC_UID_MAX 65519

/* The uid systemd allocated for the dynamic user `name` of a running unit,
 * read where nss-systemd reads it (/run/systemd/dynamic-uid/direct:NAME).
 * Only names of dynamic users, and only uids in their range: a static user
 * of that name is refused (-ESRCH), never mapped to. */
int dynamic_user_uid(const char *name, uid_t *ret);

/* A user namespace that maps root to root and from_uid/from_gid to
 * to_uid/to_gid, nothing else; for MOUNT_ATTR_IDMAP. Returns an fd or
 * -errno. */
int idmap_userns(uid_t from_uid, gid_t from_gid, uid_t to_uid, gid_t to_gid);

/* A detached, idmapped copy of the mount at the directory dir_fd (any fd of
 * it, O_PATH included), for use as an overlayfs layer through
 * /proc/self/fd/N. Returns an fd or -errno (-EINVAL: the filesystem cannot be
 * idmapped). */
int idmap_clone(int dir_fd, int userns_fd);
