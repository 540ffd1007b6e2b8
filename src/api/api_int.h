/* api_int.h — what the files of src/api share (not a public API). */
#ifndef MLPLANE_API_INT_H
#define MLPLANE_API_INT_H

#include "spec/spec.h"
#include "store/store.h"
#include "util/util.h"

/* Spawns `mlplane --home HOME run --detach [--parallel=N] [--param=k=v]... -- FILE`
 * (params: "k=v" strings) with a clean signal state and without MLPLANE_SERVER;
 * MLFLOW_TRACKING_URI is base_url when given. Its stdout and stderr (64 KiB each at
 * most) into out and err, *status its exit status (-1 when unknown). 0, or MP_EIO
 * when it could not be started or did not answer within a minute. */
int api__spawn_run(const char *home, const char *base_url, const char *file, const mp_strv *params, int parallel,
                   mp_buf *out, mp_buf *err, int *status, mp_err *e);
/* The run id on out's first line (heap), or NULL when it does not look like one. */
char *api__first_line_id(const mp_buf *out);

/* Monitors' actions (monitor_actions.c). The model and the version Deployment name
 * serves now (heap; NULL when not known). */
void api__monitor_served(store *st, const char *home, const char *name, char **model, char **version);
/* What Monitor m does after check c: on drift, its webhook and its retraining. */
void api__monitor_act(store *st, const char *home, const spec_monitor *m, const store_monitor_check *c);
/* Follows m's retraining: registered version, canary, promotion (each tick). */
void api__monitor_advance(store *st, const char *home, const spec_monitor *m);

#endif
