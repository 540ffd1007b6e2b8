/* registry.c — the model registry's records (store.h): how they are freed.
 * Independent of any store implementation. Reentrant. */
#include <stdlib.h>

#include "store/store.h"

static void kv_free(store_kv *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].value);
    }
    free(v);
}

void store_model_version_free(store_model_version *v) {
    if (!v) return;
    free(v->name);
    free(v->description);
    free(v->user_id);
    free(v->current_stage);
    free(v->source);
    free(v->run_id);
    free(v->run_link);
    free(v->status);
    free(v->status_message);
    kv_free(v->tags, v->ntags);
    for (size_t i = 0; i < v->naliases; i++) free(v->aliases[i]);
    free(v->aliases);
    *v = (store_model_version){0};
}

void store_model_version_array_free(store_model_version *v, size_t n) {
    for (size_t i = 0; i < n; i++) store_model_version_free(&v[i]);
    free(v);
}

void store_registered_model_free(store_registered_model *m) {
    if (!m) return;
    free(m->name);
    free(m->description);
    free(m->namespace_);
    store_model_version_array_free(m->latest, m->nlatest);
    kv_free(m->tags, m->ntags);
    kv_free(m->aliases, m->naliases);
    *m = (store_registered_model){0};
}

void store_registered_model_array_free(store_registered_model *v, size_t n) {
    for (size_t i = 0; i < n; i++) store_registered_model_free(&v[i]);
    free(v);
}
