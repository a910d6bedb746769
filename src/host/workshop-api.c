/* The Steam Web API (ISteamRemoteStorage, no key needed) through libcurl,
 * and Workshop IDs and URLs. */
#include <curl/curl.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "build-config.h"
#include "strutil.h"
#include "workshop-api.h"
#include "workshop.h"

#define ANSWER_MAX (16 * 1024 * 1024)

/* ---- IDs and URLs ---- */

/* 1-20 decimal digits, a nonzero uint64: the canonical form. */
static bool parse_id(const char *s, size_t len, char ret[WORKSHOP_ID_MAX]) {
        if (len == 0 || len > 20)
                return false;
        unsigned long long v = 0;
        for (size_t i = 0; i < len; i++) {
                if (!isdigit((unsigned char) s[i]))
                        return false;
                unsigned d = (unsigned) (s[i] - '0');
                if (v > (~0ULL - d) / 10)
                        return false;
                v = v * 10 + d;
        }
        if (v == 0)
                return false;
        snprintf(ret, WORKSHOP_ID_MAX, "%llu", v);
        return true;
}

static int not_workshop_url(const char *arg, Error *err) {
        return error_set(err, -EINVAL,
                         "'%s' is not a Steam Workshop item: give its ID or its URL "
                         "https://steamcommunity.com/sharedfiles/filedetails/?id=ID",
                         arg);
}

int workshop_parse_ref(const char *arg, char ret[WORKSHOP_ID_MAX], Error *err) {
        if (parse_id(arg, strlen(arg), ret))
                return 0;
        if (strlen(arg) > 2048 || has_control_chars(arg))
                return not_workshop_url(arg, err);
        /* A URL: libcurl's parser, not ours. A missing scheme is https. */
        CURLU *u = curl_url();
        if (!u)
                return -ENOMEM;
        char *scheme = NULL, *host = NULL, *path = NULL, *query = NULL;
        int r = -EINVAL;
        if (curl_url_set(u, CURLUPART_URL, arg, CURLU_DEFAULT_SCHEME) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
                goto out;
        if (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0)
                goto out;
        if (strcasecmp(host, "steamcommunity.com") != 0 && strcasecmp(host, "www.steamcommunity.com") != 0)
                goto out;
        /* The page of an item or a collection; /workshop/ is its older name. */
        if (!streq(path, "/sharedfiles/filedetails/") && !streq(path, "/sharedfiles/filedetails") &&
            !streq(path, "/workshop/filedetails/") && !streq(path, "/workshop/filedetails"))
                goto out;
        if (curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_OK)
                goto out;
        for (char *p = query; p && *p;) {
                char *amp = strchr(p, '&');
                size_t len = amp ? (size_t) (amp - p) : strlen(p);
                if (len > 3 && strncmp(p, "id=", 3) == 0) {
                        if (parse_id(p + 3, len - 3, ret))
                                r = 0;
                        break;
                }
                p = amp ? amp + 1 : NULL;
        }
out:
        curl_free(scheme);
        curl_free(host);
        curl_free(path);
        curl_free(query);
        curl_url_cleanup(u);
        return r < 0 ? not_workshop_url(arg, err) : 0;
}

/* ---- settings ---- */

static int setting_long(const HostConfig *c, const char *key, long min, long max, long def, long *ret, Error *err) {
        char *s = NULL;
        int r = config_setting(c, key, &s);
        if (r < 0)
                return error_set(err, r, "cannot read %s: %s", key, strerror(-r));
        *ret = def;
        if (r > 0) {
                r = parse_long(s, min, max, ret);
                if (r < 0)
                        error_set(err, -EINVAL, "%s='%s' is not a number from %ld to %ld", key, s, min, max);
                free(s);
        }
        return r < 0 ? -EINVAL : 0;
}

int workshop_settings_load(const HostConfig *c, WorkshopSettings *ret, Error *err) {
        WorkshopSettings s = { 0 };
        int r = config_setting(c, "LEFT4ME_STEAM_API_URL", &s.api_url);
        if (r < 0)
                return error_set(err, r, "cannot read LEFT4ME_STEAM_API_URL: %s", strerror(-r));
        if (r == 0 && !(s.api_url = strdup("https://api.steampowered.com")))
                return -ENOMEM;
        size_t n = strlen(s.api_url);
        while (n > 0 && s.api_url[n - 1] == '/')
                s.api_url[--n] = '\0';
        if ((!startswith(s.api_url, "https://") && !startswith(s.api_url, "http://")) || has_control_chars(s.api_url)) {
                r = error_set(err, -EINVAL, "LEFT4ME_STEAM_API_URL='%s' is not an http(s) URL", s.api_url);
                free(s.api_url);
                return r;
        }
        if ((r = setting_long(c, "LEFT4ME_STEAM_API_TIMEOUT", 1, 600, 30, &s.timeout_s, err)) < 0 ||
            (r = setting_long(c, "LEFT4ME_WORKSHOP_PARALLEL", 1, 32, 4, &s.parallel, err)) < 0 ||
            (r = setting_long(c, "LEFT4ME_WORKSHOP_ATTEMPTS", 1, 10, 3, &s.attempts, err)) < 0 ||
            (r = setting_long(c, "LEFT4ME_WORKSHOP_RETRY_MS", 0, 600000, 2000, &s.retry_ms, err)) < 0) {
                free(s.api_url);
                return r;
        }
        *ret = s;
        return 0;
}

void workshop_settings_free(WorkshopSettings *s) {
        free(s->api_url);
        *s = (WorkshopSettings) { 0 };
}

/* ---- requests ---- */

int steam_api_open(SteamApi *api, const WorkshopSettings *set, Error *err) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return error_set(err, -EIO, "cannot initialise libcurl");
        CURL *h = curl_easy_init();
        if (!h) {
                curl_global_cleanup();
                return -ENOMEM;
        }
        *api = (SteamApi) { .curl = h, .set = set };
        return 0;
}

void steam_api_close(SteamApi *api) {
        if (!api->curl)
                return;
        curl_easy_cleanup(api->curl);
        curl_global_cleanup();
        api->curl = NULL;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
        Buf *b = userdata;
        /* Past the cap the transfer stops (a short return is an error). */
        return buf_append(b, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

static int post(SteamApi *api, const char *method, const char *body, Buf *answer, Error *err) {
        char url[2048];
        snprintf(url, sizeof url, "%s/ISteamRemoteStorage/%s/v1/", api->set->api_url, method);
        CURL *h = api->curl;
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_TIMEOUT, api->set->timeout_s);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "left4me/" LEFT4ME_VERSION);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, answer);
        api->requests++;
        CURLcode cc = curl_easy_perform(h);
        if (cc == CURLE_WRITE_ERROR && answer->len >= ANSWER_MAX - 65536)
                return error_set(err, -EIO, "the Steam Web API (%s) answered more than %d MiB", method,
                                 ANSWER_MAX / 1024 / 1024);
        if (cc == CURLE_OPERATION_TIMEDOUT)
                return error_set(err, -ETIMEDOUT, "the Steam Web API at %s did not answer %s within %ld s",
                                 api->set->api_url, method, api->set->timeout_s);
        if (cc != CURLE_OK)
                return error_set(err, -EIO, "cannot reach the Steam Web API at %s: %s", api->set->api_url,
                                 curl_easy_strerror(cc));
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        if (code != 200)
                return error_set(err, -EIO, "the Steam Web API answered %s with HTTP %ld", method, code);
        return 0;
}

/* Sends method with key=n and publishedfileids[i]=id; checks the answer. */
static int call(SteamApi *api, const char *method, const char *count_key, const char *array_key,
                const char *const *ids, size_t n, json_t **ret, Error *err) {
        if (n == 0 || n > STEAM_API_MAX_IDS)
                return -EINVAL;
        _cleanup_buf_ Buf body = BUF_INIT(64 * 1024);
        int r = buf_printf(&body, "%s=%zu", count_key, n);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = buf_printf(&body, "&publishedfileids[%zu]=%s", i, ids[i]);
        if (r < 0)
                return r;
        _cleanup_buf_ Buf answer = BUF_INIT(ANSWER_MAX);
        if ((r = post(api, method, body.data, &answer, err)) < 0)
                return r;
        json_t *j = json_loadb(answer.data ? answer.data : "", answer.len, 0, NULL);
        if (!j)
                return error_set(err, -EIO, "the Steam Web API answered %s with something that is not JSON", method);
        json_t *a = json_object_get(json_object_get(j, "response"), array_key);
        if (!json_is_array(a)) {
                json_decref(j);
                return error_set(err, -EIO, "the Steam Web API answered %s without response.%s", method, array_key);
        }
        /* Every entry answers an ID we asked about... */
        size_t k;
        json_t *e;
        json_array_foreach(a, k, e) {
                const char *id = json_string_value(json_object_get(e, "publishedfileid"));
                bool asked = false;
                for (size_t i = 0; id && i < n && !asked; i++)
                        asked = streq(id, ids[i]);
                if (!asked) {
                        json_decref(j);
                        return error_set(err, -EIO, "the Steam Web API answered %s about an ID it was not asked about",
                                         method);
                }
        }
        /* ...and every ID asked is answered, by an object. */
        for (size_t i = 0; i < n; i++) {
                bool found = false;
                json_array_foreach(a, k, e) {
                        const char *id = json_string_value(json_object_get(e, "publishedfileid"));
                        if (!json_is_object(e) || !json_is_integer(json_object_get(e, "result")))
                                break;
                        if (id && streq(id, ids[i])) {
                                found = true;
                                break;
                        }
                }
                if (!found) {
                        json_decref(j);
                        return error_set(err, -EIO, "the Steam Web API answered %s without a valid entry for %s",
                                         method, ids[i]);
                }
        }
        *ret = json_incref(a);
        json_decref(j);
        return 0;
}

int steam_api_file_details(SteamApi *api, const char *const *ids, size_t n, json_t **ret, Error *err) {
        return call(api, "GetPublishedFileDetails", "itemcount", "publishedfiledetails", ids, n, ret, err);
}

int steam_api_collection_details(SteamApi *api, const char *const *ids, size_t n, json_t **ret, Error *err) {
        return call(api, "GetCollectionDetails", "collectioncount", "collectiondetails", ids, n, ret, err);
}

size_t steam_api_batches(size_t n_items, size_t n_collections, size_t *ret_per) {
        size_t total = n_items + n_collections;
        size_t k = (n_items + 99) / 100;
        if ((total + 109) / 110 > k)
                k = (total + 109) / 110;
        if (k == 0 && total > 0)
                k = 1;
        *ret_per = k ? (total + k - 1) / k : 0;
        return k;
}

unsigned long long steam_api_u64(const json_t *v) {
        if (json_is_integer(v))
                return json_integer_value(v) > 0 ? (unsigned long long) json_integer_value(v) : 0;
        const char *s = json_string_value(v);
        char id[WORKSHOP_ID_MAX];
        if (s && parse_id(s, strlen(s), id))
                return strtoull(id, NULL, 10);
        return 0;
}
