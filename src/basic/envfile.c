#include <string.h>

#include "envfile.h"
#include "fs.h"
#include "macro.h"
#include "strutil.h"

int envfile_get(const char *path, const char *key, char **ret) {
        _cleanup_free_ char *text = NULL;
        int r = read_file(path, 1 << 20, &text, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        size_t klen = strlen(key);
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                while (*line == ' ' || *line == '\t')
                        line++;
                if (*line == '#' || *line == '\0')
                        continue;
                if (startswith(line, "export "))
                        line += 7;
                if (strncmp(line, key, klen) != 0 || line[klen] != '=')
                        continue;
                char *v = line + klen + 1;
                size_t n = strlen(v);
                while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                        v[--n] = '\0';
                if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
                        v[n - 1] = '\0';
                        v++;
                }
                char *d = strdup(v);
                if (!d)
                        return -ENOMEM;
                *ret = d;
                return 1;
        }
        return 0;
}
