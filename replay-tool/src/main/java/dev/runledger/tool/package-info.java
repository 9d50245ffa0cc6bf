/**
 * The {@code runledger} command line: thin picocli commands that parse options and call library code
 * in {@code ledger} and {@code projections}, plus the engine simulation the demo and benchmarks use.
 */
package dev.runledger.tool;
