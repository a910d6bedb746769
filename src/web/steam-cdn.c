#include <string.h>

#include "steam-cdn.h"

#define STEAM_IMAGE_HOST_ENTRY_(host) host,
static const char *const hosts[] = { STEAM_IMAGE_HOSTS(STEAM_IMAGE_HOST_ENTRY_) };

bool steam_image_url_ok(const char *url) {
        static const char scheme[] = "https://";
        if (!url || strlen(url) > 512 || strncmp(url, scheme, sizeof scheme - 1) != 0)
                return false;
        for (const unsigned char *p = (const unsigned char *) url; *p; p++)
                if (*p <= ' ' || *p >= 0x7f || *p == '@' || *p == '\\' || *p == '"' || *p == '\'' || *p == '<' ||
                    *p == '>' || *p == '`')
                        return false;
        const char *host = url + sizeof scheme - 1;
        size_t n = strcspn(host, "/?#");
        /* A port or anything else after the name makes it another host. */
        if (host[n] != '/')
                return false;
        for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++)
                if (strlen(hosts[i]) == n && memcmp(host, hosts[i], n) == 0)
                        return true;
        return false;
}
