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

#endif
