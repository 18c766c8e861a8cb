// Report: the `report` subcommand — many runs' JSON lines into medians per case and
// server, their ratios, a Markdown table, and the gnuplot data and script of the
// latency plot.
#pragma once

namespace bench {

// evchat-bench report RESULTS.jsonl [--out DIR] [--machine TEXT]. Exit status 1 if a
// run of the first server in the file (the one under test) failed a check.
int run_report(int argc, char** argv);

}  // namespace bench
