// Report: the `report` subcommand, many runs' JSON lines into a table of medians and a plot.
// Stateless: main runs it, and it owns what it reads for as long as it runs.
#pragma once

namespace bench {

// evchat-bench report RESULTS.jsonl [--out DIR] [--machine TEXT]: medians per case and
// server, their ratios, a Markdown table, and the gnuplot data and script of the latency
// plot. Exit status 1 if a run of the first server in the file (the one under test)
// failed a check.
int run_report(int argc, char** argv);

}  // namespace bench
