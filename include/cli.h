/* SPDX-License-Identifier: ISC */
/*
 * The command line: a table of subcommands (run, status, checkconf, drain,
 * undrain, reload, version, help) matched by unique prefix.
 */
#ifndef CLI_H
#define CLI_H

int cli_main(int argc, char **argv);

#endif
