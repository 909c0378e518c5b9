#!/bin/sh
# SPDX-License-Identifier: ISC
# PNG plots (gnuplot) from the files bench/run-all.sh leaves in OUT.
# Usage: bench/plots.sh OUT   (writes OUT/*.png)
set -eu
OUT=${1:?usage: bench/plots.sh OUT}
command -v gnuplot >/dev/null || { echo "gnuplot is not installed" >&2; exit 1; }
cd "$OUT"

if [ -f footprint.tsv ]; then
	awk -F'\t' 'NR > 1 { c[$2] = c[$2] " " $4; r[$2] = r[$2] " " $5; p[$2] = p[$2] " " $6 }
	    function med(s,   a, n, i, j, t) { n = split(s, a, " ");
	        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	    END { for (k in c) printf "%s\t%s\t%s\t%s\n", k, med(c[k]), med(r[k]) / 1024, med(p[k]) / 1024 }' \
	    footprint.tsv | sort >footprint-med.tsv
	gnuplot <<'EOF'
set terminal pngcairo size 900,420 noenhanced
set output "footprint.png"
set multiplot layout 1,2 title "Footprint at 1-second sampling (same run; median over rounds)"
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.7
set grid ytics
set yrange [0:*]
set title "CPU, % of one core (schedstat)"
plot "footprint-med.tsv" using 2:xtic(1) notitle lc rgb "#4477aa"
set title "Memory, MiB"
set style histogram clustered gap 1
plot "footprint-med.tsv" using 3:xtic(1) title "RSS" lc rgb "#4477aa", \
     "" using 4 title "PSS" lc rgb "#ee6677"
unset multiplot
EOF
fi

if [ -f scaling.tsv ]; then
	gnuplot <<'EOF'
set terminal pngcairo size 700,450 noenhanced
set output "scaling.png"
set title "CPU vs number of HTTP checks at 1 s (same run)"
set xlabel "checks"
set ylabel "% of one core (schedstat)"
set logscale xy
set grid
set key top left
plot "scaling.tsv" using 1:3 with linespoints lw 2 pt 7 title "healthagent", \
     "" using 1:5 with linespoints lw 2 pt 5 title "monit"
EOF
fi

if [ -f fleet-buckets.tsv ]; then
	# Columns: second, arrivals of the hash fleet, of the rank fleet.
	gnuplot <<'EOF'
set terminal pngcairo size 900,560 noenhanced
set output "fleet-flushes.png"
stats "fleet-buckets.tsv" using 2 nooutput
mh = STATS_mean
ph = STATS_max
stats "fleet-buckets.tsv" using 3 nooutput
mr = STATS_mean
pr = STATS_max
set multiplot layout 2,1 title "PutMetricData arrivals per second, one fleet each, same run"
set ylabel "requests"
set style fill solid 0.8
set grid ytics
set yrange [0:(ph > pr ? ph : pr) * 1.4 + 1]
set key top right horizontal
set title sprintf("flush slot = instance-id hash (before): mean %.2f/s, peak %d = %.2f x mean", mh, ph, ph / mh)
plot "fleet-buckets.tsv" using 1:2 with boxes lc rgb "#ee6677" notitle, \
     mh with lines lw 2 lc rgb "#228833" title "mean", \
     2 * mh with lines lw 2 dt 2 lc rgb "#000000" title "2 x mean"
set xlabel "second of the measured window"
set title sprintf("flush slot = rank in the group (after): mean %.2f/s, peak %d = %.2f x mean", mr, pr, pr / mr)
plot "fleet-buckets.tsv" using 1:3 with boxes lc rgb "#4477aa" notitle, \
     mr with lines lw 2 lc rgb "#228833" title "mean", \
     2 * mr with lines lw 2 dt 2 lc rgb "#000000" title "2 x mean"
unset multiplot
EOF
fi
ls -1 ./*.png 2>/dev/null || true
