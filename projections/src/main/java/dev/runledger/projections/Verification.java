package dev.runledger.projections;

import java.util.List;

/**
 * The outcome of comparing a projection with a fresh replay of its journal up to the same checkpoint.
 *
 * @param differences the first differences found, each naming its table and run (and command or key)
 */
public record Verification(boolean equal, long checkpoint, long runs, long commands, List<String> differences) {
}
