/* The panel's static files (style.css, app.js, htmx.min.js), read once at
 * start and served from memory with a long cache lifetime. */
#pragma once

int static_load(void);
void static_free(void);
