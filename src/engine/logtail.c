/* logtail.c — the last lines a step's attempt wrote to its log: shown with a
 * failure (a step's message, describe run) so that the reason is in plain sight.
 * Reads at most the last 64 KiB of the log; reentrant. */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAIL_BYTES 65536
static const char attempt_header[] = "==> mlplane: attempt ";

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
    if (s[0] >= 0xf5 || len == 0 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

/* Appends line [p, p+n) to b, made printable (controls and bytes that are not
 * UTF-8 become '?', tabs spaces) and cut at max bytes with "...". */
static void add_line(mp_buf *b, const char *p, size_t n, size_t max) {
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        size_t l = c < 0x80 ? 1 : utf8_len((const unsigned char *)p + i, n - i);
        if (out + (l ? l : 1) > max) {
            mp_buf_printf(b, "...");
            return;
        }
        if (c == '\t') mp_buf_printf(b, " ");
        else if (c < 0x20 || c == 0x7f || l == 0) mp_buf_printf(b, "?");
        else mp_buf_printf(b, "%.*s", (int)l, p + i);
        out += l ? l : 1;
        i += l ? l : 1;
    }
}

char *engine_log_tail(const char *log_path, int nlines, size_t max_line) {
    if (!log_path || nlines <= 0) return NULL;
    FILE *f = fopen(log_path, "rb");
    if (!f) return NULL;
    char *buf = mp_xcalloc(1, TAIL_BYTES + 1);
    size_t n = 0;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        long from = size > TAIL_BYTES ? size - TAIL_BYTES : 0;
        if (size >= 0 && fseek(f, from, SEEK_SET) == 0) n = fread(buf, 1, TAIL_BYTES, f);
    }
    fclose(f);
    buf[n] = '\0';
    /* only the last attempt's output: what follows its header line */
    char *start = buf;
    for (char *h = buf; (h = strstr(h, attempt_header)) != NULL; h++) {
        if (h != buf && h[-1] != '\n') continue;
        char *nl = strchr(h, '\n');
        start = nl ? nl + 1 : buf + n;
    }
    /* the last nlines non-empty lines, from the end backwards */
    const char *ls[64];
    size_t ll[64];
    int found = 0;
    if (nlines > 64) nlines = 64;
    char *end = buf + n;
    while (end > start && found < nlines) {
        char *e = end;
        while (e > start && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) e--;
        char *s = e;
        while (s > start && s[-1] != '\n') s--;
        if (e > s) {
            ls[found] = s;
            ll[found] = (size_t)(e - s);
            found++;
        }
        end = s;
    }
    char *text = NULL;
    if (found > 0) {
        mp_buf b;
        mp_buf_init(&b);
        for (int i = found - 1; i >= 0; i--) {
            add_line(&b, ls[i], ll[i], max_line);
            if (i) mp_buf_printf(&b, "\n");
        }
        text = mp_buf_steal(&b);
    }
    free(buf);
    return text;
}
