/* The fleet's game updates (updater.c): one thread per panel. */
#pragma once

/* Starts the thread (nothing when LEFT4ME_UPDATE_INTERVAL_MS is 0). */
int updater_start(void);
/* Runs an update check (and what follows) now: the builds page's button. */
void updater_wake(void);
/* Waits for the thread after shutdown was signalled. */
void updater_stop(void);
