#include <string.h>

#include "fs.h"
#include "html.h"
#include "pages.h"
#include "server.h"
#include "static.h"

typedef struct StaticFile {
        const char *name, *type;
        struct MHD_Response *resp;
} StaticFile;

static StaticFile files[] = {
        { "style.css", "text/css; charset=utf-8", NULL },
        { "app.js", "text/javascript; charset=utf-8", NULL },
        { "files.js", "text/javascript; charset=utf-8", NULL }, /* the files overlay view */
        { "htmx.min.js", "text/javascript; charset=utf-8", NULL },
};

int static_load(void) {
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                char path[4096];
                if (streq(files[i].name, "htmx.min.js"))
                        snprintf(path, sizeof path, "%s", config.htmx_path);
                else
                        snprintf(path, sizeof path, "%s/%s", config.static_dir, files[i].name);
                char *data = NULL;
                size_t len = 0;
                int r = read_file(path, 4 * 1024 * 1024, &data, &len);
                if (r < 0) {
                        fprintf(stderr, "left4me: static file '%s' is missing (%s); pages will load without it\n",
                                path, strerror(-r));
                        data = strdup("");
                        len = 0;
                        if (!data)
                                return -ENOMEM;
                }
                files[i].resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
                if (!files[i].resp) {
                        free(data);
                        return -ENOMEM;
                }
                MHD_add_response_header(files[i].resp, "Content-Type", files[i].type);
                MHD_add_response_header(files[i].resp, "Cache-Control", "public, max-age=3600");
                http_security_headers(files[i].resp);
        }
        return 0;
}

void static_free(void) {
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (files[i].resp) {
                        MHD_destroy_response(files[i].resp);
                        files[i].resp = NULL;
                }
}

void page_static(Req *r) {
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (files[i].resp && streq(r->tail, files[i].name)) {
                        r->custom = files[i].resp;
                        r->custom_shared = true;
                        return;
                }
        r->status = 404;
        r->content_type = "text/plain; charset=utf-8";
        html_raw(&r->out, "not found\n");
}
