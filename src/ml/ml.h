/* ml.h — built-in data and training tools, so pipelines need no Python:
 *   mlplane data check FILE ...           validate a numeric CSV data set
 *   mlplane data split FILE ...           split into train/test with a fixed seed
 *   mlplane xgb train ...                 train an XGBoost model through its C API
 *   mlplane xgb eval ...                  evaluate a model: accuracy, AUC, logloss
 *   mlplane xgb predict ...               probabilities for each row of a CSV
 * Each entry point takes the arguments after the tool name (argv[0] is the
 * sub-command, e.g. "check"; "--help" there lists the sub-commands), prints to
 * stdout/stderr and returns a process exit status: 0 ok, 1 failure (bad data,
 * unreadable file, XGBoost error), 2 bad usage (unknown option, missing or
 * malformed argument). `SUB --help` prints that sub-command's usage and returns 0.
 * The file formats and internals are described in ml_int.h. */
#ifndef MLPLANE_ML_H
#define MLPLANE_ML_H

#include "util/util.h"

int ml_data_main(int argc, char **argv);
int ml_xgb_main(int argc, char **argv);

/* Sets e to MP_EIO "XGBoost failed to WHAT: MESSAGE" from XGBGetLastError()
 * (its first line, without the time stamp) and returns MP_EIO. For any caller
 * of the XGBoost C API (the serving runtime too). */
int ml_xgb_error(mp_err *e, const char *what);

#endif
