/* track.c — the backend-independent part of the MLflow tracking records of the
 * store (store.h, "MLflow tracking"): freeing them. Reentrant, no state. */
#include "store/store.h"

#include <stdlib.h>

void store_kv_array_free(store_kv *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].value);
    }
    free(v);
}

void store_experiment_free(store_experiment *x) {
    if (!x) return;
    free(x->experiment_id);
    free(x->name);
    free(x->artifact_location);
    free(x->lifecycle_stage);
    free(x->namespace_);
    store_kv_array_free(x->tags, x->ntags);
    x->tags = NULL;
    x->ntags = 0;
}

void store_experiment_array_free(store_experiment *v, size_t n) {
    for (size_t i = 0; i < n; i++) store_experiment_free(&v[i]);
    free(v);
}

void store_dataset_input_free(store_dataset_input *d) {
    if (!d) return;
    free(d->name);
    free(d->digest);
    free(d->source_type);
    free(d->source);
    free(d->schema);
    free(d->profile);
    store_kv_array_free(d->tags, d->ntags);
}

void store_track_metric_array_free(store_track_metric *v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i].key);
    free(v);
}

void store_track_run_free(store_track_run *r) {
    if (!r) return;
    free(r->run_id);
    free(r->run_name);
    free(r->experiment_id);
    free(r->user_id);
    free(r->status);
    free(r->artifact_uri);
    free(r->lifecycle_stage);
    store_track_metric_array_free(r->metrics, r->nmetrics);
    store_kv_array_free(r->params, r->nparams);
    store_kv_array_free(r->tags, r->ntags);
    for (size_t i = 0; i < r->ninputs; i++) store_dataset_input_free(&r->inputs[i]);
    free(r->inputs);
}

void store_track_run_array_free(store_track_run *v, size_t n) {
    for (size_t i = 0; i < n; i++) store_track_run_free(&v[i]);
    free(v);
}

void store_track_filter_free(store_track_filter *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) {
        store_track_cond *c = &f->conds[i];
        free(c->key);
        free(c->str);
        for (size_t j = 0; j < c->nlist; j++) free(c->list[j]);
        free(c->list);
    }
    free(f->conds);
    f->conds = NULL;
    f->n = 0;
}

void store_track_order_array_free(store_track_order *v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i].key);
    free(v);
}
