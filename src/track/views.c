/* views.c — the public JSON views of tracking and registry records (track.h),
 * the same shapes the REST handlers answer with. Reentrant. */
#include "track/registry_int.h"
#include "track/track_int.h"

json_t *track_experiment_json(const store_experiment *x) { return track__experiment_json(x); }
json_t *track_double_json(double v) { return track__double_json(v); }
json_t *track_run_json(const store_track_run *r) { return track__run_json(r); }
json_t *track_model_json(const store_registered_model *m) { return reg__model_json(m); }
json_t *track_version_json(const store_model_version *v) { return reg__version_json(v); }
