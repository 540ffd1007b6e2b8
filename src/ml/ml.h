/* ml.h — built-in data and training tools, so pipelines need no Python:
 *   mlplane data check FILE ...           validate a numeric CSV data set
 *   mlplane data split FILE ...           split into train/test with a fixed seed
 *   mlplane xgb train ...                 train an XGBoost model through its C API
 *   mlplane xgb eval ...                  evaluate a model: accuracy, AUC, logloss
 * Each entry point takes the arguments after the tool name (argv[0] is the
 * sub-command, e.g. "check"), prints to stdout/stderr and returns a process exit
 * status (0 ok, 1 failure, 2 bad usage or input). */
#ifndef MLPLANE_ML_H
#define MLPLANE_ML_H

int ml_data_main(int argc, char **argv);
int ml_xgb_main(int argc, char **argv);

#endif
