/* metrics_file.c — reads a step's metrics.json. Python's json.dump writes NaN,
 * Infinity and -Infinity (valid MLflow metric values) as bare words, which JSON
 * refuses: outside strings they become the strings "NaN", "Infinity" and
 * "-Infinity" (MLflow's own JSON spelling) before jansson parses the text. */
#include "engine/engine_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const WORDS[] = {"-Infinity", "Infinity", "NaN"};

static bool word_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

/* text with the bare words quoted; *pos_of maps a position back (2 bytes per word). */
static char *quote_words(const char *t, size_t **at, size_t *nat) {
    mp_buf b;
    mp_buf_init(&b);
    bool in_str = false;
    *at = NULL;
    *nat = 0;
    for (size_t i = 0; t[i]; i++) {
        char c = t[i];
        if (in_str) {
            mp_buf_printf(&b, "%c", c);
            if (c == '\\' && t[i + 1]) mp_buf_printf(&b, "%c", t[++i]);
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') in_str = true;
        bool done = false;
        for (size_t w = 0; w < 3 && !done; w++) {
            size_t n = strlen(WORDS[w]);
            if (strncmp(t + i, WORDS[w], n) != 0 || (i > 0 && word_char(t[i - 1])) || word_char(t[i + n])) continue;
            mp_buf_printf(&b, "\"%s\"", WORDS[w]);
            *at = mp_xrealloc(*at, (*nat + 1) * sizeof **at);
            (*at)[(*nat)++] = b.len;
            i += n - 1;
            done = true;
        }
        if (!done) mp_buf_printf(&b, "%c", c);
    }
    return b.data ? b.data : mp_xstrdup("");
}

bool engine__metric_number(json_t *v, double *out) {
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (!s) return false;
    if (strcmp(s, "NaN") == 0) *out = NAN;
    else if (strcmp(s, "Infinity") == 0) *out = INFINITY;
    else if (strcmp(s, "-Infinity") == 0) *out = -INFINITY;
    else return false;
    return true;
}

json_t *engine__metrics_load(const char *path, char **warning) {
    *warning = NULL;
    if (!mp_path_exists(path)) return NULL;
    char *text = NULL;
    size_t len = 0;
    mp_err e = {0};
    if (mp_read_file(path, &text, &len, &e) != 0) {
        *warning = mp_xasprintf("%s: cannot read: %s", path, e.msg);
        return NULL;
    }
    size_t *at, nat;
    char *q = quote_words(text, &at, &nat);
    json_error_t je;
    json_t *root = json_loads(q, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        size_t pos = root ? 0 : (size_t)je.position, shift = 0;
        for (size_t i = 0; i < nat; i++) if (at[i] <= pos) shift += 2;
        pos = pos > shift ? pos - shift : 0;
        int line = 1, col = 1;
        for (size_t i = 0; i < pos && text[i]; i++) {
            if (text[i] == '\n') line++, col = 1;
            else col++;
        }
        /* keeps the lines that are whole members ("key": value) */
        json_decref(root);
        root = json_object();
        char *save = NULL;
        for (char *l = strtok_r(q, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            size_t n = strlen(l);
            while (n > 0 && strchr(" \t\r,{}", l[n - 1])) l[--n] = 0;
            while (*l && strchr(" \t{", *l)) l++;
            char *m = mp_xasprintf("{%s}", l);
            json_t *o = json_loads(m, 0, NULL);
            if (json_is_object(o)) json_object_update(root, o);
            json_decref(o);
            free(m);
        }
        *warning = mp_xasprintf("%s:%d:%d: metrics.json is not a JSON object (%s); kept the %zu metrics of its whole "
                                "lines; write one JSON object of numbers (or arrays of numbers)",
                                path, line, col, je.text, json_object_size(root));
    }
    free(at);
    free(q);
    free(text);
    return root;
}
