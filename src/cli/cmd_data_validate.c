/* cmd_data_validate.c — `mlplane data validate FILE --expect FILE [-o ...]`: a
 * CSV file against an expectations file, the same checks a step input's
 * `validate:` runs before the step starts (src/monitor/validate.c). It lives
 * here, not with `data check|split` in src/ml, because src/ml may not call the
 * monitor layer; cmd_data (main.c) sends `data validate` here.
 * Exit status: 0 every expectation holds, 1 some are broken, 2 bad input (an
 * unreadable or malformed CSV, named with its row and line; a bad expectations
 * file, with FILE:LINE:COL). Single-threaded; reads files only. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor.h"

const char CLI_DATA_VALIDATE_USAGE[] = "usage: mlplane data validate FILE --expect EXPECTATIONS.yaml [-o table|json|yaml]";

static const char validate_help[] =
    "Usage: mlplane data validate FILE --expect EXPECTATIONS.yaml [-o table|json|yaml]\n\n"
    "Checks the CSV file FILE against the expectations in EXPECTATIONS.yaml (the shape\n"
    "of a step input's validate: field; docs/data-validation.md): row count, columns\n"
    "present, their types, null fraction, min/max, allowed values, uniqueness, regex.\n"
    "Prints each broken expectation with what was expected, what was observed and up\n"
    "to 5 example rows (row number, line, value).\n\n"
    "  --expect FILE    the expectations (YAML)\n"
    "  -o, --output F   table (default), json or yaml\n\n"
    "Exit status: 0 all hold, 1 some are broken, 2 bad input (unreadable or malformed\n"
    "CSV, bad expectations file).\n";

int cli_data_validate(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(validate_help, stdout);
        return CLI_OK;
    }
    static const struct option longs[] = {
        {"expect", required_argument, 0, 'x'}, {"output", required_argument, 0, 'o'}, {0, 0, 0, 0}};
    const char *expect = NULL;
    cli_out out = OUT_TABLE;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:", longs, NULL)) != -1) {
        if (c == 'x') expect = optarg;
        else if (c == 'o') {
            if (cli_parse_out(optarg, &out)) return CLI_USAGE;
        } else
            return cli_fail(CLI_USAGE, "unknown or incomplete option %s\n%s", argv[optind - 1], CLI_DATA_VALIDATE_USAGE);
    }
    if (argc - optind != 1 || !expect)
        return cli_fail(CLI_USAGE, "%s\n%s", !expect ? "--expect FILE is required" : "give one CSV file",
                        CLI_DATA_VALIDATE_USAGE);
    const char *csv = argv[optind];
    spec_diags d = {0};
    spec_expectations *x = NULL;
    if (spec_expectations_load_file(expect, &x, &d) != 0) {
        mp_buf b;
        mp_buf_init(&b);
        spec_diags_format(&d, &b);
        fputs(b.data, stderr);
        mp_buf_free(&b);
        spec_diags_free(&d);
        return CLI_USAGE;
    }
    monitor_report r;
    mp_err e;
    mp_err_clear(&e);
    if (monitor_validate_file(csv, x, &r, &e) != 0) {
        spec_expectations_free(x);
        return cli_fail(CLI_USAGE, "%s", e.msg);
    }
    int status = r.n ? CLI_FAILED : CLI_OK;
    if (out == OUT_TABLE) {
        mp_buf b;
        mp_buf_init(&b);
        monitor_report_text(&r, 0, &b);
        fputs(b.data, stdout);
        mp_buf_free(&b);
    } else {
        json_t *j = monitor_report_json(&r);
        cli_print_json(j, out);
        json_decref(j);
    }
    monitor_report_free(&r);
    spec_expectations_free(x);
    return status;
}
