# bench/report.awk: turns bench/run's results ("metric column round value"
# lines) into the markdown table, the bars and the notes; writes the chart's
# data file.  Plain POSIX awk (Debian's mawk).
#
# A value is the median over rounds; a ratio A/B is the median over rounds
# of A's value divided by B's value in the same round (paired runs).

function sort(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
}

function median(a, n) {
	if (n == 0)
		return ""
	sort(a, n)
	if (n % 2)
		return a[(n + 1) / 2]
	return (a[n / 2] + a[n / 2 + 1]) / 2
}

function value(m, c,    r, n, a) {
	n = 0
	for (r = 1; r <= maxr[m]; r++)
		if ((m SUBSEP c SUBSEP r) in v)
			a[++n] = v[m, c, r]
	return median(a, n)
}

function ratio(m, x, y) {
	return ratio2(m, x, m, y)
}

# ratio2(mx, x, my, y): metric mx of column x over metric my of column y,
# the median of the ratios within each round.
function ratio2(mx, x, my, y,    r, n, a) {
	n = 0
	for (r = 1; r <= maxr[mx]; r++)
		if ((mx SUBSEP x SUBSEP r) in v && (my SUBSEP y SUBSEP r) in v &&
		    v[my, y, r] > 0)
			a[++n] = v[mx, x, r] / v[my, y, r]
	return median(a, n)
}

function fmt(x, f) {
	return x == "" ? "n/a" : sprintf(f, x)
}

function row(label, m, f, ratios,    i, line, any, x, ref, refs, k) {
	line = "| " label
	any = 0
	for (i = 1; i <= ncols; i++) {
		x = value(m, col[i])
		if (x != "")
			any = 1
		line = line " | " fmt(x, f)
	}
	if (!any)
		return
	print line " |"
	if (!ratios)
		return
	split("direct floor", refs, " ")
	for (k = 1; k <= 2; k++) {
		ref = refs[k]
		if (value(m, ref) == "")
			continue
		line = "| &nbsp;&nbsp;÷ " ref
		for (i = 1; i <= ncols; i++)
			line = line " | " fmt(ratio(m, col[i], ref), "%.2f")
		print line " |"
	}
}

# bar(metric, A, B, op, limit, what): A/B against the limit.
function bar(m, a, b, op, lim, what) {
	bar2(m, a, m, b, op, lim, what, a, b)
}

# bar2(metric A, A, metric B, B, op, limit, what, A's name, B's name).
function bar2(ma, a, mb, b, op, lim, what, an, bn,    r, ok, verdict) {
	r = ratio2(ma, a, mb, b)
	if (r == "") {
		verdict = "n/a"
	} else if (op == "") {
		verdict = "reported"
	} else {
		ok = op == ">=" ? r >= lim : r <= lim
		verdict = ok ? "PASS" : "MISS"
		if (ok)
			npass++
		else
			nmiss++
	}
	printf("| %s | %s / %s | %s | %s | %s |\n", what, an, bn, fmt(r, "%.2f"),
	    op == "" ? "-" : op " " lim, verdict)
}

function hold_bar(c, n,    h, l, verdict) {
	h = value("held" n, c)
	l = value("lost" n, c)
	if (h == "")
		verdict = "n/a"
	else if (h == n && l == 0) {
		verdict = "PASS"
		npass++
	} else {
		verdict = "MISS"
		nmiss++
	}
	printf("| %s tunnels opened and served, none refused or lost | %s | %s held, %s refused/failed/lost | = %s, 0 | %s |\n",
	    n, c, h == "" ? "n/a" : h, l == "" ? "n/a" : l, n, verdict)
}

# The bars on names: a name from DNS (dnsmasq, cache off) against a literal
# and against the peers on the same name; literals against a base binary.
function name_bars(    k, n, c, peers, np) {
	for (k = 4; k <= 16; k += 12) {
		bar2("r" k "n", "connectd-ru", "r" k "n", "tinyproxy", ">=", 0.9,
		    "reuse on names: conn/s (" k ") >= 0.9x tinyproxy on names",
		    "connectd-ru (name)", "tinyproxy (name)")
		bar2("r" k "n", "connectd-sp", "r" k, "connectd-sp", ">=", 0.6,
		    "spares: conn/s (" k ") on names >= 0.6x on literals",
		    "connectd-sp (name)", "connectd-sp")
		bar2("r" k "n", "connectd", "r" k, "connectd", ">=", 0.9,
		    "per connection: conn/s (" k ") on names >= 0.9x on literals",
		    "connectd (name)", "connectd")
		bar("r" k, "connectd", "base", ">=", 0.95,
		    "per connection: conn/s (" k ") on literals >= 0.95x before")
		bar("r" k, "connectd-sp", "base-sp", ">=", 0.95,
		    "spares: conn/s (" k ") on literals >= 0.95x before")
		bar("r" k, "connectd-ru", "base-ru", ">=", 0.95,
		    "reuse: conn/s (" k ") on literals >= 0.95x before")
	}
	np = split("connectd connectd-sp connectd-ru tinyproxy squid apache", peers, " ")
	for (n = 1; n <= np; n++) {
		c = peers[n]
		bar2("r16n", c, "r16", c, "", 0, c ": conn/s (16), name from DNS / literal",
		    c " (name)", c)
		bar2("r16h", c, "r16", c, "", 0, c ": conn/s (16), name from the hosts file / literal",
		    c " (hosts)", c)
	}
	bar2("r4n", "connectd-sp", "r4n", "squid", "", 0, "spares on names: conn/s (4) vs squid on names",
	    "connectd-sp (name)", "squid (name)")
	bar2("p50_4n", "connectd-ru", "p50_4n", "tinyproxy", "", 0,
	    "reuse on names: time-to-200 p50 (4) vs tinyproxy's",
	    "connectd-ru (name)", "tinyproxy (name)")
}

{
	v[$1, $2, $3] = $4
	if ($3 > maxr[$1])
		maxr[$1] = $3
}

END {
	ncols = split(cols, col, " ")
	nholds = split(hold, holds, " ")

	print "## Results"
	print ""
	printf("Medians over %d throughput rounds and %d rate rounds (%s s each); ", rounds, rrounds, secs)
	print "each value row is followed by its ratio to *direct* and to *floor* (median of per-round ratios)."
	print ""
	line = "| metric"
	sep = "| ---"
	for (i = 1; i <= ncols; i++) {
		line = line " | " col[i]
		sep = sep " | ---:"
	}
	print line " |"
	print sep " |"
	row("MB/s down, one tunnel", "down", "%.0f", 1)
	row("MB/s up, one tunnel", "up", "%.0f", 1)
	row("CPU s per GB relayed", "cpu", "%.2f", 1)
	row("MB/s aggregate, " agg " tunnels down", "agg", "%.0f", 1)
	row("conn/s, 4 clients", "r4", "%.0f", 1)
	row("time-to-200 p50 ms, 4 clients", "p50_4", "%.3f", 1)
	row("time-to-200 p99 ms, 4 clients", "p99_4", "%.3f", 1)
	row("conn/s, 16 clients", "r16", "%.0f", 1)
	row("time-to-200 p50 ms, 16 clients", "p50_16", "%.3f", 1)
	row("time-to-200 p99 ms, 16 clients", "p99_16", "%.3f", 1)
	row("conn/s, 4 clients, name from DNS", "r4n", "%.0f", 0)
	row("time-to-200 p50 ms, 4 clients, name from DNS", "p50_4n", "%.3f", 0)
	row("conn/s, 16 clients, name from DNS", "r16n", "%.0f", 0)
	row("time-to-200 p50 ms, 16 clients, name from DNS", "p50_16n", "%.3f", 0)
	row("conn/s, 4 clients, name from the hosts file", "r4h", "%.0f", 0)
	row("time-to-200 p50 ms, 4 clients, name from the hosts file", "p50_4h", "%.3f", 0)
	row("conn/s, 16 clients, name from the hosts file", "r16h", "%.0f", 0)
	for (k = 1; k <= nholds; k++) {
		row("PSS KiB per tunnel, " holds[k] " held", "pss" holds[k], "%.1f", 1)
		row("tunnels refused/failed/lost of " holds[k], "lost" holds[k], "%d", 0)
	}

	print ""
	print "## Bars"
	print ""
	print "| bar | A / B | median ratio | limit | verdict |"
	print "| --- | --- | ---: | --- | --- |"
	npass = nmiss = 0
	bar("r4", "connectd-sp", "floor-fork", ">=", 1.0, "spares: conn/s (4) >= 1.0x the fork floor")
	bar("r16", "connectd-sp", "floor-fork", ">=", 1.0, "spares: conn/s (16) >= 1.0x the fork floor")
	bar("r4", "connectd-sp", "squid", ">=", 0.9, "spares: conn/s (4) >= 0.9x squid")
	bar("r16", "connectd-sp", "squid", ">=", 0.9, "spares: conn/s (16) >= 0.9x squid")
	bar("p50_4", "connectd-sp", "squid", "<=", 1.0, "spares: time-to-200 p50 (4) <= squid's")
	bar("r4", "connectd-ru", "tinyproxy", ">=", 1.1, "reuse: conn/s (4) >= 1.1x tinyproxy")
	bar("r16", "connectd-ru", "tinyproxy", ">=", 1.1, "reuse: conn/s (16) >= 1.1x tinyproxy")
	bar("p50_4", "connectd-ru", "tinyproxy", "<=", 1.0, "reuse: time-to-200 p50 (4) <= tinyproxy's")
	bar("p50_16", "connectd-ru", "tinyproxy", "<=", 1.0, "reuse: time-to-200 p50 (16) <= tinyproxy's")
	bar("r4", "connectd", "floor-dyn", ">=", 0.95, "per connection: conn/s (4) >= 0.95x the dynamic floor")
	bar("r16", "connectd", "floor-dyn", ">=", 0.95, "per connection: conn/s (16) >= 0.95x the dynamic floor")
	bar("r4", "connectd-jn", "connectd", ">=", 0.95, "journal on: conn/s (4) >= 0.95x with stderr")
	bar("r16", "connectd-jn", "connectd", ">=", 0.95, "journal on: conn/s (16) >= 0.95x with stderr")
	bar("down", "connectd", "floor", ">=", 0.95, "MB/s down, one tunnel >= 0.95x the static floor")
	bar("up", "connectd", "floor", ">=", 0.95, "MB/s up, one tunnel >= 0.95x the static floor")
	bar("down", "connectd-hr", "floor-fork", ">=", 0.95, "high-rate MB/s down >= 0.95x its floor")
	bar("up", "connectd-hr", "floor-fork", ">=", 0.95, "high-rate MB/s up >= 0.95x its floor")
	for (k = 1; k <= nholds; k++) {
		bar("pss" holds[k], "connectd", "floor-dyn", "<=", 1.15, "PSS per tunnel at " holds[k] " <= 1.15x the dynamic floor")
		bar("pss" holds[k], "connectd-hr", "floor-dyn", "<=", 1.15, "high-rate PSS per tunnel at " holds[k] " <= 1.15x the dynamic floor")
	}
	bar("agg", "connectd-sp", "squid", ">=", 1.0, agg "-tunnel aggregate MB/s >= squid's (high-rate)")
	bar("agg", "connectd-sp", "floor-fork", ">=", 0.95, agg "-tunnel aggregate MB/s >= 0.95x the fork floor (high-rate)")
	bar("agg", "connectd", "squid", ">=", 1.0, agg "-tunnel aggregate MB/s >= squid's (per connection)")
	bar("agg", "connectd", "floor", ">=", 0.95, agg "-tunnel aggregate MB/s >= 0.95x the floor (per connection)")
	bar("r4", "connectd-sp", "connectd-hr", "", 0, "spares vs a fork per accept: conn/s (4)")
	bar("r16", "connectd-sp", "connectd-hr", "", 0, "spares vs a fork per accept: conn/s (16)")
	bar("r4", "connectd-sp", "tinyproxy", "", 0, "spares: conn/s (4) vs tinyproxy")
	bar("r16", "connectd-sp", "tinyproxy", "", 0, "spares: conn/s (16) vs tinyproxy")
	bar("r4", "connectd-sp", "apache", "", 0, "spares: conn/s (4) vs Apache")
	bar("r16", "connectd-sp", "apache", "", 0, "spares: conn/s (16) vs Apache")
	bar("p50_4", "connectd-sp", "apache", "", 0, "spares: time-to-200 p50 (4) vs Apache's")
	bar("down", "connectd", "apache", "", 0, "MB/s down, one tunnel, vs Apache")
	bar("agg", "connectd-sp", "apache", "", 0, agg "-tunnel aggregate MB/s vs Apache (high-rate)")
	bar("pss1000", "connectd-hr", "apache", "", 0, "high-rate PSS per tunnel at 1000 vs Apache")
	for (k = 1; k <= nholds; k++) {
		hold_bar("connectd", holds[k])
		hold_bar("connectd-hr", holds[k])
	}
	name_bars()
	print ""
	printf("%d PASS, %d MISS (n/a: a column that could not be measured)\n", npass, nmiss)

	print ""
	print "## Notes and limits"
	print ""
	nn = 0
	while ((getline line < notes) > 0) {
		print "- " line
		nn++
	}
	if (limits != "") {
		print "- kernel limits below what the hold needs:" limits
		nn++
	}
	if (nn == 0)
		print "- none: every column was measured in full"

	for (i = 1; i <= ncols; i++)
		printf("\"%s\" %s %s %s %s\n", col[i] (value("r16", col[i]) == "" &&
		    value("down", col[i]) == "" ? " (n/a)" : ""), fmt(value("r4", col[i]), "%.0f"),
		    fmt(value("r16", col[i]), "%.0f"), fmt(value("down", col[i]), "%.0f"),
		    fmt(value("up", col[i]), "%.0f")) > chart
}
