/* Is there a newer game build? Three independent signals, each of which may
 * be wrong or silent (issue 14):
 *
 * - the Steam Web API's ISteamApps/UpToDateCheck with the installed
 *   PatchVersion (steam.inf): up_to_date, required_version;
 * - steamcmd's app_info_print, with the cached appinfo.vdf removed first
 *   (cached info hid updates for days): the public branch's buildid;
 * - `MasterRequestRestart` in a server's console, which the master server
 *   sends to outdated servers (`l4d2ctl watch` records it).
 *
 * A source that times out, answers nothing, or answers something we cannot
 * parse says "unknown", never "available"; so does a buildid older than the
 * installed one (a stale answer). The verdict is "available" if any source
 * has positive evidence, else "current" if any source confirms, else
 * "unknown". */
#include <curl/curl.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "build.h"
#include "fs.h"
#include "steamcmd.h"
#include "update.h"
#include "workshop-api.h"

#define ANSWER_MAX (64 * 1024)

static json_t *source(const char *name, const char *state, const char *detail) {
        return json_pack("{s:s, s:s, s:s}", "source", name, "state", state, "detail", detail);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
        return buf_append(userdata, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

/* UpToDateCheck. */
static json_t *check_api(const HostConfig *c, const BuildInfo *installed, long appid) {
        char detail[512];
        if (!installed->patch_version[0])
                return source("api", "unknown", "the installed build has no PatchVersion in left4dead2/steam.inf");
        WorkshopSettings set;
        Error err = { 0 };
        if (workshop_settings_load(c, &set, &err) < 0)
                return source("api", "unknown", err.msg);
        char url[2048];
        snprintf(url, sizeof url, "%s/ISteamApps/UpToDateCheck/v1/?appid=%ld&version=%s&format=json", set.api_url,
                 appid, installed->patch_version);
        Buf answer = BUF_INIT(ANSWER_MAX);
        json_t *out = NULL;
        CURL *h = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? curl_easy_init() : NULL;
        if (!h) {
                out = source("api", "unknown", "cannot initialise libcurl");
                goto done;
        }
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_TIMEOUT, set.timeout_s);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "left4me/" LEFT4ME_VERSION);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
        CURLcode cc = curl_easy_perform(h);
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(h);
        curl_global_cleanup();
        if (cc == CURLE_OPERATION_TIMEDOUT) {
                snprintf(detail, sizeof detail, "the Steam Web API at %s did not answer within %ld s", set.api_url,
                         set.timeout_s);
                out = source("api", "unknown", detail);
                goto done;
        }
        if (cc != CURLE_OK || code != 200) {
                snprintf(detail, sizeof detail, "the Steam Web API at %s: %s", set.api_url,
                         cc != CURLE_OK ? curl_easy_strerror(cc) : "an HTTP error");
                if (cc == CURLE_OK)
                        snprintf(detail, sizeof detail, "the Steam Web API answered UpToDateCheck with HTTP %ld", code);
                out = source("api", "unknown", detail);
                goto done;
        }
        json_t *j = json_loadb(answer.data ? answer.data : "", answer.len, 0, NULL);
        json_t *resp = json_object_get(j, "response");
        json_t *utd = json_object_get(resp, "up_to_date");
        if (!json_is_true(json_object_get(resp, "success")) || !json_is_boolean(utd)) {
                json_decref(j);
                out = source("api", "unknown", "the Steam Web API's answer to UpToDateCheck has no success and "
                                               "up_to_date");
                goto done;
        }
        if (json_is_true(utd)) {
                snprintf(detail, sizeof detail, "Steam says PatchVersion %s is up to date", installed->patch_version);
                out = source("api", "current", detail);
        } else {
                json_t *req = json_object_get(resp, "required_version");
                char rv[32] = "";
                if (json_is_integer(req))
                        snprintf(rv, sizeof rv, "%lld", (long long) json_integer_value(req));
                else if (json_is_string(req) && strlen(json_string_value(req)) < sizeof rv)
                        snprintf(rv, sizeof rv, "%s", json_string_value(req));
                snprintf(detail, sizeof detail, "Steam says PatchVersion %s is out of date%s%s",
                         installed->patch_version, rv[0] ? "; it requires version " : "", rv);
                out = source("api", "available", detail);
                if (out && rv[0])
                        json_object_set_new(out, "required_version", json_string(rv));
        }
        json_decref(j);
done:
        buf_free(&answer);
        workshop_settings_free(&set);
        return out;
}

static json_t *check_steamcmd(const HostConfig *c, const BuildInfo *installed, long timeout_ms) {
        char id[BUILD_ID_MAX_LEN + 1], detail[600];
        Error err = { 0 };
        int r = steamcmd_app_info(c, timeout_ms, id, &err);
        if (r < 0)
                return source("steamcmd", "unknown", err.msg);
        int cmp = build_id_compare(id, installed->id);
        json_t *out;
        if (cmp > 0) {
                snprintf(detail, sizeof detail, "Steam's public branch is build %s; build %s is installed", id,
                         installed->id);
                out = source("steamcmd", "available", detail);
        } else if (cmp == 0) {
                snprintf(detail, sizeof detail, "Steam's public branch is build %s, the installed one", id);
                out = source("steamcmd", "current", detail);
        } else {
                snprintf(detail, sizeof detail, "Steam named build %s, older than the installed %s: a stale answer",
                         id, installed->id);
                out = source("steamcmd", "unknown", detail);
        }
        if (out)
                json_object_set_new(out, "build", json_string(id));
        return out;
}

static json_t *check_console(const HostConfig *c, const BuildInfo *installed) {
        json_t *sig = NULL;
        if (update_signal_load(c, &sig) < 0)
                return source("console", "none", "no server has asked to be restarted for an update");
        json_int_t when = json_integer_value(json_object_get(sig, "time"));
        const char *inst = json_string_value(json_object_get(sig, "instance"));
        char detail[256];
        json_t *out;
        if (when > installed->created) {
                snprintf(detail, sizeof detail, "MasterRequestRestart in the console of '%s'", inst ? inst : "?");
                out = source("console", "available", detail);
        } else {
                snprintf(detail, sizeof detail, "the last MasterRequestRestart (in '%s') is older than build %s",
                         inst ? inst : "?", installed->id);
                out = source("console", "none", detail);
        }
        if (out) {
                json_object_set_new(out, "time", json_integer(when));
                json_object_set_new(out, "instance", json_string(inst ? inst : ""));
        }
        json_decref(sig);
        return out;
}

int update_check(const HostConfig *c, unsigned sources, json_t **ret, Error *err) {
        UpdateSettings set;
        int r = update_settings_load(c, &set, err);
        if (r < 0)
                return r;
        _cleanup_free_ BuildInfo *v = NULL;
        size_t n = 0;
        if ((r = build_list(c, &v, &n, err)) < 0)
                return r;
        if (n == 0)
                return error_set(err, -ENOENT, "no game installation: run 'l4d2ctl install' first");
        const BuildInfo *installed = &v[0];
        long appid = 550;
        _cleanup_close_ int tree = build_open(c, installed->id);
        if (tree >= 0) {
                char patch[32];
                (void) build_read_steam_inf(tree, patch, sizeof patch, &appid);
        }
        json_t *all = json_array();
        if (all && (sources & UPDATE_SOURCE_API))
                json_array_append_new(all, check_api(c, installed, appid));
        if (all && (sources & UPDATE_SOURCE_STEAMCMD))
                json_array_append_new(all, check_steamcmd(c, installed, set.check_timeout_ms));
        if (all && (sources & UPDATE_SOURCE_CONSOLE))
                json_array_append_new(all, check_console(c, installed));
        if (!all)
                return -ENOMEM;
        bool available = false, current = false;
        size_t i;
        json_t *s;
        json_array_foreach(all, i, s) {
                const char *st = json_string_value(json_object_get(s, "state")) ?: "";
                available |= streq(st, "available");
                current |= streq(st, "current");
        }
        *ret = json_pack("{s:s, s:I, s:{s:s, s:s}, s:o}", "state",
                         available ? "available" : current ? "current" : "unknown", "time", (json_int_t) time(NULL),
                         "installed", "build", installed->id, "patch_version", installed->patch_version, "sources",
                         all);
        return *ret ? 0 : -ENOMEM;
}
