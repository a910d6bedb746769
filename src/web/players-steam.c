#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "players-roster.h"
#include "players-steam.h"
#include "strutil.h"

#define ANSWER_MAX (4 * 1024 * 1024)

struct SteamClient {
        CURL *curl;
        char *base, *key;
        unsigned timeout_s;
};

int steam_client_new(const char *base_url, const char *key, unsigned timeout_s, SteamClient **ret) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return -EIO;
        SteamClient *c = calloc(1, sizeof *c);
        if (!c || !(c->curl = curl_easy_init()) || !(c->base = strdup(base_url)) || !(c->key = strdup(key))) {
                if (c) {
                        if (c->curl)
                                curl_easy_cleanup(c->curl);
                        free(c->base);
                        free(c->key);
                        free(c);
                }
                curl_global_cleanup();
                return -ENOMEM;
        }
        c->timeout_s = timeout_s;
        *ret = c;
        return 0;
}

void steam_client_free(SteamClient *c) {
        if (!c)
                return;
        if (c->curl)
                curl_easy_cleanup(c->curl);
        free(c->base);
        if (c->key)
                explicit_bzero(c->key, strlen(c->key));
        free(c->key);
        free(c);
        curl_global_cleanup();
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
        Buf *b = userdata;
        /* Past the cap the transfer stops (a short return is an error). */
        return buf_append(b, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

static int get(SteamClient *c, const char *url, Buf *answer, long *ret_code, char **ret_type, const char *what,
               char *err, size_t errsize) {
        CURL *h = c->curl;
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, (long) c->timeout_s);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "left4me/" LEFT4ME_VERSION);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, answer);
        CURLcode cc = curl_easy_perform(h);
        if (cc == CURLE_WRITE_ERROR) {
                snprintf(err, errsize, "%s: the answer is larger than %zu KiB", what, answer->max / 1024);
                return -EIO;
        }
        if (cc != CURLE_OK) {
                /* curl's message, never the URL: it holds the key. */
                snprintf(err, errsize, "%s: %s", what, curl_easy_strerror(cc));
                return cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
        }
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, ret_code);
        if (ret_type) {
                char *t = NULL;
                curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &t);
                *ret_type = t;
        }
        return 0;
}

int steam_player_summaries(SteamClient *c, const int64_t *ids, size_t n, SteamProfile *ret, char *err,
                           size_t errsize) {
        if (n == 0 || n > STEAM_SUMMARIES_MAX)
                return -EINVAL;
        _cleanup_buf_ Buf url = BUF_INIT(8192);
        /* The key is URL-encoded like any value. */
        char *key = curl_easy_escape(c->curl, c->key, 0);
        if (!key)
                return -ENOMEM;
        int r = buf_printf(&url, "%s/ISteamUser/GetPlayerSummaries/v2/?key=%s&steamids=", c->base, key);
        curl_free(key);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = buf_printf(&url, "%s%lld", i ? "," : "", (long long) ids[i]);
        if (r < 0)
                return -ENOMEM;
        _cleanup_buf_ Buf answer = BUF_INIT(ANSWER_MAX);
        long code = 0;
        const char *what = "the Steam Web API (GetPlayerSummaries)";
        r = get(c, url.data, &answer, &code, NULL, what, err, errsize);
        explicit_bzero(url.data, url.len);
        if (r < 0)
                return r;
        if (code != 200) {
                snprintf(err, errsize, "%s answered HTTP %ld%s", what, code,
                         code == 401 || code == 403 ? " (is LEFT4ME_STEAM_API_KEY right?)" : "");
                return -EIO;
        }
        json_t *j = json_loadb(answer.data ? answer.data : "", answer.len, 0, NULL);
        json_t *players = json_object_get(json_object_get(j, "response"), "players");
        if (!json_is_array(players)) {
                json_decref(j);
                snprintf(err, errsize, "%s answered without response.players", what);
                return -EIO;
        }
        for (size_t i = 0; i < n; i++)
                ret[i] = (SteamProfile) { .steamid64 = ids[i] };
        size_t k;
        json_t *p;
        json_array_foreach(players, k, p) {
                int64_t id = steamid64_parse(json_string_value(json_object_get(p, "steamid")));
                SteamProfile *hit = NULL;
                for (size_t i = 0; i < n && !hit; i++)
                        if (ids[i] == id)
                                hit = &ret[i];
                if (!hit)
                        continue; /* not asked about: ignored */
                const char *persona = json_string_value(json_object_get(p, "personaname"));
                const char *url_ = json_string_value(json_object_get(p, "profileurl"));
                const char *avatar = json_string_value(json_object_get(p, "avatarmedium"));
                if (!avatar)
                        avatar = json_string_value(json_object_get(p, "avatar"));
                hit->found = true;
                snprintf(hit->persona, sizeof hit->persona, "%s", persona ? persona : "");
                /* Only addresses that are what they say; anything else is
                 * left out rather than linked or fetched. */
                if (url_ && startswith(url_, "https://steamcommunity.com/") && !has_control_chars(url_) &&
                    strlen(url_) < sizeof hit->profile_url)
                        snprintf(hit->profile_url, sizeof hit->profile_url, "%s", url_);
                if (avatar && (startswith(avatar, "https://") || startswith(avatar, "http://")) &&
                    !has_control_chars(avatar) && strlen(avatar) < sizeof hit->avatar_url)
                        snprintf(hit->avatar_url, sizeof hit->avatar_url, "%s", avatar);
        }
        json_decref(j);
        return 0;
}

int steam_avatar_fetch(SteamClient *c, const char *url, void **ret_data, size_t *ret_len, const char **ret_type,
                       char *err, size_t errsize) {
        Buf answer = BUF_INIT(STEAM_AVATAR_MAX);
        long code = 0;
        char *ctype = NULL;
        int r = get(c, url, &answer, &code, &ctype, "an avatar", err, errsize);
        if (r == 0 && code != 200) {
                snprintf(err, errsize, "an avatar: HTTP %ld", code);
                r = -EIO;
        }
        static const unsigned char jpeg[] = { 0xff, 0xd8, 0xff }, png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
        const char *type = NULL;
        if (r == 0 && answer.len >= sizeof png && memcmp(answer.data, png, sizeof png) == 0)
                type = "image/png";
        else if (r == 0 && answer.len >= sizeof jpeg && memcmp(answer.data, jpeg, sizeof jpeg) == 0)
                type = "image/jpeg";
        else if (r == 0) {
                snprintf(err, errsize, "an avatar that is neither a JPEG nor a PNG");
                r = -EBADMSG;
        }
        if (r < 0) {
                buf_free(&answer);
                return r;
        }
        *ret_data = answer.data;
        *ret_len = answer.len;
        *ret_type = type;
        return 0;
}
