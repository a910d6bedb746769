/* The launch guard, apart from the rest of launch.c so that the privileged
 * overlay helper (which links basic/ only) runs the very same code before
 * every mount of the systemd backend. */
#pragma once

/* A server cannot change what runs at its next start: the launch scripts
 * and binaries (srcds_run, srcds_linux, bin/, left4dead2/bin/, steam.sh,
 * steamclient.so, linux32/, linux64/) come from the installation and the
 * overlays only. launch_guard removes every entry of the instance's upper
 * layer that would shadow one of them (a copy, a symlink, a whiteout, or a
 * parent that is not a plain directory), never following a symlink, and
 * calls note() with one line for each. Returns how many it removed, or
 * -errno (then the start must be refused). upper_fd is the upper layer's
 * directory; run it while the overlay is not mounted: entries removed under
 * a live mount may still be served from the overlay's cache. */
typedef void (*launch_note_fn)(const char *line, void *userdata);
int launch_guard(int upper_fd, launch_note_fn note, void *userdata);
