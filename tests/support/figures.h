/* tests/support/figures.h - figures a stress test reports for the soak and perturbation totals.
 *
 * When WEFT_FIGURES names a file (environment), weft_test_figure appends one line
 * "<name> <value>" to it; scripts/soak and scripts/perturb add up the lines by name (items
 * moved, tasks run, ...). Without WEFT_FIGURES it does nothing. Safe from the forked test
 * processes Check runs: each line is one O_APPEND write.
 */
#ifndef WEFT_TEST_FIGURES_H
#define WEFT_TEST_FIGURES_H

void weft_test_figure(const char *name, unsigned long long value);

#endif
