/* Where the panel lets a browser load Steam's images from: the Workshop's
 * preview images (the Steam Web API's preview_url). One list, used both by
 * the Content-Security-Policy (server.c) and by the check a URL from the API
 * passes before it becomes an <img> (steam_image_url_ok): a URL that is not
 * https to exactly one of these hosts is never put in a page. */
#pragma once

#include <stdbool.h>

#define STEAM_IMAGE_HOSTS(X) X("steamuserimages-a.akamaihd.net") X("images.steamusercontent.com")

#define STEAM_IMAGE_CSP_SOURCE_(host) " https://" host
/* " https://host1 https://host2": to append to a CSP img-src list. */
#define STEAM_IMAGE_CSP STEAM_IMAGE_HOSTS(STEAM_IMAGE_CSP_SOURCE_)

/* A URL may be an <img src> when it is https://HOST/... with HOST one of
 * the list, at most 512 bytes, and holds nothing a browser would read
 * another way: no userinfo ('@'), no backslash, no whitespace, quotes,
 * angle brackets or control characters. It is still escaped for its
 * attribute. */
bool steam_image_url_ok(const char *url);
