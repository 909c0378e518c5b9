/* SPDX-License-Identifier: ISC */
/*
 * Runs N sampler ticks on one sysstat backend, for
 * bench/callgrind-tick.sh, which counts the instructions spent inside
 * sampler_read() with callgrind: a count that, unlike a time, is the same
 * on a busy or an idle machine.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sample.h"
#include "sysstat.h"
#include "util.h"

int
main(int argc, char **argv)
{
	enum sysstat_backend be = SYSSTAT_BACKEND_MAX;
	struct sample s;
	struct sysstat *ss;
	struct sampler *sp;
	int n = argc > 2 ? atoi(argv[2]) : 1000;

	for (int i = 0; i < SYSSTAT_BACKEND_MAX && argc > 1; i++)
		if (strcmp(argv[1], sysstat_backend_names[i]) == 0)
			be = (enum sysstat_backend)i;
	if (be == SYSSTAT_BACKEND_MAX || n <= 0) {
		fprintf(stderr, "usage: tick-instructions BACKEND [TICKS]\n");
		return 2;
	}
	ss = sysstat_new_backend(be);
	if (ss == NULL) {
		fprintf(stderr, "backend %s is not available\n", argv[1]);
		return 1;
	}
	sp = sampler_new(ss, "/");
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < n; i++)
		sampler_read(sp, &s, util_now_ms());
	printf("%d ticks, mem %.1f%%\n", n, s.mem_used_pct);
	sampler_free(sp);
	sysstat_free(ss);
	return 0;
}
