/* track.h — experiment tracking and the model registry, spoken as MLflow's REST
 * API so that MLflow clients (MLFLOW_TRACKING_URI) work against mlplane.
 *
 * This folder holds the HTTP handlers (request JSON in, response JSON out, as
 * mlflow/protos/service.proto and model_registry.proto define them) and the
 * logic between them and the store (store->t tracking methods, store->r registry
 * methods). The HTTP server (src/api) mounts the route tables below under both
 * /api/2.0/mlflow/ and /ajax-api/2.0/mlflow/.
 * Threads: handlers run concurrently on the server's worker threads; each uses
 * the store handle of its request and keeps no global mutable state. */
#ifndef MLPLANE_TRACK_H
#define MLPLANE_TRACK_H

#include <stddef.h>

#include "store/store.h"
#include "util/http.h"

/* Tracking: experiments, runs, metrics, params, tags, log-batch, log-inputs,
 * metrics/get-history, runs/search, artifacts/list. Paths are full, e.g.
 * "/api/2.0/mlflow/runs/create". */
const mp_http_route *track_routes(size_t *n);

/* Model registry: registered-models/... and model-versions/... */
const mp_http_route *track_registry_routes(size_t *n);

/* Artifact proxy: /api/2.0/mlflow-artifacts/artifacts[/PATH] (upload, download,
 * list, delete) over a file-system artifact store under HOME/artifacts. */
const mp_http_route *track_artifact_routes(size_t *n);

/* ---- search filters (filter.c) ------------------------------------------------------
 * MLflow's filter language for runs/search and experiments/search, parsed into the
 * store's filter AST. Errors are MP_EINVAL with a message naming the 1-based
 * position and what was expected there. */
typedef enum track_filter_target { TRACK_FILTER_RUNS, TRACK_FILTER_EXPERIMENTS } track_filter_target;

/* Parses filter s (NULL or blank: no condition). *out is freed with
 * store_track_filter_free (also on failure it is left empty). */
int track_filter_parse(const char *s, track_filter_target target, store_track_filter *out, mp_err *e);
/* Parses one order_by clause, e.g. "metrics.rmse DESC" (default ASC); out->key is
 * heap (free it, or store_track_order_array_free). */
int track_order_parse(const char *s, track_filter_target target, store_track_order *out, mp_err *e);

/* MLflow JSON views of store records (new references), as the REST API shows
 * them; for the CLI's -o json|yaml. */
json_t *track_experiment_json(const store_experiment *x);
json_t *track_run_json(const store_track_run *r);
/* A metric value as MLflow writes it: a number, or "NaN", "Infinity", "-Infinity". */
json_t *track_double_json(double v);
json_t *track_model_json(const store_registered_model *m);
json_t *track_version_json(const store_model_version *v);

#endif
