/**
 * Measurements of every target the issues name, each beside its baseline in the same run: JMH
 * micro-benchmarks (appends, queries) and end-to-end harnesses (projection, lag, rebuild, open time).
 * {@link dev.runledger.bench.BenchMain} runs them all and prints the ratios. Never run by the tests.
 */
package dev.runledger.bench;
